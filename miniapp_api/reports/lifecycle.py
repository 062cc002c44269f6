"""The report lifecycle, in one place.

::

    pending ──accept──▶ accepted ──resolve──▶ resolved ──rate/close──▶ closed
       │  ╲               │  ▲   ╲                │
       │   ╲transfer      │  │    ╲reject         └──reopen──▶ accepted
       │    ▼             │  │     ▼
       │  transferred ────┘  │   rejected
       │     (accept)        │
       └──reject──▶ rejected └── transfer (from accepted too)

    pending / accepted / transferred ──merge──▶ merged (goes on as ``merged_into``)

Every channel (WeChat, DingTalk, the console, the system's own passes) changes a report only
through :func:`apply`. It checks the transition table, updates the row with a compare-and-set
on the old status (two officials pressing 受理 at once: one wins, the other gets
``InvalidTransition``), writes one timeline entry and one outbox event, all in one transaction.

Other concepts follow the change without this module knowing them: composition registers
their hooks (:func:`on_change`, :func:`plan_submissions_with`, :func:`redo_when`; the deadline
clocks register theirs through ``miniapp_api.wiring``). A hook receives the row as the change
left it, read once here, and returns the row as it leaves it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from peewee import Select

from miniapp_api import outbox
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.errors import Conflict
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.prepared import Param
from miniapp_api.prepared import Prepared


class Status(StrEnum):
    """A report's status (the states of the transition table)."""

    PENDING = "pending"          # 待受理
    ACCEPTED = "accepted"        # 已受理
    TRANSFERRED = "transferred"  # 已转办 (whistled to a department)
    RESOLVED = "resolved"        # 已办结
    CLOSED = "closed"            # 已评价/已关闭
    REJECTED = "rejected"        # 不予受理
    MERGED = "merged"            # 已合并 (a duplicate that goes on as another report)


class Action(StrEnum):
    """What is done to a report: a transition, or a ladder step that leaves the status."""

    SUBMIT = "submit"      # 上报
    ACCEPT = "accept"      # 受理
    RESOLVE = "resolve"    # 办结
    REJECT = "reject"      # 驳回 / 不予受理
    TRANSFER = "transfer"  # 转办 (吹哨)
    RATE = "rate"          # 评价
    REOPEN = "reopen"      # 重新办理
    CLOSE = "close"        # 自动关闭 (no rating within the allowed days)
    MERGE = "merge"        # 合并 (a duplicate goes on as another report; on the main one, a step)
    SUPPORT = "support"    # 我也遇到 (a step: a resident follows the report)
    PROOF = "proof"        # 办结照片 (a step: an official attaches completion photos)
    ASSIGN = "assign"      # 指派网格 (a step: township staff set the report's grid)
    WITHDRAW_PHOTO = "withdraw_photo"  # 撤下照片 (a step: WeChat's image check judged a photo risky)
    # Steps of the escalation ladder (miniapp_api.deadlines): timeline entries that leave the
    # status as it is (see note_step).
    REMIND = "remind"        # 催办: the post on duty is reminded before a deadline
    HANDOVER = "handover"    # AB岗交接: A has not acted (or is on leave), B takes over
    ESCALATE = "escalate"    # 升级: raised to the next level at the deadline
    OVERDUE = "overdue"      # 超时督办: missed at the top level, or a whistle not answered
    FOLLOW_UP = "follow_up"  # 回访: the resident is not satisfied, redone at the same level (重办)


class Channel(StrEnum):
    """Where an actor acted: WeChat, DingTalk, the console or the system itself."""

    WECHAT = "wechat"
    DINGTALK = "dingtalk"
    CONSOLE = "console"
    SYSTEM = "system"


