"""Benchmark (issue 3): the DingTalk bridge under a burst and under steady load.

    python bench/bridge_burst.py [--db sqlite|postgres] [--burst 600] [--steady-seconds 60]

Processes, as in production: gunicorn serving the API, one ``tongxin worker`` process, the
fake WeChat; the fake DingTalk runs inside this script so its records can be read directly.

1. Burst: ``--burst`` reports within one minute into ONE unit. Measures the time until every
   report is visible in the group (alone or in a digest), the most messages the robot received
   in any 60 s (DingTalk allows 20), lost reports and duplicates.
2. Steady load: one report every ``--interval`` seconds spread over ten units. Measures the
   time from the report's commit to the fake accepting its card, p50 and p99 (target p50 ≤ 1 s).
"""
from __future__ import annotations

import argparse
import datetime as dt
import re
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench.common import PY
from bench.common import Proc
from bench.common import free_port
from bench.common import database_arguments
from bench.common import fresh_database
from bench.common import results_dir
from bench.common import gunicorn
from bench.common import machine
from bench.common import tongxin
from bench.common import wait_http
from bench.common import write_config
from bridges.fakes.dingtalk import create_fake_dingtalk
from bridges.fakes.serve import serve_in_thread

NUMBER = re.compile(r"R\d{6}-\d{4,}")
UNITS = [f"t{i:02d}" for i in range(1, 11)]


def shown(state, cid: str) -> list[tuple[str, float]]:
    """(number, time the fake accepted it) for every report shown in a group's messages."""
    out = []
    for m in state.messages(cid):
        if "新上报" in m["title"]:
            for n in dict.fromkeys(NUMBER.findall(m["text"])):
                out.append((n, m["time"]))
    return out


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile of ``values``."""
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    """Run the benchmark and print its Markdown table."""
    ap = argparse.ArgumentParser()
    database_arguments(ap)
    ap.add_argument("--burst", type=int, default=600)
    ap.add_argument("--steady-seconds", type=int, default=60)
    ap.add_argument("--interval", type=float, default=0.5)
    args = ap.parse_args()

    work = results_dir(f"bridge-{args.db}")
    db_url = fresh_database(args.db, "tongxin_bench_bridge", work, args.pg_url)

    fake_app = create_fake_dingtalk(app_key="benchkey", app_secret="bench-dt-secret")
    state = fake_app.extensions["fake_dingtalk"]
    for code in UNITS:
        state.add_group(f"cid-{code}", f"{code}群", f"tok-{code}", f"SECbench{code}", [])
    dingtalk = serve_in_thread(fake_app)
    wx_port, api_port = free_port(), free_port()
    wechat = Proc([PY, "-m", "bridges.fakes.wechat", "--port", str(wx_port), "--appid", "wxbench000000000",
                   "--secret", "bench-wechat-secret"], log=work / "wechat.log")
    cfg = write_config(work / "config.toml", db_url=db_url, wechat_url=f"http://127.0.0.1:{wx_port}",
                       dingtalk_url=dingtalk.base_url, townships=UNITS, extra="[worker]\npoll_seconds = 0.1\n")
    tongxin(cfg, "init-db")
    server = gunicorn(cfg, api_port, 2, 8, work / "gunicorn.log")
    worker = Proc([PY, "-m", "miniapp_api.cli", "--config", str(cfg), "worker"], log=work / "worker.log")
    base = f"http://127.0.0.1:{api_port}"
    lines = []
    try:
        wait_http(f"http://127.0.0.1:{wx_port}/")
        wait_http(f"{base}/healthz")
        tokens = []
        for i in range(20):
            code = requests.post(f"http://127.0.0.1:{wx_port}/_fake/login-code", json={"openid": f"o-burst-{i}"}).json()["code"]
            tokens.append(requests.post(f"{base}/api/v1/auth/wechat-login", json={"code": code}).json()["token"])
        session = requests.Session()

        def submit(i: int, unit: str) -> tuple[str, float]:
            body = {"category": "sanitation", "township": unit, "description": f"突发：第 {i} 条",
                    "location": {"lat": 43.3, "lng": 125.3, "address": f"人民大街 {i} 号"}}
            r = session.post(f"{base}/api/v1/reports", json=body, headers={"Authorization": f"Bearer {tokens[i % 20]}"})
            r.raise_for_status()
            return r.json()["number"], time.time()

        # 1. burst into t01, paced evenly over one minute
        start = time.time()
        numbers = []
        with ThreadPoolExecutor(8) as pool:
            futures = []
            for i in range(args.burst):
                futures.append(pool.submit(submit, i, "t01"))
                time.sleep(max(0.0, start + (i + 1) * 60 / args.burst - time.time()))
            numbers = [f.result()[0] for f in futures]
        submitted_in = time.time() - start
        deadline = time.time() + 900
        while time.time() < deadline:
            seen = {n for n, _ in shown(state, "cid-t01")}
            if set(numbers) <= seen:
                break
            time.sleep(0.5)
        all_visible = time.time() - start
        got = [n for n, _ in shown(state, "cid-t01")]
        stats = state.stats()["robots"]["cid-t01"]
        lost = len(set(numbers) - set(got))
        dups = len(got) - len(set(got))
        lines += [
            f"### DingTalk bridge, {args.db} — {dt.date.today().isoformat()}",
            "",
            f"Machine: {machine()}. gunicorn gthread 2×8, one `tongxin worker` process, fakes on loopback.",
            "",
            "| burst into one unit | value |", "|---|---:|",
            f"| reports submitted | {args.burst} (in {submitted_in:.0f} s) |",
            f"| time until every report was visible in the group | {all_visible:.0f} s |",
            f"| robot messages | {stats['accepted']} ({sum(1 for m in state.messages('cid-t01') if '汇总' in m['title'])} digests) |",
            f"| most messages in any 60 s (limit 20) | {stats['max_in_60s']} |",
            f"| rejected by DingTalk (130101 etc.) | {sum(stats['rejected'].values())} |",
            f"| lost reports | {lost} |",
            f"| duplicates | {dups} |",
            "",
        ]
        # 2. steady load over ten units
        created = {}
        t_end = time.time() + args.steady_seconds
        i = 0
        while time.time() < t_end:
            unit = UNITS[1 + i % (len(UNITS) - 1)]
            n, at = submit(10_000 + i, unit)
            created[n] = at
            i += 1
            time.sleep(args.interval)
        time.sleep(10)
        latencies = []
        for code in UNITS[1:]:
            for n, accepted_at in shown(state, f"cid-{code}"):
                if n in created:
                    latencies.append(accepted_at - created[n])
        lines += [
            "| steady load | value |", "|---|---:|",
            f"| reports | {len(created)} over {args.steady_seconds} s across {len(UNITS) - 1} units |",
            f"| delivered | {len(latencies)} |",
            f"| commit → DingTalk accepted, p50 | {statistics.median(latencies) * 1000:.0f} ms |",
            f"| commit → DingTalk accepted, p99 | {pct(latencies, 99) * 1000:.0f} ms |",
        ]
    finally:
        worker.stop()
        server.stop()
        wechat.stop()
        dingtalk.shutdown()
    text = "\n".join(lines)
    (work / "result.md").write_text(text + "\n", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
