"""Campaigns through HTTP: scope, sign-up, waitlist and promotion (with the subscribe message
at the fake WeChat), check-in and its errors, hours, leaderboard, linked reports."""
from __future__ import annotations

from datetime import timedelta

import pytest

from miniapp_api.campaigns import checkin as codes
from miniapp_api.db import database
from miniapp_api.models import utcnow
from miniapp_api.models.community import Campaign
from tests.community.conftest import COUNTY
from tests.community.conftest import unit_admin
from tests.community.conftest import wechat_messages
from tests.conftest import report_body

SECRET = "test-secret-key-0123456789abcdef"  # tests.conftest settings: server.secret_key
PERIOD = 60
PLACE = {"name": "人民大街 18 号", "lat": 43.345, "lng": 125.305}


def create(client, scope: dict, *, headers=COUNTY, start_in=timedelta(hours=-1), hours=3, **fields) -> dict:
    start = utcnow() + start_in
    body = {"title": "清理小区垃圾", "description": "带手套", "place": PLACE, "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=hours)).isoformat(), "capacity": 2, "scope": scope,
            "skills": ["体力"], **fields}
    resp = client.post("/api/v1/admin/campaigns", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def code_now(number: str, slots_ago: int = 0) -> str:
    return codes.code_for(SECRET, number, codes.slot_of(utcnow(), PERIOD) - slots_ago)


def sign_up(client, who, number: str, **body):
    return client.post(f"/api/v1/campaigns/{number}/signup", json=body, headers=who["headers"])


def check_in(client, who, number: str, code: str, lat=43.3451, lng=125.3052):
    body = {"code": code} | ({"lat": lat, "lng": lng} if lat is not None else {})
    return client.post(f"/api/v1/campaigns/{number}/checkin", json=body, headers=who["headers"])


def test_scope_of_lists(client, people, org):
    inside, other_grid, other_unit = people.at(org["东风一网格"]), people.at(org["东风二网格"]), people.at(org["南山一网格"])
    nobody = people.residents.login()  # no home place yet
    grid = create(client, {"level": "grid", "grid": org["东风一网格"]})["number"]
    unit = create(client, {"level": "township", "township": "yongsheng"})["number"]

    def listed(who):
        return [c["number"] for c in client.get("/api/v1/campaigns", headers=who["headers"]).get_json()["items"]]

    assert listed(inside) == [unit, grid]
    assert listed(other_grid) == [unit]
    assert listed(other_unit) == [] and listed(nobody) == []
    assert client.get(f"/api/v1/campaigns/{grid}", headers=other_grid["headers"]).status_code == 404
    assert sign_up(client, other_unit, unit).status_code == 404


def test_signup_waitlist_cancel_and_promotion_notifies(client, people, org, fake_wechat, run):
    a, b, c = (people.at(org["东风一网格"]) for _ in range(3))
    people.consent(c, "tmpl-campaign")
    n = create(client, {"level": "grid", "grid": org["东风一网格"]}, start_in=timedelta(days=2))["number"]
    assert sign_up(client, a, n, name="张三", phone="13912345678").get_json()["status"] == "confirmed"
    assert sign_up(client, b, n).status_code == 201
    waiting = sign_up(client, c, n, name="李四")
    assert waiting.status_code == 201 and waiting.get_json() == {**waiting.get_json(), "status": "waitlisted",
                                                                 "position": 1}
    twice = sign_up(client, a, n)
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "already_signed_up"
    detail = client.get(f"/api/v1/campaigns/{n}", headers=c["headers"]).get_json()
    assert (detail["taken"], detail["capacity"], detail["waitlisted"]) == (2, 2, 1)
    assert detail["my_signup"]["status"] == "waitlisted"
    # A cancels: C moves up and is told by subscribe message.
    resp = client.delete(f"/api/v1/campaigns/{n}/signup", headers=a["headers"])
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    assert client.get(f"/api/v1/campaigns/{n}", headers=c["headers"]).get_json()["my_signup"]["status"] == "confirmed"
    run()
    [msg] = wechat_messages(fake_wechat, "tmpl-campaign")
    assert msg["touser"] == c["openid"] and msg["data"]["thing1"] == "清理小区垃圾"
    assert "候补" in msg["data"]["thing4"] and msg["page"] == f"pages/campaign/detail?number={n}"
    # B cancels with nobody waiting: the place is free again; A may come back.
    client.delete(f"/api/v1/campaigns/{n}/signup", headers=b["headers"])
    assert client.get(f"/api/v1/campaigns/{n}", headers=a["headers"]).get_json()["taken"] == 1
    assert sign_up(client, a, n).get_json()["status"] == "confirmed"
    gone = client.delete(f"/api/v1/campaigns/{n}/signup", headers=b["headers"])
    assert gone.status_code == 404 and gone.get_json()["error"]["code"] == "signup_not_found"
    mine = client.get("/api/v1/me/signups", headers=b["headers"]).get_json()["items"]
    assert mine[0]["number"] == n and mine[0]["my_signup"]["status"] == "cancelled"


def test_larger_capacity_promotes_the_waitlist(client, people, org):
    n = create(client, {"level": "grid", "grid": org["东风一网格"]}, capacity=1, start_in=timedelta(days=1))["number"]
    first, second = people.at(org["东风一网格"]), people.at(org["东风一网格"])
    sign_up(client, first, n)
    assert sign_up(client, second, n).get_json()["status"] == "waitlisted"
    smaller = client.patch(f"/api/v1/admin/campaigns/{n}", json={"capacity": 1}, headers=COUNTY)
    assert smaller.status_code == 200
    resp = client.patch(f"/api/v1/admin/campaigns/{n}", json={"capacity": 3, "title": "新名称"}, headers=COUNTY)
    assert resp.status_code == 200 and resp.get_json()["taken"] == 2 and resp.get_json()["title"] == "新名称"
    assert client.get(f"/api/v1/campaigns/{n}", headers=second["headers"]).get_json()["my_signup"]["status"] == "confirmed"
    too_small = client.patch(f"/api/v1/admin/campaigns/{n}", json={"capacity": 1}, headers=COUNTY)
    assert too_small.status_code == 409 and too_small.get_json()["error"]["code"] == "capacity_below_signups"


def test_checkin_errors_are_clear(client, people, org):
    volunteer, waiting, stranger = (people.at(org["东风一网格"]) for _ in range(3))
    n = create(client, {"level": "grid", "grid": org["东风一网格"]}, capacity=1)["number"]
    sign_up(client, volunteer, n)
    sign_up(client, waiting, n)

    def err(resp, status, code):
        assert resp.status_code == status, resp.get_json()
        assert resp.get_json()["error"]["code"] == code
        return resp.get_json()["error"]["message"]

    err(check_in(client, stranger, n, code_now(n)), 403, "not_signed_up")
    assert "候补" in err(check_in(client, waiting, n, code_now(n)), 403, "not_signed_up")
    wrong = "000000" if code_now(n) != "000000" else "000001"
    err(check_in(client, volunteer, n, wrong), 422, "checkin_code_invalid")
    err(check_in(client, volunteer, n, "12ab"), 422, "checkin_code_invalid")
    err(check_in(client, volunteer, n, f"TXC:V9999:{code_now(n)}"), 422, "checkin_code_invalid")  # another campaign's QR
    assert "过期" in err(check_in(client, volunteer, n, code_now(n, slots_ago=3)), 422, "checkin_code_expired")
    assert "米" in err(check_in(client, volunteer, n, code_now(n), lat=43.36, lng=125.305), 422, "checkin_too_far")
    err(check_in(client, volunteer, n, code_now(n), lat=None), 422, "validation_failed")
    ok = check_in(client, volunteer, n, code_now(n, slots_ago=1))  # the previous slot's code still works
    assert ok.status_code == 200 and ok.get_json()["distance_m"] < 30
    err(check_in(client, volunteer, n, code_now(n)), 409, "already_checked_in")
    err(client.delete(f"/api/v1/campaigns/{n}/signup", headers=volunteer["headers"]), 409, "already_checked_in")


def test_checkin_only_inside_the_window(client, people, org):
    who = people.at(org["东风一网格"])
    later = create(client, {"level": "grid", "grid": org["东风一网格"]}, start_in=timedelta(hours=5))["number"]
    sign_up(client, who, later)
    resp = check_in(client, who, later, code_now(later))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "checkin_not_open"
    assert "起可以签到" in resp.get_json()["error"]["message"]
    over = create(client, {"level": "grid", "grid": org["东风一网格"]}, start_in=timedelta(minutes=-30), hours=1)["number"]
    sign_up(client, who, over)
    database.connect(reuse_if_open=True)
    Campaign.update(ends_at=utcnow() - timedelta(minutes=1)).where(Campaign.number == over).execute()
    resp = check_in(client, who, over, code_now(over))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "checkin_closed"


def test_no_place_means_no_radius(client, people, org):
    who = people.at(org["东风一网格"])
    n = create(client, {"level": "township", "township": "yongsheng"}, place=None)["number"]
    sign_up(client, who, n)
    resp = check_in(client, who, n, code_now(n), lat=None)
    assert resp.status_code == 200 and resp.get_json()["distance_m"] is None


def test_checkin_code_endpoint_qr_and_page(client, people, org):
    n = create(client, {"level": "grid", "grid": org["东风一网格"]})
    info = client.get(f"/api/v1/admin/campaigns/{n['number']}/checkin-code", headers=COUNTY).get_json()
    assert info["code"] == code_now(n["number"]) and info["qr_text"] == f"TXC:{n['number']}:{info['code']}"
    svg = client.get(f"/api/v1/admin/campaigns/{n['number']}/checkin-qr", headers=COUNTY)
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    png = client.get(f"/api/v1/admin/campaigns/{n['number']}/checkin-qr?format=png", headers=COUNTY)
    assert png.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get(f"/api/v1/admin/campaigns/{n['number']}/checkin-code",
                      headers=unit_admin("yongning")).status_code == 404
    page = client.get(n["checkin_page_url"].replace("https://tongxin.test", ""))
    assert page.status_code == 200 and info["code"] in page.get_data(as_text=True)
    who = people.at(org["东风一网格"])
    sign_up(client, who, n["number"])
    assert check_in(client, who, n["number"], info["qr_text"]).status_code == 200  # the scanned QR text


def test_completion_credits_hours_and_resolves_the_report(client, people, org, resident, fake_wechat, run):
    number = client.post("/api/v1/reports", json=report_body(), headers=resident["headers"]).get_json()["number"]
    c = create(client, {"level": "grid", "grid": org["东风一网格"]}, report=number, capacity=3, hours=2,
               title=None, place=None)
    assert c["report"] == number and c["title"].startswith("志愿协助") and c["place"]["lat"] == pytest.approx(43.345)
    timeline = client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()
    assert timeline["status"] == "accepted" and "发起志愿活动" in timeline["timeline"][-1]["note"]
    twice = client.post("/api/v1/admin/campaigns", json={"report": number}, headers=COUNTY)
    assert twice.status_code == 409 and twice.get_json()["error"]["code"] == "report_not_suitable"
    volunteers = [people.at(org["东风一网格"]) for _ in range(3)]
    for v in volunteers:
        sign_up(client, v, c["number"], name="王五")
    for v in volunteers[:2]:
        assert check_in(client, v, c["number"], code_now(c["number"])).status_code == 200
    done = client.post(f"/api/v1/admin/campaigns/{c['number']}/complete", headers=COUNTY)
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    assert client.post(f"/api/v1/admin/campaigns/{c['number']}/complete", headers=COUNTY).status_code == 409
    report = client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()
    assert report["status"] == "resolved" and "由志愿者协助办结" in report["reply"]
    assert report["timeline"][-1]["action"] == "resolve" and "2 名志愿者" in report["timeline"][-1]["note"]
    hours = client.get("/api/v1/me/volunteer-hours", headers=volunteers[0]["headers"]).get_json()
    assert hours["total_hours"] == 2 and hours["items"][0]["campaign"] == c["number"]
    assert client.get("/api/v1/me/volunteer-hours", headers=volunteers[2]["headers"]).get_json()["total_hours"] == 0
    board = client.get("/api/v1/campaigns/leaderboard", headers=volunteers[0]["headers"]).get_json()
    assert board["township"]["code"] == "yongsheng"
    assert [(i["rank"], i["name"], i["hours"]) for i in board["items"]] == [(1, "王*", 2.0), (2, "王*", 2.0)]
    assert board["me"]["hours"] == 2.0
    assert client.get("/api/v1/campaigns/leaderboard", headers=volunteers[2]["headers"]).get_json()["me"] is None
    other = client.get("/api/v1/campaigns/leaderboard?township=yongning", headers=resident["headers"]).get_json()
    assert other["items"] == []
    assert client.get("/api/v1/campaigns/leaderboard", headers=resident["headers"]).status_code == 404  # no home


def test_campaign_needs_a_suitable_report(client, resident, org):
    number = client.post("/api/v1/reports", json=report_body(), headers=resident["headers"]).get_json()["number"]
    from miniapp_api.reports import lifecycle
    from miniapp_api.models import Report
    from tests.factories import OFFICIAL

    database.connect(reuse_if_open=True)
    lifecycle.apply(Report.get(Report.number == number), "reject", OFFICIAL, utcnow(), note="不属实")
    resp = client.post("/api/v1/admin/campaigns", json={"report": number}, headers=COUNTY)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "report_not_suitable"
    assert "不予受理" in resp.get_json()["error"]["message"]
    missing = client.post("/api/v1/admin/campaigns", json={"report": "R000000-0000"}, headers=COUNTY)
    assert missing.status_code == 404
    other_unit = client.post("/api/v1/admin/campaigns", json={"report": number}, headers=unit_admin("yongning"))
    assert other_unit.status_code == 403


def test_cancelled_campaign_tells_everyone(client, people, org, fake_wechat, fake_dingtalk, run):
    who = people.at(org["东风一网格"])
    people.consent(who, "tmpl-campaign")
    n = create(client, {"level": "grid", "grid": org["东风一网格"]}, start_in=timedelta(days=3))["number"]
    sign_up(client, who, n)
    resp = client.post(f"/api/v1/admin/campaigns/{n}/cancel", json={"reason": "暴雨"}, headers=COUNTY)
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    assert sign_up(client, people.at(org["东风一网格"]), n).get_json()["error"]["code"] == "campaign_cancelled"
    run()
    assert "取消" in wechat_messages(fake_wechat, "tmpl-campaign")[0]["data"]["thing4"]
    texts = [m["text"] for m in fake_dingtalk.state.messages("cid-yongsheng")]
    assert "战地有我" in texts[0] and "活动已取消" in texts[-1] and "暴雨" in texts[-1]


@pytest.mark.parametrize("body,field", [
    ({"title": "t", "scope": {"level": "grid"}, "starts_at": "2099-01-01T09:00", "ends_at": "2099-01-01T12:00",
      "capacity": 5}, "scope.grid"),
    ({"title": "t", "scope": {"level": "township", "township": "yongsheng"}, "starts_at": "2099-01-01T09:00",
      "ends_at": "2099-01-01T08:00", "capacity": 5}, "ends_at"),
    ({"title": "t", "scope": {"level": "township", "township": "yongsheng"}, "ends_at": "2099-01-01T08:00"},
     "starts_at"),
    ({"title": "t", "scope": {"level": "township", "township": "yongsheng"}, "starts_at": "2099-01-01T09:00",
      "ends_at": "2099-01-01T12:00", "capacity": 0}, "capacity"),
    ({"title": "t", "starts_at": "2099-01-01T09:00", "ends_at": "2099-01-01T12:00"}, "scope"),
    ({"title": "t", "scope": {"level": "township", "township": "yongsheng"}, "starts_at": "2099-01-01T09:00",
      "ends_at": "2099-01-01T12:00", "place": {"lat": 100, "lng": 1}}, "place.lat"),
])
def test_bad_campaign_is_422(client, org, body, field):
    resp = client.post("/api/v1/admin/campaigns", json=body, headers=COUNTY)
    assert resp.status_code == 422, resp.get_json()
    assert resp.get_json()["error"]["field"] == field
