"""The escalation ladder, table by table, on a controlled clock: each starting level, each
reminder fraction, the A→B handover, leave, emergency mode on and off, the resolve phase."""
from __future__ import annotations

from datetime import timedelta

import pytest

from miniapp_api.deadlines import emergency
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Official
from miniapp_api.models import TimelineEntry
from tests.deadlines.conftest import T0
from tests.deadlines.conftest import act
from tests.deadlines.conftest import fresh
from tests.deadlines.conftest import hours
from tests.deadlines.conftest import kinds
from tests.deadlines.conftest import submit

MINUTE = timedelta(minutes=1)

MOBILES = {("grid", "A"): "13800000001", ("grid", "B"): "13800000002",
           ("community", "A"): "13800000011", ("community", "B"): "13800000012",
           ("township", "A"): "13900000001", ("township", "B"): "13900000002",
           ("department", "A"): "13900000005", ("department", "B"): "13900000006",
           ("county", "A"): "13700000001", ("county", "B"): "13700000002"}


def events(report, kind: str) -> list[OutboxEvent]:
    return list(OutboxEvent.select().where((OutboxEvent.report == report.id) & (OutboxEvent.kind == kind))
                .order_by(OutboxEvent.id))


def actions(report) -> list[str]:
    return [e.action for e in TimelineEntry.select().where(TimelineEntry.report == report.id).order_by(TimelineEntry.id)]


# category, accept hours, the levels it climbs through
LADDERS = [
    ("sanitation", 4, ["grid", "community", "township", "county"]),
    ("streetlight", 8, ["community", "township", "county"]),
    ("road", 12, ["township", "county"]),
    ("parking", 2, ["department", "county"]),  # the duty list names 城管局 for parking
]


@pytest.mark.parametrize("category, accept_hours, levels", LADDERS, ids=[c for c, _, _ in LADDERS])
def test_each_level_is_raised_once_to_the_next(org, scheduler, category, accept_hours, levels):
    report = submit(T0, category, grid=org.grid)
    assert fresh(report).level == levels[0]
    if levels[0] == "department":
        assert fresh(report).department_id == org.department.id
    start = T0
    for i, level in enumerate(levels):
        due = start + hours(accept_hours)
        assert fresh(report).accept_due_at == due
        scheduler(due - MINUTE)
        assert fresh(report).level == level  # not before the deadline
        summary = scheduler(due)
        if i + 1 < len(levels):
            assert summary.escalations == 1
            nxt = levels[i + 1]
            assert fresh(report).level == nxt and fresh(report).status == "pending"
            event = events(report, "report.escalated")[-1]
            assert (event.payload["from_level"], event.payload["level"]) == (level, nxt)
            assert event.payload["mobiles"] == [MOBILES[(nxt, "A")]]
        else:
            assert summary.overdue == 1 and fresh(report).next_step_at is None
            assert events(report, "report.overdue")[-1].payload["mobiles"] == [MOBILES[("county", "A")]]
        start = due
    # Nothing more, however long nobody acts.
    for h in (1, 10, 100):
        assert scheduler(start + hours(h)).looked == 0
    terminal = [k for k in kinds(report) if k in ("escalate", "overdue")]
    assert terminal == ["escalate"] * (len(levels) - 1) + ["overdue"]
    assert fresh(report).missed_deadlines == len(levels)
    assert actions(report).count("escalate") == len(levels) - 1 and actions(report).count("overdue") == 1


@pytest.mark.parametrize("fractions", [[0.5], [0.25, 0.5], [0.6], [0.2, 0.9]], ids=str)
def test_reminders_at_each_fraction(settings_dict, request, fractions):
    settings_dict["deadlines"]["reminder_fractions"] = fractions
    org, scheduler = request.getfixturevalue("org"), request.getfixturevalue("scheduler")
    report = submit(T0, "other", grid=org.grid)  # 24 hours to accept at the grid
    def reminders():
        return [e for e in events(report, "report.reminder") if e.payload["step"] == "remind"]

    for f in fractions:
        at = T0 + hours(24 * f)
        before = len(reminders())
        scheduler(at - MINUTE)
        assert len(reminders()) == before  # not a minute early
        scheduler(at)
        assert len(reminders()) == before + 1
        last = reminders()[-1].payload
        assert last["fraction"] == f
        # After the handover at 75 % the B post is reminded.
        expected = MOBILES[("grid", "B")] if f > 0.75 else MOBILES[("grid", "A")]
        assert last["mobiles"] == [expected]
    assert [k for k in kinds(report) if k == "remind"] == ["remind"] * len(fractions)