TRANSITIONS: dict[tuple[Status, Action], Status] = {
    (Status.PENDING, Action.ACCEPT): Status.ACCEPTED,
    (Status.TRANSFERRED, Action.ACCEPT): Status.ACCEPTED,
    (Status.ACCEPTED, Action.RESOLVE): Status.RESOLVED,
    (Status.PENDING, Action.REJECT): Status.REJECTED,
    (Status.ACCEPTED, Action.REJECT): Status.REJECTED,
    (Status.PENDING, Action.TRANSFER): Status.TRANSFERRED,
    (Status.ACCEPTED, Action.TRANSFER): Status.TRANSFERRED,
    (Status.RESOLVED, Action.RATE): Status.CLOSED,
    (Status.RESOLVED, Action.REOPEN): Status.ACCEPTED,
    (Status.RESOLVED, Action.CLOSE): Status.CLOSED,
    (Status.PENDING, Action.MERGE): Status.MERGED,
    (Status.ACCEPTED, Action.MERGE): Status.MERGED,
    (Status.TRANSFERRED, Action.MERGE): Status.MERGED,
}

OPEN_STATUSES = frozenset({Status.PENDING, Status.ACCEPTED, Status.TRANSFERRED})
FINAL_STATUSES = frozenset({Status.CLOSED, Status.REJECTED, Status.MERGED})

STATUS_LABELS = {
    Status.PENDING: "待受理",
    Status.ACCEPTED: "已受理",
    Status.TRANSFERRED: "已转办",
    Status.RESOLVED: "已办结",
    Status.CLOSED: "已评价",
    Status.REJECTED: "不予受理",
    Status.MERGED: "已合并",
}

ACTION_LABELS = {
    Action.SUBMIT: "上报",
    Action.ACCEPT: "受理",
    Action.RESOLVE: "办结",
    Action.REJECT: "驳回",
    Action.TRANSFER: "转办",
    Action.RATE: "评价",
    Action.REOPEN: "重新办理",
    Action.CLOSE: "自动关闭",
    Action.MERGE: "合并",
    Action.SUPPORT: "我也遇到",
    Action.PROOF: "附办结照片",
    Action.ASSIGN: "指派网格",
    Action.WITHDRAW_PHOTO: "撤下照片",
    Action.REMIND: "催办",
    Action.HANDOVER: "AB岗交接",
    Action.ESCALATE: "逐级上报",
    Action.OVERDUE: "超时督办",
    Action.FOLLOW_UP: "回访重办",
}


class InvalidTransition(Conflict):
    """The action is not allowed from the report's current status (HTTP 409)."""

    code = "invalid_transition"
    message = "该问题当前状态下不能执行此操作"


@dataclass(frozen=True)
class Actor:
    """Who acts and through which channel. ``kind``: resident, official, admin or system."""

    kind: str
    name: str
    channel: Channel
    id: str = ""

    @classmethod
    def system(cls, name: str = "系统") -> "Actor":
        """The system itself acting (a scheduler pass, the content check)."""
        return cls("system", name, Channel.SYSTEM)


def next_status(current: str, action: str) -> Status:
    """The status after ``action`` from ``current``, or raise :class:`InvalidTransition`."""
    try:
        return TRANSITIONS[(Status(current), Action(action))]
    except (KeyError, ValueError):
        raise InvalidTransition(
            f"该问题{STATUS_LABELS.get(current, current)}，不能{ACTION_LABELS.get(action, action)}"
        ) from None


@dataclass(frozen=True)
class Change:
    """One status change, as after-change hooks see it: ``report`` is the row as the change
    left it (read once, inside the change's transaction)."""

    report: Report
    old: str
    new: Status
    action: str
    actor: Actor
    now: datetime
    changes: dict


#: Run in order inside the change's transaction; each returns the row as it leaves it (or
#: None when it wrote nothing to it). Registered by composition through :func:`on_change`.
_AFTER_CHANGE: list[Callable[[Change], Report | None]] = []
_PLANNERS: list[Callable[[Report, datetime], dict]] = []
_REDO_RULES: list[Callable[[int], bool]] = []


def on_change(hook: Callable[[Change], Report | None]) -> None:
    """Register ``hook`` to run after every status change (once, however often registered)."""
    if hook not in _AFTER_CHANGE:
        _AFTER_CHANGE.append(hook)


