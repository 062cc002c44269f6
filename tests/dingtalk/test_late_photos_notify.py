"""办结照片 that come after 办结 (a picture sent to the robot within the window, or with the
number): the resident and everyone following the report are told through the outbox, one WeChat
subscribe message each, delivered to the fake WeChat over real HTTP; the photo is in their view.
Photos that come with 办结 or before it tell nobody twice. On SQLite and PostgreSQL."""
from __future__ import annotations

import requests

from miniapp_api.db import database
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from tests.bridges.conftest import run  # noqa: F401  (fixture)
from tests.bridges.conftest import tongxin  # noqa: F401  (fixture)
from tests.bridges.conftest import worker  # noqa: F401  (fixture)
from tests.bridges.test_callbacks import officials  # noqa: F401  (fixture)
from tests.bridges.test_callbacks import replies
from tests.bridges.test_callbacks import say  # noqa: F401  (fixture)
from tests.dingtalk.test_pictures import client  # noqa: F401  (fixture: the API's client)
from tests.dingtalk.test_pictures import jpeg_with_gps
from tests.conftest import report_body

TEMPLATE = "tmpl-report-status"


def _consent(client, fake_wechat, who, count: int = 10) -> None:  # noqa: F811
    requests.post(f"{fake_wechat.base_url}/_fake/consents",
                  json={"openid": who["openid"], "template_id": TEMPLATE, "count": count}, timeout=5)
    for _ in range(count):
        assert client.post("/api/v1/me/subscriptions", json={"template_ids": [TEMPLATE]},
                           headers=who["headers"]).status_code in (200, 201)


def _sent(fake_wechat, who) -> list[dict]:
    items = requests.get(f"{fake_wechat.base_url}/_fake/messages", timeout=5).json()["items"]
    return [m for m in items if m["touser"] == who["openid"]]


def _late_events(number: str) -> int:
    database.connect(reuse_if_open=True)
    report = Report.get(Report.number == number)
    return OutboxEvent.select().where((OutboxEvent.report == report.id)
                                      & (OutboxEvent.kind == "report.completion_photos")).count()


def test_a_photo_after_resolve_tells_the_resident_and_followers(
        client, residents, fake_wechat, fake_dingtalk, say, officials, run):  # noqa: F811
    alice, carol = residents.login(), residents.login()
    for who in (alice, carol):
        _consent(client, fake_wechat, who)
    number = client.post("/api/v1/reports", json=report_body(), headers=alice["headers"]).get_json()["number"]
    assert client.post(f"/api/v1/reports/{number}/support", headers=carol["headers"]).status_code == 200
    say("yongsheng", "ys-a", f"受理 {number}")
    say("yongsheng", "ys-a", f"办结 {number} 已清理完毕")
    run(passes=2)
    told = {w["openid"]: len(_sent(fake_wechat, w)) for w in (alice, carol)}
    assert told == {alice["openid"]: 2, carol["openid"]: 2}  # 受理 and 办结
    assert _late_events(number) == 0
    cards = len([m for m in fake_dingtalk.state.messages("cid-yongsheng") if m["msgtype"] != "text"])

    say("yongsheng", "ys-a", "", pictures=[jpeg_with_gps()])  # within the window after 办结
    run(passes=2)
    assert f"已为 {number} 附上办结照片 1 张" in replies(fake_dingtalk, "yongsheng")[-1]["text"]
    assert _late_events(number) == 1
    for who in (alice, carol):
        messages = _sent(fake_wechat, who)
        assert len(messages) == 3, messages
        data = messages[-1]["data"]
        assert data["character_string1"] == number and data["phrase2"] == "已办结"
        assert data["thing3"] == "附办结照片 1 张"
        assert messages[-1]["page"] == f"pages/report/detail?number={number}"
        # What they are told of is there to see, apart from the resident's own photos.
        seen = client.get(f"/api/v1/reports/{number}", headers=who["headers"]).get_json()
        assert seen["photos"] == [] and len(seen["completion_photos"]) == 1
        assert seen["timeline"][-1]["action"] == "proof"
    # The group is not told again (it saw the picture sent): only the reply went there.
    assert len([m for m in fake_dingtalk.state.messages("cid-yongsheng") if m["msgtype"] != "text"]) == cards
    database.connect(reuse_if_open=True)
    event = OutboxEvent.get(OutboxEvent.kind == "report.completion_photos")
    assert event.payload["added"] == 1 and event.payload["total"] == 1 and event.payload["to"] == "resolved"

    # With the number, later still: told again, with the new count.
    say("yongsheng", "ys-a", f"{number} 补一张", pictures=[jpeg_with_gps()])
    run(passes=2)
    assert _late_events(number) == 2
    assert [len(_sent(fake_wechat, w)) for w in (alice, carol)] == [4, 4]


def test_photos_with_or_before_resolve_tell_nobody_twice(
        client, residents, fake_wechat, fake_dingtalk, say, officials, run):  # noqa: F811
    alice = residents.login()
    _consent(client, fake_wechat, alice)
    first = client.post("/api/v1/reports", json=report_body(), headers=alice["headers"]).get_json()["number"]
    second = client.post("/api/v1/reports", json=report_body(), headers=alice["headers"]).get_json()["number"]
    say("yongsheng", "ys-a", f"受理 {first}")
    say("yongsheng", "ys-a", f"受理 {second}")
    # Before 办结, with the number: attached and recorded, but the resident hears of it with 办结.
    say("yongsheng", "ys-a", f"{first} 现场", pictures=[jpeg_with_gps()])
    # With 办结 in the same message: one status change says it all.
    say("yongsheng", "ys-a", f"办结 {second} 已清理", pictures=[jpeg_with_gps()])
    run(passes=2)
    assert _late_events(first) == 0 and _late_events(second) == 0
    database.connect(reuse_if_open=True)
    proof = TimelineEntry.select().where(TimelineEntry.action == "proof")
    assert [Report.get_by_id(e.report_id).number for e in proof] == [first]
    assert len(_sent(fake_wechat, alice)) == 3  # 受理 twice, 办结 once
