"""平战一键转换: the emergency switch, county-wide or for one unit.

While emergency mode is in force for a unit (the county-wide switch is on, or the unit's own):

* new deadline clocks are shortened by ``emergency_accept_factor`` /
  ``emergency_resolve_factor`` and count every calendar hour (``emergency_all_days``); the
  clocks of open reports restart at the switch with their remaining time shortened the same
  way; switching back restores the normal rules for new clocks (running ones keep theirs);
* new reports of the emergency categories (``emergency_categories``; all when empty) take
  the urgent lane, and so do the open ones when the switch goes on;
* reminders, escalations and new-report cards mention both the A and the B post.

Each flip is kept in :class:`EmergencySwitch` (who, when) and announced in every affected
group: county-wide, every unit's and department's group and the county group; for one unit,
its group and the county group.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import datetime

from miniapp_api import outbox
from miniapp_api.db import write_tx
from miniapp_api.errors import NotFound
from miniapp_api.models import Category
from miniapp_api.models import Department
from miniapp_api.models import GroupMapping
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api.models.deadlines import EmergencySwitch
from miniapp_api.deadlines import ladder
from miniapp_api.deadlines.calendar import load_calendar
from miniapp_api.deadlines.mode import county_on
from miniapp_api.deadlines.mode import in_force
from miniapp_api.deadlines.planner import due_of
from miniapp_api.deadlines.planner import phase_of
from miniapp_api.deadlines.planner import start_phase
from miniapp_api.deadlines.policy import load_policy

OPEN = ("pending", "accepted", "transferred")


# ``county_on`` and ``in_force`` live in :mod:`.mode` (the planner reads them); named here too.
__all__ = ["OPEN", "SwitchResult", "county_on", "history", "in_force", "state", "switch"]


@dataclass
class SwitchResult:
    """The switch after a flip (or as it stands): county-wide, per unit, and what the flip did."""

    changed: bool
    county: bool
    townships: dict[str, bool] = field(default_factory=dict)
    announced: int = 0
    raised_urgent: int = 0
    shortened: int = 0


def state() -> SwitchResult:
    """The switch as it stands: county-wide and per unit."""
    return SwitchResult(False, county_on(),
                        {t.code: bool(t.emergency) for t in Township.select().order_by(Township.sort_order, Township.id)})


def _raise_urgent(township_ids: list[int]) -> int:
    categories = load_policy().emergency_categories
    cond = Report.status.in_(OPEN) & (Report.urgent == False) & Report.township.in_(township_ids)  # noqa: E712
    if categories:
        cond &= Report.category.in_(Category.select(Category.id).where(Category.code.in_(list(categories))))
    return Report.update(urgent=True).where(cond).execute()


def _groups(scope: str, township: Township | None) -> list[tuple[str, str, str, ladder.Posts]]:
    """``(owner_kind, code, unit name, posts)`` of every mapped group the flip concerns."""
    mapped = {(m.owner_kind, m.owner_code) for m in GroupMapping.select().where(GroupMapping.enabled == True)}  # noqa: E712
    out = []
    townships = [township] if township else list(Township.select().order_by(Township.sort_order, Township.id))
    for t in townships:
        if ("township", t.code) in mapped:
            out.append(("township", t.code, t.name, ladder.township_posts(t.id)))
    if scope == "county":
        for d in Department.select().order_by(Department.id):
            if ("department", d.code) in mapped:
                out.append(("department", d.code, d.name, ladder.department_posts(d.id)))
    if ("county", "county") in mapped:
        out.append(("county", "county", "县指挥中心", ladder.county_posts()))
    return out


def switch(on: bool, township_code: str | None, actor: str, now: datetime) -> SwitchResult:
    """Turn emergency mode on or off, county-wide (``township_code`` None) or for one unit.

    Flipping to the state it is already in changes nothing and announces nothing.
    Raises :class:`~miniapp_api.errors.NotFound` for an unknown unit code.
    """
    with write_tx():
        township = None
        was_county = county_on()
        if township_code:
            township = Township.get_or_none(Township.code == township_code)
            if township is None:
                raise NotFound(f"没有代码为 {township_code} 的乡镇/街道", code="township_not_found")
            if bool(township.emergency) == on:
                return state()
            Township.update(emergency=on).where(Township.id == township.id).execute()
            scope = "township"
        else:
            if was_county == on:
                return state()
            scope = "county"
        EmergencySwitch.create(scope=scope, township=township_code or "", on=on, at=now, actor=actor[:60])
        raised = shortened = 0
        if on:
            # Units already in emergency mode (through the other switch) are on its clock already.
            if township:
                ids = [] if was_county else [township.id]
            else:
                ids = [t.id for t in Township.select(Township.id).where(Township.emergency == False)]  # noqa: E712
            raised = _raise_urgent(ids)
            shortened = _shorten_running(ids, now)
        policy = load_policy()
        still_county = bool(township) and not on and county_on()
        groups = _groups(scope, township)
        for owner_kind, code, unit_name, posts in groups:
            officials = posts.on_duty(emergency=True)
            outbox.record("emergency.switched", {
                "on": on, "scope": scope, "township": township_code, "township_name": township.name if township else "",
                "group": {"kind": owner_kind, "code": code}, "unit_name": unit_name,
                "accept_factor": policy.emergency_accept_factor, "resolve_factor": policy.emergency_resolve_factor,
                "all_days": policy.emergency_all_days, "still_county": still_county,
                "mobiles": ladder.mobiles(officials), "names": ladder.names(officials), "actor": actor[:60],
            }, now=now, priority=outbox.URGENT)
    result = state()
    result.changed, result.announced, result.raised_urgent, result.shortened = True, len(groups), raised, shortened
    return result


def _shorten_running(township_ids: list[int], now: datetime) -> int:
    """Put the open reports of units going into emergency mode on the emergency clock: each
    running clock restarts now with its remaining time shortened by the emergency factor."""
    policy, calendar = load_policy(), load_calendar()
    count = 0
    query = Report.select().where(Report.status.in_(OPEN) & Report.township.in_(township_ids)
                                  & Report.next_step_at.is_null(False) & (Report.deadline_round > 0))
    for report in query.order_by(Report.id):
        due = due_of(report)
        if due is None or due <= now:
            continue
        remaining = (due - now).total_seconds() / 3600
        start_phase(report, phase_of(report.status), now, policy, hours=remaining, calendar=calendar)
        count += 1
    return count


def history(limit: int = 50) -> list[EmergencySwitch]:
    """The latest flips, newest first."""
    return list(EmergencySwitch.select().order_by(EmergencySwitch.id.desc()).limit(limit))
