"""A group DingTalk says is gone (disbanded, or the app's chat no longer exists).

Its mapping is disabled with the reason, which the console shows until an administrator
binds the group again (a save clears the mark, see :mod:`.mappings`).
"""
from __future__ import annotations

import logging
from datetime import datetime

from miniapp_api.db import write_tx
from miniapp_api.models import GroupMapping
from miniapp_api.models import TargetState
from miniapp_api.groups.owners import target_of

log = logging.getLogger(__name__)


def mark_broken(chat_id: str, reason: str, now: datetime) -> GroupMapping | None:
    """Disable the mapping of ``chat_id`` and say why (the console shows it); idempotent."""
    with write_tx():
        m = GroupMapping.get_or_none(GroupMapping.chat_id == chat_id)
        if m is None:
            return None
        if m.broken_reason is None or m.enabled:
            (GroupMapping.update(enabled=False, broken_reason=reason[:500], broken_at=now, updated_at=now)
             .where(GroupMapping.id == m.id).execute())
    log.warning("DingTalk group %s:%s marked broken: %s", m.owner_kind, m.owner_code, reason)
    return GroupMapping.get_by_id(m.id)


def disbanded(chat_id: str, now: datetime) -> GroupMapping | None:
    """DingTalk's ``chat_disband`` event: mark the group broken and say so on its health."""
    mapping = mark_broken(chat_id, "钉钉群已解散（chat_disband 事件）", now)
    if mapping is not None:
        target = target_of(mapping.owner_kind, mapping.owner_code)
        with write_tx():
            TargetState.insert(target=target).on_conflict_ignore().execute()
            (TargetState.update(last_error="钉钉群已解散：映射已停用，请在控制台重新绑定", last_error_at=now)
             .where(TargetState.target == target).execute())
    return mapping
