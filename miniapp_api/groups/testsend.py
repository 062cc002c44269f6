"""A test message to a group (or its staging group), and DingTalk's real answer.

The message goes out through the bridge's :class:`~miniapp_api.groups.gateway.GroupGateway`
(a custom robot, or the app's ``chat.send`` for an app group); the answer is kept on the
mapping (for its health) and audited.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from miniapp_api import audit
from miniapp_api.audit import Who
from miniapp_api.config import Settings
from miniapp_api.db import write_tx
from miniapp_api.models.console import MappingPolicy
from miniapp_api.groups import gateway
from miniapp_api.groups.gateway import SendAnswer
from miniapp_api.groups.checks import check_chat_id
from miniapp_api.groups.checks import check_secret
from miniapp_api.groups.checks import check_webhook
from miniapp_api.groups.owners import owner
from miniapp_api.groups.snapshots import mask_webhook
from miniapp_api.groups.snapshots import snapshot
from miniapp_api.validation import FormError

TEST_HINTS = {
    300001: "webhook 中的 access_token 不存在：请从钉钉群机器人设置里重新复制完整的 webhook 地址。",
    310000: "安全设置校验失败：加签 secret 不对、服务器时间不准，或机器人设置了关键词/IP 白名单。",
    130101: "发送太快：该机器人一分钟内已超过 20 条，已被钉钉限流 10 分钟。",
    400013: "群已解散。",
}

APP_TEST_HINTS = {
    34013: "群不存在：chat_id 不对，或群已解散，或不是本应用创建的群。",
    34001: "chat_id 无效。",
    40089: "应用的 AppKey/AppSecret 不对（配置文件 [dingtalk]）。",
    60011: "应用没有这个权限，请在钉钉开放平台为应用开通。",
}

UNREACHABLE_HINT = "没有连上钉钉（超时、拒绝连接或服务器错误），请检查网络或稍后再试。"


@dataclass
class TestResult:
    """The outcome of a test send, as the mapping page shows it."""

    ok: bool
    errcode: int | str | None
    errmsg: str
    hint: str = ""
    elapsed_ms: int = 0
    which: str = "main"

    @property
    def text(self) -> str:
        """DingTalk's answer in one Chinese sentence, with the hint when there is one."""
        head = f"钉钉返回 errcode={self.errcode}，errmsg={self.errmsg}"
        return head + (f"。{self.hint}" if self.hint else "")


def _robot_hint(errcode: int | str | None) -> str:
    if errcode is None:
        return UNREACHABLE_HINT
    try:
        return TEST_HINTS.get(int(errcode)) or ""
    except (TypeError, ValueError):
        return ""


def _app_hint(errcode: int | str | None) -> str:
    if errcode is None:
        return UNREACHABLE_HINT
    return (APP_TEST_HINTS.get(errcode) if isinstance(errcode, int) else None) or ""


def _keep(who: Who, kind: str, code: str, result: TestResult, after: dict, now: datetime) -> None:
    """Keep a main group's result on its policy row (for its health) and audit the test."""
    with write_tx():
        if result.which == "main":
            MappingPolicy.insert(owner_kind=kind, owner_code=code, updated_at=now).on_conflict_ignore().execute()
            (MappingPolicy.update(last_test_at=now, last_test_ok=result.ok, last_test_result=result.text[:500])
             .where((MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == code)).execute())
        audit.record(who, "mapping.test_send", target=f"mapping:{kind}:{code}",
                     township=code if kind == "township" else None,
                     after=after | {"ok": result.ok, "errcode": result.errcode, "errmsg": result.errmsg[:200]},
                     now=now)


def test_send(who: Who, kind: str, code: str, settings: Settings, now: datetime, *, which: str = "main",
              webhook: str = "", secret: str = "", chat_id: str = "") -> TestResult:
    """Send a test message to the group (or its staging group) and return DingTalk's answer.

    ``webhook``/``secret`` test values typed in the form before saving them (empty: the
    stored ones). An app group (``chat_id`` typed, or stored and no webhook typed) is tested
    through the app's ``chat.send``. The result is kept on the mapping (for its health) and
    audited.
    """
    unit = owner(kind, code)
    snap = snapshot(kind, code) or {}
    prefix = "staging_" if which == "staging" else ""
    app_chat = "" if which == "staging" else (chat_id.strip() or ("" if webhook.strip() else snap.get("chat_id") or ""))
    webhook = webhook.strip() or snap.get(f"{prefix}webhook") or ""
    secret = secret.strip() or snap.get(f"{prefix}secret") or ""
    label = "演练群" if which == "staging" else "钉钉群"
    text = (f"【同心】{label}连接测试\n单位：{unit.name if unit else code}\n"
            f"操作人：{who.name}（平台管理员）\n时间：{audit.local(now)}\n收到这条消息说明群机器人配置正确，无需回复。")
    if app_chat:
        return _test_app_group(who, kind, code, app_chat, text, settings, now)
    problem = (check_webhook(webhook, settings) if webhook else "还没有 webhook") or \
        (check_secret(secret) if secret else "还没有加签 secret")
    if problem:
        raise FormError({f"{prefix}webhook": problem})
    started = time.monotonic()
    answer = gateway.current().send_robot_text(webhook, secret, text, settings, now)
    result = _result(answer, "" if answer.ok else _robot_hint(answer.errcode), which)
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    _keep(who, kind, code, result, {"which": which, "webhook": mask_webhook(webhook)}, now)
    return result


def _result(answer: SendAnswer, hint: str, which: str) -> TestResult:
    return TestResult(answer.ok, answer.errcode, answer.errmsg, hint, which=which)


def _test_app_group(who: Who, kind: str, code: str, chat_id: str, text: str, settings: Settings,
                    now: datetime) -> TestResult:
    """The test send of an app group: ``chat.send`` through the app client (its own errcodes)."""
    if problem := check_chat_id(chat_id, kind, code):
        raise FormError({"chat_id": problem})
    started = time.monotonic()
    answer = gateway.current().send_app_text(chat_id, text, settings)
    result = _result(answer, "" if answer.ok else _app_hint(answer.errcode), "main")
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    _keep(who, kind, code, result, {"which": "main", "chat_id": chat_id}, now)
    return result
