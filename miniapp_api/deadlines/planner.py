"""Deadline clocks: started, moved and stopped with every change of a report's status.

:func:`after_change` runs inside the lifecycle's transaction (``lifecycle.apply`` calls it),
and :func:`plan_submission` plans a new report's clock before ``lifecycle.submit`` inserts
it, so a report's deadlines always match its status. Both are lifecycle hooks, registered
by composition through :func:`register_hooks`:

=================  ==================================================================
change             deadline clock
=================  ==================================================================
submit             accept phase at the category's duty-list level (``accept_hours``)
accept             resolve phase at the current level (``resolve_hours``)
transfer (转办)     accept phase at the department: report back (报到) within
                   ``whistle_report_hours``
reopen / low       redo (重办) at the same level, ``resolve_hours`` again; the next
rating            scheduler pass writes the 回访 entry
resolve            clock stops; who resolved it (post, level, unit) is recorded
rate               the rating is recorded against who resolved it
reject, close      clock stops
=================  ==================================================================

Hours are multiplied by the emergency factors when emergency mode is in force for the
report's unit when the clock starts (and count every calendar hour, with
``emergency_all_days``); otherwise they count working days only (``working_days``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from miniapp_api import catalogue
from miniapp_api.models import Category
from miniapp_api.models import Department
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.models.deadlines import RatingRecord
from miniapp_api.deadlines import ladder
from miniapp_api.deadlines import mode
from miniapp_api.deadlines.calendar import WorkCalendar
from miniapp_api.deadlines.calendar import add_hours
from miniapp_api.deadlines.calendar import load_calendar
from miniapp_api.deadlines.policy import Policy
from miniapp_api.deadlines.policy import load_policy
from miniapp_api.reports import lifecycle
from miniapp_api.reports.lifecycle import Action

ACCEPT_PHASE = "accept"
RESOLVE_PHASE = "resolve"
PHASE_LABELS = {ACCEPT_PHASE: "受理", RESOLVE_PHASE: "办结"}


def phase_of(status: str) -> str | None:
    """Which deadline an open report is running against: accept or resolve."""
    if status in ("pending", "transferred"):
        return ACCEPT_PHASE
    if status == "accepted":
        return RESOLVE_PHASE
    return None


def due_of(report: Report) -> datetime | None:
    """The due time of the deadline the report is running against (None without one)."""
    phase = phase_of(report.status)
    if phase == ACCEPT_PHASE:
        return report.accept_due_at
    if phase == RESOLVE_PHASE:
        return report.resolve_due_at
    return None


@dataclass(frozen=True)
class Step:
    """One planned step of the current round: when, what, and its unique key."""

    at: datetime
    kind: str          # remind | handover | escalate
    key: str
    fraction: float


def _counting(report: Report, calendar: WorkCalendar) -> WorkCalendar | None:
    """The calendar the current clock counts on. A clock whose due time is exactly its
    length after its start never crossed a day off, so both ways of counting agree on
    every point before the due time (see ``start_phase``)."""
    if report.phase_started_at is None or report.phase_hours is None:
        return None
    due = due_of(report)
    plain = report.phase_started_at + timedelta(hours=report.phase_hours)
    return None if due is None or abs((due - plain).total_seconds()) < 1 else calendar


def schedule(report: Report, policy: Policy, calendar: WorkCalendar) -> list[Step]:
    """Every step of the report's current round, in time order (empty when no clock runs)."""
    due = due_of(report)
    if due is None or report.phase_started_at is None or report.phase_hours is None:
        return []
    counting = _counting(report, calendar)
    start, hours, r = report.phase_started_at, report.phase_hours, report.deadline_round
    steps = [Step(add_hours(start, f * hours, counting), "remind", f"{r}:remind:{f:.3f}", f)
             for f in policy.reminder_fractions]
    steps.append(Step(add_hours(start, policy.handover_fraction * hours, counting), "handover",
                      f"{r}:handover", policy.handover_fraction))
    steps = [s for s in steps if s.at < due]
    steps.append(Step(due, "escalate", f"{r}:escalate", 1.0))
    return sorted(steps, key=lambda s: (s.at, s.fraction))


