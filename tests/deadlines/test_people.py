"""Every level of the ladder reaches its own people (issue 13): walked on a controlled clock,
with the worker sending to the fake DingTalk over real HTTP, checking who is named and
@-mentioned at each step, in the groups and in the timeline; a level with nobody says so
plainly and calls the next level up, never a lower level's person as if they were higher."""
from __future__ import annotations

import pytest

from miniapp_api.models import OutboxEvent
from miniapp_api.models import Official
from miniapp_api.models import TimelineEntry
from tests.deadlines.conftest import T0
from tests.deadlines.conftest import command
from tests.deadlines.conftest import fresh
from tests.deadlines.conftest import hours
from tests.deadlines.conftest import submit


def group(fake, code: str, word: str = "") -> list[dict]:
    return [m for m in fake.state.messages(f"cid-{code}") if word in m.get("title", "")]


def notes(report, action: str) -> list[str]:
    return [e.note for e in TimelineEntry.select().where((TimelineEntry.report == report.id)
                                                        & (TimelineEntry.action == action)).order_by(TimelineEntry.id)]


def payloads(report, kind: str) -> list[dict]:
    return [e.payload for e in OutboxEvent.select().where((OutboxEvent.report == report.id) & (OutboxEvent.kind == kind))
            .order_by(OutboxEvent.id)]


def test_each_level_names_and_mentions_its_own_people(org, deliver, fake_dingtalk):
    report = submit(T0, "sanitation", grid=org.grid)  # 4 hours to accept at each level
    deliver(T0)
    [card] = group(fake_dingtalk, "yongsheng", "新上报")
    assert card["rendered_mentions"] == ["13800000001"]  # the grid's A post, not the township
    # grid: A at half time, B at the handover
    deliver(T0 + hours(2))
    [remind] = group(fake_dingtalk, "yongsheng", "催办")
    assert remind["rendered_mentions"] == ["13800000001"] and "网格甲" in remind["text"]
    deliver(T0 + hours(3))
    [handover] = group(fake_dingtalk, "yongsheng", "AB岗交接")
    assert handover["rendered_mentions"] == ["13800000002"]
    # community: its own A post, then B
    deliver(T0 + hours(4))
    assert notes(report, "escalate")[-1].startswith("网格未在时限")
    assert "逐级上报至村/社区（社区甲）" in notes(report, "escalate")[-1]
    deliver(T0 + hours(6))
    assert "提醒社区甲" in notes(report, "remind")[-1]
    deliver(T0 + hours(7))
    assert "由B岗社区乙接替" in notes(report, "handover")[-1]
    # township: its staff on duty
    deliver(T0 + hours(8))
    assert "逐级上报至乡镇/街道（王永盛）" in notes(report, "escalate")[-1]
    assert group(fake_dingtalk, "yongsheng", "逐级上报")[-1]["rendered_mentions"] == ["13900000001"]
    deliver(T0 + hours(10))
    assert "提醒王永盛" in notes(report, "remind")[-1]
    # county: the county staff, in the county group
    deliver(T0 + hours(12))
    assert "逐级上报至县指挥中心（周指挥）" in notes(report, "escalate")[-1]
    [county_up] = group(fake_dingtalk, "county", "逐级上报")
    assert county_up["rendered_mentions"] == ["13700000001"] and "周指挥" in county_up["text"]
    deliver(T0 + hours(15))
    assert "吴值班" in group(fake_dingtalk, "county", "AB岗交接")[-1]["text"]
    # 督办: named in the timeline and the county group
    deliver(T0 + hours(16))
    assert "请县指挥中心（" in notes(report, "overdue")[-1]
    [overdue] = group(fake_dingtalk, "county", "超时督办")
    assert overdue["rendered_mentions"] == ["13700000001"]
    # Nobody of a lower level was ever named for a higher one.
    for note in notes(report, "escalate"):
        if "县指挥中心（" in note:
            assert "王永盛" not in note and "网格甲" not in note


VACANT = [
    # the level with nobody, the level the report climbs to, who is said and mentioned
    ("community", "community", "村/社区未登记A/B岗，由乡镇/街道（王永盛）处理", ["13900000001"]),
    ("county", "county", "县指挥中心未登记A/B岗，无人可提醒", []),
]


