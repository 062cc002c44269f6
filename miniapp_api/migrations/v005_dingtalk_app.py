"""v005: the DingTalk app — app-sent groups (``group_mapping.chat_id``), broken mappings
(``broken_reason``, ``broken_at``: DingTalk said the group was disbanded), officials who left
the organisation (``official.left_org_at``), the console's mapping history of ``chat_id``,
and the tables of ``models_dingtalk`` (app sends, roster sync runs).

``webhook`` and ``secret`` stay ``NOT NULL``: an app-sent group stores empty strings there,
so no table has to be rebuilt (SQLite cannot drop a NOT NULL constraint in place).

Safe on a database that v001 created from the current models (new installs): tables are
created only if missing, columns and the index added only if missing.
"""
from peewee import CharField
from playhouse.migrate import PostgresqlMigrator
from playhouse.migrate import SqliteMigrator
from playhouse.migrate import migrate

from miniapp_api.db import is_postgres
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models.console import MappingVersion
from miniapp_api.models.dingtalk import DINGTALK_MODELS

VERSION = 5


def _nullable(field):
    """A copy of ``field`` without its unique constraint (the index is created below)."""
    if isinstance(field, CharField):
        return CharField(max_length=field.max_length, null=True)
    return field


def apply(db) -> None:
    """Apply this migration to ``db``."""
    db.create_tables(DINGTALK_MODELS, safe=True)
    migrator = PostgresqlMigrator(db) if is_postgres() else SqliteMigrator(db)
    steps = []
    for model, names in ((GroupMapping, ["chat_id", "broken_reason", "broken_at"]),
                         (Official, ["left_org_at"]),
                         (MappingVersion, ["chat_id"])):
        table = model._meta.table_name
        if not db.table_exists(table):
            continue  # created whole by its own migration from the current model
        have = {c.name for c in db.get_columns(table)}
        for name in names:
            field = model._meta.fields[name]
            if field.column_name not in have:
                steps.append(migrator.add_column(table, field.column_name, _nullable(field)))
    if steps:
        migrate(*steps)
    # The same name peewee gives the index when v001 creates the table from the model.
    db.execute_sql('CREATE UNIQUE INDEX IF NOT EXISTS "group_mapping_chat_id" ON "group_mapping" ("chat_id")')
