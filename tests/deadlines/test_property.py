"""The ladder's promise, for any sequence of actions and clock steps: after every scheduler
pass, each open report is either within its current deadline or has been escalated — once
for that deadline, from the level it was at, to the level above."""
from __future__ import annotations

from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from miniapp_api.deadlines import emergency
from miniapp_api.deadlines.ladder import next_level
from miniapp_api.deadlines.planner import due_of
from miniapp_api.deadlines.policy import load_policy
from miniapp_api.deadlines.scheduler import TERMINAL
from miniapp_api.reports.lifecycle import InvalidTransition
from miniapp_api.models import Category
from miniapp_api.models import Department
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api.models.deadlines import EmergencySwitch
from miniapp_api.models.deadlines import EscalationStep
from miniapp_api.reports.service import rate_report
from miniapp_api.reports.schemas import RatingIn
from tests.deadlines.conftest import T0
from tests.deadlines.conftest import act
from tests.deadlines.conftest import fresh
from tests.deadlines.conftest import hours
from tests.deadlines.conftest import submit

CATEGORIES = ["sanitation", "streetlight", "road", "parking", "other"]
LEVELS = ["grid", "community", "township", "department", "county"]

ops = st.one_of(
    st.tuples(st.just("submit"), st.sampled_from(CATEGORIES)),
    st.tuples(st.just("accept"), st.integers(0, 5), st.sampled_from(LEVELS), st.sampled_from("AB")),
    st.tuples(st.just("resolve"), st.integers(0, 5), st.sampled_from(LEVELS), st.sampled_from("AB")),
    st.tuples(st.just("transfer"), st.integers(0, 5)),
    st.tuples(st.just("rate"), st.integers(0, 5), st.integers(1, 5)),
    st.tuples(st.just("reopen"), st.integers(0, 5)),
    st.tuples(st.just("reject"), st.integers(0, 5)),
    st.tuples(st.just("leave"), st.sampled_from(LEVELS), st.booleans()),
    st.tuples(st.just("emergency"), st.booleans(), st.sampled_from([None, "yongsheng"])),
    st.tuples(st.just("advance"), st.floats(min_value=0.05, max_value=30)),
)


def _reset():
    Report.delete().execute()  # cascades: timeline, outbox, steps, ratings
    EmergencySwitch.delete().execute()
    Township.update(emergency=False).execute()
    Official.update(on_leave=False).execute()


def _apply(op, now, reports, org) -> None:
    kind = op[0]
    if kind == "submit":
        reports.append(submit(now, op[1], grid=org.grid))
        return
    if kind == "leave":
        Official.update(on_leave=op[2]).where(Official.id == org.posts[(op[1], "A")].id).execute()
        return
    if kind == "emergency":
        emergency.switch(op[1], op[2], "property", now)
        return
    if not reports:
        return
    report = fresh(reports[op[1] % len(reports)])
    try:
        if kind in ("accept", "resolve"):
            extra = {"changes": {"reply": "好了"}} if kind == "resolve" else {}
            act(report, kind, org.posts[(op[2], op[3])], now, **extra)
        elif kind == "transfer":
            act(report, "transfer", org.posts[("township", "A")], now, note="转办至城管局",
                changes={"department": Department.get(Department.code == "chengguan").id, "level": "department"})
        elif kind == "rate":
            rate_report(report.resident, report.number, RatingIn(score=op[2]), now)
        elif kind == "reopen":
            act(report, "reopen", None, now, note="没修好")
        elif kind == "reject":
            act(report, "reject", org.posts[("township", "A")], now, note="不属实")
    except InvalidTransition:
        pass


def _check(now, reports) -> None:
    policy = load_policy()
    for r in reports:
        report = fresh(r)
        steps = list(EscalationStep.select().where(EscalationStep.report == report.id))
        by_round: dict[int, list] = {}
        for s in steps:
            if s.kind in TERMINAL:
                by_round.setdefault(s.round, []).append(s)
        # Never twice for one deadline; each escalation goes one level up from where it was.
        assert all(len(v) == 1 for v in by_round.values()), by_round
        category = Category.get_by_id(report.category_id)
        for [s] in by_round.values():
            if s.kind == "escalate":
                probe = Report(level=s.level)
                assert s.to_level == next_level(probe, policy.duty_departments, category.code)
        if report.status not in ("pending", "accepted", "transferred"):
            assert report.next_step_at is None
            continue
        due = due_of(report)
        assert due is not None, f"open report {report.number} has no deadline"
        current = by_round.get(report.deadline_round, [])
        if now < due:
            assert not current  # within the deadline, nothing terminal yet
            assert report.next_step_at is not None and report.next_step_at <= due
        else:
            assert len(current) == 1, f"{report.number} is past its deadline {due} at {now} unescalated"
            assert report.next_step_at is None


@hsettings(max_examples=100, deadline=None, derandomize=True,
           suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(first=st.lists(st.sampled_from(CATEGORIES), min_size=1, max_size=3),
       script=st.lists(ops, min_size=3, max_size=40))
def test_every_open_report_is_within_its_deadline_or_escalated_once(org, scheduler, first, script):
    _reset()
    now = T0
    reports: list = [submit(now, c, grid=org.grid) for c in first]
    for op in script:
        if op[0] == "advance":
            now = now + hours(op[1])
        else:
            _apply(op, now, reports, org)
        scheduler(now)
        _check(now, reports)
