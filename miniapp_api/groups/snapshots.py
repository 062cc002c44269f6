"""A mapping's stored state as one dict (a snapshot), and the masked copy pages may show.

Secrets are write-only: a snapshot holds them (for versions and rollback), the public
snapshot shortens tokens and says only whether a secret is set.
"""
from __future__ import annotations

from miniapp_api.models import GroupMapping
from miniapp_api.models.console import MappingPolicy


def mask_token(token: str) -> str:
    """``token`` shortened to its first and last four characters."""
    if len(token) <= 8:
        return "****"
    return f"{token[:4]}…{token[-4:]}"


def mask_webhook(url: str | None) -> str:
    """The webhook with its access_token shortened to its first and last four characters."""
    if not url:
        return ""
    if "access_token=" not in url:
        return url.split("?", 1)[0]
    head, token = url.split("access_token=", 1)
    token, _, rest = token.partition("&")
    return f"{head}access_token={mask_token(token)}" + ("&…" if rest else "")


def snapshot(kind: str, code: str) -> dict | None:
    """Everything a version stores (secrets included), or None when nothing is mapped."""
    m = GroupMapping.get_or_none((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code))
    p = MappingPolicy.get_or_none((MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == code))
    if m is None and p is None:
        return None
    return {
        "webhook": m.webhook if m else None, "secret": m.secret if m else None,
        "conversation_id": m.conversation_id if m else None, "enabled": m.enabled if m else False,
        "mention_policy": p.mention_policy if p else "duty",
        "staging_webhook": p.staging_webhook if p else None, "staging_secret": p.staging_secret if p else None,
        "staging_enabled": p.staging_enabled if p else False,
        "chat_id": m.chat_id if m else None,  # an app-sent group (docs/dingtalk-app.md)
    }


def public_snapshot(snap: dict | None) -> dict | None:
    """A snapshot fit for pages and the audit log: tokens shortened, secrets only "已设置"."""
    if snap is None:
        return None
    return {
        "webhook": mask_webhook(snap["webhook"]), "secret": "已设置" if snap["secret"] else "未设置",
        "conversation_id": snap["conversation_id"], "enabled": snap["enabled"],
        "mention_policy": snap["mention_policy"],
        "staging_webhook": mask_webhook(snap["staging_webhook"]),
        "staging_secret": "已设置" if snap["staging_secret"] else "未设置",
        "staging_enabled": snap["staging_enabled"],
        "chat_id": snap.get("chat_id"),
    }
