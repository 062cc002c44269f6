"""Numbered schema migrations, applied in order by ``tongxin init-db``.

Each module ``vNNN_<what>.py`` defines ``VERSION`` and ``apply(db)``. ``SchemaVersion`` rows
record what has run, so a current database is left alone and an old one is upgraded.

Rule for writing one: a migration must be safe on a database that ``v001`` created from the
*current* models (new installs run every step in one go), so steps that add a column or an
index first check that it is missing (``db.get_columns`` / ``db.get_indexes``).
"""
from __future__ import annotations

import importlib
import pkgutil

from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.models import SchemaVersion


def _steps():
    mods = []
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("v") and info.name[1:4].isdigit():
            mods.append(importlib.import_module(f"{__name__}.{info.name}"))
    mods.sort(key=lambda m: m.VERSION)
    versions = [m.VERSION for m in mods]
    assert versions == list(range(1, len(versions) + 1)), f"migration numbers have a gap: {versions}"
    return mods


LATEST = len(_steps())


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
    for step in _steps():
        with write_tx():
            if SchemaVersion.get_or_none(SchemaVersion.version == step.VERSION):
                continue
            step.apply(database)
            SchemaVersion.create(version=step.VERSION)
        applied.append(step.VERSION)
    return applied
