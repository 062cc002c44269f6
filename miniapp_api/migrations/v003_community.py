"""v003: notices and volunteer campaigns; residents' home place; grid boundaries.

Safe on a database that v001 created from the current models (new installs): tables are
created only if missing and columns added only if missing.
"""
from playhouse.migrate import PostgresqlMigrator
from playhouse.migrate import SqliteMigrator
from playhouse.migrate import migrate

from miniapp_api.db import is_postgres
from miniapp_api.models import Grid
from miniapp_api.models import Resident
from miniapp_api.models.community import COMMUNITY_MODELS

VERSION = 3


def apply(db) -> None:
    """Apply this migration to ``db``."""
    db.create_tables(COMMUNITY_MODELS, safe=True)
    migrator = PostgresqlMigrator(db) if is_postgres() else SqliteMigrator(db)
    steps = []
    for model, names in ((Grid, ["boundary"]), (Resident, ["home_township", "home_community", "home_grid"])):
        table = model._meta.table_name
        have = {c.name for c in db.get_columns(table)}
        for name in names:
            field = model._meta.fields[name]
            if field.column_name not in have:
                steps.append(migrator.add_column(table, field.column_name, field))
    if steps:
        migrate(*steps)
