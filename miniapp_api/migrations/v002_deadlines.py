"""v002: deadlines and the escalation ladder — the policy, the holiday calendar, the emergency
switch history, ladder steps, ratings and scheduler marks; the report's deadline columns;
the indexes the scheduler and the statistics need.

Safe on a database that v001 created from the current models (new installs): tables are
created only if missing, columns and indexes added only if missing.

Columns with a default are added as ``NOT NULL DEFAULT …`` in one ``ALTER TABLE`` (both
SQLite and PostgreSQL take that without rewriting the table); playhouse's ``add_column``
would add them nullable and then rebuild ``report`` on SQLite to make them NOT NULL, and a
rebuilt parent table cascades deletes into the timeline. Nullable columns go through
playhouse.migrate.

Existing open reports get their first deadline clock from the scheduler's next pass (it
starts at that pass, so an upgrade never escalates a backlog all at once).
"""
from playhouse.migrate import PostgresqlMigrator
from playhouse.migrate import SqliteMigrator
from playhouse.migrate import migrate

from miniapp_api.db import is_postgres
from miniapp_api.models import Report
from miniapp_api.models.deadlines import DEADLINE_MODELS

VERSION = 2

_NULLABLE = ("phase_started_at", "phase_hours", "accept_due_at", "resolve_due_at", "next_step_at")
_DEFAULTED = (
    ("deadline_round", "INTEGER NOT NULL DEFAULT 0"),
    ("missed_deadlines", "SMALLINT NOT NULL DEFAULT 0"),
    ("handover_count", "SMALLINT NOT NULL DEFAULT 0"),
    ("redo_count", "SMALLINT NOT NULL DEFAULT 0"),
    ("resolved_post", "VARCHAR(1) NOT NULL DEFAULT ''"),
    ("resolved_level", "VARCHAR(16) NOT NULL DEFAULT ''"),
    ("resolved_unit", "VARCHAR(48) NOT NULL DEFAULT ''"),
)
_INDEXES = (
    # The scheduler looks only at reports whose next step has come.
    ("report_next_step_at", "report", "next_step_at"),
    # Statistics over a date range, per unit and category.
    ("report_created_at_township_category", "report", "created_at, township_id, category_id"),
)


def apply(db) -> None:
    """Apply this migration to ``db``."""
    db.create_tables(DEADLINE_MODELS, safe=True)
    table = Report._meta.table_name
    have = {c.name for c in db.get_columns(table)}
    for name, ddl in _DEFAULTED:
        if name not in have:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {ddl}')
    migrator = PostgresqlMigrator(db) if is_postgres() else SqliteMigrator(db)
    steps = [migrator.add_column(table, name, Report._meta.fields[name]) for name in _NULLABLE if name not in have]
    if steps:
        migrate(*steps)
    for index, on, columns in _INDEXES:
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{index}" ON "{on}" ({columns})')
    # Open reports written before this version: the scheduler gives them a clock next pass.
    (Report.update(next_step_at=Report.created_at)
     .where(Report.status.in_(["pending", "accepted", "transferred"]) & (Report.deadline_round == 0)
            & Report.next_step_at.is_null())
     .execute())
