"""The ladder's steps, each written once: an :class:`EscalationStep` row (unique per report
and step), one timeline entry and one outbox event, in the caller's transaction.

A failed insert of the step row (another scheduler did it first) rolls the whole step back,
so a restarted or doubled scheduler never repeats a step. Within a scheduler batch the rows
are gathered by the :class:`StepContext` and inserted together at the batch's end.
"""
from __future__ import annotations

from datetime import datetime

from miniapp_api.reports import lifecycle
from miniapp_api import outbox
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.models import Category
from miniapp_api.models import Department
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.models import Township
from miniapp_api.models.deadlines import EscalationStep
from miniapp_api.models.deadlines import RatingRecord
from miniapp_api.time import LOCAL_TZ
from miniapp_api.time import iso
from miniapp_api.deadlines import mode
from miniapp_api.deadlines import ladder
from miniapp_api.deadlines.ladder import LEVEL_LABELS
from miniapp_api.deadlines.planner import PHASE_LABELS
from miniapp_api.deadlines.planner import Step
from miniapp_api.deadlines.planner import due_of
from miniapp_api.deadlines.planner import phase_of
from miniapp_api.deadlines.planner import start_phase

SYSTEM = Actor.system("时限督办")


class StepContext:
    """What the steps of one scheduler pass read once: names, duty posts, emergency state."""

    def __init__(self):
        self._roster: ladder.Roster | None = None
        self._categories: dict[int, Category] = {}
        self._townships: dict[int, Township] = {}
        self._departments: dict[int, Department] = {}
        self._county_on: bool | None = None
        self._buffer: tuple[list, list, list, dict] | None = None

    # Steps are written at once (a row each) or, in a batch, gathered and inserted together
    # at its end (three statements for the whole batch), still in the batch's transaction.

    def begin_batch(self) -> None:
        """Gather the steps written from now on, to insert them at :meth:`end_batch`."""
        self._buffer = ([], [], [], {})

    def end_batch(self, *, write: bool) -> None:
        """Write what the batch gathered (or, without ``write``, drop it)."""
        buffer, self._buffer = self._buffer, None
        if not write or buffer is None:
            return
        steps_, entries, events, updates = buffer
        if steps_:
            EscalationStep.insert_many(steps_).execute()
        if entries:
            TimelineEntry.insert_many(entries).execute()
        outbox.record_many(events)
        for columns, rows in updates.items():
            for i in range(0, len(rows), 500):
                _update_many(columns, rows[i:i + 500])

    def set_report(self, report_id: int, **values) -> None:
        """Set a few plain columns of one report (``next_step_at`` …): at once, or with the
        batch's other reports in one ``UPDATE … FROM (VALUES …)``."""
        if self._buffer is None:
            Report.update(**values).where(Report.id == report_id).execute()
        else:
            self._buffer[3].setdefault(tuple(sorted(values)), []).append((report_id, values))

    def add_step(self, row: dict) -> None:
        """Record one :class:`EscalationStep` row: at once, or with the batch."""
        if self._buffer is None:
            EscalationStep.create(**row)
        else:
            self._buffer[0].append(row)

    def note(self, report: Report, action, actor: Actor, now: datetime, **kwargs) -> None:
        """``lifecycle.note_step``, or its rows gathered for the batch."""
        if self._buffer is None:
            lifecycle.note_step(report, action, actor, now, **kwargs)
            return
        entry, event = lifecycle.step_rows(report, action, actor, now, **kwargs)
        self._buffer[1].append(entry)
        if event:
            self._buffer[2].append(event)

    def category(self, category_id: int) -> Category:
        """A category, read once per pass."""
        if category_id not in self._categories:
            self._categories[category_id] = Category.get_by_id(category_id)
        return self._categories[category_id]

    def township(self, township_id: int) -> Township:
        """A township, read once per pass."""
        if township_id not in self._townships:
            self._townships[township_id] = Township.get_by_id(township_id)
        return self._townships[township_id]

    def department(self, department_id: int) -> Department:
        """A department, read once per pass."""
        if department_id not in self._departments:
            self._departments[department_id] = Department.get_by_id(department_id)
        return self._departments[department_id]

    @property
    def posts(self) -> ladder.Roster:
        """The county's A/B posts, read at first use."""
        if self._roster is None:
            self._roster = ladder.Roster()
        return self._roster

    def in_emergency(self, township_id: int) -> bool:
        """Whether emergency mode is in force for the unit (the county switch read once)."""
        if self._county_on is None:
            self._county_on = mode.county_on()
        return self._county_on or bool(self.township(township_id).emergency)


