"""v006: the report indexes that the submission path needs, and none it does not.

- ``report_resident_id_created_at`` (``resident_id, created_at``): the daily limit counts a
  resident's reports since local midnight twice per submission. With only an index on
  ``resident_id``, SQLite and PostgreSQL read every report of the resident to check its
  date; with this one the count is a range of one index.
- ``report_resident_id`` and ``report_created_at`` go: ``report_resident_id_id`` and
  ``report_created_at_township_category`` (v002) lead with the same columns and serve the
  same lookups (the foreign key's checks, date ranges), and every index costs each insert.

Safe on a database that v001 created from the current models (new installs): each step
checks first (``IF NOT EXISTS`` / ``IF EXISTS``).
"""

VERSION = 6


def apply(db) -> None:
    """Apply this migration to ``db``."""
    db.execute_sql('CREATE INDEX IF NOT EXISTS "report_resident_id_created_at" '
                   'ON "report" ("resident_id", "created_at")')
    db.execute_sql('DROP INDEX IF EXISTS "report_resident_id"')
    db.execute_sql('DROP INDEX IF EXISTS "report_created_at"')
