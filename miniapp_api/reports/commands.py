"""Officials' DingTalk commands (CONTRACT §4): who may act, on which reports, and the reply.

:func:`handle` runs one verified @robot message in one transaction: it records the message
id (the same ``msgId`` twice has one effect), maps the group to its unit and the sender to a
registered official, runs the command through ``lifecycle`` and queues the reply in the
outbox (sent through the callback's ``sessionWebhook``, retried, never lost).

The commands of other concepts (``收到`` of notices, ``发起志愿`` of campaigns) are registered
by composition with :func:`handles`, and so is the platform's way of writing them (its
:class:`Dialect`: the parser, the help text, how untrusted text is made inert in a reply) with
:func:`speak`; this module knows neither.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from typing import Protocol

from peewee import IntegrityError

from miniapp_api.reports import lifecycle
from miniapp_api import outbox
from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import Channel
from miniapp_api.reports.lifecycle import InvalidTransition
from miniapp_api.reports.lifecycle import OPEN_STATUSES
from miniapp_api.reports.lifecycle import STATUS_LABELS
from miniapp_api.config import Settings
from miniapp_api.models import CallbackReceipt
from miniapp_api.models import Category
from miniapp_api.models import Department
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.reports.group_scope import Refused
from miniapp_api.reports.group_scope import official_in
from miniapp_api.reports.group_scope import report_in_group
from miniapp_api.reports.group_scope import scoped
from miniapp_api.reports.group_scope import unit_of
from miniapp_api.time import iso

log = logging.getLogger(__name__)

class GroupMessage(Protocol):
    """An @robot message as the platform's callback parser gives it."""

    msg_id: str
    conversation_id: str
    sender_staff_id: str | None
    text: str
    session_webhook: str
    session_webhook_expires_ms: int


@dataclass(frozen=True)
class Dialect:
    """How a platform writes group commands (DingTalk's: ``bridges.dingtalk.commands``)."""

    parse: Callable[[str], Any]        # text after the @robot → a command (action, number, text)
    error: type[Exception]             # what ``parse`` raises; its ``message`` is the reply
    help_text: str                     # the reply to 帮助
    escape: Callable[[str | None, int], str]  # untrusted text made inert in a reply, capped


_DIALECT: list[Dialect] = []


def speak(dialect: Dialect) -> None:
    """Register how group commands are written and replies escaped (composition calls it)."""
    _DIALECT[:] = [dialect]


def _escape(text: str | None, max_chars: int) -> str:
    return _DIALECT[0].escape(text, max_chars)


#: ``handler(cmd, mapping, unit, official, actor, now, settings) -> reply`` by command action,
#: for the actions of other concepts (registered with :func:`handles`).
GroupCommand = Callable[..., str]
_HANDLERS: dict[str, GroupCommand] = {}


def handles(action: str, handler: GroupCommand) -> None:
    """Register ``handler`` for the group command ``action`` (e.g. ``ack``, ``campaign``)."""
    _HANDLERS[action] = handler


def _summary(report: Report) -> str:
    lines = [f"编号 {report.number}：{STATUS_LABELS.get(report.status, report.status)}",
             f"类别：{report.category.name}　地点：{_escape(report.address, 60) or report.township.name}",
             f"描述：{_escape(report.description, 120)}"]
    if report.reply:
        lines.append(f"答复：{_escape(report.reply, 120)}")
    lines.append("处理记录：")
    for e in TimelineEntry.select().where(TimelineEntry.report == report).order_by(TimelineEntry.id):
        who = e.actor_name or "系统"
        note = f"（{_escape(e.note, 60)}）" if e.note else ""
        lines.append(f"· {iso(e.at)[5:16].replace('T', ' ')} {who} {lifecycle.ACTION_LABELS.get(e.action, e.action)}{note}")
    return "\n".join(lines)


def _todo(mapping: GroupMapping, unit) -> str:
    rows = list(Report.select(Report, Category).join(Category)
                .where(scoped(mapping, unit) & Report.status.in_(list(OPEN_STATUSES))
                       & Report.moderation.in_(["pass", "review"]))
                .order_by(Report.created_at, Report.id).limit(30))
    if not rows:
        return f"{unit.name}目前没有待办的上报。"
    lines = [f"{unit.name}待办（最早的在前，共 {len(rows)} 条{'，仅显示前 30 条' if len(rows) == 30 else ''}）："]
    for r in rows:
        lines.append(f"· {r.number} {STATUS_LABELS[r.status]} {r.category.name} {_escape(r.address, 30)}")
    return "\n".join(lines)


