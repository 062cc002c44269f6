"""Benchmark (issues 2 and 17): report submission and "my reports" under gunicorn, against
reference endpoints on the same server and database in the same run.

    python -m bench.api_load [--db sqlite|postgres] [--workers 2 --threads 8] [--seconds 10] [--rounds 3]
                             [--worker-class gthread|sync]

It starts the fake WeChat (which answers every content check), a gunicorn server
(gthread, like production; ``--worker-class sync --workers 4`` is how issue 17 measured) serving Tongxin plus ``/bench/bare``, ``/bench/insert``,
``/bench/check`` (the submission's content check and nothing else) and
``/bench/checked-insert`` (that check, then one insert: the floor a submission is measured
against; see bench/app.py), logs residents in through the fake, and loads each endpoint with
wrk, one connection per request (as nginx talks to gunicorn). Every endpoint runs once per
round, interleaved, and the table gives medians, so a noisy neighbour on a shared machine
skews one round, not the result.

During every run it reads from ``/proc`` the CPU time of our server (gunicorn's master and
workers), of the fake WeChat, of PostgreSQL's backends for the benchmark's database, and of
the whole machine, and divides by the requests served; the machine's busy time that is none
of these nor wrk is the load other processes put on the machine. After the last round it
reads each worker's resident memory. Prints a Markdown table for docs/benchmarks.md, the
issue-17 ratios, and writes ``result.json`` beside the raw wrk output.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
from pathlib import Path
from statistics import median

import requests

from bench.app import BenchRow
from bench.common import BODY
from bench.common import PY
from bench.common import SPREAD
from bench.common import spread_location
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
from bench.org_scale import organisation
from bench.stats_scale import DEPARTMENTS
from bench.stats_scale import TOWNSHIPS
from bench.common import cpu_seconds
from bench.common import group_pids
from bench.common import machine_busy_seconds
from bench.common import postgres_backends
from bench.common import rss_mib
from bench.common import wrk
from miniapp_api.db import bind

CHECKED_INSERT = "reference: content check + one insert (the floor)"


def refresh_statistics(db: str, db_url: str) -> None:
    """On PostgreSQL, refresh the planner's statistics (``ANALYZE``), as autovacuum does on a
    server that runs it. This machine's PostgreSQL runs without autovacuum: with no statistics
    the planner takes the report table for nearly empty and plans the nearby search on the
    category's index, reading every report of the category, more on every round."""
    if db != "postgres":
        return
    conn = bind(db_url)
    conn.connect(reuse_if_open=True)
    try:
        conn.execute_sql("ANALYZE")
    finally:
        conn.close()