def plan_submissions_with(planner: Callable[[Report, datetime], dict]) -> None:
    """Register what plans a new report's extra column values (its deadline clock)."""
    _PLANNERS[:] = [planner]


def redo_when(rule: Callable[[int], bool]) -> None:
    """Register the rule saying whether a rating is low enough to send a report back (重办)."""
    _REDO_RULES[:] = [rule]


def plan_submission(report: Report, now: datetime) -> dict:
    """The column values the registered planner adds to a new, unsaved ``report`` (none
    without one). Only reads: callers do it before taking the write lock."""
    return _PLANNERS[0](report, now) if _PLANNERS else {}


def is_redo(score: int) -> bool:
    """Whether a rating of ``score`` sends the report back instead of closing it."""
    return bool(_REDO_RULES) and _REDO_RULES[0](score)


# A report is inserted once per submission; compiled once (see ``prepared``).
_INSERT_REPORT = Prepared(lambda: Report.insert(
    **{f.name: Param(f.name, f) for f in Report._meta.sorted_fields if not f.primary_key}).returning(Report.id))
_INSERT_ENTRY = Prepared(lambda: TimelineEntry.insert(
    **{f.name: Param(f.name, f) for f in TimelineEntry._meta.sorted_fields if not f.primary_key}))
_ENTRY_FIELDS = [f for f in TimelineEntry._meta.sorted_fields if not f.primary_key and f.name != "report"]
_REPORT_COLUMNS = [f.name for f in Report._meta.sorted_fields if not f.primary_key]


def _insert_all():
    """On PostgreSQL, the report, its first entry and its outbox event in one statement
    (data-modifying CTEs share the new report's id); returns the report's id."""
    new = Report.insert(**{f.name: Param(f.name, f) for f in Report._meta.sorted_fields
                           if not f.primary_key}).returning(Report.id).cte("new_report")
    entry = TimelineEntry.insert_from(
        Select((new,), [new.c.id] + [Param(f"entry_{f.name}", f) for f in _ENTRY_FIELDS]),
        [TimelineEntry.report] + _ENTRY_FIELDS).cte("new_entry")
    return outbox.insert_for(new, new.c.id).returning(OutboxEvent.report).with_cte(new, entry)


_INSERT_ALL = Prepared(_insert_all)


def submit(report: Report, actor: Actor, now: datetime, *, checked: bool, plan: dict | None = None,
           note: str = "") -> Report:
    """Insert a new report (``pending``) with its deadline clock, its first timeline entry and
    its outbox event; returns it with its id.

    ``report`` is an unsaved :class:`Report` holding what the resident gave (its
    ``category`` and ``township`` best as instances, which cost no query). Call inside a
    write transaction. ``plan`` is the deadline plan :func:`plan_submission` made for
    it; a caller makes it beforehand to keep its reads out of the write lock, otherwise it
    is made here. ``note`` is the first entry's note (how the report was routed to its grid).
    When the content check has not run yet (``checked`` false) the event asks
    the worker to check it first; no group sees the report before that.
    """
    if not database.in_transaction():
        raise RuntimeError("lifecycle.submit must run inside a write transaction")
    report.status = Status.PENDING
    report.__data__.update(plan if plan is not None else plan_submission(report, now))
    data = report.__data__
    values = {name: data.get(name) for name in _REPORT_COLUMNS}
    entry = dict(at=now, status=Status.PENDING, action=Action.SUBMIT, channel=actor.channel,
                 actor_kind=actor.kind, actor_name=actor.name, actor_id=actor.id, note=note)
    kind = "report.created" if checked else "report.content_check"
    priority = outbox.URGENT if report.urgent else outbox.NORMAL
    if is_postgres():  # one statement, one round trip
        report.id = _INSERT_ALL.scalar(**values, **{f"entry_{k}": v for k, v in entry.items()}, kind=kind,
                                       payload={"number": report.number}, priority=priority, event_created_at=now)
        report._dirty.clear()
        return report
    report.id = _INSERT_REPORT.scalar(**values)
    report._dirty.clear()
    _INSERT_ENTRY.execute(report=report.id, **entry)
    outbox.record(kind, {"number": report.number}, report=report, now=now, priority=priority)
    return report


