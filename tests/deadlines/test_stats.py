"""Statistics on a small fixed data set, checked against numbers worked out by hand (the
comments say how), on SQLite and PostgreSQL; the admin API returns the same."""
from __future__ import annotations

from datetime import date
from datetime import datetime

import pytest

from miniapp_api.deadlines.stats import report_stats
from miniapp_api.reports.service import rate_report
from miniapp_api.time import LOCAL_TZ
from miniapp_api.reports.schemas import RatingIn
from tests.deadlines.conftest import T0
from tests.deadlines.conftest import act
from tests.deadlines.conftest import hours
from tests.deadlines.conftest import submit

TOKEN = "stats-admin-token-0123456789abcdef"
RANGE = (date(2026, 11, 23), date(2026, 11, 24))
NOW = T0 + hours(48)


@pytest.fixture
def settings_dict(settings_dict):
    settings_dict["admin"] = {"api_token": TOKEN}
    return settings_dict


@pytest.fixture
def data(org, scheduler):
    """永盛街道 R1–R4 on Monday, 伊通镇 R5–R6 on Tuesday, and two reports just outside the range."""
    p = org.posts
    submit(datetime(2026, 11, 22, 23, 30, tzinfo=LOCAL_TZ), "sanitation")  # Sunday night: outside
    r1 = submit(T0, "sanitation", grid=org.grid)
    r2 = submit(T0, "sanitation", grid=org.grid)
    r3 = submit(T0 + hours(1), "road", grid=org.grid)
    r4 = submit(T0 + hours(2), "road", grid=org.grid)
    act(r1, "accept", p[("grid", "A")], T0 + hours(1))
    act(r3, "reject", p[("township", "A")], T0 + hours(2), note="不属实", changes={"reply": "不属实"})
    scheduler(T0 + hours(3))   # R2: A→B handover at the grid
    act(r1, "resolve", p[("grid", "A")], T0 + hours(3), changes={"reply": "好"})
    act(r4, "accept", p[("township", "A")], T0 + hours(3))
    scheduler(T0 + hours(4))   # R2: not accepted in 4 h, raised to the community
    act(r2, "accept", p[("community", "B")], T0 + hours(5))
    act(r4, "resolve", p[("township", "A")], T0 + hours(5), changes={"reply": "补了"})
    act(r2, "resolve", p[("community", "B")], T0 + hours(6), changes={"reply": "好"})
    rate_report(r1.resident, r1.number, RatingIn(score=5), T0 + hours(6))
    rate_report(r4.resident, r4.number, RatingIn(score=2, comment="又坏了"), T0 + hours(6))  # 重办
    act(r4, "resolve", p[("township", "B")], T0 + hours(8), changes={"reply": "重新补了"})
    rate_report(r4.resident, r4.number, RatingIn(score=4), T0 + hours(9))
    submit(T0 + hours(24), "sanitation", township="yitong")                 # R5: left pending
    r6 = submit(T0 + hours(24), "streetlight", township="yitong")
    act(r6, "accept", None, T0 + hours(25))                                  # R6: accepted, 48 h to go
    submit(datetime(2026, 11, 25, 0, 0, tzinfo=LOCAL_TZ), "road")           # Wednesday: outside


