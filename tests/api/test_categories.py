"""``GET /api/v1/categories`` with each category's help text for residents (``[[categories]]
help``, stored by ``init-db`` in ``category.help``, migration v014). On SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from miniapp_api import migrations
from miniapp_api.config import ConfigError
from miniapp_api.config import DEFAULT_CATEGORIES
from miniapp_api.config import parse_settings
from miniapp_api.db import database
from miniapp_api.migrations import v014_category_help as step
from miniapp_api.models import Category
from miniapp_api.models import SchemaVersion
from miniapp_api.seed import apply_config


def test_the_built_in_categories_each_have_a_help_text(client):
    items = client.get("/api/v1/categories").get_json()["items"]
    assert [c["code"] for c in items] == [c["code"] for c in DEFAULT_CATEGORIES]
    assert all(set(c) == {"code", "name", "help"} and c["help"] for c in items)
    sanitation = next(c for c in items if c["code"] == "sanitation")
    assert sanitation == {"code": "sanitation", "name": "环境卫生", "help": "垃圾没人清、污水横流、卫生死角等"}


@pytest.fixture
def configured(settings_dict) -> dict:
    """Two configured categories: one with a help text, one without."""
    settings_dict["categories"] = [
        {"code": "sanitation", "name": "环境卫生", "help": "垃圾、污水、卫生死角"},
        {"code": "noise", "name": "噪音扰民"},
    ]
    return settings_dict


def test_configured_help_texts_and_an_empty_one(configured, client):
    items = client.get("/api/v1/categories").get_json()["items"]
    assert items == [{"code": "sanitation", "name": "环境卫生", "help": "垃圾、污水、卫生死角"},
                     {"code": "noise", "name": "噪音扰民", "help": ""}]


def test_init_db_writes_a_changed_help_text(configured, client):
    configured["categories"][0]["help"] = "新的说明"
    configured["categories"][1]["help"] = "夜间施工、喇叭扰民"
    database.connect(reuse_if_open=True)
    assert apply_config(parse_settings(configured)) >= 2
    assert apply_config(parse_settings(configured)) == 0  # applying it again changes nothing
    helps = {c["code"]: c["help"] for c in client.get("/api/v1/categories").get_json()["items"]}
    assert helps == {"sanitation": "新的说明", "noise": "夜间施工、喇叭扰民"}


def test_a_help_text_over_200_characters_names_the_key(settings_dict):
    settings_dict["categories"] = [{"code": "sanitation", "name": "环境卫生", "help": "字" * 201}]
    with pytest.raises(ConfigError) as info:
        parse_settings(settings_dict)
    assert any(p.startswith("categories.0.help") or p.startswith("categories[0].help") for p in info.value.problems), \
        info.value.problems


def test_the_openapi_document_lists_help_as_a_required_string(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    schemas = doc["components"]["schemas"]
    ref = schemas["CategoryList"]["properties"]["items"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert schemas[ref]["properties"]["help"]["type"] == "string"
    assert {"code", "name", "help"} <= set(schemas[ref]["required"])


def test_v014_adds_the_column_to_an_older_database_and_keeps_the_categories(app, settings):
    database.connect(reuse_if_open=True)
    before = [(c.code, c.name) for c in Category.select().order_by(Category.id)]
    # Make it the database of the release before.
    database.execute_sql('ALTER TABLE "category" DROP COLUMN "help"')
    SchemaVersion.delete().where(SchemaVersion.version == step.VERSION).execute()
    assert "help" not in {c.name for c in database.get_columns("category")}

    assert migrations.upgrade() == [step.VERSION]
    assert [(c.code, c.name, c.help) for c in Category.select().order_by(Category.id)] == [b + ("",) for b in before]
    apply_config(settings)
    assert Category.get(Category.code == "sanitation").help == "垃圾没人清、污水横流、卫生死角等"

    assert migrations.upgrade() == []  # current: nothing to do
    step.apply(database)  # and the step itself is safe to run again
    assert "help" in {c.name for c in database.get_columns("category")}