_SQL_TYPES = {"next_step_at": "timestamp", "handover_count": "smallint"}


def _update_many(columns: tuple[str, ...], rows: list[tuple[int, dict]]) -> None:
    """``UPDATE report SET <columns> FROM (VALUES (id, …), …)``: one statement for many rows
    (SQLite ≥ 3.33 and PostgreSQL name the VALUES columns column1, column2, …)."""
    table = Report._meta.table_name
    fields = [Report._meta.fields[c] for c in columns]
    pg = is_postgres()
    sets = ", ".join(
        f'"{f.column_name}" = ' + (f"CAST(v.column{i + 2} AS {_SQL_TYPES[f.name]})" if pg else f"v.column{i + 2}")
        for i, f in enumerate(fields))
    row_sql = "(" + ", ".join([database.param] * (len(fields) + 1)) + ")"
    params: list = []
    for report_id, values in rows:
        params.append(report_id)
        params.extend(f.db_value(values[f.name]) for f in fields)
    database.execute_sql(f'UPDATE "{table}" SET {sets} FROM (VALUES {", ".join([row_sql] * len(rows))}) AS v '
                         f'WHERE "{table}"."id" = v.column1', params)


def local(dt: datetime | None) -> str:
    """``11-27 17:00`` in Asia/Shanghai, for messages and notes."""
    return dt.astimezone(LOCAL_TZ).strftime("%m-%d %H:%M") if dt else "—"


def _base_payload(report: Report, level: str, ctx: StepContext) -> dict:
    category = ctx.category(report.category_id)
    township = ctx.township(report.township_id)
    return {"category": category.name, "township": township.code, "township_name": township.name,
            "level": level, "level_label": LEVEL_LABELS.get(level, level),
            "department": ctx.department(report.department_id).code if report.department_id else None,
            "urgent": bool(report.urgent)}


def _mention(found: ladder.Reach, officials) -> dict:
    """The payload's people: mobiles to @, their names, and ``who`` said plainly (with the
    levels passed over when a higher level stands in), and the level that answers."""
    return {"mobiles": ladder.mobiles(officials), "names": ladder.names(officials),
            "who": ladder.who(found, officials), "reached_level": found.by}


def _step_row(ctx: StepContext, report: Report, step: Step | None, kind: str, now: datetime, *,
              key: str | None = None, to_level: str = "", mentioned: str = "") -> None:
    ctx.add_step(dict(report=report.id, step=key or step.key, kind=kind, round=report.deadline_round,
                      level=report.level, to_level=to_level, scheduled_at=step.at if step else now,
                      at=now, mentioned=mentioned[:120]))


def remind(report: Report, step: Step, posts: ladder.Posts, *, in_emergency: bool, handed_over: bool,
           now: datetime, ctx: StepContext) -> None:
    """催办: mention the post on duty at the report's level (A; B after a handover; both in
    emergency mode), or the level above that stands in when nobody there can act."""
    found = ladder.reach(report, report.level, ctx.posts)
    officials = found.on_duty(emergency=in_emergency, handed_over=handed_over)
    phase = phase_of(report.status)
    due = due_of(report)
    note = (f"{LEVEL_LABELS.get(report.level, '')}时限已过 {round(step.fraction * 100)}%：提醒"
            f"{ladder.who(found, officials)}，在 {local(due)} 前{PHASE_LABELS[phase]}")
    _step_row(ctx, report, step, "remind", now, mentioned=ladder.names(officials))
    payload = _base_payload(report, report.level, ctx) | _mention(found, officials) | {
        "step": "remind", "phase": phase, "fraction": step.fraction, "due": iso(due), "emergency": in_emergency}
    ctx.note(report, Action.REMIND, SYSTEM, now, note=note, event_kind="report.reminder", payload=payload)


