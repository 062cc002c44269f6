"""Apply the configuration's organisation to the database: units, departments, categories
and their DingTalk group mappings. Run by ``tongxin init-db``; idempotent."""
from __future__ import annotations

from .config import Settings
from .db import write_tx
from .models import Category
from .models import Department
from .models import GroupMapping
from .models import Township


def _upsert(model, key: dict, values: dict) -> bool:
    """Insert or update one row; True when something changed."""
    row = model.get_or_none(**key)
    if row is None:
        model.create(**key, **values)
        return True
    changed = {k: v for k, v in values.items() if getattr(row, k) != v}
    if changed:
        model.update(**changed).where(model._meta.primary_key == row._pk).execute()
    return bool(changed)


def _map_group(owner_kind: str, owner_code: str, group) -> bool:
    if group is None:
        return False
    return _upsert(GroupMapping, {"owner_kind": owner_kind, "owner_code": owner_code},
                   {"webhook": group.webhook, "secret": group.secret,
                    "conversation_id": group.conversation_id, "enabled": True})


def apply_config(settings: Settings) -> int:
    """Upsert what the config names; return how many rows changed. Nothing is deleted."""
    changed = 0
    with write_tx():
        for i, t in enumerate(settings.townships):
            changed += _upsert(Township, {"code": t.code}, {"name": t.name, "kind": t.kind, "sort_order": i})
            changed += _map_group("township", t.code, t.dingtalk)
        for d in settings.departments:
            changed += _upsert(Department, {"code": d.code}, {"name": d.name})
            changed += _map_group("department", d.code, d.dingtalk)
        for i, c in enumerate(settings.categories):
            changed += _upsert(Category, {"code": c.code},
                               {"name": c.name, "level": c.level, "accept_hours": c.accept_hours,
                                "resolve_hours": c.resolve_hours, "sort_order": i})
    return changed
