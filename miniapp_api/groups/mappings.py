"""DingTalk group mappings as the console manages them: verified before they are trusted.

* :func:`save_mapping` validates (:mod:`.checks`) and writes a unit's or department's mapping
  (webhook, secret, conversation id, enabled, mention policy, staging group), one new
  :class:`MappingVersion` (:mod:`.versions`) and one audit entry, in one transaction. Secrets
  are write-only: an empty field keeps the stored one, and no page, export, audit entry or
  log shows it (:mod:`.snapshots`).
* :func:`rollback` restores any earlier version, as a new version.

The rest of a group lives beside this module: :mod:`.owners` (whose group), :mod:`.staging`
(the staging switch), :mod:`.testsend` (a test message and DingTalk's answer),
:mod:`.health` (each group's deliveries), :mod:`.policy` (staging robot and mention policy at
send time) and :mod:`.duty` (who is on duty); where a report would go is
``miniapp_api.org.dryrun``.
"""
from __future__ import annotations

from datetime import datetime

from peewee import IntegrityError

from miniapp_api import audit
from miniapp_api.audit import Who
from miniapp_api.config import Settings
from miniapp_api.db import write_tx
from miniapp_api.models import GroupMapping
from miniapp_api.models.console import MappingPolicy
from miniapp_api.models.console import MappingVersion
from miniapp_api.groups.checks import MappingInput
from miniapp_api.groups.checks import validated
from miniapp_api.groups.owners import owner
from miniapp_api.groups.snapshots import public_snapshot
from miniapp_api.groups.snapshots import snapshot
from miniapp_api.groups.versions import store_version
from miniapp_api.validation import FormError


def _write(kind: str, code: str, snap: dict, now: datetime) -> None:
    mapping_values = {k: snap[k] for k in ("webhook", "secret", "conversation_id", "enabled")}
    # An app group (chat_id) may have no robot: stored as empty strings. A save by an
    # administrator also clears a "broken" mark (DingTalk said the group was disbanded).
    mapping_values.update(webhook=mapping_values["webhook"] or "", secret=mapping_values["secret"] or "",
                          chat_id=snap.get("chat_id") or None, broken_reason=None, broken_at=None)
    policy_values = {k: snap[k] for k in ("mention_policy", "staging_webhook", "staging_secret", "staging_enabled")}
    cond_m = (GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code)
    if snap["webhook"] is None and not snap.get("chat_id"):
        GroupMapping.delete().where(cond_m).execute()
    elif GroupMapping.get_or_none(cond_m):
        GroupMapping.update(updated_at=now, **mapping_values).where(cond_m).execute()
    else:
        GroupMapping.create(owner_kind=kind, owner_code=code, updated_at=now, **mapping_values)
    cond_p = (MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == code)
    if MappingPolicy.get_or_none(cond_p):
        MappingPolicy.update(updated_at=now, **policy_values).where(cond_p).execute()
    else:
        MappingPolicy.create(owner_kind=kind, owner_code=code, updated_at=now, **policy_values)


def change(kind: str, code: str, new: dict, action: str, audit_action: str, note: str, who: Who,
            now: datetime) -> int:
    """Write ``new`` as the mapping's state, keep a version, audit it; returns the version."""
    unit = owner(kind, code)
    township = code if kind == "township" else None
    try:
        with write_tx():
            before = snapshot(kind, code)
            if before is not None and not MappingVersion.select().where(
                    (MappingVersion.owner_kind == kind) & (MappingVersion.owner_code == code)).exists():
                # The first console change keeps what the configuration had seeded, for rollback.
                store_version(kind, code, before, "initial", "修改前的设置（来自配置文件）", who, now)
            _write(kind, code, new, now)
            version = store_version(kind, code, new, action, note, who, now)
            audit.record(who, audit_action, target=f"mapping:{kind}:{code}", township=township,
                         before=public_snapshot(before), after=public_snapshot(new),
                         note=f"{unit.name if unit else code} 版本 {version}" + (f"：{note}" if note else ""), now=now)
    except IntegrityError:
        raise FormError({"conversation_id": "该 conversation id 已被另一个群映射使用"}) from None
    return version


def save_mapping(who: Who, kind: str, code: str, data: MappingInput, settings: Settings, now: datetime) -> int:
    """Validate and save; returns the new version number. Raises FormError on bad input."""
    new = validated(kind, code, data, settings)
    action = "mapping.updated" if snapshot(kind, code) else "mapping.created"
    return change(kind, code, new, "update", action, data.note.strip(), who, now)


def rollback(who: Who, kind: str, code: str, version: int, now: datetime) -> int:
    """Restore version ``version`` as a new version; returns its number."""
    row = MappingVersion.get_or_none((MappingVersion.owner_kind == kind) & (MappingVersion.owner_code == code)
                                     & (MappingVersion.version == version))
    if row is None:
        raise FormError(f"没有版本 {version}")
    snap = {k: getattr(row, k) for k in ("webhook", "secret", "conversation_id", "enabled", "mention_policy",
                                         "staging_webhook", "staging_secret", "staging_enabled", "chat_id")}
    if snap["conversation_id"]:
        other = GroupMapping.get_or_none((GroupMapping.conversation_id == snap["conversation_id"])
                                         & ~((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code)))
        if other is not None:
            raise FormError(f"不能回滚：版本 {version} 的群现在绑定在 {other.owner_code}")
    return change(kind, code, snap, "rollback", "mapping.rollback", f"回滚到版本 {version}", who, now)