def _execute(cmd, mapping: GroupMapping, unit, official: Official, now: datetime,
             settings: Settings | None) -> str:
    actor = Actor("official", official.name, Channel.DINGTALK, official.dingtalk_user_id or "")
    action = cmd.action
    if action == "help":
        return _DIALECT[0].help_text
    if action == "todo":
        return _todo(mapping, unit)
    if action in _HANDLERS:  # 收到 <notice> / 发起志愿 <report>: notices and campaigns
        return _HANDLERS[action](cmd, mapping, unit, official, actor, now, settings)
    report = report_in_group(mapping, unit, cmd.number)
    if action == "query":
        return _summary(report)
    if action == "accept":
        lifecycle.apply(report, Action.ACCEPT, actor, now, note=cmd.text)
        return f"{official.name} 已受理 {report.number}。办结时请发送：办结 {report.number} 回复内容"
    if action == "resolve":
        lifecycle.apply(report, Action.RESOLVE, actor, now, note=cmd.text, changes={"reply": cmd.text})
        return f"{official.name} 已办结 {report.number}，答复已推送给居民。"
    if action == "reject":
        lifecycle.apply(report, Action.REJECT, actor, now, note=cmd.text, changes={"reply": cmd.text})
        return f"{official.name} 已驳回 {report.number}，理由已告知居民。"
    if action == "transfer":
        dept = Department.get_or_none((Department.name == cmd.text) | (Department.code == cmd.text))
        if dept is None:
            names = "、".join(d.name for d in Department.select().order_by(Department.id))
            raise Refused(f"没有名为「{_escape(cmd.text, 20)}」的部门。可转办的部门：{names or '（未配置）'}")
        lifecycle.apply(report, Action.TRANSFER, actor, now, note=f"转办至{dept.name}",
                        changes={"department": dept.id, "level": "department"})
        return f"{official.name} 已将 {report.number} 转办至{dept.name}，等待部门受理。"
    raise Refused("暂不支持该指令。发送「帮助」查看可用指令。")


class ReplayedSignature(Exception):
    """A signature already used by another message: a captured header pair replayed."""


def handle(msg: GroupMessage, now: datetime, signature: str = "", settings: Settings | None = None) -> str | None:
    """Run one @robot message; returns the reply text, or None for a duplicate ``msgId``.

    ``settings`` are the app's (the registered commands may need them, e.g. for links).

    ``signature`` identifies the callback's ``timestamp``/``sign`` headers. DingTalk signs
    only the timestamp, so a captured pair could be replayed with another body for an hour:
    a pair already used by a *different* message raises :class:`ReplayedSignature`.
    """
    dialect = _DIALECT[0]
    with write_tx():
        if CallbackReceipt.get_or_none((CallbackReceipt.source == "dingtalk")
                                       & (CallbackReceipt.external_id == msg.msg_id[:128])):
            return None  # DingTalk delivered it twice: it had its effect the first time
        if signature:
            try:
                with database.atomic():
                    CallbackReceipt.create(source="dingtalk-sig", external_id=signature, received_at=now)
            except IntegrityError:
                raise ReplayedSignature() from None
        try:
            with database.atomic():
                CallbackReceipt.create(source="dingtalk", external_id=msg.msg_id[:128], received_at=now)
        except IntegrityError:
            return None  # a concurrent twin got there first
        mapping = GroupMapping.get_or_none(GroupMapping.conversation_id == msg.conversation_id)
        unit = unit_of(mapping) if mapping else None
        try:
            if unit is None:
                raise Refused("本群还没有绑定到同心平台的任何单位，请联系平台管理员。")
            official = official_in(mapping, unit, msg.sender_staff_id)
            cmd = dialect.parse(msg.text)
            with database.atomic():  # a refused change rolls back alone; the reply still goes out
                reply = _execute(cmd, mapping, unit, official, now, settings)
        except dialect.error as err:
            reply = err.message
        except (Refused, InvalidTransition) as err:
            reply = str(err) if isinstance(err, Refused) else err.message
        outbox.record("dingtalk.reply", {
            "conversation_id": msg.conversation_id, "session_webhook": msg.session_webhook,
            "session_expires_ms": msg.session_webhook_expires_ms, "text": reply,
            "at_user_id": msg.sender_staff_id,
        }, now=now, priority=outbox.URGENT)
    return reply