def test_b_takes_over_when_a_has_not_acted(org, scheduler):
    report = submit(T0, "sanitation", grid=org.grid)  # 4 hours
    scheduler(T0 + hours(2))
    scheduler(T0 + hours(3) - MINUTE)
    assert "handover" not in kinds(report)
    scheduler(T0 + hours(3))
    [handover] = [e for e in events(report, "report.reminder") if e.payload["step"] == "handover"]
    assert handover.payload["mobiles"] == [MOBILES[("grid", "B")]]
    assert (handover.payload["from_name"], handover.payload["to_name"]) == ("网格甲", "网格乙")
    entry = TimelineEntry.select().where((TimelineEntry.report == report.id) & (TimelineEntry.action == "handover")).get()
    assert "A→B" in entry.note and entry.channel == "system"
    scheduler(T0 + hours(3) + MINUTE)  # not twice
    assert kinds(report).count("handover") == 1


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_on_leave_is_skipped_and_b_used_at_once(org, scheduler, when):
    a = org.posts[("grid", "A")]
    if when == "before":
        Official.update(on_leave=True).where(Official.id == a.id).execute()
        report = submit(T0, "other", grid=org.grid)
        assert fresh(report).next_step_at == T0  # look again at once
        scheduler(T0)
    else:
        report = submit(T0, "other", grid=org.grid)
        scheduler(T0 + hours(1))
        assert kinds(report) == []
        Official.update(on_leave=True).where(Official.id == a.id).execute()
        scheduler(T0 + hours(12))  # the 50 % reminder would have gone to A
    [handover] = events(report, "report.reminder")
    assert handover.payload["step"] == "handover" and handover.payload["mobiles"] == [MOBILES[("grid", "B")]]
    assert "请假" in TimelineEntry.select().where(TimelineEntry.action == "handover").get().note
    scheduler(T0 + hours(12))
    scheduler(T0 + hours(13))
    reminders = [e.payload for e in events(report, "report.reminder") if e.payload["step"] == "remind"]
    assert all(p["mobiles"] == [MOBILES[("grid", "B")]] for p in reminders)
    assert kinds(report).count("handover") == 1


def test_everyone_on_leave_at_a_level_the_next_level_stands_in_and_says_so(org, scheduler):
    Official.update(on_leave=True).where(Official.grid == org.grid.id).execute()
    report = submit(T0, "sanitation", grid=org.grid)
    scheduler(T0)
    scheduler(T0 + hours(2))
    [reminder] = events(report, "report.reminder")
    assert reminder.payload["step"] == "remind"
    assert reminder.payload["mobiles"] == [MOBILES[("community", "A")]]
    assert reminder.payload["who"] == "网格A/B岗均不在岗，由村/社区（社区甲）处理"
    assert reminder.payload["reached_level"] == "community"
    scheduler(T0 + hours(3))
    [_, handover] = events(report, "report.reminder")
    assert handover.payload["step"] == "handover" and handover.payload["to_name"] == "社区乙"
    assert handover.payload["mobiles"] == [MOBILES[("community", "B")]]
    # Nobody anywhere: said plainly, nobody mentioned.
    Official.update(on_leave=True).execute()
    other = submit(T0, "sanitation", grid=org.grid)
    scheduler(T0 + hours(2))
    [reminder] = events(other, "report.reminder")
    assert reminder.payload["mobiles"] == [] and reminder.payload["reached_level"] == ""
    assert reminder.payload["who"] == ("网格A/B岗均不在岗、村/社区A/B岗均不在岗、乡镇/街道A/B岗均不在岗、"
                                       "县指挥中心A/B岗均不在岗，无人可提醒")


