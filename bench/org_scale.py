"""Benchmark (issue 13): a county-sized organisation imported, and report locations routed.

    python bench/org_scale.py [--db sqlite|postgres] [--locations 100000] [--seed 13]
                              [--pg postgresql://postgres@127.0.0.1:5432/postgres] [--name tongxin_org_bench]

1. Writes Yitong's organisation as the county would hand it over: a roster CSV (13 units,
   198 villages and communities, 1,583 grids, 198 community-level grid leaders, 1,592 grid
   workers, township staff on A/B posts, department staff of 3 departments, county staff) and
   a GeoJSON of the 1,583 grid boundaries (generated: each community's grids tile a block of
   its township's area). Times ``import-org`` then ``import-grids`` on an empty database.
   Target: ≤ 30 s together.
2. Routes ``--locations`` random points over the county (a share of them outside every grid,
   each with a random township picked) through ``routing.route``, the function a submission
   calls (reading the catalogue's version included, as ``GET /locate`` does), in one process. Target: ≥ 5,000 per second.
   Also times the in-memory part alone (``GridIndex.route``), and one call's cost, to set
   beside a submission's.

Prints a Markdown table for ``docs/benchmarks.md``; the JSON goes to ``bench/results/``.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fresh_database  # noqa: E402
from bench.common import machine  # noqa: E402
from bench.stats_scale import DEPARTMENTS  # noqa: E402  (the same county as the statistics benchmark)
from bench.stats_scale import TOWNSHIPS  # noqa: E402
from bench.stats_scale import settings_for  # noqa: E402
from miniapp_api import migrations  # noqa: E402
from miniapp_api.db import bind  # noqa: E402
from miniapp_api.db import database  # noqa: E402
from miniapp_api.models import Community  # noqa: E402
from miniapp_api.models import Grid  # noqa: E402
from miniapp_api.models import Official  # noqa: E402
from miniapp_api.models import Township  # noqa: E402
from miniapp_api.org import grid_import  # noqa: E402
from miniapp_api.org import roster_import  # noqa: E402
from miniapp_api.org import routing  # noqa: E402
from miniapp_api.seed import apply_config  # noqa: E402

COMMUNITIES, GRIDS, WORKERS = 198, 1583, 1592
ORIGIN = (43.10, 125.00)       # south-west corner of the county's generated area
CELL = (0.006, 0.008)          # one grid: about 670 m × 650 m
COLS_PER_COMMUNITY = 3         # a community's grids: rows of three cells
COMMUNITY_SPAN = (0.020, 0.026)  # a community's block (room for 9 cells, with a gap)
COMMUNITIES_PER_ROW = 4          # inside a township's block
TOWNSHIP_SPAN = (0.085, 0.11)
TOWNSHIPS_PER_ROW = 4
MAX_METRES = 500


def _split(total: int, parts: int) -> list[int]:
    """``total`` spread over ``parts`` as evenly as possible (the first ones get one more)."""
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def organisation() -> tuple[str, dict, list]:
    """The roster CSV, the GeoJSON of the boundaries, and ``(township, (south, west, north,
    east))`` of every grid, for the routing sample."""
    rows = [",".join(roster_import.HEADER)]
    features, boxes = [], []
    mobile = iter(range(13_900_000_000, 13_999_999_999))
    ding = iter(range(1, 10**6))

    def person(t: str, c: str, g: str, role: str, post: str) -> None:
        n = next(ding)
        rows.append(f"{t},{c},{g},干部{n},{role},{post},dt-{n},{next(mobile)}")

    grids_of = _split(GRIDS, COMMUNITIES)  # 8 grids a community, one with 7
    extra_b = WORKERS - GRIDS              # grids that also have a worker on the B post
    communities = _split(COMMUNITIES, len(TOWNSHIPS))
    k = 0
    for ti, t in enumerate(TOWNSHIPS):
        t_south = ORIGIN[0] + TOWNSHIP_SPAN[0] * (ti // TOWNSHIPS_PER_ROW)
        t_west = ORIGIN[1] + TOWNSHIP_SPAN[1] * (ti % TOWNSHIPS_PER_ROW)
        for ci in range(communities[ti]):
            c = f"{t}第{ci + 1}村"
            c_south = t_south + COMMUNITY_SPAN[0] * (ci // COMMUNITIES_PER_ROW)
            c_west = t_west + COMMUNITY_SPAN[1] * (ci % COMMUNITIES_PER_ROW)
            person(t, c, "", "community_leader", "A")
            for gi in range(grids_of[k]):
                g = f"第{gi + 1}网格"
                person(t, c, g, "grid_worker", "A")
                if extra_b > 0:
                    person(t, c, g, "grid_worker", "B")
                    extra_b -= 1
                south = round(c_south + CELL[0] * (gi // COLS_PER_COMMUNITY), 6)
                west = round(c_west + CELL[1] * (gi % COLS_PER_COMMUNITY), 6)
                north, east = round(south + CELL[0], 6), round(west + CELL[1], 6)
                ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
                features.append({"type": "Feature", "properties": {"township": t, "community": c, "grid": g},
                                 "geometry": {"type": "Polygon", "coordinates": [ring]}})
                boxes.append((t, (south, west, north, east)))
            k += 1
        person(t, "", "", "township_staff", "A")
        person(t, "", "", "township_staff", "B")
    for d in DEPARTMENTS:
        person(d, "", "", "department_staff", "A")
        person(d, "", "", "department_staff", "B")
    person("county", "", "", "county_staff", "A")
    person("county", "", "", "county_staff", "B")
    return "\n".join(rows) + "\n", {"type": "FeatureCollection", "features": features}, boxes


def time_import(work: Path, roster: str, geojson: dict) -> dict:
    """``import-org`` then ``import-grids`` from files, on the empty database."""
    csv_path, grids_path = work / "roster.csv", work / "grids.geojson"
    csv_path.write_text(roster, encoding="utf-8")
    grids_path.write_text(json.dumps(geojson, ensure_ascii=False), encoding="utf-8")
    t0 = time.perf_counter()
    org = roster_import.import_org(path=csv_path)
    t1 = time.perf_counter()
    grids = grid_import.import_grids(grids_path)
    t2 = time.perf_counter()
    return {"roster_s": round(t1 - t0, 2), "grids_s": round(t2 - t1, 2), "total_s": round(t2 - t0, 2),
            "officials": org.officials_created, "grids_created": org.grids_created,
            "boundaries": grids.boundaries_set,
            "counts": {"townships": Township.select().count(), "communities": Community.select().count(),
                       "grids": Grid.select().count(),
                       **{r: Official.select().where(Official.role == r).count() for r in roster_import.ROLES}}}


def sample(boxes: list, n: int, seed: int) -> list[tuple[float, float, str]]:
    """``n`` points: 80 % inside a random grid, 20 % anywhere over the county's area; each
    with a random township picked (the grid's own, most of the time)."""
    rnd = random.Random(seed)
    south = min(b[1][0] for b in boxes)
    west = min(b[1][1] for b in boxes)
    north = max(b[1][2] for b in boxes)
    east = max(b[1][3] for b in boxes)
    points = []
    for _ in range(n):
        t, (s, w, no, e) = rnd.choice(boxes)
        if rnd.random() < 0.8:
            lat, lng = rnd.uniform(s, no), rnd.uniform(w, e)
        else:
            lat, lng = rnd.uniform(south, north), rnd.uniform(west, east)
        points.append((lat, lng, t if rnd.random() < 0.9 else rnd.choice(TOWNSHIPS)))
    return points


def time_routing(points: list) -> dict:
    """Route every point through ``routing.route`` (as a submission does), then through the
    in-memory index alone."""
    units = {t.code: routing.unit_of(t) for t in Township.select()}
    routing.current_index()  # built once, as the first request of a process would
    rules: dict[str, int] = {}
    t0 = time.perf_counter()
    for lat, lng, t in points:
        r = routing.route(lat, lng, township=units[t], max_metres=MAX_METRES)
        rules[str(r.rule)] = rules.get(str(r.rule), 0) + 1
    full = time.perf_counter() - t0
    index = routing.current_index()
    t0 = time.perf_counter()
    for lat, lng, t in points:
        index.route(lat, lng, township=units[t], max_metres=MAX_METRES)
    memory = time.perf_counter() - t0
    t0 = time.perf_counter()
    fresh = routing.GridIndex(routing.grid_rows())  # the rebuild a change causes (nothing reused)
    build = time.perf_counter() - t0
    return {"locations": len(points), "per_second": round(len(points) / full), "us_per_call": round(full / len(points) * 1e6, 1),
            "index_only_per_second": round(len(points) / memory), "index_build_s": round(build, 3),
            "indexed_grids": len(fresh), "rules": rules}


def main(argv: list[str] | None = None) -> None:
    """Run the benchmark and print the results."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    ap.add_argument("--locations", type=int, default=100_000)
    ap.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--name", default="tongxin_org_bench", help="the PostgreSQL database (dropped and created anew)")
    ap.add_argument("--seed", type=int, default=13)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = fresh_database(args.db, args.name, work, args.pg)
        bind(url)
        database.connect()
        migrations.upgrade()
        apply_config(settings_for(url))
        roster, geojson, boxes = organisation()
        imported = time_import(work, roster, geojson)
        routed = time_routing(sample(boxes, args.locations, args.seed))
        database.close()

    result = {"date": datetime.now().strftime("%Y-%m-%d"), "machine": machine(), "db": args.db,
              "import": imported, "routing": routed}
    out = ROOT / "bench" / "results" / f"org_scale-{args.db}-{result['date']}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    c = imported["counts"]
    print(f"""
{result['date']}, {args.db}, {result['machine']}

| measurement | result | target |
|---|---|---|
| import-org + import-grids: {c['townships']} units, {c['communities']} communities, {c['grids']} grids with boundaries, {c['community_leader']} community leaders, {c['grid_worker']} grid workers, {c['township_staff']} township, {c['department_staff']} department and {c['county_staff']} county staff | {imported['total_s']} s (roster {imported['roster_s']} s, boundaries {imported['grids_s']} s) | ≤ 30 s |
| routing {routed['locations']:,} locations through `routing.route` (as a submission calls it), one process | {routed['per_second']:,} /s ({routed['us_per_call']} µs each) | ≥ 5,000 /s |
| the same, in-memory index only | {routed['index_only_per_second']:,} /s | |
| index (re)build over {routed['indexed_grids']:,} grids | {routed['index_build_s']} s | |

rules: {routed['rules']}
""")


if __name__ == "__main__":
    main()
