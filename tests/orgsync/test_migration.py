"""Migration v005 upgrades a database from before the DingTalk app (no ``chat_id``, no broken
mark, no ``left_org_at``, no app tables), keeps its rows, and changes nothing run again."""
from __future__ import annotations

from miniapp_api import migrations
from miniapp_api.db import database
from miniapp_api.migrations import v005_dingtalk_app as step
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models import SchemaVersion
from miniapp_api.models.dingtalk import DINGTALK_MODELS

NEW_COLUMNS = {"group_mapping": ["chat_id", "broken_reason", "broken_at"], "official": ["left_org_at"],
               "mapping_version": ["chat_id"]}


def _columns(table: str) -> set[str]:
    return {c.name for c in database.get_columns(table)}


def test_v005_upgrades_an_older_database_and_is_idempotent(app, db):
    assert step.VERSION == 5 and migrations.LATEST >= 5
    GroupMapping.create(owner_kind="department", owner_code="old", webhook="https://x/robot/send?access_token=a",
                        secret="SECx", conversation_id="cid-old")
    # Make it the database of the release before: no app tables, no new columns.
    database.drop_tables(list(reversed(DINGTALK_MODELS)))
    database.execute_sql('DROP INDEX IF EXISTS "group_mapping_chat_id"')
    for table, columns in NEW_COLUMNS.items():
        for column in columns:
            database.execute_sql(f'ALTER TABLE "{table}" DROP COLUMN "{column}"')
    SchemaVersion.delete().where(SchemaVersion.version == step.VERSION).execute()
    for table, columns in NEW_COLUMNS.items():
        assert not set(columns) & _columns(table)

    assert migrations.upgrade() == [step.VERSION]
    for table, columns in NEW_COLUMNS.items():
        assert set(columns) <= _columns(table), table
    assert all(database.table_exists(m._meta.table_name) for m in DINGTALK_MODELS)
    unique = {i.name: i.unique for i in database.get_indexes("group_mapping")}
    assert unique.get("group_mapping_chat_id") is True
    old = GroupMapping.get(GroupMapping.owner_code == "old")
    assert (old.chat_id, old.broken_reason, old.webhook) == (None, None, "https://x/robot/send?access_token=a")
    assert Official.select().where(Official.left_org_at.is_null(False)).count() == 0

    assert migrations.upgrade() == []  # current: nothing to do
    step.apply(database)  # and the step itself is safe to run again
