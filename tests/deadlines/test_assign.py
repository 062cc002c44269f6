"""指派 and 待办 by grid, end to end (CONTRACT §4): the roster (with the new roles) imported
through the CLI's function, reports submitted through the API, commands signed by the fake
DingTalk and POSTed to Tongxin over real HTTP, the cards delivered by the worker."""
from __future__ import annotations

import pytest

from miniapp_api.db import database
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.org.roster_import import HEADER
from miniapp_api.org.roster_import import ImportFailed
from miniapp_api.org.roster_import import export_org
from miniapp_api.org.roster_import import import_org
from tests.bridges.conftest import run  # noqa: F401  (fixtures)
from tests.bridges.conftest import tongxin  # noqa: F401
from tests.bridges.conftest import worker  # noqa: F401
from tests.conftest import report_body

HEAD = ",".join(HEADER)
ROSTER = f"""{HEAD}
yongsheng,人民社区,第1网格,网格甲,grid_worker,A,g1-a,13800000001
yongsheng,人民社区,第1网格,网格乙,grid_worker,B,g1-b,13800000002
yongsheng,人民社区,第2网格,网格丙,grid_worker,A,g2-a,13800000003
yongsheng,东风社区,第2网格,网格丁,grid_worker,A,g3-a,13800000004
yongsheng,人民社区,,社区书记,community_leader,A,c-a,13800000011
yongsheng,,,王永盛,township_staff,A,ys-a,13900000001
yongsheng,,,李备岗,township_staff,B,ys-b,13900000002
chengguan,,,孙城管,department_staff,A,cg-a,13900000005
城管局,,,钱城管,department_staff,B,cg-b,13900000006
county,,,周指挥,county_staff,A,county-a,13700000001
"""


@pytest.fixture
def roster(app):
    database.connect(reuse_if_open=True)
    result = import_org(ROSTER)
    assert result.officials_created == 10
    yield
    if not database.is_closed():
        database.close()


@pytest.fixture
def say(tongxin, fake_dingtalk):  # noqa: F811
    def _say(code: str, staff_id: str, text: str) -> None:
        answer = fake_dingtalk.state.deliver_callback(
            f"{tongxin.base_url}/callbacks/dingtalk", fake_dingtalk.base_url,
            conversation_id=f"cid-{code}", staff_id=staff_id, text=text)
        assert answer["status"] == 200, answer["body"]

    return _say


def replies(fake, code: str) -> list[str]:
    return [m["text"] for m in fake.state.messages(f"cid-{code}") if m["msgtype"] == "text"]


def cards(fake, code: str, word: str) -> list[dict]:
    return [m for m in fake.state.messages(f"cid-{code}") if word in m.get("title", "")]


