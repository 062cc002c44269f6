"""我也遇到 (CONTRACT §3): ``GET /reports/nearby``, ``POST /reports/<number>/support``, the
``nearby`` list of a new submission, and followed reports in "my reports" — over HTTP, on
SQLite and PostgreSQL. Twenty residents pressing at once (threads against a served Tongxin)
count twenty, once each."""
from __future__ import annotations

import io
import threading
from datetime import timedelta

import requests
from PIL import Image

from miniapp_api.db import database
from miniapp_api.models import Report
from miniapp_api.models import ReportSupport
from miniapp_api.models import TimelineEntry
from tests.bridges.conftest import tongxin  # noqa: F401  (the served app fixture)
from tests.conftest import report_body

HERE = {"lat": 43.345, "lng": 125.305, "address": "永盛街道 人民大街 18 号"}
# About 80 m north-east of HERE, and about 400 m away.
NEAR = {"lat": 43.3455, "lng": 125.3056, "address": "人民大街 20 号"}
FAR = {"lat": 43.3486, "lng": 125.305, "address": "人民大街 60 号"}


def _photo(client, resident) -> str:
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), (10, 120, 10)).save(buf, "JPEG")
    resp = client.post("/api/v1/uploads", data={"file": (io.BytesIO(buf.getvalue()), "a.jpg")},
                       headers=resident["headers"], content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def _submit(client, resident, **overrides) -> dict:
    resp = client.post("/api/v1/reports", json=report_body(**overrides), headers=resident["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def _nearby(client, resident, point, category="sanitation"):
    return client.get(f"/api/v1/reports/nearby?lat={point['lat']}&lng={point['lng']}&category={category}",
                      headers=resident["headers"])


def test_nearby_lists_open_reports_of_the_category_nearest_first_without_the_reporter(client, residents):
    first, other = residents.login(), residents.login()
    a = _submit(client, first, location=HERE, photos=[_photo(client, first)],
                description="垃圾堆了三天\n第二行不该出现在摘要里")
    b = _submit(client, first, location=NEAR)
    _submit(client, first, location=FAR)                                   # too far
    _submit(client, first, location=HERE, category="noise")                # another category
    resp = _nearby(client, other, NEAR)
    assert resp.status_code == 200
    items = resp.get_json()["items"]
    assert [i["number"] for i in items] == [b["number"], a["number"]]
    near_a = items[1]
    assert set(near_a) == {"number", "category", "status", "distance_m", "created_at", "summary", "thumbnail_url"}
    assert near_a["summary"] == "垃圾堆了三天" and near_a["status"] == "pending"
    assert 50 < near_a["distance_m"] < 120 and items[0]["distance_m"] == 0
    assert near_a["thumbnail_url"].startswith("https://tongxin.test/media/") and items[0]["thumbnail_url"] is None
    text = resp.get_data(as_text=True)
    assert first["openid"] not in text and "resident" not in text and "人民大街" not in text


def test_nearby_leaves_out_closed_and_old_reports(client, residents, app):
    first, other = residents.login(), residents.login()
    done = _submit(client, first, location=HERE)
    old = _submit(client, first, location=HERE)
    database.connect(reuse_if_open=True)
    Report.update(status="closed").where(Report.number == done["number"]).execute()
    row = Report.get(Report.number == old["number"])
    Report.update(created_at=row.created_at - timedelta(days=31)).where(Report.id == row.id).execute()
    assert _nearby(client, other, HERE).get_json()["items"] == []


def test_nearby_refuses_bad_input(client, resident):
    for query in ("lat=91&lng=125&category=sanitation", "lat=abc&lng=125&category=sanitation",
                  "lat=43&lng=125", "lat=43&lng=125&category=nope", "lat=nan&lng=125&category=sanitation"):
        resp = client.get(f"/api/v1/reports/nearby?{query}", headers=resident["headers"])
        assert resp.status_code == 422, query
        assert resp.get_json()["error"]["code"] == "validation_failed"
    assert client.get("/api/v1/reports/nearby?lat=43&lng=125&category=sanitation").status_code == 401


def test_a_submission_near_an_open_report_succeeds_and_lists_it(client, residents):
    first, second = residents.login(), residents.login()
    a = _submit(client, first, location=HERE)
    b = _submit(client, second, location=NEAR)
    assert [n["number"] for n in b["nearby"]] == [a["number"]]
    assert b["number"] != a["number"] and b["relation"] == "own" and b["supporters"] == 0
    alone = _submit(client, second, location=FAR, category="road")
    assert alone["nearby"] == []


def test_support_follows_once_and_lists_the_report_as_followed(client, residents, app):
    owner, fan = residents.login(), residents.login()
    a = _submit(client, owner, location=HERE)
    own_b = _submit(client, fan, location=FAR)
    for _ in range(2):  # idempotent per resident
        resp = client.post(f"/api/v1/reports/{a['number']}/support", headers=fan["headers"])
        assert resp.status_code == 200, resp.get_json()
        assert resp.get_json() == {"number": a["number"], "supporters": 1}
    # The reporter's own press changes nothing.
    assert client.post(f"/api/v1/reports/{a['number']}/support", headers=owner["headers"]).get_json()["supporters"] == 1
    mine = client.get("/api/v1/reports?mine=true", headers=fan["headers"]).get_json()
    assert [(i["number"], i["relation"]) for i in mine["items"]] == [(own_b["number"], "own"), (a["number"], "following")]
    assert mine["items"][1]["supporters"] == 1
    detail = client.get(f"/api/v1/reports/{a['number']}", headers=fan["headers"])
    assert detail.status_code == 200 and detail.get_json()["supporters"] == 1
    assert detail.get_json()["relation"] == "following"  # so the client offers no rating or 重办
    assert client.get(f"/api/v1/reports/{a['number']}", headers=owner["headers"]).get_json()["relation"] == "own"
    owner_list = client.get("/api/v1/reports?mine=true", headers=owner["headers"]).get_json()["items"]
    assert [(i["number"], i["relation"]) for i in owner_list] == [(a["number"], "own")]
    # Paging walks both kinds with one cursor.
    page1 = client.get("/api/v1/reports?mine=true&limit=1", headers=fan["headers"]).get_json()
    page2 = client.get(f"/api/v1/reports?mine=true&limit=1&cursor={page1['next_cursor']}",
                       headers=fan["headers"]).get_json()
    assert [i["number"] for i in page1["items"] + page2["items"]] == [own_b["number"], a["number"]]
    assert page2["next_cursor"] is None


def test_support_refusals(client, residents, app):
    owner, fan = residents.login(), residents.login()
    a = _submit(client, owner)
    resp = client.post("/api/v1/reports/R000000-9999/support", headers=fan["headers"])
    assert resp.status_code == 404
    database.connect(reuse_if_open=True)
    for status in ("closed", "rejected", "merged"):
        Report.update(status=status).where(Report.number == a["number"]).execute()
        resp = client.post(f"/api/v1/reports/{a['number']}/support", headers=fan["headers"])
        assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "invalid_transition", status
    assert ReportSupport.select().count() == 0
    # Someone else's report stays hidden from a resident who does not follow it.
    Report.update(status="pending").where(Report.number == a["number"]).execute()
    assert client.get(f"/api/v1/reports/{a['number']}", headers=fan["headers"]).status_code == 404


def test_twenty_residents_pressing_at_once_count_twenty(tongxin, client, residents, app):  # noqa: F811
    owner = residents.login()
    a = _submit(client, owner)
    fans = [residents.login() for _ in range(20)]
    barrier = threading.Barrier(len(fans))
    answers: list[int] = []

    def press(fan):
        barrier.wait()
        for _ in range(2):  # each presses twice
            r = requests.post(f"{tongxin.base_url}/api/v1/reports/{a['number']}/support",
                              headers=fan["headers"], timeout=30)
            answers.append(r.status_code)

    threads = [threading.Thread(target=press, args=(f,)) for f in fans]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * 40
    database.connect(reuse_if_open=True)
    report = Report.get(Report.number == a["number"])
    assert report.supporters == 20
    assert ReportSupport.select().where(ReportSupport.report == report.id).count() == 20
    assert TimelineEntry.select().where(TimelineEntry.report == report.id).count() == 1  # presses are no steps
