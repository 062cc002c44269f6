"""Benchmark (issue 4): statistics and the deadline scheduler at county scale, on PostgreSQL.

    python bench/stats_scale.py [--reports 1000000] [--open 100000] [--due-share 0.01] [--runs 50]
                                [--pg postgresql://postgres@127.0.0.1:5432/postgres] [--db tongxin_bench]

1. Loads ``--reports`` reports (a year of them, up to the benchmark's "now", 2026-11-27 10:00
   Beijing time) into a dedicated database ``--db`` (dropped and created anew) with
   ``COPY``: the 13 units and 3 departments of the example configuration, 10,000 residents,
   ratings, A→B handovers, redone and escalated reports in realistic shares. The newest
   ``--open`` reports are open, their deadline clocks running; ``--due-share`` of them have a
   ladder step due at "now" (the rest over the next two days).
2. Times the county-wide statistics of one month (October 2026, about 1/12 of the reports),
   ``report_stats(by="township")`` and ``by="township_category"``, ``--runs`` times each:
   p50 and p99 in milliseconds. Target: p99 ≤ 200 ms.
3. Times one scheduler pass over the open reports (the due ones get their reminder, handover
   or escalation written: step row, timeline entry, outbox event), then a second pass with
   nothing due. Target: ≤ 2 s.

Results are printed as a Markdown table for ``docs/benchmarks.md`` and kept as JSON under
``bench/results/``. Run it on a quiet machine: the load of a million reports takes minutes.
"""
from __future__ import annotations

import argparse
import io
import json
import random
import statistics
import sys
import time
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database  # noqa: E402
from bench.common import machine  # noqa: E402
from miniapp_api import migrations  # noqa: E402
from miniapp_api.config import parse_settings  # noqa: E402
from miniapp_api.db import bind  # noqa: E402
from miniapp_api.db import database  # noqa: E402
from miniapp_api.db import write_tx  # noqa: E402
from miniapp_api.deadlines.scheduler import run_pass  # noqa: E402
from miniapp_api.deadlines.stats import report_stats  # noqa: E402
from miniapp_api.models import Category  # noqa: E402
from miniapp_api.models import Community  # noqa: E402
from miniapp_api.models import Department  # noqa: E402
from miniapp_api.models import Grid  # noqa: E402
from miniapp_api.models import Official  # noqa: E402
from miniapp_api.models import Township  # noqa: E402
from miniapp_api.seed import apply_config  # noqa: E402
from miniapp_api.time import LOCAL_TZ  # noqa: E402

NOW = datetime(2026, 11, 27, 10, 0, tzinfo=LOCAL_TZ).astimezone(timezone.utc)
MONTH = (date(2026, 10, 1), date(2026, 10, 31))
TOWNSHIPS = ["yongsheng", "yongning", "yitong", "erdao", "yidan", "maanshan", "jingtai", "kaoshan", "dagushan",
             "xiaogushan", "yingchengzi", "xiwei", "heyuan"]
DEPARTMENTS = ["chengguan", "zhujian", "gongan"]
LEVELS = ["grid", "community", "township"]
GRIDS_PER_TOWNSHIP = 12
RESIDENTS = 10_000
CHUNK = 50_000