def submit(client, resident, **kw) -> str:
    resp = client.post("/api/v1/reports", json=report_body(**kw), headers=resident["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["number"]


def test_the_roster_takes_every_role_and_round_trips(roster):
    by_name = {o.name: o for o in Official.select()}
    assert by_name["社区书记"].community_id and not by_name["社区书记"].grid_id
    assert by_name["孙城管"].department.code == by_name["钱城管"].department.code == "chengguan"
    assert by_name["孙城管"].township_id is None
    assert (by_name["周指挥"].township_id, by_name["周指挥"].department_id, by_name["周指挥"].role) == (
        None, None, "county_staff")
    exported = export_org()
    assert "chengguan,,,孙城管,department_staff,A" in exported and "county,,,周指挥,county_staff,A" in exported
    again = import_org(exported)
    assert (again.officials_created, again.officials_updated) == (0, 0)
    assert import_org(ROSTER).officials_unchanged == 10


@pytest.mark.parametrize("row, message", [
    ("nosuch,,,某人,department_staff,A,,", "department_staff 的 township 一栏应为部门的 code 或名称"),
    ("yongsheng,,,某人,county_staff,A,,", "county_staff 的 township 一栏应为 county"),
    ("chengguan,人民社区,,某人,department_staff,A,,", "community 和 grid 都要留空"),
    ("yongsheng,人民社区,第1网格,某人,community_leader,A,,", "community_leader 时要填写 community，grid 留空"),
    ("yongsheng,,,某人,community_leader,A,,", "community_leader 时要填写 community"),
    ("yongsheng,,,某人,mayor,A,,", "role “mayor” 无效"),
])
def test_a_bad_role_row_is_refused_with_its_line(app, row, message):
    database.connect(reuse_if_open=True)
    with pytest.raises(ImportFailed) as err:
        import_org(f"{HEAD}\n{row}\n")
    assert err.value.errors[0].line == 2 and message in err.value.errors[0].message
    assert Official.select().count() == 0


def test_assign_sets_the_grid_and_mentions_its_a_post(roster, client, resident, say, run, fake_dingtalk):
    number = submit(client, resident, location={"lat": 10.0, "lng": 10.0, "address": "不在任何网格"})
    run()
    report = Report.get(Report.number == number)
    assert report.grid_id is None
    [card] = cards(fake_dingtalk, "yongsheng", "新上报")
    assert card["rendered_mentions"] == ["13900000001"]  # nobody at grid or community: the township
    # Only township staff may assign; the grid must exist and be unambiguous.
    say("yongsheng", "g1-a", f"指派 {number} 第1网格")
    say("yongsheng", "ys-a", f"指派 {number} 第9网格")
    say("yongsheng", "ys-a", f"指派 {number} 第2网格")
    say("yongsheng", "ys-a", f"指派 {number}")
    run()
    texts = replies(fake_dingtalk, "yongsheng")
    assert "只有乡镇/街道工作人员可以" in texts[0]
    assert "本单位没有名为「第9网格」的网格" in texts[1]
    assert "有 2 个网格叫「第2网格」" in texts[2] and "东风社区 第2网格" in texts[2]
    assert "缺少网格名称" in texts[3]
    assert Report.get(Report.number == number).grid_id is None
    # The right one: set, in the timeline, and the grid's A post is mentioned at once.
    say("yongsheng", "ys-a", f"指派 {number} 东风社区 第2网格")
    run(passes=2)
    grid = Grid.get(Grid.name == "第2网格", Grid.community == Official.get(Official.name == "网格丁").community_id)
    assert Report.get(Report.number == number).grid_id == grid.id
    [entry] = TimelineEntry.select().where((TimelineEntry.report == report.id) & (TimelineEntry.action == "assign"))
    assert entry.actor_name == "王永盛" and entry.channel == "dingtalk"
    assert "指派至东风社区 第2网格（原为待指派网格）" in entry.note and "网格丁" in entry.note
    [assigned] = cards(fake_dingtalk, "yongsheng", "指派网格")
    assert assigned["rendered_mentions"] == ["13800000004"] and "网格丁" in assigned["text"]
    assert "已提醒网格A岗网格丁" in replies(fake_dingtalk, "yongsheng")[-1]
    # The resident sees the grid's name, never an official's number.
    body = client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()
    assert body["grid"] == {"name": "第2网格", "community": "东风社区"}
    assert "1380000000" not in str(body)
    # Assigning it to the same grid again changes nothing.
    say("yongsheng", "ys-a", f"指派 {number} 东风社区/第2网格")
    run()
    assert "无需指派" in replies(fake_dingtalk, "yongsheng")[-1]
    assert TimelineEntry.select().where(TimelineEntry.action == "assign").count() == 1


def test_assign_is_refused_outside_a_township_group(roster, client, resident, say, run, fake_dingtalk):
    number = submit(client, resident, category="road")
    say("yongsheng", "ys-a", f"转办 {number} 城管局")
    say("chengguan", "cg-a", f"指派 {number} 第1网格")
    run()
    assert "只有乡镇/街道工作人员可以" in replies(fake_dingtalk, "chengguan")[-1]


def test_todo_is_grouped_by_grid_with_the_officials_own_first(roster, client, residents, say, run, fake_dingtalk):
    alice = residents.login()
    away = {"lat": 10.0, "lng": 10.0, "address": "远处"}
    numbers = [submit(client, alice, location=away) for _ in range(4)]
    say("yongsheng", "ys-a", f"指派 {numbers[0]} 第1网格")
    say("yongsheng", "ys-a", f"指派 {numbers[1]} 人民社区 第2网格")
    say("yongsheng", "ys-a", f"指派 {numbers[2]} 人民社区 第2网格")
    say("yongsheng", "g2-a", "待办")
    say("yongsheng", "ys-a", f"受理 {numbers[0]}")
    say("yongsheng", "ys-a", "待办")
    run(passes=3)
    texts = replies(fake_dingtalk, "yongsheng")
    grid_worker_todo, staff_todo = [t for t in texts if "待办（" in t]
    lines = grid_worker_todo.splitlines()
    assert "按网格分组，您负责的在前" in lines[0]
    assert lines[1] == "【人民社区 第2网格】（您负责）"
    assert numbers[1] in lines[2] and numbers[2] in lines[3]
    assert lines[4] == "【人民社区 第1网格】" and numbers[0] in lines[5]
    assert lines[6] == "【待指派网格】" and numbers[3] in lines[7]
    lines = staff_todo.splitlines()
    assert lines[1] == "【您受理的】" and numbers[0] in lines[2]
    assert lines[-2] == "【待指派网格】"


def test_todo_in_a_department_group_lists_its_whistles(roster, client, resident, say, run, fake_dingtalk):
    number = submit(client, resident, category="road")
    say("yongsheng", "ys-a", f"转办 {number} 城管局")
    say("chengguan", "cg-b", "待办")
    run(passes=2)
    todo = replies(fake_dingtalk, "chengguan")[-1]
    assert number in todo and "【" not in todo