def lua_post(path: Path, tokens: list[str], body: dict = BODY) -> Path:
    """A wrk script posting ``body`` with the tokens in turn, from locations spread over the
    county (bench.common.SPREAD; each wrk thread starts at its own point)."""
    toks = ",".join(f'"{t}"' for t in tokens)
    template = json.dumps({**body, "location": {**body["location"], "lat": 11.111111, "lng": 22.222222}},
                          ensure_ascii=False)
    head, rest = template.split("11.111111")
    middle, tail = rest.split("22.222222")
    sp = SPREAD
    path.write_text(f"""
local tokens = {{{toks}}}
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
i = 0
function init(args)
  i = id * 4099
end
request = function()
  i = i + 1
  local t = tokens[(i % #tokens) + 1]
  local lat = string.format("%.6f", {sp["lat0"]} + (i % {sp["lat_n"]}) * {sp["lat_step"]})
  local lng = string.format("%.6f", {sp["lng0"]} + (i % {sp["lng_n"]}) * {sp["lng_step"]})
  local body = [[{head}]] .. lat .. [[{middle}]] .. lng .. [[{tail}]]
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
    database_arguments(ap)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--worker-class", default="gthread", choices=["gthread", "sync"],
                    help="gunicorn's worker class: gthread as in production, or sync as issue 17 measured")
    ap.add_argument("--county", action="store_true",
                    help="import the county's organisation and 1,583 grid boundaries first (bench.org_scale), "
                         "so every submission is routed to a grid as in production")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--residents", type=int, default=2500,
                    help="residents taking turns to submit: enough that each files about as many "
                         "reports in a day as the daily limit (20) allows, as residents do")
    args = ap.parse_args()

    work = results_dir(f"api-{args.db}")
    dbname = "tongxin_bench_api"
    db_url = fresh_database(args.db, dbname, work, args.pg_url)

    wx_port, api_port = free_port(), free_port()
    wechat = Proc([PY, "-m", "bridges.fakes.wechat", "--port", str(wx_port), "--appid", "wxbench000000000",
                   "--secret", "bench-wechat-secret"], log=work / "wechat.log")
    townships, body = ["t01", "t02"], BODY
    if args.county:
        townships, body = TOWNSHIPS, {**BODY, "township": TOWNSHIPS[0]}
    cfg = write_config(work / "config.toml", db_url=db_url, wechat_url=f"http://127.0.0.1:{wx_port}",
                       dingtalk_url="http://127.0.0.1:9", townships=townships,
                       extra="".join(f'[[departments]]\ncode = "{d}"\nname = "{d}局"\n\n' for d in DEPARTMENTS)
                       if args.county else "")
    tongxin(cfg, "init-db")
    if args.county:  # the county's roster and grid boundaries, as the county hands them over
        roster, geojson, _ = organisation()
        (work / "roster.csv").write_text(roster, encoding="utf-8")
        (work / "grids.geojson").write_text(json.dumps(geojson, ensure_ascii=False), encoding="utf-8")
        tongxin(cfg, "import-org", str(work / "roster.csv"))
        tongxin(cfg, "import-grids", str(work / "grids.geojson"))
    db = bind(db_url)
    db.connect()
    db.create_tables([BenchRow], safe=True)
    db.close()
    server = gunicorn(cfg, api_port, args.workers, args.threads, work / "gunicorn.log", args.worker_class)
    base = f"http://127.0.0.1:{api_port}"
    try:
        wait_http(f"http://127.0.0.1:{wx_port}/")
        wait_http(f"{base}/healthz")
        tokens = []
        # Each resident files a few dozen reports at most in the whole benchmark. With 64
        # residents, each filed hundreds in a day, which no resident can (the limit is 20),
        # and the daily limit's count read them all.
        http = requests.Session()
        for i in range(args.residents):
            code = http.post(f"http://127.0.0.1:{wx_port}/_fake/login-code", json={"openid": f"o-bench-{i}"}).json()["code"]
            tokens.append(http.post(f"{base}/api/v1/auth/wechat-login", json={"code": code}).json()["token"])
        lister = tokens[0]
        for i in range(250):
            requests.post(f"{base}/api/v1/reports", json={**body, "location": spread_location(i)},
                          headers={"Authorization": f"Bearer {lister}"}).raise_for_status()

        refresh_statistics(args.db, db_url)
        runs = [
            ("reference: bare Flask JSON", f"{base}/bench/bare", None),
            ("reference: insert one row (peewee, commit)", f"{base}/bench/insert",
             lua_get(work / "insert.lua", lister, "/bench/insert", "POST")),
            ("reference: the content check alone (fake WeChat)", f"{base}/bench/check",
             lua_get(work / "check.lua", lister, "/bench/check", "POST")),
            (CHECKED_INSERT, f"{base}/bench/checked-insert",
             lua_get(work / "checked.lua", lister, "/bench/checked-insert", "POST")),
            ("POST /api/v1/reports (with content check)", f"{base}/api/v1/reports", lua_post(work / "post.lua", tokens, body)),
            ("GET /api/v1/reports?mine=true&limit=20", f"{base}/", lua_get(work / "l20.lua", lister, "/api/v1/reports?mine=true&limit=20")),
            ("GET /api/v1/reports?mine=true&limit=100", f"{base}/", lua_get(work / "l100.lua", lister, "/api/v1/reports?mine=true&limit=100")),
        ]
        # Shared machines are noisy: run every endpoint once per round, interleaved, and
        # report medians, and each ratio as the median of the ratios within a round.
        rounds: list[dict] = []
        for name, url, script in runs:
            wrk(url, seconds=3, connections=args.connections, script=script, close=True)  # warm-up

        def measured(url: str, script) -> dict:
            """One wrk run, with the CPU each side spent on it, per request (ms)."""
            ours, fake = group_pids(server.p.pid), group_pids(wechat.p.pid)
            pg = postgres_backends(dbname) if args.db == "postgres" else []
            before = (cpu_seconds(ours), cpu_seconds(fake), cpu_seconds(pg), machine_busy_seconds(),
                      resource.getrusage(resource.RUSAGE_CHILDREN))
            result = wrk(url, seconds=args.seconds, connections=args.connections, script=script, close=True)
            pg_after = postgres_backends(dbname) if args.db == "postgres" else []
            after = (cpu_seconds(ours), cpu_seconds(fake), cpu_seconds([p for p in pg if p in pg_after]),
                     machine_busy_seconds(), resource.getrusage(resource.RUSAGE_CHILDREN))
            n = max(result["requests"], 1)
            spent = {"api": after[0] - before[0], "fake": after[1] - before[1], "pg": after[2] - before[2],
                     "wrk": (after[4].ru_utime + after[4].ru_stime) - (before[4].ru_utime + before[4].ru_stime)}
            busy, total = after[3][0] - before[3][0], after[3][1] - before[3][1]
            result["cpu_ms"] = {k: v / n * 1000 for k, v in spent.items()}
            # Busy time of the machine that none of the benchmark's processes account for.
            result["other_load"] = max(0.0, busy - sum(spent.values())) / total if total else 0.0
            return result

        for _ in range(args.rounds):
            refresh_statistics(args.db, db_url)  # the last round's submissions grew the tables
            rounds.append({name: measured(url, script) for name, url, script in runs})
        rss = {pid: rss_mib(pid) for pid in group_pids(server.p.pid) if pid != server.p.pid}
    finally:
        server.stop()
        wechat.stop()

    def reference(name: str) -> str | None:
        if name.startswith("POST /api/v1/reports"):
            return CHECKED_INSERT
        if "content check alone" in name or name == CHECKED_INSERT:
            return "reference: insert one row (peewee, commit)"
        if name.startswith("GET"):
            return "reference: bare Flask JSON"
        return None

    def short(ref: str) -> str:
        return {CHECKED_INSERT: "checked insert", "reference: bare Flask JSON": "bare"}.get(ref, "insert")

    lines = [
        f"### Mini-program API, {args.db} — {dt.date.today().isoformat()}",
        "",
        f"Machine: {machine()}." + (" The county's organisation and 1,583 grid boundaries imported; every"
        " submission routed." if args.county else "") + f" gunicorn {args.worker_class} {args.workers}×{args.threads}, wrk {args.connections} connections,"
        f" one connection per request (`Connection: close`, as behind nginx),"
        f" load generator on the same machine. {args.rounds} rounds of {args.seconds} s per endpoint, interleaved,"
        " after a 3 s warm-up each; medians.",
        "",
        "| endpoint | req/s | p50 ms | p99 ms | non-2xx | vs reference | CPU ms/req: API | fake WeChat |"
        + (" PostgreSQL |" if args.db == "postgres" else ""),
        "|---|---:|---:|---:|---:|---|---:|---:|" + ("---:|" if args.db == "postgres" else ""),
    ]
    for name, _, _ in runs:
        got = [r[name] for r in rounds]
        ref = reference(name)
        rel = ""
        if ref:
            share = median(r[name]["rps"] / r[ref]["rps"] for r in rounds)
            rel = f"{share:.0%} of {short(ref)}"
        cpu = [median(g["cpu_ms"][k] for g in got) for k in ("api", "fake", "pg")]
        lines.append(f"| {name} | {median(g['rps'] for g in got):.0f} | {median(g['p50'] for g in got):.1f} "
                     f"| {median(g['p99'] for g in got):.1f} | {sum(g['non2xx'] for g in got)} | {rel} "
                     f"| {cpu[0]:.2f} | {cpu[1]:.2f} |" + (f" {cpu[2]:.2f} |" if args.db == "postgres" else ""))
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

    # Issue 17's targets, each as the median of the per-round values.
    post, l20 = runs[4][0], runs[5][0]
    rate = [r[post]["rps"] / r[CHECKED_INSERT]["rps"] for r in rounds]
    tail = [r[post]["p99"] / r[CHECKED_INSERT]["p99"] for r in rounds]
    lists = [r[l20]["rps"] / r["reference: bare Flask JSON"]["rps"] for r in rounds]
    api_cpu = [r[post]["cpu_ms"]["api"] for r in rounds]
    other = [r[name]["other_load"] for r in rounds for name, _, _ in runs]
    summary = {
        "submission_rate_vs_checked_insert": median(rate),
        "submission_p99_vs_checked_insert": median(tail),
        "list20_vs_bare": median(lists),
        "api_cpu_ms_per_submission": median(api_cpu),
        "fake_cpu_ms_per_submission": median(r[post]["cpu_ms"]["fake"] for r in rounds),
        "pg_cpu_ms_per_submission": median(r[post]["cpu_ms"]["pg"] for r in rounds),
        "rss_mib_per_worker": sorted(rss.values()),
        "other_load_median": median(other),
        "other_load_max": max(other),
    }

    def verdict(ok: bool) -> str:
        return "met" if ok else "NOT met"

    lines += [
        "",
        "| issue 17 target | value (median of rounds; rounds) | |",
        "|---|---|---|",
        f"| submission ≥ 0.9× checked-insert rate | {median(rate):.2f}× ({', '.join(f'{v:.2f}' for v in rate)}) "
        f"| {verdict(median(rate) >= 0.9)} |",
        f"| submission p99 ≤ 1.2× checked-insert p99 | {median(tail):.2f}× ({', '.join(f'{v:.2f}' for v in tail)}) "
        f"| {verdict(median(tail) <= 1.2)} |",
        f"| list of 20 ≥ 0.8× bare | {median(lists):.2f}× ({', '.join(f'{v:.2f}' for v in lists)}) "
        f"| {verdict(median(lists) >= 0.8)} |",
        f"| API CPU per submission ≤ 1.8 ms | {median(api_cpu):.2f} ms ({', '.join(f'{v:.2f}' for v in api_cpu)}) "
        f"| {verdict(median(api_cpu) <= 1.8)} |",
        f"| RSS per worker ≤ 100 MiB after the benchmark | {', '.join(f'{v:.0f}' for v in sorted(rss.values()))} MiB "
        f"| {verdict(bool(rss) and max(rss.values()) <= 100)} |",
        "",
        f"CPU per submission, besides the API's: fake WeChat {summary['fake_cpu_ms_per_submission']:.2f} ms"
        + (f", PostgreSQL {summary['pg_cpu_ms_per_submission']:.2f} ms" if args.db == "postgres" else "")
        + f". Load from other processes during the runs: median {median(other):.0%} of the machine's CPU,"
        f" at most {max(other):.0%} (busy time that none of the benchmark's processes, wrk included, account for).",
    ]
    text = "\n".join(lines)
    (work / "result.json").write_text(json.dumps(
        {"summary": summary, "rounds": [{name: {k: v for k, v in r[name].items() if k != "raw"} for name, _, _ in runs}
                                        for r in rounds]}, indent=2), encoding="utf-8")
    (work / "result.md").write_text(text + "\n", encoding="utf-8")
    for i, r in enumerate(rounds):
        for n, (name, _, _) in enumerate(runs):
            (work / f"round{i + 1}-{n + 1}.wrk.txt").write_text(r[name]["raw"], encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
