"""v014: ``category.help``, the line that tells residents what belongs in a category
(``[[categories]] help`` in the configuration, ``GET /api/v1/categories`` items' ``help``).

Safe on a database that v001 created from the current models: the column is added only if
missing (``NOT NULL DEFAULT ''`` in one ``ALTER TABLE``, as v002 explains). ``tongxin init-db``
then writes the configured texts, as it does the categories' other settings.
"""
from miniapp_api.models import Category

VERSION = 14


def apply(db) -> None:
    """Apply this migration to ``db``."""
    table = Category._meta.table_name
    if "help" not in {c.name for c in db.get_columns(table)}:
        db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN "help" VARCHAR(200) NOT NULL DEFAULT \'\'')
