"""Checking what an administrator typed for a mapping before it is trusted."""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from miniapp_api.config import Settings
from miniapp_api.models import GroupMapping
from miniapp_api.models.console import MENTION_POLICIES
from miniapp_api.groups.owners import owner
from miniapp_api.groups.snapshots import snapshot
from miniapp_api.validation import FormError


def allowed_hosts(settings: Settings) -> set[str]:
    """The hosts a webhook may point at (DingTalk, or the configured API base)."""
    return {"oapi.dingtalk.com", (urlsplit(settings.dingtalk.api_base_url).hostname or "").lower()}


def check_webhook(url: str, settings: Settings, label: str = "webhook") -> str | None:
    """Why ``url`` is not a DingTalk custom-robot webhook we may post to, or None."""
    if len(url) > 500 or any(c.isspace() for c in url):
        return f"{label} 不能含空格，最长 500 个字符"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return f"{label} 应以 https:// 开头，例如 https://oapi.dingtalk.com/robot/send?access_token=…"
    if parts.username or parts.password:
        return f"{label} 不能包含用户名或密码"
    if host not in allowed_hosts(settings):
        return f"{label} 必须是钉钉机器人地址（主机 oapi.dingtalk.com），不能是 {host}"
    if parts.scheme != "https" and urlsplit(settings.dingtalk.api_base_url).scheme == "https":
        return f"{label} 必须使用 https"
    token = parse_qs(parts.query).get("access_token", [""])[0]
    if not token or not all(c.isalnum() or c in "-_" for c in token):
        return f"{label} 缺少有效的 access_token 参数（在钉钉群设置 → 机器人 → 复制完整 webhook）"
    return None


def check_secret(secret: str, label: str = "secret") -> str | None:
    """Why ``secret`` is not a robot signing secret (SEC…), or None."""
    if not secret.startswith("SEC") or not (8 <= len(secret) <= 128) or any(c.isspace() for c in secret):
        return f"{label} 应为机器人“加签”的密钥：以 SEC 开头，8–128 个字符，不含空格"
    return None


@dataclass
class MappingInput:
    """What the mapping form holds (empty secrets keep the stored ones)."""

    webhook: str = ""
    secret: str = ""
    conversation_id: str = ""
    enabled: bool = True
    mention_policy: str = "duty"
    staging_webhook: str = ""
    staging_secret: str = ""
    staging_enabled: bool = False
    staging_clear: bool = False
    note: str = ""
    chat_id: str = ""  # a group the app created: sent through chat.send, webhook optional


def validated(kind: str, code: str, data: MappingInput, settings: Settings) -> dict:
    """The snapshot ``data`` would produce, or raise FormError naming each bad field."""
    current = snapshot(kind, code) or {}
    errors: dict[str, str] = {}
    webhook = data.webhook.strip() or current.get("webhook") or ""
    secret = data.secret.strip() or current.get("secret") or ""
    chat_id = data.chat_id.strip()
    if chat_id:  # an app-sent group: the robot is optional (a pair, when given)
        if problem := check_chat_id(chat_id, kind, code):
            errors["chat_id"] = problem
        if bool(webhook) != bool(secret):
            errors["secret" if webhook else "webhook"] = "webhook 和加签 secret 要一起填写（或都不填，只用应用发送）"
    if not webhook and not chat_id:
        errors["webhook"] = "请填写 webhook（钉钉群机器人的完整地址），或填写应用群的 chat_id"
    elif data.webhook.strip() and (problem := check_webhook(webhook, settings)):
        errors["webhook"] = problem
    if not secret and not chat_id:
        errors["secret"] = "请填写加签 secret"
    elif data.secret.strip() and (problem := check_secret(secret)):
        errors["secret"] = problem
    cid = data.conversation_id.strip()
    if not cid or len(cid) > 128 or any(c.isspace() for c in cid):
        errors["conversation_id"] = "请填写群的 conversation id（@机器人回调里的 conversationId，最长 128 个字符，不含空格）"
    else:
        other = GroupMapping.get_or_none((GroupMapping.conversation_id == cid)
                                         & ~((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code)))
        if other is not None:
            o = owner(other.owner_kind, other.owner_code)
            errors["conversation_id"] = f"该群已绑定到{o.name if o else other.owner_code}，一个群只能对应一个单位"
    if data.mention_policy not in MENTION_POLICIES:
        errors["mention_policy"] = "请选择提醒方式"
    if data.staging_clear:
        s_webhook, s_secret = None, None
    else:
        s_webhook = data.staging_webhook.strip() or current.get("staging_webhook")
        s_secret = data.staging_secret.strip() or current.get("staging_secret")
        if data.staging_webhook.strip() and (problem := check_webhook(s_webhook, settings, "演练群 webhook")):
            errors["staging_webhook"] = problem
        if data.staging_secret.strip() and (problem := check_secret(s_secret, "演练群 secret")):
            errors["staging_secret"] = problem
    if bool(s_webhook) != bool(s_secret) and "staging_webhook" not in errors and "staging_secret" not in errors:
        errors["staging_secret" if s_webhook else "staging_webhook"] = "演练群的 webhook 和 secret 要一起填写"
    if data.staging_enabled and not (s_webhook and s_secret):
        errors["staging_enabled"] = "要开启演练，先填写演练群的 webhook 和 secret"
    if len(data.note) > 200:
        errors["note"] = "备注最多 200 个字"
    if errors:
        raise FormError(errors)
    return {"webhook": webhook, "secret": secret, "conversation_id": cid, "enabled": bool(data.enabled),
            "mention_policy": data.mention_policy, "staging_webhook": s_webhook or None,
            "staging_secret": s_secret or None, "staging_enabled": bool(data.staging_enabled),
            "chat_id": chat_id or None}


def check_chat_id(chat_id: str, kind: str, code: str) -> str | None:
    """Why ``chat_id`` cannot be this mapping's app group, or None."""
    if len(chat_id) > 64 or not all(c.isalnum() or c in "_=+/-" for c in chat_id):
        return "chat_id 应为应用建群时钉钉返回的 chatid（最长 64 个字符，只含字母、数字和 _=+/-）"
    other = GroupMapping.get_or_none((GroupMapping.chat_id == chat_id)
                                     & ~((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code)))
    if other is not None:
        return f"该 chat_id 已绑定到 {other.owner_code}，一个群只能对应一个单位"
    return None
