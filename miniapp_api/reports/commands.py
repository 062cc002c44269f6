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

import hashlib
import logging
import re
from collections.abc import Callable
from datetime import timedelta
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
from miniapp_api.reports.group_scope import NOT_FOUND
from miniapp_api.reports.group_scope import Refused
from miniapp_api.reports.group_scope import official_in
from miniapp_api.reports.group_scope import report_in_group
from miniapp_api.reports.group_scope import scoped
from miniapp_api.reports.group_scope import unit_of
from miniapp_api.reports import assignment
from miniapp_api.reports import completion_photos
from miniapp_api.reports.completion_photos import ProofMissing
from miniapp_api.reports.merge import MergeRefused
from miniapp_api.reports.merge import merge
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


def _todo(mapping: GroupMapping, unit, settings: Settings | None, official: Official | None = None) -> str:
    # Reports many residents also met (我也遇到) come first (docs/reports.md), then the oldest.
    threshold = settings.reports.priority_supporters if settings else 5
    first = (Report.supporters >= threshold)
    rows = list(Report.select(Report, Category).join(Category)
                .where(scoped(mapping, unit) & Report.status.in_(list(OPEN_STATUSES))
                       & Report.moderation.in_(["pass", "review"]))
                .order_by(first.desc(), Report.created_at, Report.id).limit(30))
    if not rows:
        return f"{unit.name}目前没有待办的上报。"
    lines = [f"{unit.name}待办（{threshold} 人以上也遇到的在前，其余最早的在前，共 {len(rows)} 条"
             f"{'，仅显示前 30 条' if len(rows) == 30 else ''}）："]

    def line(r: Report) -> str:
        also = f"（{r.supporters}人也遇到）" if r.supporters else ""
        return f"· {r.number} {STATUS_LABELS[r.status]} {r.category.name} {_escape(r.address, 30)}{also}"

    if mapping.owner_kind == "township" and official is not None:  # 按网格分组，自己的在前
        lines[0] = lines[0].replace("）：", "；按网格分组，您负责的在前）：")
        for label, own, group in assignment.by_grid(rows, official):
            lines.append(f"【{_escape(label, 40)}】{'（您负责）' if own and label != '您受理的' else ''}")
            lines.extend(line(r) for r in group)
        return "\n".join(lines)
    lines.extend(line(r) for r in rows)
    return "\n".join(lines)


def _in_scope(mapping: GroupMapping, unit, report: Report) -> bool:
    return Report.select().where((Report.id == report.id) & scoped(mapping, unit)).exists()


def _execute(cmd, mapping: GroupMapping, unit, official: Official, now: datetime,
             settings: Settings | None, pictures: list | None = None) -> str:
    actor = Actor("official", official.name, Channel.DINGTALK, official.dingtalk_user_id or "")
    action = cmd.action
    if action == "help":
        return _DIALECT[0].help_text
    if action == "todo":
        return _todo(mapping, unit, settings, official)
    if action in _HANDLERS:  # 收到 <notice> / 发起志愿 <report>: notices and campaigns
        return _HANDLERS[action](cmd, mapping, unit, official, actor, now, settings)
    report = report_in_group(mapping, unit, cmd.number)
    if action == "query":
        return _summary(report)
    if action == "accept":
        lifecycle.apply(report, Action.ACCEPT, actor, now, note=cmd.text)
        return f"{official.name} 已受理 {report.number}。办结时请发送：办结 {report.number} 回复内容"
    if action == "resolve":
        added = completion_photos.attach(report, pictures, actor, now, step=False) if pictures else 0
        try:
            completion_photos.require_proof(report, "请在同一条消息中附上图片发送「办结 编号 答复」，"
                                                    "或先发送写有编号的图片再办结。")
        except ProofMissing as err:
            raise Refused(str(err)) from None
        note = cmd.text + (f"（附办结照片 {added} 张）" if added else "")
        lifecycle.apply(report, Action.RESOLVE, actor, now, note=note, changes={"reply": cmd.text})
        return f"{official.name} 已办结 {report.number}，答复已推送给居民。" + (
            f"已附办结照片 {added} 张。" if added else "如需附办结照片，请在 10 分钟内@机器人发送图片。")
    if action == "merge":
        try:
            report_in_group(mapping, unit, cmd.text)
            duplicate, main = merge(report, Report.get(Report.number == cmd.text), actor, now,
                                    same_unit=lambda a, b: _in_scope(mapping, unit, a) and _in_scope(mapping, unit, b))
        except MergeRefused as err:
            raise Refused(str(err)) from None
        return (f"{official.name} 已将 {duplicate.number} 合并至 {main.number}，"
                f"上报人和关注的居民将随之关注 {main.number}（共 {main.supporters} 人也遇到）。")
    if action == "assign":  # 指派 <编号> <网格名>: township staff set the report's grid
        if mapping.owner_kind != "township" or official.role not in assignment.ASSIGNING_ROLES:
            raise Refused("只有乡镇/街道工作人员可以在本单位的群里指派网格。")
        try:
            who = assignment.assign(report, assignment.find_grid(report.township_id, cmd.text), actor, now)
        except assignment.AssignRefused as err:
            raise Refused(_escape(str(err), 200)) from None
        return f"{official.name} 已将 {report.number} 指派至{_escape(assignment.grid_label(report.grid), 40)}，已提醒{_escape(who, 80)}。"
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