YONGSHENG = {
    "total": 4,
    "by_status": {"pending": 0, "accepted": 0, "transferred": 0, "resolved": 1, "closed": 2, "rejected": 1},
    "accepted": 3, "avg_accept_hours": 2.33,          # R1 1 h, R2 5 h, R4 1 h
    "resolved": 3, "avg_resolve_hours": 5.0,          # R1 3 h, R2 6 h, R4 6 h (its latest resolution)
    "on_time": 2, "on_time_rate": 0.6667,             # R2 missed the grid's deadline
    "overdue_open": 0, "escalated": 1,
    "closure_rate": 1.0,                              # (1 resolved + 2 closed) / (4 − 1 rejected)
    "rated": 2, "avg_score": 4.5, "satisfied_rate": 1.0,  # R1 5, R4 4 (its latest rating)
    "redone": 1, "redo_rate": 0.3333,                 # R4 of R1, R2, R4
    "handovers": 1, "b_cover_rate": 0.25, "resolved_by_b": 2,  # R2 handed over; R2 and R4 done by B
}
YITONG = {
    "total": 2,
    "by_status": {"pending": 1, "accepted": 1, "transferred": 0, "resolved": 0, "closed": 0, "rejected": 0},
    "accepted": 1, "avg_accept_hours": 1.0, "resolved": 0, "avg_resolve_hours": None,
    "on_time": 0, "on_time_rate": None, "overdue_open": 1, "escalated": 0,  # R5 was due Tuesday 13:00
    "closure_rate": 0.0, "rated": 0, "avg_score": None, "satisfied_rate": None,
    "redone": 0, "redo_rate": None, "handovers": 0, "b_cover_rate": 0.0, "resolved_by_b": 0,
}
COUNTY = {
    "total": 6,
    "by_status": {"pending": 1, "accepted": 1, "transferred": 0, "resolved": 1, "closed": 2, "rejected": 1},
    "accepted": 4, "avg_accept_hours": 2.0, "resolved": 3, "avg_resolve_hours": 5.0,
    "on_time": 2, "on_time_rate": 0.6667, "overdue_open": 1, "escalated": 1,
    "closure_rate": 0.6,                              # 3 / (6 − 1)
    "rated": 2, "avg_score": 4.5, "satisfied_rate": 1.0,
    "redone": 1, "redo_rate": 0.3333, "handovers": 1, "b_cover_rate": 0.1667, "resolved_by_b": 2,
}
ATTRIBUTION = [
    {"unit": "township:yongsheng", "level": "community", "post": "B", "resolved": 1, "ratings": 0,
     "avg_score": None, "redo_ratings": 0},
    {"unit": "township:yongsheng", "level": "grid", "post": "A", "resolved": 1, "ratings": 1, "avg_score": 5.0,
     "redo_ratings": 0},
    {"unit": "township:yongsheng", "level": "township", "post": "A", "resolved": 0, "ratings": 1,
     "avg_score": 2.0, "redo_ratings": 1},
    {"unit": "township:yongsheng", "level": "township", "post": "B", "resolved": 1, "ratings": 1,
     "avg_score": 4.0, "redo_ratings": 0},
]


def strip(item: dict) -> dict:
    return {k: v for k, v in item.items() if k not in ("township", "department", "category")}


def test_per_unit_against_hand_computed_numbers(data):
    result = report_stats(*RANGE, by="township", now=NOW, with_attribution=True)
    assert result["total"] == COUNTY
    assert [i["township"]["code"] for i in result["items"]] == ["yongsheng", "yitong"]
    assert strip(result["items"][0]) == YONGSHENG
    assert strip(result["items"][1]) == YITONG
    assert result["attribution"] == ATTRIBUTION


def test_per_category_and_unit_by_category(data):
    by_category = {i["category"]["code"]: i["total"] for i in report_stats(*RANGE, by="category", now=NOW)["items"]}
    assert by_category == {"sanitation": 3, "streetlight": 1, "road": 2}
    rows = report_stats(*RANGE, by="township_category", now=NOW)["items"]
    cells = {(i["township"]["code"], i["category"]["code"]): (i["total"], i["resolved"]) for i in rows}
    assert cells == {("yongsheng", "sanitation"): (2, 2), ("yongsheng", "road"): (2, 1),
                     ("yitong", "sanitation"): (1, 0), ("yitong", "streetlight"): (1, 0)}
    one = report_stats(*RANGE, by="county", township="yongsheng", category="road", now=NOW)
    assert one["items"] == [] and one["total"]["total"] == 2 and one["total"]["redone"] == 1
    assert report_stats(*RANGE, by="department", now=NOW)["items"] == []
    # The local day decides: Monday alone has only 永盛街道's four.
    assert report_stats(date(2026, 11, 23), date(2026, 11, 23), by="county", now=NOW)["total"]["total"] == 4


def test_the_admin_api_returns_the_same_numbers(data, client):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    resp = client.get("/api/v1/admin/stats?from=2026-11-23&to=2026-11-24&by=township", headers=headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["from"] == "2026-11-23" and body["total"]["total"] == 6
    assert strip(body["items"][0]) == YONGSHENG and body["attribution"] is None
    with_attribution = client.get("/api/v1/admin/stats?from=2026-11-23&to=2026-11-24&attribution=true",
                                  headers=headers).get_json()
    assert with_attribution["attribution"] == ATTRIBUTION
    assert client.get("/api/v1/admin/stats?from=2026-11-23&to=2026-11-24").status_code == 401
    bad = client.get("/api/v1/admin/stats?from=2026-11-24&to=2026-11-23", headers=headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "validation_failed"
    assert client.get("/api/v1/admin/stats?from=2026-11-23&to=2026-11-24&by=street",
                      headers=headers).status_code == 422
    doc = client.get("/api/v1/openapi.json").get_json()
    assert {"/api/v1/admin/stats", "/api/v1/admin/emergency"} <= set(doc["paths"])
    assert {p["name"] for p in doc["paths"]["/api/v1/admin/stats"]["get"]["parameters"]} >= {"from", "to", "by"}
