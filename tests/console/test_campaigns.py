"""Campaigns in the console over HTTP, on SQLite and PostgreSQL: create and change them,
refusals that make no sense (an end before the start, completing before the start, a capacity
below the confirmed sign-ups), hours that follow the campaign's time, sign-ups from residents
through the API, no-shows, completion, the printed check-in code, CSV exports; who may do what."""
from __future__ import annotations

import re
from datetime import timedelta

from miniapp_api.campaigns import checkin as codes
from miniapp_api.db import database
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Signup
from miniapp_api.models.community import VolunteerHours
from miniapp_api.models.console import AuditEntry
from miniapp_api.time import LOCAL_TZ
from tests.community.conftest import org  # noqa: F401  (fixtures)
from tests.community.conftest import people  # noqa: F401
from tests.community.conftest import templates  # noqa: F401
from tests.console.test_notices import local_input as at

NUMBER = re.compile(r"/console/campaigns/(V\d{4})")
SECRET = "test-secret-key-0123456789abcdef"  # tests.conftest: server.secret_key


def form(**fields) -> dict:
    body = {"title": "清理河道", "description": "带手套", "scope": "township:yongsheng",
            "starts_at": at(timedelta(days=1)), "ends_at": at(timedelta(days=1, hours=3)), "capacity": "2",
            "place_name": "东风桥", "lat": "43.345", "lng": "125.305", "radius_m": "300"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def create(c, **fields) -> str:
    resp = c.post("/console/campaigns/new", form(**fields))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
    return NUMBER.search(resp.headers["Location"]).group(1)


def campaign(number: str) -> Campaign:
    database.connect(reuse_if_open=True)
    return Campaign.get(Campaign.number == number)


def test_create_and_edit_and_hours_follow_the_time(console, db, client):
    c = console("county")
    number = create(c)
    made = campaign(number)
    assert (made.capacity, made.radius_m, made.hours, made.place_name) == (2, 300, 3.0, "东风桥")
    assert "清理河道" in c.text("/console/campaigns") and "每位签到志愿者 3 小时" in c.text(f"/console/campaigns/{number}")
    edit = c.text(f"/console/campaigns/{number}/edit")
    start = re.search(r'name="starts_at" value="([^"]+)"', edit).group(1)
    # 65 minutes: 1.08 h, not the 3 h of the first time.
    end = (made.starts_at + timedelta(minutes=65)).astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")
    resp = c.post(f"/console/campaigns/{number}/edit", form(starts_at=start, ends_at=end, hours="3", scope=None))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    assert campaign(number).hours == 1.08
    api = c.get(f"/api/v1/admin/campaigns/{number}")  # the admin API, with the console's session
    assert api.status_code == 200 and api.get_json()["hours"] == 1.08
    resp = c.post(f"/console/campaigns/{number}/edit", form(starts_at=start, ends_at=end, hours="0.5", scope=None))
    assert resp.status_code == 302 and campaign(number).hours == 0.5  # explicit hours stay
    assert AuditEntry.select().where(AuditEntry.action == "campaign.update").count() == 2


def test_refusals_that_make_no_sense(console, db, people, org):  # noqa: F811
    c = console("county")
    backwards = c.post("/console/campaigns/new", form(ends_at=at(timedelta(hours=20))))
    assert backwards.status_code == 422 and "结束时间应晚于开始时间" in backwards.get_data(as_text=True)
    assert Campaign.select().count() == 0
    number = create(c)
    early = c.post(f"/console/campaigns/{number}/complete")
    assert early.status_code == 409 and "开始前不能结束" in early.get_data(as_text=True)
    assert campaign(number).status == "published"
    api = c.client.post(f"/api/v1/admin/campaigns/{number}/complete", headers={"X-CSRFToken": c.token})
    assert api.status_code == 409 and api.get_json()["error"]["code"] == "campaign_not_started"
    for _ in range(2):
        who = people.at(org["东风一网格"])
        assert people.client.post(f"/api/v1/campaigns/{number}/signup", json={}, headers=who["headers"]).status_code == 201
    shrink = c.post(f"/console/campaigns/{number}/edit", form(capacity="1", scope=None))
    assert shrink.status_code == 409 and "名额不能少于 2" in shrink.get_data(as_text=True)
    assert campaign(number).capacity == 2
    bad = c.post(f"/console/campaigns/{number}/edit", form(radius_m="5", lat="200", scope=None))
    assert bad.status_code == 422
    no_show_early = c.post(f"/console/campaigns/{number}/no-show", {"signup": "1", "absent": "1"})
    assert no_show_early.status_code == 409 and "活动开始后" in no_show_early.get_data(as_text=True)
    assert c.post(f"/console/campaigns/{number}/cancel", {"reason": ""}).status_code == 422
    assert campaign(number).status == "published"


def test_fill_check_in_no_show_complete_and_export(console, db, people, org, client):  # noqa: F811
    c = console("ys_admin")
    number = create(c, starts_at=at(timedelta(minutes=-30)), ends_at=at(timedelta(minutes=35)), capacity="2")
    volunteers = [people.at(org["东风一网格"]) for _ in range(3)]
    names = ["=HYPERLINK(1)", "李四", "王五"]
    answers = [client.post(f"/api/v1/campaigns/{number}/signup", json={"name": n, "phone": "13912345678"},
                           headers=v["headers"]).get_json() for v, n in zip(volunteers, names)]
    answers = [a.get("status", a) for a in answers]
    assert answers == ["confirmed", "confirmed", "waitlisted"]
    poster = c.text(f"/console/campaigns/{number}/poster")
    assert "<svg" in poster and "扫码签到" in poster
    printed = codes.qr_text(number, codes.print_code(SECRET, number, campaign(number).starts_at))
    checked = client.post(f"/api/v1/campaigns/{number}/checkin", json={"code": printed, "lat": 43.3451, "lng": 125.3052},
                          headers=volunteers[0]["headers"])
    assert checked.status_code == 200, checked.get_json()
    wrong = client.post(f"/api/v1/campaigns/{number}/checkin", json={"code": f"TXC:{number}:0123456789",
                                                                     "lat": 43.3451, "lng": 125.3052},
                        headers=volunteers[1]["headers"])
    assert wrong.status_code == 422 and wrong.get_json()["error"]["code"] == "checkin_code_invalid"
    detail = c.text(f"/console/campaigns/{number}")
    assert "已报名 2/2，候补 1，已签到 1" in detail and "139****5678" in detail and "13912345678" not in detail
    absent = Signup.get((Signup.resident == Signup.select(Signup.resident).where(Signup.name == "李四")) &
                        (Signup.campaign == campaign(number)))
    assert c.post(f"/console/campaigns/{number}/no-show", {"signup": str(absent.id), "absent": "1"}).status_code == 302
    assert Signup.get_by_id(absent.id).status == "no_show"
    mine = client.get("/api/v1/me/signups", headers=volunteers[1]["headers"]).get_json()["items"][0]
    assert mine["my_signup"]["status"] == "no_show"
    again = client.post(f"/api/v1/campaigns/{number}/signup", json={}, headers=volunteers[1]["headers"])
    assert again.status_code == 409  # still on the roster, no second place
    signups = c.get(f"/console/campaigns/{number}/signups.csv")
    text = signups.get_data(as_text=True)
    assert signups.status_code == 200 and signups.mimetype == "text/csv"
    assert "'=HYPERLINK" in text and "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text
    assert "未到" in text and "候补" in text and "13912345678" not in text
    assert c.post(f"/console/campaigns/{number}/complete").status_code == 302
    done = campaign(number)
    assert done.status == "completed"
    assert [(h.resident_id, h.hours) for h in VolunteerHours.select()] == [(Signup.get(Signup.name == names[0]).resident_id,
                                                                           done.hours)]
    ledger = c.get("/console/campaigns/hours.csv").get_data(as_text=True)
    assert number in ledger and "'=HYPERLINK" in ledger and f",{done.hours:g}," in ledger
    assert AuditEntry.select().where(AuditEntry.action == "campaign.export").count() == 2
    assert c.post(f"/console/campaigns/{number}/complete").status_code == 409


def test_scope_of_units_and_auditors(console, db):
    ys_number = create(console("ys_admin"))
    yn = console("yn_admin")
    assert ys_number not in yn.text("/console/campaigns")
    for path in ("", "/edit", "/poster", "/signups.csv"):
        assert yn.get(f"/console/campaigns/{ys_number}{path}").status_code == 404, path
    assert yn.post(f"/console/campaigns/{ys_number}/cancel", {"reason": "x"}).status_code == 404
    assert yn.post("/console/campaigns/new", form()).status_code == 403
    new = yn.text("/console/campaigns/new")
    assert "township:yongning" in new and "township:yongsheng" not in new
    assert ys_number not in yn.get("/console/campaigns/hours.csv").get_data(as_text=True)
    a = console("auditor")
    assert ys_number in a.text(f"/console/campaigns/{ys_number}")
    assert a.get("/console/campaigns/new").status_code == 403
    assert a.post(f"/console/campaigns/{ys_number}/cancel", {"reason": "x"}).status_code == 403
    assert a.get(f"/console/campaigns/{ys_number}/edit").status_code == 403
    assert campaign(ys_number).status == "published" and Campaign.select().count() == 1
    c = console("county")
    assert c.post("/console/campaigns/new", form(), csrf=False).status_code == 400
    assert c.post("/console/campaigns/new", form(capacity="lots")).status_code == 422
    assert c.post("/console/campaigns/new", form(report="R000000-0000")).status_code == 404
    assert Campaign.select().count() == 1