def plan_phase(report: Report, phase: str, now: datetime, policy: Policy | None = None, *,
               hours: float | None = None, level: str | None = None, calendar: WorkCalendar | None = None,
               extra: dict | None = None, category: Category | None = None,
               posts_cache=None, in_emergency: bool | None = None,
               look_now: bool = False) -> tuple[Report, dict]:
    """A new deadline clock (a new round) for ``report`` at ``level``, not yet written:
    returns the row as it will be and the column values (by field name) that make it so.

    ``extra`` are more column values written with it; ``look_now`` makes the scheduler look
    at the report at its next pass.
    """
    policy = policy or load_policy()
    category = category or Category.get_by_id(report.category_id)
    if in_emergency is None:
        in_emergency = mode.in_force(report.township_id)
    base = hours if hours is not None else (category.accept_hours if phase == ACCEPT_PHASE else category.resolve_hours)
    factor = 1.0
    if in_emergency:
        factor = policy.emergency_accept_factor if phase == ACCEPT_PHASE else policy.emergency_resolve_factor
    length = base * factor
    calendar = calendar or load_calendar()
    counting = calendar if policy.working_days and not (in_emergency and policy.emergency_all_days) else None
    due = add_hours(now, length, counting)
    values = dict(extra or {})
    values.update(deadline_round=report.deadline_round + 1, phase_started_at=now, phase_hours=length)
    values["accept_due_at" if phase == ACCEPT_PHASE else "resolve_due_at"] = due
    if level is not None:
        values["level"] = level
    planned = Report(**{**report.__data__, **values})  # the row as it will be
    # Look again at once when the A post is away and B can take over (at once); otherwise at
    # the first planned step.
    posts = ladder.duty_posts(planned, planned.level, posts_cache)
    steps = schedule(planned, policy, calendar)
    b_covers = not posts.a_available and ladder.Posts.available(posts.b)
    first = now if look_now or b_covers else (steps[0].at if steps else None)
    values["next_step_at"] = planned.next_step_at = first
    return planned, values


def start_phase(report: Report, phase: str, now: datetime, policy: Policy | None = None, **options) -> Report:
    """Start a new deadline clock for ``report`` (see :func:`plan_phase` for the options) and
    write it; returns the row as updated (one ``UPDATE``; ``report`` must be current: the
    caller holds its row). Runs inside the caller's transaction."""
    planned, values = plan_phase(report, phase, now, policy, **options)
    Report.update(**values).where(Report.id == report.id).execute()
    return planned


def plan_submission(report: Report, now: datetime) -> dict:
    """The column values a new report is inserted with: its accept clock at the duty list's
    level, the department the duty list names (at the department level), and the urgent
    lane when emergency mode is in force. ``report`` is not saved yet; its ``category`` and
    ``township`` are read from it (instances given to it cost no query).

    What it reads (the policy, the switch, the departments, the calendar, the duty posts)
    comes from the catalogue cache, which a change to any of them invalidates (``catalogue``)."""
    snapshot = catalogue.current()
    policy = snapshot.get("deadlines.policy", load_policy)
    category = report.category
    in_emergency = snapshot.get("deadlines.county_on", mode.county_on) or bool(report.township.emergency)
    extra = {}
    if mode.urgent_when(in_emergency, policy, category.code):
        extra["urgent"] = True
    dept_code = policy.duty_departments.get(category.code)
    if report.level == "department" and not report.department_id and dept_code:
        dept_id = snapshot.get("deadlines.departments", _department_ids).get(dept_code)
        if dept_id is not None:
            extra["department"] = dept_id
    _, values = plan_phase(report, ACCEPT_PHASE, now, policy, extra=extra, category=category,
                           in_emergency=in_emergency, calendar=snapshot.get("deadlines.calendar", load_calendar),
                           posts_cache=snapshot.get("deadlines.posts", ladder.Roster))
    return values


