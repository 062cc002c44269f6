"""The staging switch: a group's messages go to its staging group (演练群) while it is on.

At send time the DingTalk bridge asks :func:`miniapp_api.groups.policy.staging_robot`.
"""
from __future__ import annotations

from datetime import datetime

from miniapp_api.audit import Who
from miniapp_api.groups.mappings import change
from miniapp_api.groups.snapshots import snapshot
from miniapp_api.validation import FormError


def set_staging(who: Who, kind: str, code: str, enabled: bool, now: datetime) -> int:
    """The staging switch: send this group's messages to its staging group (or back)."""
    snap = snapshot(kind, code)
    if snap is None or (enabled and not (snap["staging_webhook"] and snap["staging_secret"])):
        raise FormError("该群还没有配置演练群（webhook 和 secret），请先在钉钉群页面填写")
    new = dict(snap, staging_enabled=enabled)
    return change(kind, code, new, "staging", "mapping.staging", "开启演练" if enabled else "关闭演练", who, now)
