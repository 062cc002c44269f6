"""Benchmark (issue 15): ``GET /api/v1/reports/nearby`` with 200,000 open reports.

    python -m bench.nearby --db sqlite|postgres [--reports 200000] [--runs 500]
                           [--pg postgresql://postgres@127.0.0.1:5432/postgres]

Loads ``--reports`` open reports spread over the county (Yitong: about 43.0–43.7 N,
124.9–125.9 E, 11 categories, the last 30 days), then calls the endpoint in-process through
Flask's test client (authentication, validation, the query, JSON) ``--runs`` times at random
points inside the county and prints p50/p99 in milliseconds, the average number of reports
found, and the database's plan for the query (it must use ``report_category_id_status_lat_lng``,
not scan the table). Target: p99 ≤ 20 ms.
"""
from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database  # noqa: E402
from bench.common import machine  # noqa: E402
from bench.stats_scale import settings_for  # noqa: E402
from miniapp_api import create_app  # noqa: E402
from miniapp_api import migrations  # noqa: E402
from miniapp_api.db import database  # noqa: E402
from miniapp_api.db import write_tx  # noqa: E402
from miniapp_api.models import Category  # noqa: E402
from miniapp_api.models import Report  # noqa: E402
from miniapp_api.models import Resident  # noqa: E402
from miniapp_api.models import Township  # noqa: E402
from miniapp_api.models import utcnow  # noqa: E402
from miniapp_api.reports.lifecycle import OPEN_STATUSES  # noqa: E402
from miniapp_api.seed import apply_config  # noqa: E402
from miniapp_api.web.sessions import issue_token  # noqa: E402

LAT, LNG = (43.0, 43.7), (124.9, 125.9)
CHUNK = 2000


def load(n: int, seed: int) -> None:
    """``n`` open reports, evenly over the county, categories and the last 30 days."""
    rnd = random.Random(seed)
    now = utcnow()
    categories = [c.id for c in Category.select()]
    townships = [t.id for t in Township.select()]
    with write_tx():
        residents = [Resident.create(openid=f"bench-{i}").id for i in range(200)]
    statuses = [str(s) for s in OPEN_STATUSES]
    rows = []
    for i in range(n):
        at = now - timedelta(seconds=rnd.uniform(0, 30 * 86400))
        rows.append(dict(number=f"B{i:09d}", resident=rnd.choice(residents), category=rnd.choice(categories),
                         township=rnd.choice(townships), level="grid", description="压测：路面坑洼",
                         lat=rnd.uniform(*LAT), lng=rnd.uniform(*LNG), status=rnd.choice(statuses),
                         created_at=at, updated_at=at))
        if len(rows) == CHUNK:
            with write_tx():
                Report.insert_many(rows).execute()
            rows = []
    if rows:
        with write_tx():
            Report.insert_many(rows).execute()
    if database.obj.__class__.__name__.lower().startswith("postgres"):
        database.execute_sql("ANALYZE report")
    else:
        database.execute_sql("ANALYZE")


def plan(sql_params) -> str:
    """The database's plan for the nearby query."""
    sql, params = sql_params
    prefix = "EXPLAIN QUERY PLAN " if "sqlite" in database.obj.__class__.__name__.lower() else "EXPLAIN "
    return "\n".join(" ".join(str(c) for c in row) for row in database.execute_sql(prefix + sql, params).fetchall())


def main() -> None:
    """Load, measure, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--reports", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=500)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--seed", type=int, default=15)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-nearby-"))
    url = fresh_database(args.db, "tongxin_bench_nearby", work, args.pg)
    settings = settings_for(url)
    app = create_app(settings)
    database.connect(reuse_if_open=True)
    migrations.upgrade()
    apply_config(settings)
    t0 = time.perf_counter()
    load(args.reports, args.seed)
    loaded_s = time.perf_counter() - t0
    with write_tx():
        token, _ = issue_token(Resident.create(openid="bench-caller"), settings.server.secret_key,
                               timedelta(hours=1), utcnow())
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    codes = [c.code for c in Category.select()]
    rnd = random.Random(args.seed + 1)
    times, found = [], []
    for i in range(args.runs + 20):
        lat, lng = rnd.uniform(LAT[0] + 0.01, LAT[1] - 0.01), rnd.uniform(LNG[0] + 0.01, LNG[1] - 0.01)
        start = time.perf_counter()
        resp = client.get(f"/api/v1/reports/nearby?lat={lat}&lng={lng}&category={rnd.choice(codes)}",
                          headers=headers)
        elapsed = (time.perf_counter() - start) * 1000
        assert resp.status_code == 200, resp.get_json()
        if i >= 20:  # the first calls warm the caches
            times.append(elapsed)
            found.append(len(resp.get_json()["items"]))
    times.sort()
    p50 = statistics.median(times)
    p99 = times[int(len(times) * 0.99) - 1]
    from miniapp_api.reports import nearby  # noqa: E402  (the query whose plan is shown)
    cat = Category.get(Category.code == "road")
    query = (Report.select(Report.id).where(
        (Report.category == cat.id) & Report.status.in_([str(s) for s in OPEN_STATUSES])
        & Report.lat.between(43.3, 43.3014) & Report.lng.between(125.3, 125.3019)))
    print(f"machine: {machine()}")
    print(f"database: {args.db}; {args.reports} open reports loaded in {loaded_s:.1f} s; radius "
          f"{settings.reports.nearby_radius_metres} m; {args.runs} calls; {nearby.__name__}")
    print("| database | open reports | p50 ms | p99 ms | reports found (mean) | target |")
    print("|---|---:|---:|---:|---:|---|")
    print(f"| {args.db} | {args.reports:,} | {p50:.2f} | {p99:.2f} | {statistics.mean(found):.2f} | p99 ≤ 20 ms |")
    print("plan:\n" + plan(query.sql()))
    database.close()


if __name__ == "__main__":
    main()
