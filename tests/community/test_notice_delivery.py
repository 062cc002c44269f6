"""A county-wide notice to 13 units whose robots are all blocked: nothing is lost, every unit
gets it once the block ends, and each unit's acknowledgement or reminder is recorded (then
the county group hears which units never answered). Worker and fake DingTalk share the test
clock; acknowledgements are signed callbacks."""
from __future__ import annotations

import time

import pytest

from miniapp_api.db import database
from miniapp_api.models import Delivery
from miniapp_api.models.community import NoticeUnit
from tests.community.conftest import COUNTY
from tests.conftest import township_table
from tests.factories import make_official

EXTRA_UNITS = [("erdao", "二道镇"), ("yidan", "伊丹镇"), ("maanshan", "马鞍山镇"), ("jingtai", "景台镇"),
               ("kaoshan", "靠山镇"), ("dagushan", "大孤山镇"), ("xiaogushan", "小孤山镇"),
               ("yingchengzi", "营城子镇"), ("xiwei", "西苇镇"), ("heyuan", "河源镇")]


@pytest.fixture
def settings_dict(settings_dict, fake_dingtalk):
    base = fake_dingtalk.base_url
    for i, (code, name) in enumerate(EXTRA_UNITS):
        settings_dict["townships"].append(township_table(code, name, "town", base))
        fake_dingtalk.state.add_group(f"cid-{code}", f"{name}群", f"tok-{code}", f"SEC-secret-{code}",
                                      [{"staff_id": f"{code}-a", "name": f"{name}值班", "mobile": f"139100000{i:02d}"}])
    settings_dict["notices"] = {"county_group": "chengguan", "ack_hours": 1, "escalate_hours": 2}
    return settings_dict


@pytest.fixture
def units(app) -> list[str]:
    """The 13 unit codes, each with a registered duty official (A post) in its group."""
    database.connect(reuse_if_open=True)
    make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001")
    make_official("赵永宁", "yn-a", township="yongning", duty_post="A", mobile="13900000003")
    make_official("钱伊通", "yt-a", township="yitong", duty_post="A", mobile="13900000004")
    for i, (code, name) in enumerate(EXTRA_UNITS):
        make_official(f"{name}值班", f"{code}-a", township=code, duty_post="A", mobile=f"139100000{i:02d}")
    database.close()
    return ["yongsheng", "yongning", "yitong"] + [c for c, _ in EXTRA_UNITS]


STAFF = {"yongsheng": "ys-a", "yongning": "yn-a", "yitong": "yt-a"}


def test_thirteen_blocked_groups_lose_nothing(client, units, tongxin, fake_dingtalk, run, clock):
    state = fake_dingtalk.state
    for code in units:  # every robot was pushed past its limit by something else: 10-minute block
        state.groups[f"cid-{code}"].limiter.blocked_until = clock() + 600
    resp = client.post("/api/v1/admin/notices", headers=COUNTY, json={
        "title": "寒潮预警：请做好防寒准备", "body_html": "<p>各乡镇（街道）务必于今晚前完成排查。</p>",
        "target": {"level": "county"}})
    assert resp.status_code == 201
    number = resp.get_json()["number"]

    def notices_in(code):
        return [m for m in state.messages(f"cid-{code}") if m["via"] == "robot" and "寒潮预警" in m["text"]
                and m["title"].startswith("通知")]

    run()  # each robot answers 130101 once; its target then waits out the block
    for _ in range(9):
        clock.advance(60)
        run()
    assert all(notices_in(code) == [] for code in units)
    stats = state.stats()["robots"]
    assert all(stats[f"cid-{code}"]["rejected"] == {"130101": 1} for code in units)

    clock.advance(60)
    run()
    for code in units:
        assert len(notices_in(code)) == 1, code  # everyone, exactly once
    database.connect(reuse_if_open=True)
    assert Delivery.select().where((Delivery.channel == "dingtalk") & (Delivery.state != "sent")).count() == 0

    def say(code: str, text: str) -> None:
        answer = state.deliver_callback(f"{tongxin.base_url}/callbacks/dingtalk", fake_dingtalk.base_url,
                                        conversation_id=f"cid-{code}", staff_id=STAFF.get(code, f"{code}-a"),
                                        text=text, timestamp_offset_ms=int((time.time() - clock()) * 1000))
        assert answer["status"] == 200

    early = units[:7]
    for code in early:
        say(code, f"收到 {number}")
    run()
    for code in early:
        replies = [m for m in state.messages(f"cid-{code}") if m["via"] == "session"]
        assert len(replies) == 1 and "已记录" in replies[0]["text"]

    clock.advance(3600)  # ack_hours = 1: the six silent units are reminded in their groups
    run(passes=2)  # the scheduler records the reminders; the next pass sends them
    late = units[7:]
    for code in units:
        reminders = [m for m in state.messages(f"cid-{code}") if "待确认" in m["title"]]
        assert len(reminders) == (1 if code in late else 0), code
        if code in late:
            assert reminders[0]["rendered_mentions"] and not reminders[0]["is_at_all"]
    say(late[0], f"收到 {number}")
    run()

    clock.advance(3600)  # escalate_hours = 2: the county group hears of the five still silent
    run(passes=2)
    [escalation] = [m for m in state.messages("cid-chengguan") if "逾期未确认" in m["title"]]
    names = {code: name for code, name in EXTRA_UNITS}
    for code in late[1:]:
        assert names[code] in escalation["text"]
    assert names[late[0]] not in escalation["text"]

    clock.advance(3600)
    run(passes=3)  # nothing is ever repeated
    database.connect(reuse_if_open=True)
    rows = {r.township.code: r for r in NoticeUnit.select()}
    assert set(rows) == set(units)
    for code, row in rows.items():
        assert row.acked_at or row.reminded_at, code  # each unit: acknowledged, or reminded
        assert bool(row.acked_at) == (code in early or code == late[0])
        assert bool(row.reminded_at) == (code in late)
        assert bool(row.escalated_at) == (code in late[1:])
    assert sum(len([m for m in state.messages(f"cid-{c}") if "待确认" in m["title"]]) for c in units) == 6
    assert len([m for m in state.messages("cid-chengguan") if "逾期未确认" in m["title"]]) == 1
    for code in units:
        assert state.stats()["robots"][f"cid-{code}"]["max_in_60s"] <= 20
    stats = client.get(f"/api/v1/admin/notices/{number}/stats", headers=COUNTY).get_json()
    assert stats["units_total"] == 13 and stats["units_acked"] == 8
    assert {u["delivery"] for u in stats["units"]} == {"sent"}
