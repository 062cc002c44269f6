"""v004: the administrators' console — accounts, sessions, login throttling, the audit log
and the versioned DingTalk group mappings — and the triggers that keep the audit log
append-only in the database itself (no UPDATE, no DELETE; TRUNCATE, used only by the test
suite's reset, is not a row operation).

Safe on a database that v001 created from the current models (new installs): tables are
created only if missing and the triggers are replaced.
"""
from miniapp_api.db import is_postgres
from miniapp_api.models.console import CONSOLE_MODELS

VERSION = 4

_SQLITE_TRIGGERS = (
    """CREATE TRIGGER IF NOT EXISTS audit_entry_no_update BEFORE UPDATE ON audit_entry
       BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END""",
    """CREATE TRIGGER IF NOT EXISTS audit_entry_no_delete BEFORE DELETE ON audit_entry
       BEGIN SELECT RAISE(ABORT, 'audit_entry is append-only'); END""",
)

_POSTGRES_TRIGGERS = (
    """CREATE OR REPLACE FUNCTION audit_entry_append_only() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION 'audit_entry is append-only'; END; $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS audit_entry_append_only ON audit_entry",
    """CREATE TRIGGER audit_entry_append_only BEFORE UPDATE OR DELETE ON audit_entry
       FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()""",
)


def apply(db) -> None:
    """Apply this migration to ``db``."""
    db.create_tables(CONSOLE_MODELS, safe=True)
    for sql in _POSTGRES_TRIGGERS if is_postgres() else _SQLITE_TRIGGERS:
        db.execute_sql(sql)
