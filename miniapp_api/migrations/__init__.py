"""Numbered schema migrations, applied in order by ``tongxin init-db``.

Each module ``vNNN_<what>.py`` defines ``VERSION`` and ``apply(db)``, and is listed in
:data:`STEPS`, in order (a new one is added at the end). ``SchemaVersion`` rows record what
has run, so a current database is left alone and an old one is upgraded.

Rule for writing one: a migration must be safe on a database that ``v001`` created from the
*current* models (new installs run every step in one go), so steps that add a column or an
index first check that it is missing (``db.get_columns`` / ``db.get_indexes``).
"""
from __future__ import annotations

from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.migrations import v001_initial
from miniapp_api.migrations import v002_deadlines
from miniapp_api.migrations import v003_community
from miniapp_api.migrations import v004_console
from miniapp_api.migrations import v005_dingtalk_app
from miniapp_api.migrations import v006_report_indexes
from miniapp_api.migrations import v010_photo_checks
from miniapp_api.migrations import v012_support_merge
from miniapp_api.migrations import v013_catalogue_version
from miniapp_api.migrations import v014_category_help
from miniapp_api.migrations import v015_resident_follows
from miniapp_api.models import SchemaVersion

#: Every migration, in the order it runs.
STEPS = (
    v001_initial,
    v002_deadlines,
    v003_community,
    v004_console,
    v005_dingtalk_app,
    v006_report_indexes,
    v010_photo_checks,
    v012_support_merge,
    v013_catalogue_version,
    v014_category_help,
    v015_resident_follows,
)
# Numbers are handed out per issue, so a higher one may land before a lower one: in order,
# without repeats (the lead closes any gap when the lower ones land).
assert all(a.VERSION < b.VERSION for a, b in zip(STEPS, STEPS[1:])), "migrations must be numbered in order"

LATEST = STEPS[-1].VERSION


def current_version() -> int:
    """The highest applied migration, 0 for an empty database."""
    if not database.table_exists(SchemaVersion._meta.table_name):
        return 0
    row = SchemaVersion.select().order_by(SchemaVersion.version.desc()).first()
    return row.version if row else 0


def upgrade() -> list[int]:
    """Apply every migration not yet applied; return the versions applied (may be empty)."""
    applied = []
    database.create_tables([SchemaVersion], safe=True)
    for step in STEPS:
        with write_tx():
            if SchemaVersion.get_or_none(SchemaVersion.version == step.VERSION):
                continue
            step.apply(database)
            SchemaVersion.create(version=step.VERSION)
        applied.append(step.VERSION)
    return applied
