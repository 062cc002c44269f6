"""``收到 <notice number>`` in a DingTalk group: the group's unit acknowledges a notice.

Registered for the ``ack`` action of the group commands by composition
(``miniapp_api.wiring``); runs inside the command's transaction.
"""
from __future__ import annotations

from datetime import datetime

from miniapp_api.config import Settings
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.notices import service as notices
from miniapp_api.reports.group_scope import Refused
from miniapp_api.reports.lifecycle import Actor


def acknowledge_in_group(cmd, mapping: GroupMapping, unit, official: Official, actor: Actor, now: datetime,
                         settings: Settings | None) -> str:
    """Run ``收到``; returns the reply text (raises :class:`Refused`)."""
    if mapping.owner_kind != "township":
        raise Refused("本群不是乡镇/街道的工作群，通知由各乡镇/街道群确认收到。")
    try:
        return notices.acknowledge(cmd.number, unit, official.name, official.dingtalk_user_id or "", now)
    except notices.AckRefused as err:
        raise Refused(str(err)) from None
