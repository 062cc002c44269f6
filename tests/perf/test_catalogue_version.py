"""Migration v013: every table the catalogue cache reads has triggers that bump the version
row in the changing transaction (inserts, updates, deletes), a rolled-back change bumps
nothing, and running the step again is safe."""
from __future__ import annotations

from datetime import date

import pytest

from miniapp_api import catalogue
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.migrations import v013_catalogue_version as step
from miniapp_api.models import Category
from miniapp_api.models.deadlines import EmergencySwitch
from miniapp_api.models.deadlines import Holiday


def _triggered_tables() -> set[str]:
    if is_postgres():
        rows = database.execute_sql("SELECT DISTINCT event_object_table FROM information_schema.triggers "
                                    "WHERE trigger_name LIKE %s", ("%_catalogue",)).fetchall()
        return {r[0] for r in rows}
    rows = database.execute_sql("SELECT tbl_name, name FROM sqlite_master WHERE type = 'trigger'").fetchall()
    by_table: dict[str, set[str]] = {}
    for table, name in rows:
        by_table.setdefault(table, set()).add(name)
    return {t for t, names in by_table.items()
            if {f"{t}_catalogue_{e}" for e in ("insert", "update", "delete")} <= names}


def test_every_cached_table_bumps_the_version_with_its_change(app):
    database.connect(reuse_if_open=True)
    assert set(step.TABLES) <= _triggered_tables()
    seen = [catalogue.read_version()]
    assert seen[0] is not None

    def changed() -> bool:
        seen.append(catalogue.read_version())
        return seen[-1] != seen[-2]

    with write_tx():
        Category.update(accept_hours=Category.accept_hours + 1).where(Category.code == "sanitation").execute()
    assert changed()
    with write_tx():
        Holiday.create(day=date(2026, 12, 31), kind="holiday")
    assert changed()
    with write_tx():
        Holiday.delete().where(Holiday.day == date(2026, 12, 31)).execute()
    assert changed()
    with write_tx():
        EmergencySwitch.create(scope="county", on=True)
    assert changed()
    with pytest.raises(RuntimeError), write_tx():
        Category.update(name="回滚").where(Category.code == "sanitation").execute()
        raise RuntimeError("rolled back")
    assert not changed()  # nothing committed, nothing bumped
    assert Category.get(Category.code == "sanitation").name != "回滚"

    with write_tx():
        step.apply(database)  # again: triggers replaced, not doubled
    assert set(step.TABLES) <= _triggered_tables()
    before = catalogue.read_version()
    with write_tx():
        Category.update(sort_order=Category.sort_order).where(Category.code == "sanitation").execute()
    assert catalogue.read_version() == before + 1  # one bump per change, not two