def _department_ids() -> dict[str, int]:
    return {d.code: d.id for d in Department.select(Department.id, Department.code)}


def _stop(report: Report, **extra) -> Report:
    """Stop the clock (and write ``extra``); returns the row as updated."""
    values = dict(next_step_at=None, **extra)
    Report.update(**values).where(Report.id == report.id).execute()
    for name, value in values.items():
        setattr(report, name, value)
    report._dirty.clear()
    return report



def _resolver(actor) -> Official | None:
    if actor is None or actor.kind != "official" or not actor.id:
        return None
    return (Official.select().where((Official.dingtalk_user_id == actor.id) & (Official.active == True))  # noqa: E712
            .order_by(Official.id).first())


def _attribution(report: Report, official: Official | None) -> dict:
    level = ladder.level_of(official, report.level)
    if official is not None and official.department_id:
        unit = f"department:{Department.get_by_id(official.department_id).code}"
    elif level == "county":
        unit = "county"
    elif report.level == "department" and report.department_id and official is None:
        unit = f"department:{Department.get_by_id(report.department_id).code}"
    else:
        unit = f"township:{report.township.code}"
    return {"resolved_post": ladder.post_of(official), "resolved_level": level, "resolved_unit": unit}


def _record_rating(report: Report, score: int, now: datetime, *, redo: bool) -> None:
    entry = (TimelineEntry.select().where((TimelineEntry.report == report.id) & (TimelineEntry.action == "resolve"))
             .order_by(TimelineEntry.id.desc()).first())
    RatingRecord.create(report=report.id, score=score, at=now, post=report.resolved_post,
                        level=report.resolved_level or report.level, unit=report.resolved_unit,
                        official=(entry.actor_name if entry else "")[:40], redo=redo)


def after_change(change: lifecycle.Change) -> Report:
    """Keep the deadline clock in step with a status change (see the module's table); returns
    the row as it leaves it. ``change.report`` is the row as the change left it."""
    action, fresh, now, changes = change.action, change.report, change.now, change.changes
    if action == Action.ACCEPT:
        return _current(start_phase(fresh, RESOLVE_PHASE, now))
    if action == Action.TRANSFER:
        policy = load_policy()
        return _current(start_phase(fresh, ACCEPT_PHASE, now, policy, hours=policy.whistle_report_hours))
    if action == Action.RESOLVE:
        return _stop(fresh, **_attribution(fresh, _resolver(change.actor)))
    if action == Action.REOPEN:
        # 重办 at the same level; the scheduler's next pass writes the 回访 entry and tells the
        # group (a ladder step, once), so this change stays one entry and one event.
        score = changes.get("rating_score")
        if score is not None:
            _record_rating(fresh, int(score), now, redo=True)
        return _current(start_phase(fresh, RESOLVE_PHASE, now, extra={"redo_count": fresh.redo_count + 1},
                                    look_now=True))
    if action == Action.RATE:
        fresh = _stop(fresh)
        if changes.get("rating_score") is not None:
            _record_rating(fresh, int(changes["rating_score"]), now, redo=False)
        return fresh
    if change.new is not None and str(change.new) in ("closed", "rejected", "resolved", "merged"):
        return _stop(fresh)
    return fresh


def _current(planned: Report) -> Report:
    """A row :func:`start_phase` wrote, as if read back (nothing left to save)."""
    planned._dirty.clear()
    return planned


def is_redo(score: int) -> bool:
    """Whether a rating of ``score`` sends the report back (重办): up to ``redo_max_score``."""
    return score <= load_policy().redo_max_score


def register_hooks() -> None:
    """Tie the deadline clocks to the report lifecycle (composition calls it; idempotent)."""
    lifecycle.on_change(after_change)
    lifecycle.plan_submissions_with(plan_submission)
    lifecycle.redo_when(is_redo)