def handover(report: Report, step: Step | None, posts: ladder.Posts, *, in_emergency: bool,
             now: datetime, ctx: StepContext) -> dict:
    """AB岗交接: A is on leave or has not acted; B takes over (recorded in the timeline), at
    the report's level or at the level that stands in for it. Returns the report's column
    changes, for the caller's update of the row."""
    found = ladder.reach(report, report.level, ctx.posts)
    posts = found.posts
    phase = phase_of(report.status)
    due = due_of(report)
    a, b = posts.a, posts.b
    label = LEVEL_LABELS.get(found.by or report.level, "")
    where = f"{ladder.vacancy(found)}，由{label}处理；" if found.stands_in and found.by else ""
    if not found.by:
        why = f"{ladder.vacancy(found)}"
    elif a is None:
        why = f"{label}A岗空缺"
    elif not ladder.Posts.available(a):
        why = f"{label}A岗{a.name}请假" if a.on_leave else f"{label}A岗{a.name}不在岗"
    else:
        why = f"{label}A岗{a.name}未在规定时间内{PHASE_LABELS[phase]}"
    if ladder.Posts.available(b):
        note = f"{where}{why}，由B岗{b.name}接替（A→B），时限 {local(due)}"
    elif found.by:
        note = f"{where}{why}，{label}B岗空缺，无人可接替，时限 {local(due)}"
    else:
        note = f"{why}，无人可提醒，时限 {local(due)}"
    officials = found.on_duty(emergency=in_emergency, handed_over=True)
    _step_row(ctx, report, step, "handover", now, key=f"{report.deadline_round}:handover",
              mentioned=ladder.names(officials))
    payload = _base_payload(report, report.level, ctx) | _mention(found, officials) | {
        "step": "handover", "phase": phase, "due": iso(due), "emergency": in_emergency,
        "from_name": a.name if a else "", "to_name": b.name if ladder.Posts.available(b) else ""}
    ctx.note(report, Action.HANDOVER, SYSTEM, now, note=note, event_kind="report.reminder", payload=payload)
    return {"handover_count": report.handover_count + 1}


def escalate(report: Report, step: Step, to_level: str, *, policy, calendar, category: Category,
             now: datetime, ctx: StepContext) -> Report:
    """逐级上报: the deadline passed; raise the report to ``to_level`` with a new clock, and
    name that level's own people (or say plainly that it has none, and who stands in)."""
    phase = phase_of(report.status)
    from_level = report.level
    due = due_of(report)
    extra = {"missed_deadlines": report.missed_deadlines + 1}
    if to_level == "department" and not report.department_id:
        dept = Department.get_or_none(Department.code == policy.duty_departments.get(category.code, ""))
        if dept is not None:
            extra["department"] = dept.id
    _step_row(ctx, report, step, "escalate", now, to_level=to_level)
    in_emergency = ctx.in_emergency(report.township_id)
    planned = start_phase(report, phase, now, policy, level=to_level, calendar=calendar, extra=extra,
                          category=category, posts_cache=ctx.posts, in_emergency=in_emergency)
    found = ladder.reach(planned, to_level, ctx.posts)
    officials = found.on_duty(emergency=in_emergency)
    new_due = due_of(planned)
    note = (f"{LEVEL_LABELS.get(from_level, from_level)}未在时限（{local(due)}）内{PHASE_LABELS[phase]}，"
            f"逐级上报至{LEVEL_LABELS.get(to_level, to_level)}（{ladder.who(found, officials)}），"
            f"新时限 {local(new_due)}")
    payload = _base_payload(planned, to_level, ctx) | _mention(found, officials) | {
        "from_level": from_level, "from_label": LEVEL_LABELS.get(from_level, from_level), "phase": phase,
        "missed_due": iso(due), "due": iso(new_due), "emergency": in_emergency}
    ctx.note(planned, Action.ESCALATE, SYSTEM, now, note=note, event_kind="report.escalated",
             payload=payload)
    return planned


def overdue(report: Report, step: Step, *, now: datetime, ctx: StepContext) -> None:
    """超时督办: the county level's deadline passed too; the county command centre is told
    once, by name (or plainly that it has nobody on its posts)."""
    phase = phase_of(report.status)
    due = due_of(report)
    _step_row(ctx, report, step, "overdue", now)
    Report.update(missed_deadlines=Report.missed_deadlines + 1, next_step_at=None).where(Report.id == report.id).execute()
    in_emergency = ctx.in_emergency(report.township_id)
    found = ladder.reach(report, "county", ctx.posts)
    officials = found.on_duty(emergency=in_emergency)
    note = (f"已逐级上报至{LEVEL_LABELS.get(report.level, '')}，仍未在时限（{local(due)}）内{PHASE_LABELS[phase]}，"
            f"列入超时督办，请县指挥中心（{ladder.who(found, officials)}）督办")
    payload = _base_payload(report, report.level, ctx) | _mention(found, officials) | {
        "phase": phase, "missed_due": iso(due), "emergency": in_emergency}
    ctx.note(report, Action.OVERDUE, SYSTEM, now, note=note, event_kind="report.overdue", payload=payload)


