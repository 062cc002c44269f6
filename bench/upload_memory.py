"""Peak memory of one gunicorn worker while 16 residents upload maximum-size photos at once.

It starts the fake WeChat and Tongxin under gunicorn with **one** gthread worker of 16
threads (so all 16 uploads land in the same process), logs 16 residents in, and sends 16
uploads at once, several rounds per picture:

* the largest PNG accepted: ``uploads.max_pixels`` pixels (4000×4000 at the default 16 MP),
  a few dozen KB of file — a PNG cannot be reduced on load;
* a JPEG of four times that (8000×8000), decoded at 1/2 by libjpeg's DCT scaling;
* the 116 KB PNG of 6320×6320 from issue 14, which now must be refused from its header.

The worker's peak resident set is read from ``/proc/<pid>/status`` (``VmHWM``: the kernel's
own high-water mark, so no sampling can miss the peak). Target: ≤ 300 MB.

    python -m bench.upload_memory [--rounds 3] [--concurrency 16]
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from PIL import Image

from bench.common import PY
from bench.common import ROOT
from bench.common import Proc
from bench.common import free_port
from bench.common import machine
from bench.common import tongxin
from bench.common import wait_http
from bench.common import write_config
from bench.common import BIN

TARGET_MB = 300


def _status(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` memory value, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def _worker_pid(master: int) -> int:
    """The one worker gunicorn forked."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.2)
    raise RuntimeError("gunicorn started no worker")


def _png(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (90, 140, 60)).save(out, "PNG", optimize=True)
    return out.getvalue()


def _jpeg(side: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), (200, 120, 40)).save(out, "JPEG", quality=80)
    return out.getvalue()


def main() -> None:
    """Run the benchmark and print its Markdown table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    work = ROOT / "bench" / "results" / f"uploads-{stamp}"
    work.mkdir(parents=True)
    wx_port, api_port = free_port(), free_port()
    wechat = Proc([PY, "-m", "bridges.fakes.wechat", "--port", str(wx_port), "--appid", "wxbench000000000",
                   "--secret", "bench-wechat-secret"], log=work / "wechat.log")
    cfg = write_config(work / "config.toml", db_url=f"sqlite:///{work / 'bench.db'}",
                       wechat_url=f"http://127.0.0.1:{wx_port}", dingtalk_url="http://127.0.0.1:9",
                       townships=["t01"])
    cfg.write_text(cfg.read_text(encoding="utf-8").replace(
        "[uploads]\n", "[uploads]\ndaily_limit_per_resident = 10000\n"), encoding="utf-8")
    tongxin(cfg, "init-db")
    server = Proc([str(BIN / "gunicorn"), "miniapp_api:create_app()", "--worker-class", "gthread",
                   "--workers", "1", "--threads", str(args.concurrency), "--bind", f"127.0.0.1:{api_port}",
                   "--timeout", "120", "--log-level", "warning"],
                  env={"TONGXIN_CONFIG": str(cfg)}, log=work / "gunicorn.log")
    base = f"http://127.0.0.1:{api_port}"
    pictures = [
        ("PNG 4000×4000 (16 MP, the largest accepted)", _png(4000), "image/png", 201),
        ("JPEG 8000×8000 (64 MP, decoded at 1/2)", _jpeg(8000), "image/jpeg", 201),
        ("PNG 6320×6320 (40 MP, issue 14's picture)", _png(6320), "image/png", 422),
    ]
    rows = []
    try:
        wait_http(f"http://127.0.0.1:{wx_port}/")
        wait_http(f"{base}/healthz")
        worker = _worker_pid(server.p.pid)
        tokens = []
        for i in range(args.concurrency):
            code = requests.post(f"http://127.0.0.1:{wx_port}/_fake/login-code", json={"openid": f"o-up-{i}"},
                                 timeout=10).json()["code"]
            tokens.append(requests.post(f"{base}/api/v1/auth/wechat-login", json={"code": code},
                                        timeout=10).json()["token"])
        idle_kb = _status(worker, "VmRSS")

        def send(item: tuple[str, bytes, str]) -> int:
            token, data, ctype = item
            resp = requests.post(f"{base}/api/v1/uploads", files={"file": ("p", data, ctype)},
                                 headers={"Authorization": f"Bearer {token}"}, timeout=120)
            return resp.status_code

        with ThreadPoolExecutor(args.concurrency) as pool:
            for name, data, ctype, expected in pictures:
                for _ in range(args.rounds):
                    started = time.monotonic()
                    statuses = list(pool.map(send, [(t, data, ctype) for t in tokens]))
                    elapsed = time.monotonic() - started
                    rows.append((name, len(data), statuses.count(expected), len(statuses), elapsed,
                                 _status(worker, "VmHWM"), _status(worker, "VmRSS")))
    finally:
        server.stop()
        wechat.stop()

    peak_mb = max(r[5] for r in rows) / 1024
    lines = [
        f"### Upload memory — {dt.date.today().isoformat()}",
        "",
        f"Machine: {machine()}. gunicorn gthread 1×{args.concurrency}, {args.concurrency} uploads at once per round,"
        f" {args.rounds} rounds per picture, default `[uploads]` (max_pixels 16,000,000, concurrent_decodes 2)."
        f" Worker RSS when idle (logged in, before the first upload): {idle_kb / 1024:.0f} MB.",
        "",
        "| picture | file | as expected | seconds | worker peak RSS (VmHWM) MB | RSS after MB |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, size, ok, total, elapsed, hwm, rss in rows:
        lines.append(f"| {name} | {size / 1024:.0f} KB | {ok}/{total} | {elapsed:.1f} | {hwm / 1024:.0f} | {rss / 1024:.0f} |")
    lines += ["", f"Peak RSS of the worker: **{peak_mb:.0f} MB** (target ≤ {TARGET_MB} MB):"
              f" {'met' if peak_mb <= TARGET_MB else 'NOT met'}."]
    text = "\n".join(lines)
    (work / "result.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
