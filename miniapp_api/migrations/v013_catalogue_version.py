"""v013: the catalogue's version row, bumped by the database itself on every change.

The submission path reads categories, units, the ladder policy, the calendar, the
emergency switch and the duty posts from a per-process cache (:mod:`miniapp_api.catalogue`),
valid while the ``counter`` row named ``catalogue`` keeps the value it had when the cache
was filled. Triggers on every table the cache holds bump that row in the transaction that
changes the table, whoever writes it (the console, the CLI, ``init-db`` applying the
configuration, a roster sync, a DingTalk command, plain SQL): a change that commits has
bumped the version, so no process can keep serving what it replaced.

SQLite has row triggers only (one bump per row written); PostgreSQL bumps once per statement,
``TRUNCATE`` included. Safe to run again: triggers are dropped and created anew.
"""
from miniapp_api.db import is_postgres

VERSION = 13

#: The tables the catalogue cache reads (see ``miniapp_api.catalogue``).
TABLES = ("category", "township", "department", "community", "grid", "official", "deadline_policy", "holiday",
          "emergency_switch")

_BUMP = ("INSERT INTO \"counter\" (\"name\", \"value\") VALUES ('catalogue', 1) "
         "ON CONFLICT (\"name\") DO UPDATE SET \"value\" = \"counter\".\"value\" + 1")


def apply(db) -> None:
    """Apply this migration to ``db``."""
    if is_postgres():
        db.execute_sql(f"""
            CREATE OR REPLACE FUNCTION tongxin_catalogue_changed() RETURNS trigger AS $$
            BEGIN
              {_BUMP};
              RETURN NULL;
            END $$ LANGUAGE plpgsql""")
        for table in TABLES:
            db.execute_sql(f'DROP TRIGGER IF EXISTS "{table}_catalogue" ON "{table}"')
            db.execute_sql(f'CREATE TRIGGER "{table}_catalogue" AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE '
                           f'ON "{table}" FOR EACH STATEMENT EXECUTE FUNCTION tongxin_catalogue_changed()')
    else:
        for table in TABLES:
            for event in ("insert", "update", "delete"):
                name = f"{table}_catalogue_{event}"
                db.execute_sql(f'DROP TRIGGER IF EXISTS "{name}"')
                db.execute_sql(f'CREATE TRIGGER "{name}" AFTER {event.upper()} ON "{table}" BEGIN {_BUMP}; END')
    db.execute_sql(_BUMP)
