"""The ladder, emergency mode and daily digests as the groups see them: the worker (with its
scheduler hook) sends to the fake DingTalk over real HTTP, on a controlled clock."""
from __future__ import annotations

from miniapp_api.deadlines import emergency
from miniapp_api.models import Delivery
from tests.deadlines.conftest import T0
from tests.deadlines.conftest import act
from tests.deadlines.conftest import command
from tests.deadlines.conftest import hours
from tests.deadlines.conftest import submit


def group(fake, code: str) -> list[dict]:
    return fake.state.messages(f"cid-{code}")


def titled(fake, code: str, word: str) -> list[dict]:
    return [m for m in group(fake, code) if word in m["title"]]


def test_the_ladder_is_seen_in_the_groups_with_its_mentions(org, deliver, fake_dingtalk):
    report = submit(T0, "sanitation", grid=org.grid)
    deliver(T0)
    [card] = group(fake_dingtalk, "yongsheng")
    assert report.number in card["text"] and "新上报" in card["title"]
    deliver(T0 + hours(2))
    [remind] = titled(fake_dingtalk, "yongsheng", "催办")
    assert remind["rendered_mentions"] == ["13800000001"] and not remind["is_at_all"]
    assert "已过 50%" in remind["text"] and "网格甲" in remind["text"] and report.number in remind["text"]
    deliver(T0 + hours(3))
    [handover] = titled(fake_dingtalk, "yongsheng", "AB岗交接")
    assert handover["rendered_mentions"] == ["13800000002"] and "网格乙" in handover["text"]
    deliver(T0 + hours(4))
    [up] = titled(fake_dingtalk, "yongsheng", "逐级上报")
    assert up["rendered_mentions"] == ["13800000011"] and "村/社区" in up["text"]
    deliver(T0 + hours(8))   # community → township
    deliver(T0 + hours(12))  # township → the county command centre
    [county_up] = titled(fake_dingtalk, "county", "逐级上报")
    assert county_up["rendered_mentions"] == ["13700000001"]
    assert len(titled(fake_dingtalk, "yongsheng", "逐级上报")) == 3  # the unit sees its report leave
    deliver(T0 + hours(16))
    assert len(titled(fake_dingtalk, "county", "超时督办")) == 1
    assert len(titled(fake_dingtalk, "yongsheng", "超时督办")) == 1
    deliver(T0 + hours(40))  # nothing is repeated
    assert len(titled(fake_dingtalk, "county", "超时督办")) == 1
    assert {d.state for d in Delivery.select()} == {"sent"}


def test_whistle_not_answered_reaches_the_township_and_the_county(org, deliver, fake_dingtalk):
    report = submit(T0, "road", grid=org.grid)
    deliver(T0)
    command("yongsheng", "ys-a", f"转办 {report.number} 城管局", T0 + hours(1))
    deliver(T0 + hours(1))
    assert any(report.number in m["text"] for m in group(fake_dingtalk, "chengguan"))
    deliver(T0 + hours(5))
    [remind] = titled(fake_dingtalk, "chengguan", "催办")
    assert remind["rendered_mentions"] == ["13900000005"]
    deliver(T0 + hours(9))
    [ys] = titled(fake_dingtalk, "yongsheng", "部门未报到")
    [county] = titled(fake_dingtalk, "county", "部门未报到")
    assert "城管局" in ys["text"] and ys["rendered_mentions"] == ["13900000001", "13700000001"]
    assert county["msg_uuid"] != ys["msg_uuid"]
    # The department reports back: the township's group sees it.
    command("chengguan", "cg-a", f"受理 {report.number}", T0 + hours(10))
    deliver(T0 + hours(10))
    assert any("受理" in m["title"] and report.number in m["text"] for m in group(fake_dingtalk, "yongsheng"))


