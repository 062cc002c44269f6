"""One pass of the deadline scheduler, as if the time were ``now``.

:func:`run_pass` looks only at reports whose ``next_step_at`` has come (an index), and for
each, in its own transaction:

1. a report with no clock yet (written before deadlines existed) gets one, starting now;
2. otherwise the steps of its current round (:func:`planner.schedule`) that are due and not
   done yet are weighed, and the most advanced one is done, once:

   * the deadline passed → raised to the next level (``escalate``); at the county level,
     超时督办 (``overdue``); a whistle the department did not answer → ``whistle_overdue``;
   * the handover point passed, or A is on leave (or has no A post) → A→B ``handover``;
   * a reminder fraction passed → ``remind`` (A, or B after a handover; both in emergency);
   * a round started by a reopen or a low rating (重办) first gets its 回访 entry (``follow_up``);

3. ``next_step_at`` moves to the next planned step.

Every step is an :class:`EscalationStep` row (unique per report and step), a timeline entry
and an outbox event, committed together (batches of ``TX_BATCH`` reports share a
transaction, each report in its own savepoint): a pass run twice, or killed and run again,
never repeats a step, and several workers may run passes at once. Then the daily digests are due
(:mod:`.digest`). Nothing here sleeps or reads the clock: ``now`` is a parameter.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from peewee import IntegrityError

from miniapp_api.config import Settings
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.models import Category
from miniapp_api.models import Report
from miniapp_api.models.deadlines import EscalationStep
from miniapp_api.passes import PassCounts
from miniapp_api.deadlines import digest
from miniapp_api.deadlines import ladder
from miniapp_api.deadlines import steps
from miniapp_api.deadlines.calendar import load_calendar
from miniapp_api.deadlines.planner import phase_of
from miniapp_api.deadlines.planner import schedule
from miniapp_api.deadlines.planner import start_phase
from miniapp_api.deadlines.policy import load_policy

log = logging.getLogger(__name__)

TERMINAL = frozenset({"escalate", "overdue", "whistle_overdue"})
#: A report no group has seen yet (its content check is pending) is looked at again after this.
UNCHECKED_RETRY = timedelta(minutes=10)
BATCH = 500
#: Reports whose steps are committed together (each in its own savepoint).
TX_BATCH = 100


@dataclass
class PassSummary(PassCounts):
    """What one scheduler pass did: reports looked at, steps done by kind, digests, races."""

    looked: int = 0
    planned: int = 0
    reminders: int = 0
    handovers: int = 0
    escalations: int = 0
    overdue: int = 0
    whistle_overdue: int = 0
    follow_ups: int = 0
    digests: int = 0
    raced: int = 0
    errors: int = 0


class _Context(steps.StepContext):
    """What one pass reads once: the policy, the calendar, categories, names, duty posts and
    the emergency switch."""

    def __init__(self):
        super().__init__()
        self.policy = load_policy()
        self.calendar = load_calendar()
        self._categories = {c.id: c for c in Category.select()}


def _lock(report_ids: list[int], now: datetime) -> list[Report]:
    """The reports still due, locked for this pass (PostgreSQL: rows another scheduler holds
    are skipped, it is doing them)."""
    query = Report.select().where(Report.id.in_(report_ids) & (Report.next_step_at <= now)).order_by(Report.id)
    if is_postgres():
        query = query.for_update("FOR UPDATE SKIP LOCKED")
    return list(query)


def _done_steps(reports: list[Report]) -> dict[int, list[EscalationStep]]:
    """The steps already done in each report's current round, in one query."""
    rounds = {r.id: r.deadline_round for r in reports}
    out: dict[int, list[EscalationStep]] = {r.id: [] for r in reports}
    if not rounds:
        return out
    for s in EscalationStep.select().where(EscalationStep.report.in_(list(rounds))):
        if s.round == rounds[s.report_id]:
            out[s.report_id].append(s)
    return out


