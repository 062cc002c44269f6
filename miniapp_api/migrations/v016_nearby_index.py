"""v016: the nearby search's index leads with the status: ``report (status, category_id, lat, lng)``
instead of v012's ``report (category_id, status, lat, lng)``.

The search (``reports.nearby``) asks for one category's open reports (``status IN`` the open
statuses) within a box. PostgreSQL 15 uses an ``IN`` list on a later column of a B-tree
only when its planner expects it to narrow the scan; where nearly every report of the
category is ``pending`` (a young county, the benchmark) it did not, and without the status
the latitude could not bound the scan either, so each search read every entry of the
category. With the status first, the ``IN`` list always bounds the scan, then the category,
then the latitude: three short ranges, whatever the statistics say. SQLite searches both
orders the same way.

Safe on a database that v001 created from the current models (new installs) and to run
again: the old index is dropped if present, the new one created if missing.
"""
VERSION = 16

NEW = "report_status_category_id_lat_lng"
OLD = "report_category_id_status_lat_lng"


def apply(db) -> None:
    """Apply this migration to ``db``."""
    db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{NEW}" ON "report" ("status", "category_id", "lat", "lng")')
    db.execute_sql(f'DROP INDEX IF EXISTS "{OLD}"')
