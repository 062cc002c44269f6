"""Whistles (街道吹哨、部门报到) and redo (回访重办), on a controlled clock."""
from __future__ import annotations

import pytest

from bridges import routing
from bridges.registry import register_kinds
from miniapp_api.models import OutboxEvent
from miniapp_api.models import TimelineEntry
from miniapp_api.models.deadlines import RatingRecord
from miniapp_api.reports.service import rate_report
from miniapp_api.reports.service import reopen_report
from miniapp_api.reports.schemas import RatingIn
from miniapp_api.reports.schemas import ReopenIn
from tests.deadlines.conftest import T0
from tests.deadlines.conftest import act
from tests.deadlines.conftest import command
from tests.deadlines.conftest import fresh
from tests.deadlines.conftest import hours
from tests.deadlines.conftest import kinds
from tests.deadlines.conftest import submit


register_kinds()  # every feature's event kinds, as composition installs them


def last_event(report, kind: str) -> OutboxEvent:
    return (OutboxEvent.select().where((OutboxEvent.report == report.id) & (OutboxEvent.kind == kind))
            .order_by(OutboxEvent.id.desc()).first())


def targets(event, settings) -> list[str]:
    return [t.target for t in routing.targets_for(event, settings)]


def timeline(report) -> list[TimelineEntry]:
    return list(TimelineEntry.select().where(TimelineEntry.report == report.id).order_by(TimelineEntry.id))


def test_whistle_missed_tells_the_township_and_the_county(org, scheduler, settings):
    report = submit(T0, "road", grid=org.grid)
    reply = command("yongsheng", "ys-a", f"转办 {report.number} 城管局", T0 + hours(1))
    assert "转办至城管局" in reply
    report = fresh(report)
    assert (report.status, report.level) == ("transferred", "department")
    assert report.accept_due_at == T0 + hours(9)  # whistle_report_hours = 8
    scheduler(T0 + hours(5))  # half time: the department's A post is reminded in its own group
    reminder = last_event(report, "report.reminder")
    assert reminder.payload["mobiles"] == ["13900000005"]
    assert targets(reminder, settings) == ["dingtalk:department:chengguan"]
    scheduler(T0 + hours(9))
    assert kinds(report)[-1] == "whistle_overdue"
    event = last_event(report, "whistle.overdue")
    assert targets(event, settings) == ["dingtalk:township:yongsheng", "dingtalk:county:county"]
    assert event.payload["mobiles"] == ["13900000001", "13700000001"] and event.priority == 10
    assert "城管局未在时限" in timeline(report)[-1].note
    assert fresh(report).next_step_at is None
    assert scheduler(T0 + hours(50)).looked == 0  # told once
    # The department reports back late; what it does shows in the township's group and the
    # resident's timeline.
    command("chengguan", "cg-a", f"受理 {report.number}", T0 + hours(10))
    report = fresh(report)
    assert (report.status, report.level) == ("accepted", "department")
    assert report.resolve_due_at == T0 + hours(82)
    accepted = last_event(report, "report.status_changed")
    assert targets(accepted, settings)[:2] == ["dingtalk:township:yongsheng", "dingtalk:department:chengguan"]
    command("chengguan", "cg-a", f"办结 {report.number} 路面已修补", T0 + hours(20))
    resolved = last_event(report, "report.status_changed")
    assert "dingtalk:township:yongsheng" in targets(resolved, settings)
    assert "wechat:resident:%d" % report.resident_id in targets(resolved, settings)
    entries = [(e.action, e.channel, e.actor_name) for e in timeline(report)]
    assert ("accept", "dingtalk", "孙城管") in entries and ("resolve", "dingtalk", "孙城管") in entries
    report = fresh(report)
    assert (report.resolved_post, report.resolved_level, report.resolved_unit) == ("A", "department",
                                                                                  "department:chengguan")


def test_whistle_answered_in_time_is_not_overdue(org, scheduler):
    report = submit(T0, "road", grid=org.grid)
    command("yongsheng", "ys-a", f"转办 {report.number} 城管局", T0 + hours(1))
    command("chengguan", "cg-b", f"受理 {report.number}", T0 + hours(3))
    for h in (5, 7, 9, 12):
        scheduler(T0 + hours(h))
    assert "whistle_overdue" not in kinds(report)
    assert fresh(report).missed_deadlines == 0


@pytest.mark.parametrize("score, redo", [(1, True), (2, True), (3, False), (5, False)])
def test_low_rating_sends_the_report_back_to_the_same_level(org, scheduler, score, redo):
    report = submit(T0, "sanitation", grid=org.grid)
    b = org.posts[("grid", "B")]
    act(report, "accept", b, T0 + hours(1))
    act(report, "resolve", b, T0 + hours(2), note="已清运", changes={"reply": "已清运"})
    now = T0 + hours(3)
    updated = rate_report(report.resident, report.number, RatingIn(score=score, comment="还是很脏"), now)
    [record] = RatingRecord.select().where(RatingRecord.report == report.id)
    assert (record.score, record.post, record.level, record.unit, record.official, record.redo) == (
        score, "B", "grid", "township:yongsheng", "网格乙", redo)
    if not redo:
        assert updated.status == "closed" and fresh(report).next_step_at is None
        return
    report = fresh(report)
    assert (report.status, report.level, report.redo_count) == ("accepted", "grid", 1)
    assert report.resolve_due_at == now + hours(24)
    assert [e.action for e in timeline(report)][-2:] == ["resolve", "reopen"]
    assert report.next_step_at == now  # the scheduler writes the follow-up next
    assert scheduler(now + hours(0.01)).follow_ups == 1
    assert scheduler(now + hours(0.02)).follow_ups == 0  # once
    assert [e.action for e in timeline(report)][-3:] == ["resolve", "reopen", "follow_up"]
    follow_up = timeline(report)[-1]
    assert f"{score} 星" in follow_up.note and "重办" in follow_up.note and follow_up.actor_name == "回访"
    event = last_event(report, "report.redo")
    assert event.payload["mobiles"] == ["13800000001"] and event.payload["score"] == score
    # Redone and rated well: the second rating goes to whoever resolved it this time.
    act(report, "resolve", org.posts[("grid", "A")], T0 + hours(5), note="重新清理", changes={"reply": "重新清理"})
    assert rate_report(report.resident, report.number, RatingIn(score=5), T0 + hours(6)).status == "closed"
    assert [(r.score, r.post, r.redo) for r in RatingRecord.select().order_by(RatingRecord.id)] == [
        (score, "B", True), (5, "A", False)]


def test_reopen_is_redone_at_the_level_that_resolved_it(org, scheduler):
    report = submit(T0, "sanitation", grid=org.grid)
    scheduler(T0 + hours(4))  # not accepted in time: raised to the community
    act(report, "accept", org.posts[("community", "A")], T0 + hours(5))
    act(report, "resolve", org.posts[("community", "A")], T0 + hours(6), note="好了", changes={"reply": "好了"})
    reopen_report(report.resident, report.number, ReopenIn(reason="路灯还是不亮"), 7, T0 + hours(7))
    scheduler(T0 + hours(7))
    report = fresh(report)
    assert (report.status, report.level, report.redo_count) == ("accepted", "community", 1)
    assert last_event(report, "report.redo").payload["reason"] == "路灯还是不亮"
    assert "居民反映问题未解决" in timeline(report)[-1].note
    assert RatingRecord.select().count() == 0  # a reopen is not a rating