def _process(report: Report, done: list[EscalationStep], now: datetime, ctx: _Context,
             summary: PassSummary) -> None:
    summary.looked += 1
    phase = phase_of(report.status)
    if phase is None:
        ctx.set_report(report.id, next_step_at=None)
        return
    category = ctx.category(report.category_id)
    in_emergency = ctx.in_emergency(report.township_id)
    if report.deadline_round == 0 or report.phase_started_at is None:
        hours = ctx.policy.whistle_report_hours if report.status == "transferred" else None
        start_phase(report, phase, now, ctx.policy, hours=hours, calendar=ctx.calendar, category=category,
                    posts_cache=ctx.posts, in_emergency=in_emergency)
        summary.planned += 1
        return
    if report.moderation not in ("pass", "review"):
        ctx.set_report(report.id, next_step_at=now + UNCHECKED_RETRY)
        return
    plan = schedule(report, ctx.policy, ctx.calendar)
    if any(d.kind in TERMINAL for d in done):
        ctx.set_report(report.id, next_step_at=None)
        return
    done_keys = {d.step for d in done}
    posts = ladder.duty_posts(report, report.level, ctx.posts)
    a_away = not posts.a_available and ladder.Posts.available(posts.b)
    reopen = steps.redo_pending(report, done_keys)
    if reopen is not None:
        steps.follow_up(report, reopen, now, ctx)
        summary.follow_ups += 1
        upcoming = [s.at for s in plan if s.at > now]
        first = now if a_away and f"{report.deadline_round}:handover" not in done_keys else min(upcoming, default=None)
        ctx.set_report(report.id, next_step_at=first)
        return
    done_until = max((d.scheduled_at for d in done), default=None)
    candidates = [s for s in plan if s.at <= now and s.key not in done_keys
                  and (done_until is None or s.at > done_until)]
    if candidates and candidates[-1].kind == "escalate":
        _terminal(report, candidates[-1], category, now, ctx, summary)
        return
    handed = any(d.kind == "handover" for d in done)
    scheduled_handover = next((c for c in candidates if c.kind == "handover"), None)
    changes: dict = {}
    if not handed and (scheduled_handover or a_away):
        changes = steps.handover(report, scheduled_handover, posts, in_emergency=in_emergency, now=now, ctx=ctx)
        summary.handovers += 1
        done_keys.add(f"{report.deadline_round}:handover")
    elif candidates:
        steps.remind(report, candidates[-1], posts, in_emergency=in_emergency, handed_over=handed, now=now, ctx=ctx)
        summary.reminders += 1
        done_keys.add(candidates[-1].key)
    upcoming = [s.at for s in plan if s.at > now and s.key not in done_keys]
    ctx.set_report(report.id, next_step_at=min(upcoming) if upcoming else None, **changes)


def _terminal(report: Report, step, category: Category, now: datetime, ctx: _Context, summary: PassSummary) -> None:
    if report.status == "transferred" and report.level == "department":
        steps.whistle_overdue(report, step, now=now, ctx=ctx)
        summary.whistle_overdue += 1
        return
    to_level = ladder.next_level(report, ctx.policy.duty_departments, category.code)
    if to_level is None:
        steps.overdue(report, step, now=now, ctx=ctx)
        summary.overdue += 1
        return
    steps.escalate(report, step, to_level, policy=ctx.policy, calendar=ctx.calendar, category=category,
                   now=now, ctx=ctx)
    summary.escalations += 1


def _run_batch(report_ids: list[int], now: datetime, ctx: _Context, summary: PassSummary) -> None:
    """One transaction for a batch of reports. Should one of them fail (or another
    scheduler have written its step first), the batch is done again with a savepoint for
    each report, so that one rolls back alone."""
    batch = PassSummary()
    try:
        with write_tx():
            reports = _lock(report_ids, now)
            done = _done_steps(reports)
            ctx.begin_batch()
            try:
                for report in reports:
                    _process(report, done[report.id], now, ctx, batch)
            except BaseException:
                ctx.end_batch(write=False)
                raise
            ctx.end_batch(write=True)
    except Exception:
        log.info("scheduler batch failed; doing it again report by report", exc_info=True)
    else:
        summary.add(batch)
        return
    with write_tx():
        reports = _lock(report_ids, now)
        done = _done_steps(reports)
        for report in reports:
            try:
                with database.atomic():
                    _process(report, done[report.id], now, ctx, summary)
            except IntegrityError:
                summary.raced += 1  # another scheduler recorded this step first: nothing repeated
            except Exception:
                summary.errors += 1
                log.exception("deadline step failed for report %s", report.id)


def run_pass(settings: Settings, now: datetime, *, limit: int | None = None, digests: bool = True) -> PassSummary:
    """One scheduler pass at ``now``: due ladder steps of at most ``limit`` reports, then the
    daily digests that are due. Deterministic for a given ``now`` and database."""
    database.connect(reuse_if_open=True)
    summary = PassSummary()
    ctx = _Context()
    remaining = limit or settings.deadlines.max_reports_per_pass
    last_id = 0
    while remaining > 0:
        ids = [r.id for r in Report.select(Report.id)
               .where((Report.next_step_at <= now) & (Report.id > last_id))
               .order_by(Report.id).limit(min(BATCH, remaining))]
        if not ids:
            break
        last_id = ids[-1]
        remaining -= len(ids)
        for i in range(0, len(ids), TX_BATCH):
            _run_batch(ids[i:i + TX_BATCH], now, ctx, summary)
    if digests:
        summary.digests = digest.run(settings, now)
    return summary


class SchedulerHook:
    """A worker hook: a scheduler pass at most every ``scheduler_interval_seconds``."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.last_run: datetime | None = None

    def __call__(self, now: datetime) -> PassSummary | None:
        interval = timedelta(seconds=self.settings.deadlines.scheduler_interval_seconds)
        if self.last_run is not None and self.last_run <= now < self.last_run + interval:
            return None
        self.last_run = now
        try:
            summary = run_pass(self.settings, now)
        except Exception:  # never take the delivery loop down with it
            log.exception("scheduler pass failed")
            return None
        if summary.looked or summary.digests:
            log.info("scheduler pass: %s", summary)
        return summary
