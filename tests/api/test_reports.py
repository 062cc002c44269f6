"""Reports through HTTP: submit, validate, content check, idempotency, pagination, scope,
rating and reopening — with the fake WeChat answering over real HTTP."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests

from miniapp_api.reports import lifecycle
from miniapp_api.db import database
from miniapp_api.models import IdempotencyKey
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import Resident
from miniapp_api.models import utcnow
from tests.conftest import report_body
from tests.factories import OFFICIAL
from tests.factories import make_report


def counts() -> tuple[int, int]:
    database.connect(reuse_if_open=True)
    return Report.select().count(), OutboxEvent.select().count()


def submit(client, resident, **overrides):
    return client.post("/api/v1/reports", json=report_body(**overrides), headers=resident["headers"])


def test_submit_returns_the_report(client, resident):
    resp = submit(client, resident)
    assert resp.status_code == 201
    body = resp.get_json()
    assert re.fullmatch(r"[0-9A-Za-z-]{1,32}", body["number"])
    assert body["status"] == "pending"
    assert body["category"] == {"code": "sanitation", "name": "环境卫生"}
    assert body["township"] == {"code": "yongsheng", "name": "永盛街道"}
    assert body["location"]["address"].startswith("永盛街道")
    assert body["reply"] is None and body["rating"] is None
    assert re.search(r"\+08:00$", body["created_at"])
    detail = client.get(f"/api/v1/reports/{body['number']}", headers=resident["headers"]).get_json()
    assert [(e["action"], e["channel"], e["actor"]["kind"]) for e in detail["timeline"]] == [("submit", "wechat", "resident")]
    database.connect(reuse_if_open=True)
    event = OutboxEvent.get(OutboxEvent.report == Report.get(Report.number == body["number"]))
    assert event.kind == "report.created"


@pytest.mark.parametrize("overrides,field", [
    ({"category": "no-such"}, "category"),
    ({"township": "atlantis"}, "township"),
    ({"description": ""}, "description"),
    ({"description": "字" * 1001}, "description"),
    ({"location": {"lat": 91, "lng": 125.3}}, "location.lat"),
    ({"location": {"lat": 43.3}}, "location.lng"),
    ({"photos": ["nope"]}, "photos"),
    ({"anonymous": "perhaps"}, "anonymous"),
    ({"extra": 1}, "extra"),
    ({"description": "井盖\x00丢失"}, "description"),
    ({"location": {"lat": 43.3, "lng": 125.3, "address": "\x00"}}, "location.address"),
])
def test_bad_input_is_422_and_stores_nothing(client, resident, overrides, field):
    before = counts()
    resp = submit(client, resident, **overrides)
    assert resp.status_code == 422
    err = resp.get_json()["error"]
    assert err["code"] == "validation_failed" and err["field"] == field
    assert re.search(r"[\u4e00-\u9fff]", err["message"])  # Chinese for the resident
    assert counts() == before


def test_not_json_is_400(client, resident):
    resp = client.post("/api/v1/reports", data=b"{nope", headers={**resident["headers"], "Content-Type": "application/json"})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_json"
    resp = client.post("/api/v1/reports", json=[1, 2], headers=resident["headers"])
    assert resp.status_code == 422


def test_nan_coordinates_are_refused(client, resident):
    raw = b'{"category":"road","description":"x","township":"yongsheng","location":{"lat":NaN,"lng":1}}'
    resp = client.post("/api/v1/reports", data=raw, headers={**resident["headers"], "Content-Type": "application/json"})
    assert resp.status_code == 422


def test_risky_content_is_refused_and_nothing_stored(client, resident):
    before = counts()
    resp = submit(client, resident, description="有人在这里组织赌博")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "content_rejected"
    assert counts() == before


def test_review_content_is_stored_and_flagged(client, resident):
    resp = submit(client, resident, description="REVIEW 这段话需要人工看看")
    assert resp.status_code == 201
    database.connect(reuse_if_open=True)
    assert Report.get(Report.number == resp.get_json()["number"]).moderation == "review"


def test_wechat_outage_defers_the_check(client, resident, fake_wechat):
    requests.post(f"{fake_wechat.base_url}/_fake/outage", json={"mode": "timeout", "count": 1, "seconds": 3}, timeout=5)
    resp = submit(client, resident)
    assert resp.status_code == 201
    database.connect(reuse_if_open=True)
    report = Report.get(Report.number == resp.get_json()["number"])
    assert report.moderation == "unchecked"
    assert [e.kind for e in OutboxEvent.select().where(OutboxEvent.report == report)] == ["report.content_check"]


def test_idempotency_key(client, resident):
    headers = {**resident["headers"], "Idempotency-Key": "k-123"}
    first = client.post("/api/v1/reports", json=report_body(), headers=headers)
    again = client.post("/api/v1/reports", json=report_body(), headers=headers)
    assert first.status_code == 201 and again.status_code == 201
    assert again.get_json()["number"] == first.get_json()["number"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    database.connect(reuse_if_open=True)
    assert Report.select().count() == 1 and OutboxEvent.select().count() == 1
    other = client.post("/api/v1/reports", json=report_body(description="另一件事"), headers=headers)
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    assert Report.select().count() == 1 and IdempotencyKey.select().count() == 1


def test_idempotency_keys_are_per_resident(client, residents):
    a, b = residents.login(), residents.login()
    ra = client.post("/api/v1/reports", json=report_body(), headers={**a["headers"], "Idempotency-Key": "same"})
    rb = client.post("/api/v1/reports", json=report_body(), headers={**b["headers"], "Idempotency-Key": "same"})
    assert ra.get_json()["number"] != rb.get_json()["number"]


def test_list_is_newest_first_with_cursor(client, resident, settings_dict):
    numbers = [submit(client, resident, description=f"问题 {i}").get_json()["number"] for i in range(7)]
    page1 = client.get("/api/v1/reports?mine=true&limit=5", headers=resident["headers"]).get_json()
    assert [r["number"] for r in page1["items"]] == numbers[::-1][:5]
    page2 = client.get(f"/api/v1/reports?mine=true&limit=5&cursor={page1['next_cursor']}", headers=resident["headers"]).get_json()
    assert [r["number"] for r in page2["items"]] == numbers[::-1][5:]
    assert page2["next_cursor"] is None
    bad = client.get("/api/v1/reports?mine=true&cursor=%%%", headers=resident["headers"])
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "cursor"
    assert client.get("/api/v1/reports?limit=0", headers=resident["headers"]).status_code == 422


def test_other_residents_report_is_404(client, residents):
    owner, other = residents.login(), residents.login()
    number = submit(client, owner).get_json()["number"]
    resp = client.get(f"/api/v1/reports/{number}", headers=other["headers"])
    missing = client.get("/api/v1/reports/R000000-9999", headers=other["headers"])
    assert resp.status_code == missing.status_code == 404
    assert resp.get_json() == missing.get_json()
    assert client.get("/api/v1/reports?mine=true", headers=other["headers"]).get_json()["items"] == []
    assert client.post(f"/api/v1/reports/{number}/rating", json={"score": 5}, headers=other["headers"]).status_code == 404


def test_daily_limit_is_429(settings_dict, request):
    settings_dict["reports"]["daily_limit_per_resident"] = 2
    client = request.getfixturevalue("client")
    resident = request.getfixturevalue("resident")
    assert submit(client, resident).status_code == 201
    assert submit(client, resident).status_code == 201
    before = counts()
    resp = submit(client, resident)
    assert resp.status_code == 429 and resp.get_json()["error"]["code"] == "daily_limit_exceeded"
    assert "今天已上报 2 条" in resp.get_json()["error"]["message"]
    assert counts() == before


def test_daily_limit_counts_up_to_the_limit_only(settings_dict, request):
    # The count stops at the limit. A resident already past it (the county lowered the
    # limit today) is still refused, and told the limit rather than a count.
    settings_dict["reports"]["daily_limit_per_resident"] = 3
    client = request.getfixturevalue("client")
    resident = request.getfixturevalue("resident")
    owner = Resident.get(Resident.openid == resident["openid"])
    for _ in range(5):
        make_report(resident=owner)
    before = counts()
    resp = submit(client, resident)
    assert resp.status_code == 429 and resp.get_json()["error"]["code"] == "daily_limit_exceeded"
    assert "今天已上报 3 条" in resp.get_json()["error"]["message"]
    assert counts() == before


def _resolve(number: str) -> None:
    database.connect(reuse_if_open=True)
    report = Report.get(Report.number == number)
    report = lifecycle.apply(report, "accept", OFFICIAL, utcnow())
    lifecycle.apply(report, "resolve", OFFICIAL, utcnow(), note="已清理", changes={"reply": "已清理"})


def test_rating_closes_a_resolved_report(client, resident):
    number = submit(client, resident).get_json()["number"]
    early = client.post(f"/api/v1/reports/{number}/rating", json={"score": 5}, headers=resident["headers"])
    assert early.status_code == 409 and early.get_json()["error"]["code"] == "invalid_transition"
    _resolve(number)
    assert client.post(f"/api/v1/reports/{number}/rating", json={"score": 6}, headers=resident["headers"]).status_code == 422
    resp = client.post(f"/api/v1/reports/{number}/rating", json={"score": 4, "comment": "很快"}, headers=resident["headers"])
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["status"] == "closed" and body["rating"] == {"score": 4, "comment": "很快"}
    assert body["reply"] == "已清理"
    assert [e["action"] for e in body["timeline"]] == ["submit", "accept", "resolve", "rate"]
    again = client.post(f"/api/v1/reports/{number}/rating", json={"score": 1}, headers=resident["headers"])
    assert again.status_code == 409


def test_reopen_within_window(client, resident):
    number = submit(client, resident).get_json()["number"]
    assert client.post(f"/api/v1/reports/{number}/reopen", json={"reason": "没修好"}, headers=resident["headers"]).status_code == 409
    _resolve(number)
    resp = client.post(f"/api/v1/reports/{number}/reopen", json={"reason": "还是没修好"}, headers=resident["headers"])
    assert resp.status_code == 200 and resp.get_json()["status"] == "accepted"
    assert resp.get_json()["timeline"][-1]["note"] == "还是没修好"


def test_reopen_after_window_is_409(client, resident):
    number = submit(client, resident).get_json()["number"]
    _resolve(number)
    Report.update(resolved_at=utcnow() - timedelta(days=8)).where(Report.number == number).execute()
    resp = client.post(f"/api/v1/reports/{number}/reopen", json={"reason": "没修好"}, headers=resident["headers"])
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "invalid_transition"
