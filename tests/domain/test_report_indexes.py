"""Migration v006: the daily limit counts from an index on (resident, created_at), and the two
single-column indexes it makes redundant are gone. Upgrading keeps every report, and
running it again changes nothing."""
from __future__ import annotations

from datetime import timedelta

from miniapp_api import migrations
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.migrations import v006_report_indexes as step
from miniapp_api.models import Report
from miniapp_api.models import SchemaVersion
from miniapp_api.models import utcnow
from miniapp_api.reports.service import _TODAY_COUNT
from tests.factories import make_report
from tests.factories import make_resident

NEW = "report_resident_id_created_at"
GONE = ("report_resident_id", "report_created_at")


def _indexes() -> set[str]:
    return {i.name for i in database.get_indexes("report")}


def _daily_count_plan(resident_id: int) -> str:
    """How the database runs the daily limit's count (the submission's own query) for one
    resident."""
    since = Report.created_at.db_value(utcnow() - timedelta(hours=12))
    sql = _TODAY_COUNT._compile().sql
    if is_postgres():
        with database.atomic():
            # A test table is tiny, so PostgreSQL would rightly scan it; forbid that to see
            # whether the index can answer the count at all.
            database.execute_sql("SET LOCAL enable_seqscan = off")
            rows = database.execute_sql("EXPLAIN " + sql, (resident_id, since, 20)).fetchall()
    else:
        rows = database.execute_sql("EXPLAIN QUERY PLAN " + sql, (resident_id, since, 20)).fetchall()
    return "\n".join(str(r[-1]) for r in rows)


def test_v006_indexes_the_daily_count_and_drops_redundant_indexes(app):
    assert step.VERSION == 6 and migrations.LATEST >= 6
    resident = make_resident()
    kept = [make_report(resident=resident).id for _ in range(3)]
    # Make it the database of the release before.
    database.execute_sql(f'DROP INDEX IF EXISTS "{NEW}"')
    database.execute_sql('CREATE INDEX "report_resident_id" ON "report" ("resident_id")')
    database.execute_sql('CREATE INDEX "report_created_at" ON "report" ("created_at")')
    SchemaVersion.delete().where(SchemaVersion.version == step.VERSION).execute()
    assert NEW not in _daily_count_plan(resident.id)

    assert migrations.upgrade() == [step.VERSION]
    assert NEW in _indexes() and not set(GONE) & _indexes()
    assert NEW in _daily_count_plan(resident.id)
    assert [r.id for r in Report.select().order_by(Report.id)] == kept

    assert migrations.upgrade() == []  # current: nothing to do
    step.apply(database)  # and the step itself is safe to run again
    assert NEW in _indexes() and not set(GONE) & _indexes()


def test_a_new_database_has_the_same_report_indexes_as_an_upgraded_one(app):
    """v001 creates ``report`` from the current model: it must not bring back what v006 drops."""
    assert NEW in _indexes() and not set(GONE) & _indexes()
    assert {"report_resident_id_id", "report_created_at_township_category"} <= _indexes()