@pytest.mark.parametrize("mode", ["off", "county", "township", "other_township"])
def test_emergency_mode_shortens_new_deadlines_and_mentions_a_and_b(org, scheduler, mode):
    if mode == "county":
        emergency.switch(True, None, "test", T0 - hours(1))
    elif mode == "township":
        emergency.switch(True, "yongsheng", "test", T0 - hours(1))
    elif mode == "other_township":
        emergency.switch(True, "yongning", "test", T0 - hours(1))
    in_force = mode in ("county", "township")
    report = submit(T0, "sanitation", grid=org.grid)
    assert fresh(report).urgent is in_force
    accept_hours = 4 * (0.5 if in_force else 1)
    assert fresh(report).accept_due_at == T0 + hours(accept_hours)
    scheduler(T0 + hours(accept_hours / 2))
    [reminder] = events(report, "report.reminder")
    both = [MOBILES[("grid", "A")], MOBILES[("grid", "B")]]
    assert reminder.payload["mobiles"] == (both if in_force else both[:1])
    assert reminder.priority == (10 if in_force else 0)
    accepted = act(report, "accept", org.posts[("grid", "A")], T0 + hours(1))
    assert accepted.resolve_due_at == T0 + hours(1) + hours(24 * (0.25 if in_force else 1))


def test_switching_back_restores_normal_rules_for_new_deadlines_only(org, scheduler):
    running = submit(T0, "other", grid=org.grid)  # 24 h to accept
    result = emergency.switch(True, None, "test", T0 + hours(4))
    assert result.changed and result.shortened == 1
    # 20 hours were left: the emergency clock makes that 10, starting at the switch.
    assert fresh(running).accept_due_at == T0 + hours(14) and fresh(running).deadline_round == 2
    shortened = submit(T0 + hours(5), "other", grid=org.grid)
    assert fresh(shortened).accept_due_at == T0 + hours(5 + 12)
    assert not emergency.switch(True, None, "test", T0 + hours(5)).changed  # already on
    emergency.switch(False, None, "test", T0 + hours(6))
    normal = submit(T0 + hours(7), "other", grid=org.grid)
    assert fresh(normal).accept_due_at == T0 + hours(7 + 24) and not fresh(normal).urgent
    assert fresh(shortened).accept_due_at == T0 + hours(17)  # running clocks keep theirs
    assert fresh(running).accept_due_at == T0 + hours(14)


def test_resolve_phase_climbs_while_the_report_stays_accepted(org, scheduler):
    report = submit(T0, "sanitation", grid=org.grid)
    act(report, "accept", org.posts[("grid", "A")], T0 + hours(1))
    assert fresh(report).resolve_due_at == T0 + hours(25)
    scheduler(T0 + hours(13))
    [reminder] = events(report, "report.reminder")
    assert reminder.payload["phase"] == "resolve" and reminder.payload["mobiles"] == [MOBILES[("grid", "A")]]
    scheduler(T0 + hours(25))
    report = fresh(report)
    assert report.status == "accepted" and report.level == "community"
    assert report.resolve_due_at == T0 + hours(49)
    act(report, "resolve", org.posts[("community", "B")], T0 + hours(30), note="已清理", changes={"reply": "已清理"})
    report = fresh(report)
    assert report.next_step_at is None
    assert (report.resolved_post, report.resolved_level, report.resolved_unit) == ("B", "community", "township:yongsheng")
    assert scheduler(T0 + hours(100)).looked == 0


def test_working_days_on_the_county_calendar(settings_dict, request):
    settings_dict["deadlines"]["working_days"] = True
    settings_dict["deadlines"]["holidays"] = ["2026-12-01"]  # a Tuesday off
    org = request.getfixturevalue("org")
    friday = T0 + timedelta(days=4, hours=8)  # Friday 17:00
    report = submit(friday, "sanitation", grid=org.grid)  # 4 h to accept: still Friday
    assert fresh(report).accept_due_at == friday + hours(4)
    act(report, "accept", org.posts[("grid", "A")], friday + hours(1))  # Friday 18:00, 24 h to resolve
    # 6 h left on Friday, the weekend stands still, 18 h on Monday.
    assert fresh(report).resolve_due_at == friday + timedelta(days=3, hours=1)  # Monday 18:00
    monday = T0 + timedelta(days=7)  # Monday 09:00
    later = submit(monday + hours(12), "other", grid=org.grid)  # Monday 21:00, 24 h; Tuesday is off
    assert fresh(later).accept_due_at == monday + timedelta(days=2, hours=12)  # Wednesday 21:00
