"""``收到 <notice>`` and ``发起志愿 <report>`` sent by officials in their groups: signed callbacks
from the fake DingTalk to Tongxin served over real HTTP, replies through the sessionWebhook."""
from __future__ import annotations

import time

import pytest

from miniapp_api.db import database
from miniapp_api.models import Report
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import NoticeUnit
from tests.community.conftest import COUNTY
from tests.conftest import report_body
from tests.factories import make_official


@pytest.fixture
def officials(app):
    database.connect(reuse_if_open=True)
    out = {
        "ys": make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001"),
        "yn": make_official("赵永宁", "yn-a", township="yongning", mobile="13900000003"),
        "cg": make_official("孙城管", "cg-a", township=None, department="chengguan", mobile="13900000005"),
    }
    database.close()
    return out


@pytest.fixture
def say(tongxin, fake_dingtalk, clock, run):
    """``say("yongsheng", "ys-a", "收到 N0001")`` → the reply the group then sees."""

    def _say(code: str, staff_id: str | None, text: str) -> str:
        before = len(fake_dingtalk.state.messages(f"cid-{code}"))
        # The fake signs with its own (test) clock; Tongxin checks against the real one.
        offset = int((time.time() - clock()) * 1000)
        answer = fake_dingtalk.state.deliver_callback(
            f"{tongxin.base_url}/callbacks/dingtalk", fake_dingtalk.base_url, conversation_id=f"cid-{code}",
            staff_id=staff_id, text=text, timestamp_offset_ms=offset)
        assert answer["status"] == 200, answer
        run()
        replies = [m for m in fake_dingtalk.state.messages(f"cid-{code}")[before:] if m["via"] == "session"]
        assert len(replies) == 1, replies
        return replies[0]["text"]

    return _say


def publish(client, target: dict, title: str = "防汛通知") -> str:
    resp = client.post("/api/v1/admin/notices", json={"title": title, "target": target}, headers=COUNTY)
    assert resp.status_code == 201
    return resp.get_json()["number"]


def acked(number: str) -> dict[str, str]:
    database.connect(reuse_if_open=True)
    rows = NoticeUnit.select().join_from(NoticeUnit, NoticeUnit.notice.rel_model).where(
        NoticeUnit.notice.rel_model.number == number)
    return {r.township.code: r.acked_by_name for r in rows if r.acked_at}


def test_ack_is_recorded_per_unit(client, org, officials, say):
    n = publish(client, {"level": "county"})
    reply = say("yongsheng", "ys-a", f"收到 {n}")
    assert "已记录" in reply and "永盛街道" in reply and "王永盛" in reply
    assert acked(n) == {"yongsheng": "王永盛"}
    assert "无需重复确认" in say("yongsheng", "ys-a", f"收到 {n}")
    assert acked(n) == {"yongsheng": "王永盛"}
    say("yongning", "yn-a", f"收到：{n}")  # a colon after the verb is fine too
    stats = client.get(f"/api/v1/admin/notices/{n}/stats", headers=COUNTY).get_json()
    assert stats["units_acked"] == 2 and stats["units"][0]["acked_by"] == "王永盛"


def test_ack_refusals_change_nothing(client, org, officials, say):
    unit_notice = publish(client, {"level": "township", "township": "yongsheng"})
    assert "找不到发给永宁街道的通知" in say("yongning", "yn-a", f"收到 {unit_notice}")
    assert "找不到" in say("yongsheng", "ys-a", "收到 N9999")
    assert "不是本群所属单位登记的干部" in say("yongsheng", "stranger", f"收到 {unit_notice}")
    assert "不是乡镇/街道的工作群" in say("chengguan", "cg-a", f"收到 {unit_notice}")
    assert "缺少编号" in say("yongsheng", "ys-a", "收到")
    assert acked(unit_notice) == {}
    client.post(f"/api/v1/admin/notices/{unit_notice}/withdraw", json={}, headers=COUNTY)
    assert "已撤回" in say("yongsheng", "ys-a", f"收到 {unit_notice}")
    assert acked(unit_notice) == {}


def test_campaign_from_a_report(client, resident, org, officials, say, fake_dingtalk, run):
    number = client.post("/api/v1/reports", json=report_body(), headers=resident["headers"]).get_json()["number"]
    run()
    reply = say("yongsheng", "ys-a", f"发起志愿 {number} 需要 5 位居民帮忙清运")
    database.connect(reuse_if_open=True)
    campaign = Campaign.get(Campaign.report == Report.get(Report.number == number))
    assert campaign.number in reply and "签到码页面" in reply and "/o/campaigns/" in reply
    assert campaign.description == "需要 5 位居民帮忙清运" and campaign.publisher_name == "王永盛"
    # The report's point lies in one of 永盛's grids (issue #13 routes every report to its grid),
    # so the campaign is addressed to that grid's residents.
    report = Report.get(Report.number == number)
    assert report.grid_id is not None
    assert campaign.level == "grid" and campaign.grid_id == report.grid_id and campaign.lat == pytest.approx(43.345)
    detail = client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()
    last = detail["timeline"][-1]
    assert detail["status"] == "accepted" and last["channel"] == "dingtalk" and last["actor"]["name"] == "王永盛"
    assert campaign.number in last["note"]
    run()
    card = [m for m in fake_dingtalk.state.messages("cid-yongsheng") if m["via"] == "robot" and "战地有我" in m["text"]]
    assert len(card) == 1 and number in card[0]["text"] and campaign.number in card[0]["text"]
    assert f"已有志愿活动 {campaign.number}" in say("yongsheng", "ys-a", f"发起志愿 {number}")
    assert "找不到编号" in say("yongning", "yn-a", f"发起志愿 {number}")  # another unit's report
    assert Campaign.select().count() == 1


def test_campaign_refused_for_a_closed_report(client, resident, org, officials, say):
    number = client.post("/api/v1/reports", json=report_body(), headers=resident["headers"]).get_json()["number"]
    say("yongsheng", "ys-a", f"驳回 {number} 重复上报")
    assert "不能发起志愿活动" in say("yongsheng", "ys-a", f"发起志愿 {number}")
    database.connect(reuse_if_open=True)
    assert Campaign.select().count() == 0


def test_help_lists_the_new_commands(org, officials, say):
    text = say("yongsheng", "ys-a", "帮助")
    assert "收到 <通知编号>" in text and "发起志愿 <编号>" in text
