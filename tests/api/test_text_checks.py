"""Every text a resident types goes through WeChat's msgSecCheck: rating comments and reopen
reasons as well as descriptions. Risky → 422 ``content_rejected`` and nothing stored."""
from __future__ import annotations

import requests

from miniapp_api.db import database
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from tests.api.test_reports import _resolve
from tests.api.test_reports import submit


def state(number: str) -> tuple:
    database.connect(reuse_if_open=True)
    report = Report.get(Report.number == number)
    return (report.status, report.rating_score, report.rating_comment,
            TimelineEntry.select().where(TimelineEntry.report == report).count(), OutboxEvent.select().count())


def sec_check_calls(fake_wechat) -> int:
    return requests.get(f"{fake_wechat.base_url}/_fake/stats", timeout=5).json()["calls"].get("/wxa/msg_sec_check", 0)


def test_a_risky_rating_comment_is_refused_and_nothing_is_stored(client, resident, fake_wechat):
    number = submit(client, resident).get_json()["number"]
    _resolve(number)
    before = state(number)

    resp = client.post(f"/api/v1/reports/{number}/rating", json={"score": 1, "comment": "加微信参与赌博"},
                       headers=resident["headers"])

    assert resp.status_code == 422
    assert resp.get_json()["error"] == {"code": "content_rejected", "field": "comment",
                                        "message": "内容包含不适宜发布的信息，请修改后再提交"}
    assert state(number) == before
    ok = client.post(f"/api/v1/reports/{number}/rating", json={"score": 5, "comment": "修得很快"},
                     headers=resident["headers"])
    assert ok.status_code == 200 and ok.get_json()["rating"]["comment"] == "修得很快"


def test_a_rating_without_comment_needs_no_check(client, resident, fake_wechat):
    number = submit(client, resident).get_json()["number"]
    _resolve(number)
    calls = sec_check_calls(fake_wechat)
    assert client.post(f"/api/v1/reports/{number}/rating", json={"score": 5},
                       headers=resident["headers"]).status_code == 200
    assert sec_check_calls(fake_wechat) == calls


def test_a_risky_reopen_reason_is_refused_and_nothing_is_stored(client, resident, fake_wechat):
    number = submit(client, resident).get_json()["number"]
    _resolve(number)
    before = state(number)

    resp = client.post(f"/api/v1/reports/{number}/reopen", json={"reason": "诈骗电话 RISKY"},
                       headers=resident["headers"])

    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "content_rejected" and resp.get_json()["error"]["field"] == "reason"
    assert state(number) == before
    assert client.post(f"/api/v1/reports/{number}/reopen", json={"reason": "路灯还是不亮"},
                       headers=resident["headers"]).get_json()["status"] == "accepted"


def test_no_answer_from_wechat_stores_nothing_and_says_so(client, resident, fake_wechat):
    number = submit(client, resident).get_json()["number"]
    _resolve(number)
    before = state(number)
    requests.post(f"{fake_wechat.base_url}/_fake/outage", json={"mode": "error500", "count": 3}, timeout=5)

    resp = client.post(f"/api/v1/reports/{number}/reopen", json={"reason": "还是没修好"},
                       headers=resident["headers"])

    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "wechat_unavailable"
    assert state(number) == before
