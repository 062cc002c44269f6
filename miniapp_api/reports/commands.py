"""Officials' DingTalk commands (CONTRACT §4): who may act, on which reports, and the reply.

:func:`handle` runs one verified @robot message in one transaction: it records the message
id (the same ``msgId`` twice has one effect), maps the group to its unit and the sender to a
registered official, runs the command through ``lifecycle`` and queues the reply in the
outbox (sent through the callback's ``sessionWebhook``, retried, never lost).
"""
from __future__ import annotations

import logging
from datetime import datetime

from peewee import IntegrityError

from bridges.dingtalk.commands import HELP_TEXT
from bridges.dingtalk.commands import Command
from bridges.dingtalk.commands import CommandError
from bridges.dingtalk.commands import parse_command
from bridges.dingtalk.inbound import InboundMessage
from bridges.dingtalk.render import escape_md

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
from miniapp_api.models import CallbackReceipt
from miniapp_api.models import Category
from miniapp_api.models import Department
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.models import Township
from miniapp_api.reports.schemas import iso

log = logging.getLogger(__name__)

NOT_FOUND = "找不到编号为 {n} 的上报，或它不属于本群的单位。"


class Refused(Exception):
    """The command cannot run; the message is the Chinese reply."""


def _unit(mapping: GroupMapping):
    if mapping.owner_kind == "township":
        return Township.get_or_none(Township.code == mapping.owner_code)
    return Department.get_or_none(Department.code == mapping.owner_code)


def _official(mapping: GroupMapping, unit, staff_id: str | None) -> Official:
    """The registered official behind ``staff_id`` who may act in this group."""
    if not staff_id:
        raise Refused("无法识别您的钉钉身份（仅本组织成员可操作）。")
    for o in Official.select().where((Official.dingtalk_user_id == staff_id) & (Official.active == True)):  # noqa: E712
        if o.role == "county_staff":
            return o
        if mapping.owner_kind == "township" and o.township_id == unit.id:
            return o
        if mapping.owner_kind == "department" and o.department_id == unit.id:
            return o
    raise Refused("您不是本群所属单位登记的干部，不能操作。如有疑问请联系平台管理员。")


def _scoped(mapping: GroupMapping, unit):
    """Reports this group's unit may see and act on."""
    if mapping.owner_kind == "township":
        return Report.township == unit.id
    return Report.department == unit.id


def _report(mapping: GroupMapping, unit, number: str) -> Report:
    report = (Report.select().where((Report.number == number) & _scoped(mapping, unit)
                                    & (Report.moderation.in_(["pass", "review"]))).first())
    if report is None:
        raise Refused(NOT_FOUND.format(n=number))
    return report


def _summary(report: Report) -> str:
    lines = [f"编号 {report.number}：{STATUS_LABELS.get(report.status, report.status)}",
             f"类别：{report.category.name}　地点：{escape_md(report.address, 60) or report.township.name}",
             f"描述：{escape_md(report.description, 120)}"]
    if report.reply:
        lines.append(f"答复：{escape_md(report.reply, 120)}")
    lines.append("处理记录：")
    for e in TimelineEntry.select().where(TimelineEntry.report == report).order_by(TimelineEntry.id):
        who = e.actor_name or "系统"
        note = f"（{escape_md(e.note, 60)}）" if e.note else ""
        lines.append(f"· {iso(e.at)[5:16].replace('T', ' ')} {who} {lifecycle.ACTION_LABELS.get(e.action, e.action)}{note}")
    return "\n".join(lines)


def _todo(mapping: GroupMapping, unit) -> str:
    rows = list(Report.select(Report, Category).join(Category)
                .where(_scoped(mapping, unit) & Report.status.in_(list(OPEN_STATUSES))
                       & Report.moderation.in_(["pass", "review"]))
                .order_by(Report.created_at, Report.id).limit(30))
    if not rows:
        return f"{unit.name}目前没有待办的上报。"
    lines = [f"{unit.name}待办（最早的在前，共 {len(rows)} 条{'，仅显示前 30 条' if len(rows) == 30 else ''}）："]
    for r in rows:
        lines.append(f"· {r.number} {STATUS_LABELS[r.status]} {r.category.name} {escape_md(r.address, 30)}")
    return "\n".join(lines)


def _execute(cmd: Command, mapping: GroupMapping, unit, official: Official, now: datetime) -> str:
    actor = Actor("official", official.name, Channel.DINGTALK, official.dingtalk_user_id or "")
    action = cmd.action
    if action == "help":
        return HELP_TEXT
    if action == "todo":
        return _todo(mapping, unit)
    if action in ("ack", "campaign"):  # 收到 <notice> / 发起志愿 <report>: notices and campaigns
        from miniapp_api.community import commands as community_commands

        return community_commands.execute(cmd, mapping, unit, official, actor, now)
    report = _report(mapping, unit, cmd.number)
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
            raise Refused(f"没有名为「{escape_md(cmd.text, 20)}」的部门。可转办的部门：{names or '（未配置）'}")
        lifecycle.apply(report, Action.TRANSFER, actor, now, note=f"转办至{dept.name}",
                        changes={"department": dept.id, "level": "department"})
        return f"{official.name} 已将 {report.number} 转办至{dept.name}，等待部门受理。"
    raise Refused("暂不支持该指令。发送「帮助」查看可用指令。")


class ReplayedSignature(Exception):
    """A signature already used by another message: a captured header pair replayed."""


def handle(msg: InboundMessage, now: datetime, signature: str = "") -> str | None:
    """Run one @robot message; returns the reply text, or None for a duplicate ``msgId``.

    ``signature`` identifies the callback's ``timestamp``/``sign`` headers. DingTalk signs
    only the timestamp, so a captured pair could be replayed with another body for an hour:
    a pair already used by a *different* message raises :class:`ReplayedSignature`.
    """
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
        unit = _unit(mapping) if mapping else None
        try:
            if unit is None:
                raise Refused("本群还没有绑定到同心平台的任何单位，请联系平台管理员。")
            official = _official(mapping, unit, msg.sender_staff_id)
            cmd = parse_command(msg.text)
            with database.atomic():  # a refused change rolls back alone; the reply still goes out
                reply = _execute(cmd, mapping, unit, official, now)
        except CommandError as err:
            reply = err.message
        except (Refused, InvalidTransition) as err:
            reply = str(err) if isinstance(err, Refused) else err.message
        outbox.record("dingtalk.reply", {
            "conversation_id": msg.conversation_id, "session_webhook": msg.session_webhook,
            "session_expires_ms": msg.session_webhook_expires_ms, "text": reply,
            "at_user_id": msg.sender_staff_id,
        }, now=now, priority=outbox.URGENT)
    return reply