def apply(report: Report, action: str, actor: Actor, now: datetime, *, note: str = "",
          changes: dict | None = None) -> Report:
    """Move ``report`` through ``action``; return the updated report.

    ``changes`` are extra column values set with the status (``reply``, ``rating_score``,
    ``department`` …). Timestamps ``accepted_at``/``resolved_at``/``closed_at`` are set here.
    """
    old = report.status
    new = next_status(old, action)
    values = dict(changes or {})
    values.update(status=new, updated_at=now)
    if new == Status.ACCEPTED and action == Action.ACCEPT:
        values.setdefault("accepted_at", now)
    if new == Status.RESOLVED:
        values["resolved_at"] = now
    if new in FINAL_STATUSES:
        values["closed_at"] = now
    with write_tx():
        updated = (Report.update(**values)
                   .where((Report.id == report.id) & (Report.status == old))
                   .execute())
        if updated != 1:
            # Someone else changed it first: report from the status it has now.
            fresh = Report.get_by_id(report.id)
            next_status(fresh.status, action)  # raises if no longer allowed
            raise InvalidTransition("该问题刚刚已被他人处理，请刷新后再试")
        TimelineEntry.create(
            report=report, at=now, status=new, action=action, channel=actor.channel,
            actor_kind=actor.kind, actor_name=actor.name, actor_id=actor.id, note=note,
        )
        outbox.record(
            "report.status_changed",
            {"number": report.number, "from": old, "to": str(new), "action": str(action),
             "note": note, "actor_name": actor.name, "actor_kind": actor.kind,
             "channel": str(actor.channel)},
            report=report, now=now,
            priority=outbox.URGENT if report.urgent else outbox.NORMAL,
        )
        row = Report.get_by_id(report.id)
        for hook in _AFTER_CHANGE:  # e.g. the deadline clock starts, moves or stops
            row = hook(Change(row, old, new, str(action), actor, now, values)) or row
    return row


def note_step(report: Report, action: str, actor: Actor, now: datetime, *, note: str = "",
              event_kind: str | None = None, payload: dict | None = None,
              priority: int | None = None) -> None:
    """Record a step that leaves the status as it is (a reminder, an A→B handover, an
    escalation, a follow-up): one timeline entry and, with ``event_kind``, one outbox event.

    Must run inside the caller's write transaction, with the change the step stands for.
    """
    if not database.in_transaction():
        raise RuntimeError("note_step must run inside the transaction of the step it records")
    entry, event = step_rows(report, action, actor, now, note=note, event_kind=event_kind, payload=payload,
                             priority=priority)
    TimelineEntry.create(**entry)
    if event:
        outbox.record(event["kind"], event["payload"], report=report, now=now, priority=event["priority"])


def step_rows(report: Report, action: str, actor: Actor, now: datetime, *, note: str = "",
              event_kind: str | None = None, payload: dict | None = None,
              priority: int | None = None) -> tuple[dict, dict | None]:
    """The timeline row and outbox row (None without ``event_kind``) of :func:`note_step`, for
    callers that write many steps at once (``TimelineEntry.insert_many``, ``outbox.record_many``)."""
    entry = dict(report=report.id, at=now, status=report.status, action=str(action), channel=str(actor.channel),
                 actor_kind=actor.kind, actor_name=actor.name, actor_id=actor.id, note=note)
    if not event_kind:
        return entry, None
    body = {"number": report.number, "action": str(action), "note": note}
    body.update(payload or {})
    return entry, dict(kind=event_kind, payload=body, report=report.id, created_at=now,
                       priority=priority if priority is not None else
                       (outbox.URGENT if report.urgent else outbox.NORMAL))
