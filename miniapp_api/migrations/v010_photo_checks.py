"""v010: WeChat's image check of each photo — ``upload.moderation`` and ``upload.moderation_trace_id``.

A photo attached to a report (a resident's, or a completion photo) is checked with
``mediaCheckAsync``; the verdict arrives later as a push that names the check's ``trace_id``
(:mod:`miniapp_api.reports.photo_checks`). Photos stored before this migration are
``unchecked``: they stay visible as they were until ``tongxin check-photos`` asks for their
checks.

Safe on a database that v001 created from the current models (new installs): columns are
added only if missing, the index with ``IF NOT EXISTS``.
"""
from miniapp_api.models import Upload

VERSION = 10

_COLUMNS = (
    ("moderation", "VARCHAR(16) NOT NULL DEFAULT 'unchecked'"),
    ("moderation_trace_id", "VARCHAR(64) NULL"),
)


def apply(db) -> None:
    """Apply this migration to ``db``."""
    table = Upload._meta.table_name
    have = {c.name for c in db.get_columns(table)}
    for name, ddl in _COLUMNS:
        if name not in have:
            db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "{name}" {ddl}')
    db.execute_sql(f'CREATE INDEX IF NOT EXISTS "upload_moderation_trace_id" ON "{table}" ("moderation_trace_id")')
