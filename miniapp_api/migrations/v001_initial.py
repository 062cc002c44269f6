"""v001: every table of the first release."""
from miniapp_api.models import ALL_MODELS

VERSION = 1


def apply(db) -> None:
    """Apply this migration to ``db``."""
    db.create_tables(ALL_MODELS, safe=True)