def settings_for(db_url: str):
    """The example county's settings, on ``db_url``."""
    dt = "http://127.0.0.1:9"
    return parse_settings({
        "server": {"secret_key": "bench-secret-key-0123456789abcdef", "public_base_url": "https://tongxin.bench"},
        "database": {"url": db_url},
        "wechat": {"appid": "wxbench000000000", "secret": "bench-wechat-secret", "api_base_url": dt,
                   "push_token": "bench-push", "templates": {"report_status": "bench-tmpl"}},
        "dingtalk": {"api_base_url": dt, "app_key": "benchkey", "app_secret": "bench-dt-secret"},
        "townships": [{"code": c, "name": f"{c}镇", "kind": "town", "dingtalk": {
            "webhook": f"{dt}/robot/send?access_token=tok-{c}", "secret": f"SECbench{c}",
            "conversation_id": f"cid-{c}"}} for c in TOWNSHIPS],
        "departments": [{"code": c, "name": f"{c}局"} for c in DEPARTMENTS],
        "county": {"name": "县指挥中心"},
        "deadlines": {"duty_departments": {"parking": "chengguan", "road": "zhujian"}, "digest_enabled": False},
    })


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    """COPY rows (tuples; None is NULL) into ``table`` in chunks; returns how many."""
    total = 0
    buf = io.StringIO()
    n = 0

    def flush():
        buf.seek(0)
        cursor.copy_expert(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN WITH (FORMAT text)', buf)
        buf.seek(0)
        buf.truncate()

    for row in rows:
        buf.write("\t".join(r"\N" if v is None else str(v).replace("\t", " ").replace("\n", " ") for v in row))
        buf.write("\n")
        n += 1
        if n % CHUNK == 0:
            flush()
    if buf.tell():
        flush()
    total += n
    return total


def _ts(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(timezone.utc).replace(tzinfo=None).isoformat(sep=" ")


def load(db_url: str, settings, n_reports: int, n_open: int, due_share: float, seed: int) -> dict:
    """Schema, organisation, residents, reports, ratings and steps; returns row counts."""
    rnd = random.Random(seed)
    bind(db_url)
    database.connect()
    migrations.upgrade()
    apply_config(settings)
    grids: dict[int, list[int]] = {}
    with write_tx():
        for t in Township.select():
            Official.create(township=t, name=f"{t.code}A", role="township_staff", duty_post="A", mobile="13900000001")
            Official.create(township=t, name=f"{t.code}B", role="township_staff", duty_post="B", mobile="13900000002")
            c = Community.create(township=t, name=f"{t.code}社区")
            for g in range(GRIDS_PER_TOWNSHIP):
                grid = Grid.create(community=c, name=f"网格{g}")
                grids.setdefault(t.id, []).append(grid.id)
                Official.create(township=t, community=c, grid=grid, name=f"{t.code}{g}A", role="grid_worker",
                                duty_post="A", mobile="13800000001", on_leave=(g % 10 == 0))
                Official.create(township=t, community=c, grid=grid, name=f"{t.code}{g}B", role="grid_leader",
                                duty_post="B", mobile="13800000002")
        for d in Department.select():
            Official.create(department=d, name=f"{d.code}A", role="department_staff", duty_post="A", mobile="13900000005")
    townships = {t.code: t.id for t in Township.select()}
    departments = [d.id for d in Department.select()]
    categories = [(c.id, c.level, c.accept_hours, c.resolve_hours) for c in Category.select()]
    raw = database.connection()
    cur = raw.cursor()
    # ``follows`` is NOT NULL (v015) and its default is peewee's, so COPY gives it.
    _copy(cur, "resident", ["openid", "unionid", "session_key", "nickname", "created_at", "last_login_at", "follows"],
          ((f"o-bench-{i:06d}", None, "", "", _ts(NOW - timedelta(days=400)), _ts(NOW), 0) for i in range(RESIDENTS)))
    cur.execute("SELECT min(id) FROM resident")
    first_resident = cur.fetchone()[0]

    span = timedelta(days=365).total_seconds()
    cols = ["number", "resident_id", "category_id", "township_id", "grid_id", "department_id", "level", "description",
            "lat", "lng", "address", "anonymous", "status", "moderation", "reply", "rating_score", "rating_comment",
            "urgent", "created_at", "updated_at", "accepted_at", "resolved_at", "closed_at", "deadline_round",
            "phase_started_at", "phase_hours", "accept_due_at", "resolve_due_at", "next_step_at", "missed_deadlines",
            "handover_count", "redo_count", "resolved_post", "resolved_level", "resolved_unit", "supporters"]
    ratings: list[tuple] = []
    handovers: list[tuple] = []
    counts = {"open": 0, "due": 0}
    tcodes = list(townships)

    def rows():
        for i in range(n_reports):
            created = NOW - timedelta(seconds=span * (1 - (i + 0.5) / n_reports))  # oldest first
            cat_id, level, acc_h, res_h = rnd.choice(categories)
            tcode = rnd.choice(tcodes)
            tid = townships[tcode]
            grid = rnd.choice(grids[tid]) if rnd.random() < 0.8 else None
            dept = rnd.choice(departments) if rnd.random() < 0.06 else None
            lvl = "department" if dept else level
            missed = 1 if rnd.random() < 0.08 else 0
            redo = 1 if rnd.random() < 0.04 else 0
            is_open = i >= n_reports - n_open
            accepted = resolved = closed = score = next_step = phase_start = acc_due = res_due = None
            post = rlevel = runit = ""
            if is_open:
                counts["open"] += 1
                status = rnd.choices(["pending", "accepted", "transferred"], [0.45, 0.45, 0.10])[0]
                if status == "transferred" and not dept:
                    dept, lvl = rnd.choice(departments), "department"
                phase_start = max(created, NOW - timedelta(hours=36))
                if status == "accepted":
                    accepted = phase_start
                    res_due = phase_start + timedelta(hours=res_h)
                else:
                    acc_due = phase_start + timedelta(hours=acc_h)
                if rnd.random() < due_share:
                    next_step = NOW - timedelta(minutes=rnd.randint(0, 5))
                    counts["due"] += 1
                else:
                    next_step = NOW + timedelta(minutes=rnd.randint(1, 48 * 60))
            else:
                status = rnd.choices(["closed", "resolved", "rejected"], [0.75, 0.17, 0.08])[0]
                if status != "rejected":
                    accepted = created + timedelta(hours=rnd.uniform(0.2, acc_h * 1.3))
                    res_due = accepted + timedelta(hours=res_h)
                    resolved = accepted + timedelta(hours=rnd.uniform(1, res_h * 1.2))
                    post = "B" if rnd.random() < 0.15 else "A"
                    rlevel, runit = lvl, f"township:{tcode}"
                    if status == "closed":
                        closed = resolved + timedelta(hours=rnd.uniform(1, 72))
                        score = rnd.choices([5, 4, 3, 2, 1], [0.55, 0.25, 0.1, 0.06, 0.04])[0]
                        ratings.append((i, score, _ts(closed), post, rlevel, runit))
                else:
                    closed = created + timedelta(hours=2)
            handed = rnd.random() < 0.05
            if handed:
                handovers.append((i, _ts(created + timedelta(hours=3)), lvl))
            yield (f"B{i:09d}", first_resident + i % RESIDENTS, cat_id, tid, grid, dept, lvl, "批量测试上报", 43.3,
                   125.3, "测试地址", "f", status, "pass", None, score, None, "f", _ts(created),
                   _ts(closed or resolved or accepted or created), _ts(accepted), _ts(resolved), _ts(closed),
                   1 if is_open else 0, _ts(phase_start), (acc_h if acc_due else res_h) if is_open else None,
                   _ts(acc_due), _ts(res_due), _ts(next_step), missed, int(handed), redo, post, rlevel, runit, 0)

    started = time.perf_counter()
    n = _copy(cur, "report", cols, rows())
    cur.execute("SELECT min(id) FROM report")
    first_report = cur.fetchone()[0]
    _copy(cur, "rating_record", ["report_id", "score", "at", "post", "level", "unit", "official", "redo"],
          ((first_report + i, s, at, p, lv, u, "", "f") for i, s, at, p, lv, u in ratings))
    _copy(cur, "escalation_step", ["report_id", "step", "kind", "round", "level", "to_level", "scheduled_at", "at",
                                   "mentioned"],
          ((first_report + i, "0:handover", "handover", 0, lv, "", at, at, "") for i, at, lv in handovers))
    raw.commit()
    raw.autocommit = True  # VACUUM cannot run inside a transaction
    cur.execute("VACUUM ANALYZE report")
    cur.execute("VACUUM ANALYZE rating_record")
    cur.execute("VACUUM ANALYZE escalation_step")
    raw.autocommit = False
    return {"reports": n, "open": counts["open"], "due": counts["due"], "ratings": len(ratings),
            "handovers": len(handovers), "load_seconds": round(time.perf_counter() - started, 1)}


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile of ``values`` (nearest rank)."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def time_stats(runs: int) -> dict:
    """Time the county-wide statistics of one month, ``runs`` times each grouping."""
    out = {}
    for by in ("township", "township_category"):
        report_stats(*MONTH, by=by, now=NOW)  # warm the cache once
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            result = report_stats(*MONTH, by=by, now=NOW)
            times.append((time.perf_counter() - t) * 1000)
        out[by] = {"runs": runs, "p50_ms": round(statistics.median(times), 1), "p99_ms": round(percentile(times, 99), 1),
                   "max_ms": round(max(times), 1), "month_reports": result["total"]["total"],
                   "rows": len(result["items"])}
    return out


def time_scheduler(settings, catch_up_share: float, seed: int) -> dict:
    """The steady pass (the due share of the load), an idle pass, then a catch-up pass: another
    ``catch_up_share`` of the open reports made due at once, as after the worker was down."""
    def timed():
        t = time.perf_counter()
        summary = run_pass(settings, NOW, limit=1_000_000, digests=False)
        return round(time.perf_counter() - t, 3), summary.as_dict()

    out = {}
    out["steady_seconds"], out["steady"] = timed()
    out["idle_seconds"], out["idle"] = timed()
    database.execute_sql(
        "UPDATE report SET next_step_at = %s WHERE id IN (SELECT id FROM report WHERE next_step_at > %s "
        "ORDER BY md5(id::text || %s) LIMIT (SELECT (count(*) * %s)::int FROM report WHERE next_step_at > %s))",
        (_ts(NOW - timedelta(minutes=1)), _ts(NOW), str(seed), catch_up_share, _ts(NOW)))
    database.execute_sql("ANALYZE report")
    out["catch_up_seconds"], out["catch_up"] = timed()
    return out


def main(argv: list[str] | None = None) -> None:
    """Load, time and print the Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reports", type=int, default=1_000_000)
    ap.add_argument("--open", type=int, default=100_000, help="open reports (the newest ones)")
    ap.add_argument("--due-share", type=float, default=0.002,
                    help="share of open reports with a step due at the timed pass (steady state: about 0.14 %% "
                         "of open reports a minute, see docs/deadlines.md)")
    ap.add_argument("--catch-up-share", type=float, default=0.01,
                    help="share of open reports made due at once for the catch-up pass (a worker down for minutes)")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="a PostgreSQL URL whose server hosts the benchmark database")
    ap.add_argument("--db", default="tongxin_bench", help="the benchmark database (dropped and created anew)")
    ap.add_argument("--seed", type=int, default=4)
    args = ap.parse_args(argv)
    if args.open > args.reports:
        ap.error("--open cannot exceed --reports")

    db_url = fresh_database("postgres", args.db, Path("."), args.pg)
    settings = settings_for(db_url)
    print(f"loading {args.reports:,} reports ({args.open:,} open) into {args.db} …", flush=True)
    loaded = load(db_url, settings, args.reports, args.open, args.due_share, args.seed)
    print(f"loaded in {loaded['load_seconds']} s: {loaded}", flush=True)
    stats = time_stats(args.runs)
    sched = time_scheduler(settings, args.catch_up_share, args.seed)
    result = {"machine": machine(), "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "args": vars(args), "loaded": loaded, "stats": stats, "scheduler": sched}
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"stats_scale-{args.reports}-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")

    print()
    print(f"Machine: {result['machine']}")
    print(f"Data: {loaded['reports']:,} reports over a year, {loaded['open']:,} open ({loaded['due']:,} due now), "
          f"{loaded['ratings']:,} ratings, {loaded['handovers']:,} handovers")
    print()
    print("| measurement | result | target |")
    print("|---|---|---|")
    for by, s in stats.items():
        print(f"| statistics, one month county-wide, by {by} ({s['month_reports']:,} reports, {s['rows']} rows), "
              f"{s['runs']} runs | p50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms | p99 ≤ 200 ms |")
    for name, label, target in (("steady", "scheduler pass", "≤ 2 s"), ("catch_up", "catch-up scheduler pass", "—")):
        fp = sched[name]
        print(f"| {label} over {loaded['open']:,} open reports, {fp['looked']:,} due "
              f"({fp['reminders']} reminders, {fp['handovers']} handovers, {fp['escalations']} escalations, "
              f"{fp['whistle_overdue'] + fp['overdue']} overdue) | {sched[name + '_seconds']} s | {target} |")
    print(f"| scheduler pass with nothing due | {sched['idle_seconds']} s | — |")
    print(f"\nresults: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