#: Words in a picture's text that may be report numbers (at least one digit).
_NUMBER_WORD = re.compile(r"[0-9A-Za-z][0-9A-Za-z-]{0,31}")


def _may_send(msg: GroupMessage) -> bool:
    """Whether a message's pictures are worth downloading: a new message from a registered
    official of a mapped group (read only; :func:`handle` checks again inside its transaction)."""
    if CallbackReceipt.get_or_none((CallbackReceipt.source == "dingtalk")
                                   & (CallbackReceipt.external_id == msg.msg_id[:128])):
        return False
    mapping = GroupMapping.get_or_none(GroupMapping.conversation_id == msg.conversation_id)
    unit = unit_of(mapping) if mapping else None
    if unit is None:
        return False
    try:
        official_in(mapping, unit, msg.sender_staff_id)
    except Refused:
        return False
    return True


def _recently_resolved(mapping: GroupMapping, unit, official: Official, now: datetime,
                       settings: Settings) -> Report | None:
    """The report this official last resolved from DingTalk within the completion-photo window."""
    since = now - timedelta(minutes=settings.reports.completion_photo_window_minutes)
    return (Report.select(Report).join(TimelineEntry, on=(TimelineEntry.report == Report.id))
            .where(scoped(mapping, unit) & (TimelineEntry.action == str(Action.RESOLVE))
                   & (TimelineEntry.channel == str(Channel.DINGTALK))
                   & (TimelineEntry.actor_id == (official.dingtalk_user_id or "")) & (TimelineEntry.at >= since))
            .order_by(TimelineEntry.id.desc()).first())


def _pictures(text: str, uploads: list, problem: str, mapping: GroupMapping, unit, official: Official,
              now: datetime, settings: Settings | None) -> str:
    """Pictures sent to the robot: completion photos of the report the text names (a whole
    ``办结 <编号> <答复>`` resolves it with them), else of the sender's last 办结 within the window."""
    if not uploads:
        return problem or "没有收到可用的图片，请重新发送。"
    dialect = _DIALECT[0]
    if text:
        try:
            cmd = dialect.parse(text)
        except dialect.error:
            cmd = None
        if cmd is not None and cmd.action == "resolve":
            return _execute(cmd, mapping, unit, official, now, settings, pictures=uploads)
    words = [w for w in _NUMBER_WORD.findall(text or "") if any(c.isdigit() for c in w)]
    report = None
    for word in words:
        try:
            report = report_in_group(mapping, unit, word)
            break
        except Refused:
            continue
    if report is None and words:
        raise Refused(NOT_FOUND.format(n=_escape(words[0], 32)))
    if report is None and settings is not None:
        report = _recently_resolved(mapping, unit, official, now, settings)
    if report is None:
        minutes = settings.reports.completion_photo_window_minutes if settings else 10
        raise Refused("收到图片，但不知道是哪条上报的办结照片：请在图片的同一条消息中写上编号，"
                      f"或在「办结 <编号>」后 {minutes} 分钟内发送图片。")
    if report.status in (lifecycle.Status.REJECTED, lifecycle.Status.MERGED):
        raise Refused(f"{report.number} {STATUS_LABELS[report.status]}，不能附办结照片。")
    actor = Actor("official", official.name, Channel.DINGTALK, official.dingtalk_user_id or "")
    added = completion_photos.attach(report, uploads, actor, now)
    total = completion_photos.count(report)
    tail = f"（{problem}）" if problem else ""
    if not added:
        return f"{report.number} 的办结照片已有 {total} 张，本次没有新增。{tail}"
    return f"已为 {report.number} 附上办结照片 {added} 张（共 {total} 张）。{tail}"


