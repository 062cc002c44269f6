"""v012: 我也遇到, 合并 and 办结照片 — who follows which report, how many, the report a duplicate
was merged into, a per-category ``needs_proof`` flag, and the index ``reports/nearby`` reads.

- ``report_support`` (``resident_id, report_id`` unique): a resident follows a report once;
- ``report.supporters`` (count, kept with the rows in one transaction) and
  ``report.merged_into_id``;
- ``category.needs_proof``: 办结 of such a report needs a completion photo;
- ``report_category_id_status_lat_lng``: the nearby search is a bounding box on one category's
  open reports, a range of this index, never a scan of the table.

Safe on a database that v001 created from the current models (new installs): the table is
created only if missing, columns added only if missing (``NOT NULL DEFAULT`` in one
``ALTER TABLE``, as v002 explains), the index with ``IF NOT EXISTS``.
"""
from miniapp_api.models import Category
from miniapp_api.models import Report
from miniapp_api.models import ReportSupport

VERSION = 12

_COLUMNS = (
    (Report, "supporters", "INTEGER NOT NULL DEFAULT 0"),
    (Report, "merged_into_id", 'INTEGER NULL REFERENCES "report" ("id") ON DELETE SET NULL'),
    (Category, "needs_proof", "BOOLEAN NOT NULL DEFAULT FALSE"),
)


def apply(db) -> None:
    """Apply this migration to ``db``."""
    db.create_tables([ReportSupport], safe=True)
    for model, name, ddl in _COLUMNS:
        table = model._meta.table_name
        if name not in {c.name for c in db.get_columns(table)}:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {ddl}')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "report_category_id_status_lat_lng" '
                   'ON "report" ("category_id", "status", "lat", "lng")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "report_merged_into_id" ON "report" ("merged_into_id")')