def whistle_overdue(report: Report, step: Step, *, now: datetime, ctx: StepContext) -> None:
    """部门未报到: the department did not accept a whistle in time; the whistling township and
    the county group are told once, each naming its own people. The clock waits for the
    department to report back."""
    due = due_of(report)
    dept = ctx.department(report.department_id) if report.department_id else None
    township = ctx.township(report.township_id)
    _step_row(ctx, report, step, "whistle_overdue", now)
    Report.update(missed_deadlines=Report.missed_deadlines + 1, next_step_at=None).where(Report.id == report.id).execute()
    in_emergency = ctx.in_emergency(report.township_id)
    at_township = ladder.reach(report, "township", ctx.posts)
    at_county = ladder.reach(report, "county", ctx.posts)
    officials = (at_township.on_duty(emergency=in_emergency) if not at_township.stands_in else [])
    county_officials = at_county.on_duty(emergency=in_emergency)
    dept_name = dept.name if dept else "部门"
    township_who = ladder.names(officials) or "乡镇/街道未登记值班人员"
    note = (f"{dept_name}未在时限（{local(due)}）内报到受理，已告知{township.name}（{township_who}）"
            f"和县指挥中心（{ladder.who(at_county, county_officials)}）")
    everyone = list(dict.fromkeys(officials + county_officials))
    payload = _base_payload(report, report.level, ctx) | _mention(at_county, everyone) | {
        "who": f"{township.name}（{township_who}）、县指挥中心（{ladder.who(at_county, county_officials)}）",
        "department_name": dept_name, "missed_due": iso(due), "emergency": in_emergency}
    ctx.note(report, Action.OVERDUE, SYSTEM, now, note=note, event_kind="whistle.overdue",
             payload=payload, priority=outbox.URGENT)


def redo_pending(report: Report, done_keys: set[str]) -> TimelineEntry | None:
    """The reopen that started the current round, if its 回访 entry is still to be written."""
    if not report.redo_count or f"{report.deadline_round}:follow_up" in done_keys:
        return None
    return (TimelineEntry.select().where((TimelineEntry.report == report.id) & (TimelineEntry.action == "reopen")
                                         & (TimelineEntry.at == report.phase_started_at))
            .order_by(TimelineEntry.id.desc()).first())


def follow_up(report: Report, reopen: TimelineEntry, now: datetime, ctx: StepContext) -> None:
    """回访: the resident is not satisfied; the report is redone at the same level (重办)."""
    rating = (RatingRecord.select().where((RatingRecord.report == report.id) & (RatingRecord.redo == True)  # noqa: E712
                                          & (RatingRecord.at == reopen.at)).first())
    score = rating.score if rating else None
    reason = reopen.note
    ctx.add_step(dict(report=report.id, step=f"{report.deadline_round}:follow_up", kind="follow_up",
                      round=report.deadline_round, level=report.level, scheduled_at=reopen.at, at=now))
    in_emergency = ctx.in_emergency(report.township_id)
    found = ladder.reach(report, report.level, ctx.posts)
    officials = found.on_duty(emergency=in_emergency)
    why = f"居民评价 {score} 星，不满意" if score is not None else "居民反映问题未解决"
    note = (f"回访：{why}，退回{LEVEL_LABELS.get(report.level, '')}（{ladder.who(found, officials)}）"
            f"重办（第 {report.redo_count} 次），"
            f"办结时限 {local(report.resolve_due_at)}")
    payload = _base_payload(report, report.level, ctx) | _mention(found, officials) | {
        "score": score, "reason": reason[:200], "redo_count": report.redo_count, "due": iso(report.resolve_due_at),
        "emergency": in_emergency}
    ctx.note(report, Action.FOLLOW_UP, Actor.system("回访"), now, note=note, event_kind="report.redo",
                        payload=payload)