@pytest.mark.parametrize("empty, level, who, mobiles", VACANT, ids=[v[0] for v in VACANT])
def test_a_level_with_nobody_says_so_and_calls_the_next_level_up(org, scheduler, empty, level, who, mobiles):
    Official.delete().where(Official.id.in_([o.id for (lv, _), o in org.posts.items() if lv == empty])).execute()
    report = submit(T0, "sanitation", grid=org.grid)
    at = {"community": T0 + hours(4), "county": T0 + hours(12)}[level]
    for h in range(1, int((at - T0).total_seconds() // 3600) + 1):
        scheduler(T0 + hours(h))
    assert fresh(report).level == level
    escalated = payloads(report, "report.escalated")[-1]
    assert escalated["level"] == level and escalated["who"] == who and escalated["mobiles"] == mobiles
    assert who in notes(report, "escalate")[-1]
    scheduler(at + hours(2))
    reminder = payloads(report, "report.reminder")[-1]
    assert reminder["level"] == level and reminder["who"] == who and reminder["mobiles"] == mobiles
    if level == "county":  # the top: 督办 says plainly that nobody is there
        scheduler(at + hours(4))
        assert payloads(report, "report.overdue")[-1]["mobiles"] == []
        assert "县指挥中心未登记A/B岗，无人可提醒" in notes(report, "overdue")[-1]


def test_a_report_without_a_grid_is_handled_by_the_township_and_says_why(org, scheduler, deliver, fake_dingtalk):
    report = submit(T0, "sanitation", grid=None)
    deliver(T0)
    [card] = group(fake_dingtalk, "yongsheng", "新上报")
    assert card["rendered_mentions"] == ["13900000001"]
    scheduler(T0 + hours(2))
    reminder = payloads(report, "report.reminder")[-1]
    assert reminder["who"] == "待指派网格，由乡镇/街道（王永盛）处理" and reminder["mobiles"] == ["13900000001"]


@pytest.mark.parametrize("level_on_leave", ["grid", "community", "township", "department", "county"])
def test_leave_works_the_same_at_every_level(org, scheduler, level_on_leave):
    """With the A post of a level on leave, its B post is called at once, whatever the level."""
    org.posts[(level_on_leave, "A")].__class__.update(on_leave=True).where(
        Official.id == org.posts[(level_on_leave, "A")].id).execute()
    start = {"grid": "sanitation", "community": "streetlight", "township": "road", "department": "parking",
             "county": "road"}[level_on_leave]
    report = submit(T0, start, grid=org.grid)
    if level_on_leave == "county":
        scheduler(T0 + hours(12))  # township → county
    scheduler(fresh(report).next_step_at)
    [handover] = [p for p in payloads(report, "report.reminder") if p["step"] == "handover"]
    assert handover["to_name"] == org.posts[(level_on_leave, "B")].name
    assert handover["mobiles"] == [org.posts[(level_on_leave, "B")].mobile]
    assert "请假" in notes(report, "handover")[-1]


def test_a_department_answers_a_whistle_in_its_own_group(org, deliver, fake_dingtalk):
    report = submit(T0, "road", grid=org.grid)
    deliver(T0)
    assert "已将" in command("yongsheng", "ys-a", f"转办 {report.number} 城管局", T0 + hours(1))
    deliver(T0 + hours(1))
    deliver(T0 + hours(5))
    [remind] = group(fake_dingtalk, "chengguan", "催办")
    assert remind["rendered_mentions"] == ["13900000005"] and "孙城管" in remind["text"]
    # Another department's official may not act in 城管局's group; a township official neither.
    reply = command("chengguan", "zj-a", f"受理 {report.number}", T0 + hours(6))
    assert "不是本群所属单位登记的干部" in reply
    reply = command("chengguan", "ys-a", f"受理 {report.number}", T0 + hours(6))
    assert "不是本群所属单位登记的干部" in reply
    assert fresh(report).status == "transferred"
    # The department's own staff accepts: the 报到 clock stops, the resolve clock starts.
    assert "已受理" in command("chengguan", "cg-b", f"受理 {report.number}", T0 + hours(7))
    report = fresh(report)
    assert report.status == "accepted" and report.resolve_due_at is not None
    deliver(T0 + hours(9))
    assert group(fake_dingtalk, "yongsheng", "部门未报到") == []
    assert "已办结" in command("chengguan", "cg-b", f"办结 {report.number} 已修复路面", T0 + hours(10))
    assert fresh(report).status == "resolved" and fresh(report).resolved_unit == "department:chengguan"


def test_a_department_rejects_a_whistle_in_its_own_group(org):
    report = submit(T0, "road", grid=org.grid)
    command("yongsheng", "ys-a", f"转办 {report.number} 城管局", T0 + hours(1))
    command("chengguan", "cg-a", f"受理 {report.number}", T0 + hours(2))
    assert "已驳回" in command("chengguan", "cg-a", f"驳回 {report.number} 不属于城管职责", T0 + hours(3))
    assert fresh(report).status == "rejected"


@pytest.fixture
def second_department(org, settings_dict):
    """住建局 with one official (zj-a), who is not 城管局's."""
    from miniapp_api.models import Department

    dept = Department.get_or_none(Department.code == "zhujian") or Department.create(code="zhujian", name="住建局")
    return Official.create(name="郑住建", dingtalk_user_id="zj-a", mobile="13900000007", duty_post="A",
                           department=dept, role="department_staff")


@pytest.fixture(autouse=True)
def _second(request):
    if "org" in request.fixturenames:
        request.getfixturevalue("second_department")
