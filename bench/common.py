"""Shared pieces of the benchmarks: configs, processes, wrk, and the machine description."""
from __future__ import annotations

import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
BIN = Path(PY).parent

# The report every benchmark submission sends (bench.api_load), and whose text bench.app's
# reference endpoint checks.
BODY = {"category": "sanitation", "township": "t01", "description": "压测：小区门口垃圾堆积，请尽快清理",
        "location": {"lat": 43.345, "lng": 125.305, "address": "人民大街 18 号"}}


# Where benchmark submissions are made: spread over the county (about 32 × 29 km) on a lattice
# whose points lie farther apart than the nearby search's radius (150 m), as residents file
# from everywhere. All at one point, every submission's answer would list every open report
# filed before it (the "nearby" part of the answer reads each one).
SPREAD = {"lat0": 43.2, "lat_step": 0.003, "lat_n": 97, "lng0": 125.1, "lng_step": 0.004, "lng_n": 89}


def spread_location(i: int) -> dict:
    """The ``i``-th benchmark submission's location (see :data:`SPREAD`)."""
    return {"lat": round(SPREAD["lat0"] + (i % SPREAD["lat_n"]) * SPREAD["lat_step"], 6),
            "lng": round(SPREAD["lng0"] + (i % SPREAD["lng_n"]) * SPREAD["lng_step"], 6),
            "address": BODY["location"]["address"]}


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    """A one-line description of this machine (cores, CPU, memory, OS, Python)."""
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def database_arguments(ap) -> None:
    """``--db sqlite|postgres`` and ``--pg-url`` (an existing database to connect to; the
    benchmark creates its own beside it), for an ``argparse`` parser."""
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="an existing database to connect to; the benchmark creates its own beside it")


def results_dir(kind: str) -> Path:
    """A new folder ``bench/results/<kind>-<date>-<time>`` for one run's output."""
    work = ROOT / "bench" / "results" / f"{kind}-{time.strftime('%Y%m%d-%H%M%S')}"
    work.mkdir(parents=True)
    return work


def fresh_database(kind: str, name: str, work: Path, pg_url: str) -> str:
    """The URL of an empty database for one benchmark run (a SQLite file, or a PostgreSQL
    database dropped and created anew)."""
    if kind == "sqlite":
        return f"sqlite:///{work / 'bench.db'}"
    import psycopg2  # only for --db postgres: SQLite runs need no PostgreSQL driver

    conn = psycopg2.connect(pg_url)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return pg_url.rsplit("/", 1)[0] + "/" + name


def write_config(path: Path, *, db_url: str, wechat_url: str, dingtalk_url: str, townships: list[str],
                 extra: str = "") -> Path:
    """Write a Tongxin configuration for a benchmark run; returns its path."""
    lines = [
        "[server]", 'secret_key = "bench-secret-key-0123456789abcdef"', 'public_base_url = "http://127.0.0.1"', "",
        "[database]", f'url = "{db_url}"', "",
        "[reports]", "daily_limit_per_resident = 10000", "",
        "[uploads]", f'dir = "{path.parent / "uploads"}"', "",
        "[wechat]", 'appid = "wxbench000000000"', 'secret = "bench-wechat-secret"',
        f'api_base_url = "{wechat_url}"', 'push_token = "bench-push"', "",
        "[wechat.templates]", 'report_status = "bench-tmpl"', "",
        "[dingtalk]", f'api_base_url = "{dingtalk_url}"', 'app_key = "benchkey"', 'app_secret = "bench-dt-secret"', "",
        extra,
    ]
    for code in townships:
        lines += ["[[townships]]", f'code = "{code}"', f'name = "{code}镇"', 'kind = "town"',
                  "  [townships.dingtalk]", f'  webhook = "{dingtalk_url}/robot/send?access_token=tok-{code}"',
                  f'  secret = "SECbench{code}"', f'  conversation_id = "cid-{code}"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


class Proc:
    """A background process that is stopped (and reaped) when the benchmark ends."""

    def __init__(self, args: list[str], env: dict | None = None, log: Path | None = None):
        self.log = open(log, "w") if log else subprocess.DEVNULL
        self.p = subprocess.Popen(args, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=self.log,
                                  stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL)."""
        try:
            os.killpg(self.p.pid, signal.SIGTERM)
            self.p.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def wait_http(url: str, timeout: float = 30) -> None:
    """Wait until ``url`` answers, or raise after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def tongxin(cfg: Path, *args: str) -> None:
    """Run one ``tongxin`` command with this configuration, raising on failure."""
    subprocess.run([PY, "-m", "miniapp_api.cli", "--config", str(cfg), *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)


def gunicorn(cfg: Path, port: int, workers: int, threads: int, log: Path, worker_class: str = "gthread") -> Proc:
    """Start Tongxin under gunicorn: gthread by default, as in production; ``sync`` as issue 17's
    own measurement ran it (4 sync workers)."""
    return Proc([str(BIN / "gunicorn"), "bench.app:create_bench_app()", "--worker-class", worker_class,
                 "--workers", str(workers), "--threads", str(threads), "--bind", f"127.0.0.1:{port}",
                 "--timeout", "30", "--log-level", "warning"], env={"TONGXIN_CONFIG": str(cfg)}, log=log)


_LAT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)


def wrk(url: str, *, seconds: int, connections: int, script: Path | None = None, threads: int = 2,
        close: bool = False) -> dict:
    """Run wrk and return requests/s, p50 and p99 in ms, and the error count.

    ``close`` sends ``Connection: close``: one connection per request, as nginx talks to its
    upstream by default. With keep-alive, wrk's 16 connections stick to whichever gunicorn
    worker accepted them, and one worker often got most of them while the other idled.
    """
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s"]
    if close:
        args += ["-H", "Connection: close"]
    if script:
        args += ["-s", str(script)]
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    done = re.search(r"(\d+) requests in", out)
    lat = {}
    for pct, value, unit in _LAT.findall(out):
        lat[pct] = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {"rps": rps, "requests": int(done.group(1)) if done else 0, "p50": lat.get("50"), "p99": lat.get("99"),
            "non2xx": int(errors.group(1)) if errors else 0,
            "socket_errors": socket_errors.group(1) if socket_errors else "", "raw": out}


# --- CPU and memory from /proc ------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """The fields of /proc/<pid>/stat after the command name (None once the process is gone)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()


def _pids() -> list[int]:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def group_pids(pgid: int) -> list[int]:
    """The processes of one process group (a benchmark's server: its master and workers)."""
    found = []
    for pid in _pids():
        fields = _stat(pid)
        if fields is not None and int(fields[2]) == pgid:  # field 5 of stat: the process group
            found.append(pid)
    return found


def postgres_backends(dbname: str) -> list[int]:
    """The PostgreSQL backends serving ``dbname`` (found by their process titles)."""
    found = []
    for pid in _pids():
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {dbname} " in title:
            found.append(pid)
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time the processes have used so far (their threads included)."""
    total = 0
    for pid in pids:
        fields = _stat(pid)
        if fields is not None:
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICK


def machine_busy_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    total = sum(values[:8])  # user … steal (guest time is already counted in user)
    return (total - idle) / TICK, total / TICK


def rss_mib(pid: int) -> float:
    """A process's resident memory in MiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0
