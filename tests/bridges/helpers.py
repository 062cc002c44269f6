"""Helpers for the delivery tests that run Tongxin's own processes: a TOML writer for their
configuration, many-unit configurations, and polling with a deadline."""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from typing import Callable

from tests.conftest import township_table


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # a JSON string is a TOML basic string
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def dump_toml(data: dict[str, Any]) -> str:
    """TOML for a settings dict: top-level arrays (townships…) inline, then one table per section."""
    lines = [f"{k} = {_value(v)}" for k, v in data.items() if not isinstance(v, dict)]
    for section, body in data.items():
        if isinstance(body, dict):
            lines.append(f"\n[{section}]")
            lines += [f"{k} = {_value(v)}" for k, v in body.items() if v is not None]
    return "\n".join(lines) + "\n"


def write_config(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(dump_toml(data), encoding="utf-8")
    return path


def many_townships(n: int, dingtalk_url: str) -> list[dict]:
    """``n`` townships t01…tNN, each with its own robot on the fake DingTalk."""
    return [township_table(f"t{i:02d}", f"第{i}镇", "town", dingtalk_url) for i in range(1, n + 1)]


def add_groups(fake_state, townships: list[dict]) -> None:
    """Register each township's group (robot token, 加签 secret) in the fake DingTalk."""
    for t in townships:
        dt = t["dingtalk"]
        token = dt["webhook"].split("access_token=", 1)[1]
        fake_state.add_group(dt["conversation_id"], t["name"], token, dt["secret"], [])


def wait_for(predicate: Callable[[], Any], timeout: float, interval: float = 0.05, what: str = "condition") -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def start_worker(cfg: Path, log: Path):
    """``tongxin worker`` as a real process (its output appended to ``log``)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN__")}
    with open(log, "ab") as out:
        return subprocess.Popen([sys.executable, "-m", "miniapp_api.cli", "--config", str(cfg), "worker"],
                                cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)


def kill_midway_and_restart(cfg: Path, log: Path, procs: list, received: Callable[[], int],
                            unfinished: Callable[[], int], finish_timeout: float) -> int:
    """Start a worker, SIGKILL it once the platform has taken some messages but not all,
    start another, and wait until nothing is left to send. Returns what arrived before the kill."""
    import signal

    from miniapp_api.db import database

    procs.append(start_worker(cfg, log))
    wait_for(lambda: received() >= 10 or procs[0].poll() is not None, timeout=40, interval=0.002,
             what="the first messages")
    assert procs[0].poll() is None, log.read_text(errors="replace")
    procs[0].send_signal(signal.SIGKILL)
    procs[0].wait(10)
    at_kill = received()
    left = unfinished()
    database.close()
    assert at_kill > 0 and left > 0, (at_kill, left)  # killed in the middle, not before or after
    procs.append(start_worker(cfg, log))
    wait_for(lambda: unfinished() == 0, timeout=finish_timeout, interval=0.2, what="every delivery to be sent")
    return at_kill
