"""Apply the configuration's organisation to the database: units, departments, categories
and their DingTalk group mappings. Run by ``tongxin init-db``; idempotent."""
from __future__ import annotations

from miniapp_api.config import Settings
from miniapp_api.db import write_tx
from miniapp_api.deadlines.policy import seed_policy
from miniapp_api.models import Category
from miniapp_api.models import Department
from miniapp_api.models import GroupMapping
from miniapp_api.models import Township
from miniapp_api.models.console import MappingVersion


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
    if MappingVersion.select().where((MappingVersion.owner_kind == owner_kind)
                                     & (MappingVersion.owner_code == owner_code)).exists():
        return False  # changed in the console since: its version wins (its history keeps the config's)
    values = {"webhook": group.webhook or "", "secret": group.secret or "",
              "conversation_id": group.conversation_id, "enabled": True,
              "chat_id": group.chat_id}  # chat_id: an app-sent group (docs/dingtalk-app.md)
    row = GroupMapping.get_or_none((GroupMapping.owner_kind == owner_kind) & (GroupMapping.owner_code == owner_code))
    if row is not None and row.broken_reason:
        if row.chat_id == group.chat_id and row.webhook == values["webhook"]:
            del values["enabled"]  # still the group DingTalk said was disbanded: stays off
        else:
            values.update(broken_reason=None, broken_at=None)  # the config names a new group
    return _upsert(GroupMapping, {"owner_kind": owner_kind, "owner_code": owner_code}, values)


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
                                "resolve_hours": c.resolve_hours, "sort_order": i,
                                "needs_proof": c.needs_proof, "help": c.help})
        if settings.county is not None:
            changed += _map_group("county", "county", settings.county.dingtalk)
        changed += seed_policy(settings)  # [deadlines]: the ladder policy and the holiday calendar
    return changed
