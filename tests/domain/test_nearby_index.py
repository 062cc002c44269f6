"""Migration v016: the nearby search reads ``report (status, category_id, lat, lng)``, so the
open statuses, the category and the latitude all bound its scan, whatever the database's
statistics say. Upgrading keeps every report, and running it again changes nothing."""
from __future__ import annotations

from datetime import timedelta

from miniapp_api import migrations
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.migrations import v016_nearby_index as step
from miniapp_api.models import Category
from miniapp_api.models import Report
from miniapp_api.models import SchemaVersion
from miniapp_api.models import utcnow
from miniapp_api.reports import nearby
from tests.factories import make_report

LAT_BANDS = 97


def _indexes() -> set[str]:
    return {i.name for i in database.get_indexes("report")}


def _mod(expr: str, n: int) -> str:
    """``expr`` modulo ``n`` in SQL both engines read alike (``%`` means a parameter to psycopg2)."""
    return f"({expr} - ({expr} / {n}) * {n})"


def _a_young_county(reports: int = 15000) -> Category:
    """``reports`` pending reports of one category on a lattice of the county (every one
    pending, as in a county's first weeks), copied from one made the usual way."""
    first = make_report(category="sanitation")
    columns = [c.name for c in database.get_columns("report") if c.name not in ("id", "number", "lat", "lng")]
    names = ", ".join(f'"{c}"' for c in columns)
    database.execute_sql(
        f'WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {reports}) '
        f'INSERT INTO "report" ({names}, "number", "lat", "lng") '
        f'SELECT {names}, \'RT\' || CAST(g.n AS VARCHAR(12)), 43.2 + {_mod("g.n", LAT_BANDS)} * 0.003, '
        f'125.1 + {_mod("g.n", 89)} * 0.004 FROM "report", g WHERE "report"."id" = {first.id}')
    database.execute_sql("ANALYZE")
    return Category.get(Category.code == "sanitation")


def _plan(category: Category) -> str:
    """How the database runs the nearby search at one point of the lattice."""
    lat, lng = 43.2 + 5 * 0.003, 125.1 + 5 * 0.004
    box = {"category": category.id, "south": lat - 0.00135, "north": lat + 0.00135, "west": lng - 0.0018,
           "east": lng + 0.0018, "since": utcnow() - timedelta(days=30)}
    compiled = nearby._IN_BOX._compile()
    args = [slot[1] if slot[0] == "const" else
            (slot[2].db_value(box[slot[1]]) if slot[2] is not None else box[slot[1]]) for slot in compiled.slots]
    if is_postgres():
        # As the app runs it: a statement prepared on the server, whose plan PostgreSQL makes
        # generic (for any values) after a few runs.
        name, prepare, _ = compiled.server
        with database.atomic():
            database.execute_sql("SET LOCAL plan_cache_mode = force_generic_plan")
            database.execute_sql(prepare.replace(name, "nearby_plan", 1))
            rows = database.execute_sql(f"EXPLAIN EXECUTE nearby_plan({', '.join(['%s'] * len(args))})",
                                        args).fetchall()
            database.execute_sql("DEALLOCATE nearby_plan")
    else:
        rows = database.execute_sql("EXPLAIN QUERY PLAN " + compiled.sql, args).fetchall()
    return "\n".join(str(r[-1]) for r in rows)


def test_the_nearby_search_is_bounded_by_status_category_and_latitude(app):
    database.connect(reuse_if_open=True)
    plan = _plan(_a_young_county())
    assert step.NEW in plan, plan
    if is_postgres():
        cond = next(line for line in plan.splitlines() if "Index Cond" in line)
        assert "status" in cond and "category_id" in cond and "lat >=" in cond, plan
    else:
        assert "(status=? AND category_id=? AND lat>? AND lat<?)" in plan, plan


def test_v016_replaces_the_index_and_keeps_every_report(app):
    database.connect(reuse_if_open=True)
    kept = [make_report().id for _ in range(3)]
    # Make it the database of the release before.
    database.execute_sql(f'DROP INDEX IF EXISTS "{step.NEW}"')
    database.execute_sql(f'CREATE INDEX "{step.OLD}" ON "report" ("category_id", "status", "lat", "lng")')
    SchemaVersion.delete().where(SchemaVersion.version == step.VERSION).execute()

    assert migrations.upgrade() == [step.VERSION]
    assert step.NEW in _indexes() and step.OLD not in _indexes()
    assert [r.id for r in Report.select().order_by(Report.id)] == kept
    assert migrations.upgrade() == []  # current: nothing to do
    step.apply(database)  # and the step itself is safe to run again
    assert step.NEW in _indexes() and step.OLD not in _indexes()


def test_a_new_database_has_only_the_new_index(app):
    database.connect(reuse_if_open=True)
    assert step.NEW in _indexes() and step.OLD not in _indexes()
