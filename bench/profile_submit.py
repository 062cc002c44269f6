"""Where a submission's time goes: the top entries of a profile of report submissions.

    python -m bench.profile_submit [--db sqlite|postgres] [--requests 2000] [--top 25]

It starts the fake WeChat on gunicorn (as ``bench.api_load`` does), builds Tongxin's app in
this process on a fresh database, logs one resident in, warms up, and then submits
``--requests`` reports one at a time through Flask's test client under ``cProfile``. The
fake WeChat runs in its own process, so the profile holds only our side: Flask, validation,
the content check's HTTP exchange as our client makes it, the database work and our code.
Prints the CPU per submission and the top entries by own time and by cumulative time.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

import requests

from bench.common import BODY
from bench.common import PY
from bench.common import Proc
from bench.common import free_port
from bench.common import database_arguments
from bench.common import fresh_database
from bench.common import results_dir
from bench.common import tongxin
from bench.common import wait_http
from bench.common import spread_location
from bench.common import write_config
from miniapp_api import create_app
from miniapp_api.config import load_settings


def main() -> None:
    """Profile submissions and print where their time goes."""
    ap = argparse.ArgumentParser()
    database_arguments(ap)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()

    work = results_dir(f"profile-{args.db}")
    db_url = fresh_database(args.db, "tongxin_bench_profile", work, args.pg_url)
    wx_port = free_port()
    wechat = Proc([PY, "-m", "bridges.fakes.wechat", "--port", str(wx_port), "--appid", "wxbench000000000",
                   "--secret", "bench-wechat-secret"], log=work / "wechat.log")
    cfg = write_config(work / "config.toml", db_url=db_url, wechat_url=f"http://127.0.0.1:{wx_port}",
                       dingtalk_url="http://127.0.0.1:9", townships=["t01", "t02"])
    tongxin(cfg, "init-db")
    try:
        wait_http(f"http://127.0.0.1:{wx_port}/")
        client = create_app(load_settings(cfg)).test_client()
        # Residents take turns, each filing about as many reports as a day allows (20), as
        # residents do: one resident filing thousands would make the daily count the hot spot.
        headers = []
        for i in range((2 * args.requests + 200) // 20 + 1):
            code = requests.post(f"http://127.0.0.1:{wx_port}/_fake/login-code",
                                 json={"openid": f"o-profile-{i}"}).json()["code"]
            token = client.post("/api/v1/auth/wechat-login", json={"code": code}).get_json()["token"]
            headers.append({"Authorization": f"Bearer {token}"})

        sent = iter(range(10**9))

        def submit() -> None:
            i = next(sent)
            resp = client.post("/api/v1/reports", json={**BODY, "location": spread_location(i)},
                               headers=headers[i % len(headers)])
            if resp.status_code != 201:
                raise RuntimeError(f"submission answered {resp.status_code}: {resp.get_data(as_text=True)}")

        for _ in range(200):  # warm up: compiled queries, caches, pools
            submit()
        cpu = time.process_time()
        for _ in range(args.requests):
            submit()
        plain_ms = (time.process_time() - cpu) / args.requests * 1000
        profile = cProfile.Profile(time.process_time)  # CPU, not wall time: waits on the fake are not ours
        profile.enable()
        for _ in range(args.requests):
            submit()
        profile.disable()
    finally:
        wechat.stop()

    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.strip_dirs()
    print(f"# Submission profile, {args.db}, {args.requests} requests one at a time\n", file=out)
    print(f"CPU per submission without the profiler: {plain_ms:.2f} ms (this process only)\n", file=out)
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    (work / "profile.txt").write_text(out.getvalue(), encoding="utf-8")
    stats.dump_stats(str(work / "profile.pstats"))
    print(out.getvalue())


if __name__ == "__main__":
    main()
