"""The ladder policy and the holiday calendar: written from ``[deadlines]`` by ``tongxin
init-db`` (as the categories' hours are), read from the database by everything else, so the
API, the worker and the console all see the county's current rules."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from miniapp_api.config import DeadlinesSettings
from miniapp_api.config import Settings
from miniapp_api.models import utcnow
from miniapp_api.models.deadlines import DeadlinePolicy
from miniapp_api.models.deadlines import Holiday
from miniapp_api.prepared import Prepared


@dataclass(frozen=True)
class Policy:
    """The ladder policy in force (see ``DeadlinesSettings`` for what each field means)."""

    working_days: bool
    reminder_fractions: tuple[float, ...]
    handover_fraction: float
    emergency_accept_factor: float
    emergency_resolve_factor: float
    emergency_all_days: bool
    emergency_categories: frozenset[str]
    whistle_report_hours: float
    redo_max_score: int
    duty_departments: dict[str, str]

    @classmethod
    def from_settings(cls, s: DeadlinesSettings) -> "Policy":
        """The policy ``[deadlines]`` describes."""
        return cls(s.working_days, tuple(s.reminder_fractions), s.handover_fraction,
                   s.emergency_accept_factor, s.emergency_resolve_factor, s.emergency_all_days,
                   frozenset(s.emergency_categories), s.whistle_report_hours, s.redo_max_score,
                   dict(s.duty_departments))


DEFAULT = Policy.from_settings(DeadlinesSettings())


# Read on every submission and status change; compiled once (see ``prepared``).
_POLICY = Prepared(lambda: DeadlinePolicy.select(
    DeadlinePolicy.working_days, DeadlinePolicy.reminder_fractions, DeadlinePolicy.handover_fraction,
    DeadlinePolicy.emergency_accept_factor, DeadlinePolicy.emergency_resolve_factor,
    DeadlinePolicy.emergency_all_days, DeadlinePolicy.emergency_categories, DeadlinePolicy.whistle_report_hours,
    DeadlinePolicy.redo_max_score, DeadlinePolicy.duty_departments).where(DeadlinePolicy.id == 1))


def load_policy() -> Policy:
    """The policy row, or the built-in defaults when ``init-db`` has not written one."""
    row = _POLICY.one()
    if row is None:
        return DEFAULT
    fractions = tuple(sorted(float(f) for f in (row.reminder_fractions or []) if 0 < float(f) < 1))
    return Policy(row.working_days, fractions, row.handover_fraction, row.emergency_accept_factor,
                  row.emergency_resolve_factor, row.emergency_all_days,
                  frozenset(row.emergency_categories or []), row.whistle_report_hours,
                  row.redo_max_score, dict(row.duty_departments or {}))


def seed_policy(settings: Settings, now: datetime | None = None) -> int:
    """Write ``[deadlines]``'s policy and calendar; returns how many rows changed.

    Call inside the caller's write transaction. Calendar days the configuration lists are
    upserted; days it does not list are left alone (the console may have added them).
    """
    s = settings.deadlines
    values = {
        "working_days": s.working_days, "reminder_fractions": list(s.reminder_fractions),
        "handover_fraction": s.handover_fraction, "emergency_accept_factor": s.emergency_accept_factor,
        "emergency_resolve_factor": s.emergency_resolve_factor, "emergency_all_days": s.emergency_all_days,
        "emergency_categories": list(s.emergency_categories), "whistle_report_hours": s.whistle_report_hours,
        "redo_max_score": s.redo_max_score, "duty_departments": dict(s.duty_departments),
    }
    changed = 0
    row = DeadlinePolicy.get_or_none(DeadlinePolicy.id == 1)
    if row is None:
        DeadlinePolicy.insert(id=1, updated_at=now or utcnow(), **values).execute()
        changed += 1
    else:
        diff = {k: v for k, v in values.items() if getattr(row, k) != v}
        if diff:
            DeadlinePolicy.update(updated_at=now or utcnow(), **diff).where(DeadlinePolicy.id == 1).execute()
            changed += 1
    wanted = {d: "holiday" for d in s.holidays} | {d: "workday" for d in s.workdays}
    existing = {h.day: h.kind for h in Holiday.select().where(Holiday.day.in_(list(wanted)))} if wanted else {}
    for day, kind in sorted(wanted.items()):
        if existing.get(day) == kind:
            continue
        (Holiday.insert(day=day, kind=kind, name="")
         .on_conflict(conflict_target=[Holiday.day], update={Holiday.kind: kind}).execute())
        changed += 1
    return changed
