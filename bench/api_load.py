"""Benchmark (issue 2): report submission and "my reports" under gunicorn, against two
reference endpoints on the same server and database in the same run.

    python -m bench.api_load [--db sqlite|postgres] [--workers 2 --threads 8] [--seconds 10] [--rounds 3]

It starts the fake WeChat (which answers every content check), a gunicorn server
(gthread, like production) serving Tongxin plus ``/bench/bare``, ``/bench/insert`` and
``/bench/check`` (the submission's content check and nothing else; see bench/app.py),
logs residents in through the fake, and loads each endpoint with wrk, one connection per
request (as nginx talks to gunicorn). Every endpoint runs once per round, interleaved, and
the table gives medians, so a noisy neighbour on a shared machine skews one round, not the
result. Prints a Markdown table for docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from statistics import median

import requests

from bench.app import BenchRow
from bench.common import BODY
from bench.common import ROOT
from bench.common import PY
from bench.common import Proc
from bench.common import free_port
from bench.common import fresh_database
from bench.common import gunicorn
from bench.common import machine
from bench.common import tongxin
from bench.common import wait_http
from bench.common import write_config
from bench.common import wrk
from miniapp_api.db import bind

def lua_post(path: Path, tokens: list[str]) -> Path:
    """A wrk script posting BODY with the tokens in turn."""
    toks = ",".join(f'"{t}"' for t in tokens)
    path.write_text(f"""
local tokens = {{{toks}}}
local body = [[{json.dumps(BODY, ensure_ascii=False)}]]
local i = 0
request = function()
  i = i + 1
  local t = tokens[(i % #tokens) + 1]
  return wrk.format("POST", "/api/v1/reports", {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer " .. t, ["Connection"] = "close"}}, body)
end
""", encoding="utf-8")
    return path


def lua_get(path: Path, token: str, url_path: str, method: str = "GET") -> Path:
    """A wrk script requesting ``url_path`` with one token."""
    path.write_text(f"""
wrk.method = "{method}"
wrk.path = "{url_path}"
wrk.headers["Authorization"] = "Bearer {token}"
""", encoding="utf-8")
    return path


def main() -> None:
    """Run the benchmark and print its Markdown table."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()

    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    work = ROOT / "bench" / "results" / f"api-{args.db}-{stamp}"
    work.mkdir(parents=True)
    db_url = fresh_database(args.db, "tongxin_bench_api", work, args.pg_url)

    wx_port, api_port = free_port(), free_port()
    wechat = Proc([PY, "-m", "bridges.fakes.wechat", "--port", str(wx_port), "--appid", "wxbench000000000",
                   "--secret", "bench-wechat-secret"], log=work / "wechat.log")
    cfg = write_config(work / "config.toml", db_url=db_url, wechat_url=f"http://127.0.0.1:{wx_port}",
                       dingtalk_url="http://127.0.0.1:9", townships=["t01", "t02"])
    tongxin(cfg, "init-db")
    db = bind(db_url)
    db.connect()
    db.create_tables([BenchRow], safe=True)
    db.close()
    server = gunicorn(cfg, api_port, args.workers, args.threads, work / "gunicorn.log")
    base = f"http://127.0.0.1:{api_port}"
    try:
        wait_http(f"http://127.0.0.1:{wx_port}/")
        wait_http(f"{base}/healthz")
        tokens = []
        for i in range(64):
            code = requests.post(f"http://127.0.0.1:{wx_port}/_fake/login-code", json={"openid": f"o-bench-{i}"}).json()["code"]
            tokens.append(requests.post(f"{base}/api/v1/auth/wechat-login", json={"code": code}).json()["token"])
        lister = tokens[0]
        for _ in range(250):
            requests.post(f"{base}/api/v1/reports", json=BODY, headers={"Authorization": f"Bearer {lister}"}).raise_for_status()

        runs = [
            ("reference: bare Flask JSON", f"{base}/bench/bare", None),
            ("reference: insert one row (peewee, commit)", f"{base}/bench/insert",
             lua_get(work / "insert.lua", lister, "/bench/insert", "POST")),
            ("reference: the content check alone (fake WeChat)", f"{base}/bench/check",
             lua_get(work / "check.lua", lister, "/bench/check", "POST")),
            ("POST /api/v1/reports (with content check)", f"{base}/api/v1/reports", lua_post(work / "post.lua", tokens)),
            ("GET /api/v1/reports?mine=true&limit=20", f"{base}/", lua_get(work / "l20.lua", lister, "/api/v1/reports?mine=true&limit=20")),
            ("GET /api/v1/reports?mine=true&limit=100", f"{base}/", lua_get(work / "l100.lua", lister, "/api/v1/reports?mine=true&limit=100")),
        ]
        # Shared machines are noisy: run every endpoint once per round, interleaved, and
        # report medians, and each ratio as the median of the ratios within a round.
        rounds: list[dict] = []
        for name, url, script in runs:
            wrk(url, seconds=3, connections=args.connections, script=script, close=True)  # warm-up
        for _ in range(args.rounds):
            rounds.append({name: wrk(url, seconds=args.seconds, connections=args.connections, script=script,
                                     close=True)
                           for name, url, script in runs})
    finally:
        server.stop()
        wechat.stop()

    def reference(name: str) -> str | None:
        if name.startswith("POST /api/v1/reports") or "content check alone" in name:
            return "reference: insert one row (peewee, commit)"
        if name.startswith("GET"):
            return "reference: bare Flask JSON"
        return None

    lines = [
        f"### Mini-program API, {args.db} — {dt.date.today().isoformat()}",
        "",
        f"Machine: {machine()}. gunicorn gthread {args.workers}×{args.threads}, wrk {args.connections} connections,"
        f" one connection per request (`Connection: close`, as behind nginx),"
        f" load generator on the same machine. {args.rounds} rounds of {args.seconds} s per endpoint, interleaved,"
        " after a 3 s warm-up each; medians.",
        "",
        "| endpoint | req/s | p50 ms | p99 ms | non-2xx | vs reference |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, _, _ in runs:
        got = [r[name] for r in rounds]
        ref = reference(name)
        rel = ""
        if ref:
            share = median(r[name]["rps"] / r[ref]["rps"] for r in rounds)
            rel = f"{share:.0%} of {'insert' if 'insert' in ref else 'bare'}"
        lines.append(f"| {name} | {median(g['rps'] for g in got):.0f} | {median(g['p50'] for g in got):.1f} "
                     f"| {median(g['p99'] for g in got):.1f} | {sum(g['non2xx'] for g in got)} | {rel} |")
    lines += ["", "Rounds (req/s): " + "; ".join(
        ", ".join(f"{r[name]['rps']:.0f}" for name, _, _ in runs) for r in rounds)]

    # A submission checks the content and then writes. A request that did only the check and
    # the insert reference's one write would cost both above the bare endpoint: the most a
    # submission could reach on this machine, whatever the rest of its code costs.
    def bound(r: dict) -> float:
        bare, insert, check = (r[runs[i][0]]["rps"] for i in range(3))
        return 1 / (1 / check + 1 / insert - 1 / bare) / insert

    lines += ["", "Bound on submission (content check + one insert, 1/(1/check + 1/insert − 1/bare)): "
              + ", ".join(f"{bound(r):.0%}" for r in rounds) + " of insert, by round."]
    text = "\n".join(lines)
    (work / "result.md").write_text(text + "\n", encoding="utf-8")
    for i, r in enumerate(rounds):
        for n, (name, _, _) in enumerate(runs):
            (work / f"round{i + 1}-{n + 1}.wrk.txt").write_text(r[name]["raw"], encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