def test_emergency_is_announced_in_every_affected_group(org, deliver, fake_dingtalk):
    emergency.switch(True, "yongning", "县应急办", T0)
    deliver(T0)
    assert [m["title"] for m in group(fake_dingtalk, "yongning")] == ["永宁街道进入应急（战时）模式"]
    assert len(group(fake_dingtalk, "county")) == 1
    assert group(fake_dingtalk, "yongsheng") == [] and group(fake_dingtalk, "chengguan") == []
    emergency.switch(True, None, "县应急办", T0 + hours(1))
    deliver(T0 + hours(1))
    for code in ("yongsheng", "yongning", "yitong", "chengguan", "county"):
        assert titled(fake_dingtalk, code, "全县进入应急"), code
    [ys] = titled(fake_dingtalk, "yongsheng", "全县进入应急")
    assert ys["rendered_mentions"] == ["13900000001", "13900000002"]  # A and B both
    [cg] = titled(fake_dingtalk, "chengguan", "全县进入应急")
    assert cg["rendered_mentions"] == ["13900000005", "13900000006"]
    # A new report's card calls both posts too.
    submit(T0 + hours(2), "sanitation", grid=org.grid)
    deliver(T0 + hours(2))
    card = [m for m in group(fake_dingtalk, "yongsheng") if "新上报" in m["title"]][-1]
    assert "紧急" in card["title"] and sorted(card["rendered_mentions"]) == ["13800000001", "13800000002"]
    emergency.switch(False, None, "县应急办", T0 + hours(3))
    deliver(T0 + hours(3))
    [back] = titled(fake_dingtalk, "yongning", "全县恢复平时")
    assert "全县" in back["title"]


def test_daily_digest_once_a_day_per_group(settings_dict, request, fake_dingtalk):
    settings_dict["deadlines"]["digest_enabled"] = True
    settings_dict["deadlines"]["digest_time"] = "18:00"
    org, deliver = request.getfixturevalue("org"), request.getfixturevalue("deliver")
    a = submit(T0, "sanitation", grid=org.grid)             # Monday 09:00
    b = submit(T0 + hours(1), "road", grid=org.grid)
    submit(T0 + hours(2), "streetlight", township="yitong")
    act(a, "accept", org.posts[("grid", "A")], T0 + hours(2))             # 2 h after submission
    act(a, "resolve", org.posts[("grid", "A")], T0 + hours(5), changes={"reply": "好"})
    act(b, "accept", org.posts[("township", "A")], T0 + hours(4))          # 3 h after submission
    six_pm = T0 + hours(9)
    deliver(six_pm - hours(0.02))
    assert not any("每日简报" in m["title"] for code in ("yongsheng", "county") for m in group(fake_dingtalk, code))
    for now in (six_pm, six_pm + hours(0.5), six_pm + hours(5.9)):
        deliver(now)
    digests = {code: titled(fake_dingtalk, code, "每日简报")
               for code in ("yongsheng", "yongning", "yitong", "chengguan", "county")}
    assert {code: len(v) for code, v in digests.items()} == {c: 1 for c in digests}
    text = digests["yongsheng"][0]["text"]
    assert "**新上报：** 2" in text and "**受理：** 2" in text and "**办结：** 1" in text
    assert "平均受理用时：** 2.5 小时" in text and "平均办结用时：** 5 小时" in text
    # The sanitation report at the grid was raised at 13:00 — it is not overdue now; the road
    # report is accepted with 72 h to go: none overdue.
    assert "**超时未办：** 0" in text
    assert "**新上报：** 3" in digests["county"][0]["text"]
    assert "**新上报：** 1" in digests["yitong"][0]["text"]
    deliver(six_pm + hours(24))  # the next day: one more each
    assert all(len(titled(fake_dingtalk, code, "每日简报")) == 2 for code in digests)
    stats = fake_dingtalk.state.stats()["robots"]
    assert all(s["max_in_60s"] <= 20 and s["rejected"] == {} for s in stats.values())
