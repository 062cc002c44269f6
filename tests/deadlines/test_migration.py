"""Migration v002 upgrades a database from before deadlines (no deadline columns, no ladder
tables), gives its open reports a clock at the scheduler's next pass, and changes nothing
when run again."""
from __future__ import annotations

from miniapp_api import migrations
from miniapp_api.db import database
from miniapp_api.migrations import v002_deadlines as step
from miniapp_api.migrations import v013_catalogue_version
from miniapp_api.models import Report
from miniapp_api.models import SchemaVersion
from miniapp_api.models.deadlines import DEADLINE_MODELS
from tests.deadlines.conftest import T0
from tests.deadlines.conftest import fresh
from tests.deadlines.conftest import hours
from tests.deadlines.conftest import submit

NEW_COLUMNS = ["deadline_round", "phase_started_at", "phase_hours", "accept_due_at", "resolve_due_at",
               "next_step_at", "missed_deadlines", "handover_count", "redo_count", "resolved_post",
               "resolved_level", "resolved_unit"]


def _columns(table: str) -> set[str]:
    return {c.name for c in database.get_columns(table)}


def test_v002_upgrades_an_older_database_and_is_idempotent(org, scheduler, request):
    assert step.VERSION == 2 and migrations.LATEST >= 2
    # The tables this test drops and v002 makes again lack what later steps add to them (v013's
    # catalogue triggers): put those back, so the next tests in this process see the current schema.
    request.addfinalizer(lambda: v013_catalogue_version.apply(database))
    old_open = submit(T0 - hours(100), "sanitation", grid=org.grid)
    old_done = submit(T0 - hours(100), "sanitation", grid=org.grid)
    Report.update(status="closed").where(Report.id == old_done.id).execute()
    # Make it the database of the release before: no ladder tables, no deadline columns.
    database.drop_tables(list(reversed(DEADLINE_MODELS)))
    for index in ("report_next_step_at", "report_created_at_township_category"):
        database.execute_sql(f'DROP INDEX IF EXISTS "{index}"')
    for column in NEW_COLUMNS:
        database.execute_sql(f'ALTER TABLE "report" DROP COLUMN "{column}"')
    SchemaVersion.delete().where(SchemaVersion.version == step.VERSION).execute()
    assert not set(NEW_COLUMNS) & _columns("report")

    assert migrations.upgrade() == [step.VERSION]
    assert set(NEW_COLUMNS) <= _columns("report")
    assert all(database.table_exists(m._meta.table_name) for m in DEADLINE_MODELS)
    assert {"report_next_step_at", "report_created_at_township_category"} <= {
        i.name for i in database.get_indexes("report")}
    # The open report waits for the scheduler, which starts its clock then (no backlog of
    # escalations); the closed one is left alone.
    assert fresh(old_open).next_step_at == T0 - hours(100) and fresh(old_open).deadline_round == 0
    assert fresh(old_done).next_step_at is None and fresh(old_done).redo_count == 0
    assert scheduler(T0).planned == 1
    report = fresh(old_open)
    assert (report.deadline_round, report.accept_due_at, report.missed_deadlines) == (1, T0 + hours(4), 0)

    assert migrations.upgrade() == []  # current: nothing to do
    step.apply(database)  # and the step itself is safe to run again