class ReplayedSignature(Exception):
    """A signature already used by another message: a captured header pair replayed."""


#: A second message under a pair already used is a genuine twin (two messages stamped in the
#: same millisecond share a signature) only while the pair is this fresh, and at most this often.
TWIN_WINDOW_MS = 10_000
MAX_TWINS = 3
TWIN_REPLY = "同一时刻收到了多条消息，为防止伪造，这一条没有执行。请重新发送一次。"


def _receipt(source: str, external_id: str, now: datetime) -> bool:
    """Record a receipt; False when it was already there."""
    try:
        with database.atomic():
            CallbackReceipt.create(source=source, external_id=external_id, received_at=now)
        return True
    except IntegrityError:
        return False


def _claim_signature(msg: GroupMessage, signature: str, now: datetime, fresh: bool) -> str:
    """Record the header pair ``signature`` for this message, before anything else is decided:
    ``new`` (first use), ``again`` (this very message under this pair, sent again) or ``twin``
    (another message under a fresh pair). Raises :class:`ReplayedSignature` otherwise."""
    with_msg = f"{signature[:64]}:{hashlib.sha256(msg.msg_id.encode()).hexdigest()[:63]}"
    if _receipt("dingtalk-sig", signature, now):
        _receipt("dingtalk-sigmsg", with_msg, now)
        return "new"
    if CallbackReceipt.get_or_none((CallbackReceipt.source == "dingtalk-sigmsg")
                                   & (CallbackReceipt.external_id == with_msg)):
        return "again"
    twins = (CallbackReceipt.select().where((CallbackReceipt.source == "dingtalk-sigmsg")
                                            & CallbackReceipt.external_id.startswith(signature[:64] + ":")).count())
    if not fresh or twins > MAX_TWINS or not _receipt("dingtalk-sigmsg", with_msg, now):
        raise ReplayedSignature()
    return "twin"


def handle(msg: GroupMessage, now: datetime, signature: str = "", settings: Settings | None = None,
           fresh: bool = False) -> str | None:
    """Run one @robot message; returns the reply text, or None for a duplicate ``msgId``.

    ``settings`` are the app's (the registered commands may need them, e.g. for links).

    ``signature`` identifies the callback's canonical ``timestamp``/``sign`` headers. DingTalk
    signs only the timestamp, so a captured pair could be replayed with another body for an
    hour. The pair is recorded first, before any early return: the same message under the
    same pair again is a duplicate; another message under a pair already used raises
    :class:`ReplayedSignature`, unless the pair is ``fresh`` (signed within
    :data:`TWIN_WINDOW_MS`: two genuine messages stamped in one millisecond share it); that
    one is not run, and its sender is told plainly to send it again.
    """
    dialect = _DIALECT[0]
    codes = tuple(getattr(msg, "picture_codes", ()) or ())
    uploads, problem = [], ""
    if codes and settings is not None and _may_send(msg):
        # Downloaded and stored before the write lock is taken: no platform call inside it.
        uploads, problem = completion_photos.fetch_pictures(settings, codes, getattr(msg, "robot_code", ""))
    with write_tx():
        claim = _claim_signature(msg, signature, now, fresh) if signature else "new"
        if claim == "again" or CallbackReceipt.get_or_none((CallbackReceipt.source == "dingtalk")
                                                           & (CallbackReceipt.external_id == msg.msg_id[:128])):
            return None  # DingTalk delivered it twice: it had its effect the first time
        try:
            with database.atomic():
                CallbackReceipt.create(source="dingtalk", external_id=msg.msg_id[:128], received_at=now)
        except IntegrityError:
            return None  # a concurrent twin got there first
        mapping = GroupMapping.get_or_none(GroupMapping.conversation_id == msg.conversation_id)
        unit = unit_of(mapping) if mapping else None
        try:
            if claim == "twin":
                raise Refused(TWIN_REPLY)
            if unit is None:
                raise Refused("本群还没有绑定到同心平台的任何单位，请联系平台管理员。")
            official = official_in(mapping, unit, msg.sender_staff_id)
            if codes:  # 办结照片: pictures with a number, with 办结, or soon after 办结
                with database.atomic():
                    reply = _pictures(msg.text, uploads, problem, mapping, unit, official, now, settings)
            else:
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
