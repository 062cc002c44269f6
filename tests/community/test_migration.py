"""The community migration upgrades a database of the first release (no notice or campaign
tables, no home-place columns, no grid boundary) and changes nothing when run again."""
from __future__ import annotations

import importlib
import pkgutil
import re

from playhouse.migrate import PostgresqlMigrator
from playhouse.migrate import migrate

from miniapp_api import migrations
from miniapp_api.db import bind
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.models import ALL_MODELS
from miniapp_api.models import Grid
from miniapp_api.models import Resident
from miniapp_api.models import SchemaVersion
from miniapp_api.models.community import COMMUNITY_MODELS

NEW_COLUMNS = {"resident": ["home_township_id", "home_community_id", "home_grid_id"], "grid": ["boundary"]}


def _community_step():
    for info in pkgutil.iter_modules(migrations.__path__):
        if info.name.endswith("_community"):
            return importlib.import_module(f"{migrations.__name__}.{info.name}")
    raise AssertionError("no community migration")


def _old_create_sql(model, columns: list[str]) -> str:
    """The model's CREATE TABLE without ``columns`` (and their foreign keys)."""
    sql, _ = model._schema._create_table(safe=False).query()
    for column in columns:
        sql = re.sub(rf'"{column}" [A-Z]+(\([0-9]+\))?( NOT NULL)?(, )?', "", sql)
        sql = re.sub(rf', FOREIGN KEY \("{column}"\) REFERENCES [^)]+\)( ON DELETE [A-Z ]+?(?=[,)]))?', "", sql)
    assert all(c not in sql for c in columns), sql
    return sql


def _make_first_release_database(tmp_path, step) -> None:
    if is_postgres():
        database.drop_tables(list(reversed(COMMUNITY_MODELS)), cascade=True)
        migrator = PostgresqlMigrator(database)
        migrate(*[migrator.drop_column(t, c) for t, cs in NEW_COLUMNS.items() for c in cs])
        SchemaVersion.delete().where(SchemaVersion.version == step.VERSION).execute()
        return
    # SQLite cannot drop a column named in a foreign key: build the old schema afresh instead.
    database.close()
    bind(f"sqlite:///{tmp_path / 'first-release.db'}")
    database.connect()
    database.execute_sql(_old_create_sql(Resident, NEW_COLUMNS["resident"]))
    database.execute_sql(_old_create_sql(Grid, NEW_COLUMNS["grid"]))
    database.create_tables([m for m in ALL_MODELS if m not in COMMUNITY_MODELS and m not in (Resident, Grid)])
    for version in range(1, migrations.LATEST + 1):
        if version != step.VERSION:
            SchemaVersion.create(version=version)


def test_upgrade_from_the_first_release(app, tmp_path):
    step = _community_step()
    database.connect(reuse_if_open=True)
    _make_first_release_database(tmp_path, step)
    assert not database.table_exists("notice")
    assert "boundary" not in {c.name for c in database.get_columns("grid")}

    assert migrations.upgrade() == [step.VERSION]
    for table, columns in NEW_COLUMNS.items():
        assert set(columns) <= {c.name for c in database.get_columns(table)}
    assert all(database.table_exists(m._meta.table_name) for m in COMMUNITY_MODELS)
    assert {fk.column for fk in database.get_foreign_keys("resident")} >= set(NEW_COLUMNS["resident"])
    assert migrations.upgrade() == []
    r = Resident.create(openid="o-migrated")
    assert Resident.get_by_id(r.id).home_grid_id is None
    database.close()
