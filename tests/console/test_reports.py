"""The report queue: filters, search, scope, detail, actions through the lifecycle (seen by
the resident), completion photos, reporter masking and audited reveals."""
from __future__ import annotations

import io
from datetime import timedelta

from PIL import Image

from miniapp_api.models import Report
from miniapp_api.models import ReportPhoto
from miniapp_api.models import TimelineEntry
from miniapp_api.models import utcnow
from miniapp_api.models.console import AuditEntry
from tests.conftest import report_body
from tests.factories import make_report


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(buf, "JPEG")
    return buf.getvalue()


def test_queue_filters_and_search(console, db):
    a = make_report(description="垃圾堆放三天", category="sanitation")
    b = make_report("accepted", description="路灯不亮", category="streetlight", township="yongning")
    old = make_report(description="很久以前的井盖", now=utcnow() - timedelta(days=10))
    c = console("county")
    body = c.text("/console/reports")
    assert a.number in body and b.number in body and old.number in body
    body = c.text("/console/reports?township=yongning")
    assert b.number in body and a.number not in body
    body = c.text("/console/reports?status=accepted")
    assert b.number in body and a.number not in body
    body = c.text("/console/reports?category=sanitation")
    assert a.number in body and b.number not in body
    body = c.text("/console/reports?overdue=1")
    assert old.number in body and a.number not in body
    body = c.text("/console/reports?q=路灯")
    assert b.number in body and a.number not in body
    body = c.text(f"/console/reports?q={a.number}")
    assert a.number in body and b.number not in body
    body = c.text("/console/reports?q=%25")  # a LIKE wildcard is just a character
    assert "没有符合条件的上报" in body
    assert c.get("/console/reports?status=bogus&page=x").status_code == 200


def test_unit_admin_sees_only_their_unit(console, db):
    own = make_report()
    other = make_report(township="yongning")
    c = console("ys_admin")
    body = c.text("/console/reports")
    assert own.number in body and other.number not in body
    body = c.text("/console/reports?township=yongning")
    assert other.number not in body
    assert c.get(f"/console/reports/{other.number}").status_code == 404
    assert c.post(f"/console/reports/{other.number}/act", {"action": "accept"}).status_code == 404
    assert Report.get_by_id(other.id).status == "pending"


def test_detail_shows_timeline_and_masks_the_reporter(console, db):
    r = make_report(description="井盖丢失很危险")
    body = console("county").text(f"/console/reports/{r.number}")
    assert "井盖丢失很危险" in body and "上报" in body and "居民(已实名)" in body
    assert r.resident.openid not in body
    anon = make_report(anonymous=True)
    body = console("county").text(f"/console/reports/{anon.number}")
    assert "匿名" in body and "查看身份" not in body


def test_act_through_the_lifecycle_and_the_resident_sees_it(console, client, resident, db):
    resp = client.post("/api/v1/reports", json=report_body(), headers=resident["headers"])
    number = resp.get_json()["number"]
    c = console("ys_admin")
    resp = c.post(f"/console/reports/{number}/act", {"action": "accept", "text": "马上处理"})
    assert resp.status_code == 302
    seen = client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()
    assert seen["status"] == "accepted"
    last = seen["timeline"][-1]
    assert last["channel"] == "console" and last["actor"] == {"kind": "admin", "name": "永盛管理员"}
    resp = c.post(f"/console/reports/{number}/act", {"action": "resolve", "text": "已清理干净"},
                  content_type="multipart/form-data")
    assert resp.status_code == 302
    seen = client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()
    assert seen["status"] == "resolved" and seen["reply"] == "已清理干净"
    assert AuditEntry.select().where(AuditEntry.action.in_(["report.accept", "report.resolve"])).count() == 2


def test_resolve_with_a_completion_photo(console, client, resident, db):
    number = client.post("/api/v1/reports", json=report_body(), headers=resident["headers"]).get_json()["number"]
    c = console("county")
    c.post(f"/console/reports/{number}/act", {"action": "accept"})
    resp = c.post(f"/console/reports/{number}/act",
                  {"action": "resolve", "text": "已修好", "photo": (io.BytesIO(jpeg()), "done.jpg")},
                  content_type="multipart/form-data")
    assert resp.status_code == 302
    seen = client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()
    assert seen["photos"] == [] and len(seen["completion_photos"]) == 1 and "附办结照片" in seen["timeline"][-1]["note"]
    body = c.text(f"/console/reports/{number}")
    assert "办结照片" in body


def test_bad_photo_is_refused_and_changes_nothing(console, db):
    r = make_report("accepted")
    c = console("county")
    resp = c.post(f"/console/reports/{r.number}/act",
                  {"action": "resolve", "text": "已修好", "photo": (io.BytesIO(b"not an image"), "x.jpg")},
                  content_type="multipart/form-data")
    assert resp.status_code == 422 and "照片无法使用" in resp.get_data(as_text=True)
    assert Report.get_by_id(r.id).status == "accepted"
    assert ReportPhoto.select().count() == 0


def test_reject_and_transfer(console, db):
    r1 = make_report()
    r2 = make_report()
    c = console("county")
    resp = c.post(f"/console/reports/{r1.number}/act", {"action": "reject", "text": ""})
    assert resp.status_code == 422 and "驳回要填写理由" in resp.get_data(as_text=True)
    assert Report.get_by_id(r1.id).status == "pending"
    assert c.post(f"/console/reports/{r1.number}/act", {"action": "reject", "text": "不属于受理范围"}).status_code == 302
    assert Report.get_by_id(r1.id).reply == "不属于受理范围"
    resp = c.post(f"/console/reports/{r2.number}/act", {"action": "transfer", "department": "nope"})
    assert resp.status_code == 422 and "请选择要转办的部门" in resp.get_data(as_text=True)
    assert c.post(f"/console/reports/{r2.number}/act", {"action": "transfer", "department": "chengguan"}).status_code == 302
    r2 = Report.get_by_id(r2.id)
    assert r2.status == "transferred" and r2.department.code == "chengguan"
    assert TimelineEntry.select().where((TimelineEntry.report == r2) & (TimelineEntry.channel == "console")).count() == 1


def test_invalid_transition_is_explained(console, db):
    r = make_report("closed")
    c = console("county")
    resp = c.post(f"/console/reports/{r.number}/act", {"action": "accept"})
    assert resp.status_code == 422 and "不能受理" in resp.get_data(as_text=True)
    resp = c.post(f"/console/reports/{r.number}/act", {"action": "explode"})
    assert resp.status_code == 422
    resp = c.post(f"/console/reports/{r.number}/act", {"action": "accept", "text": "x" * 501})
    assert resp.status_code == 422 and "最多 500" in resp.get_data(as_text=True)


def test_reveal_is_audited_and_limited(console, db):
    r = make_report()
    anon = make_report(anonymous=True)
    c = console("ys_admin")
    resp = c.post(f"/console/reports/{r.number}/reveal")
    assert resp.status_code == 200 and r.resident.openid in resp.get_data(as_text=True)
    entry = AuditEntry.get(AuditEntry.action == "report.reveal_reporter")
    assert entry.actor == "ys_admin" and entry.target == f"report:{r.number}"
    # Not shown again without a new (audited) reveal.
    assert r.resident.openid not in c.text(f"/console/reports/{r.number}")
    resp = c.post(f"/console/reports/{anon.number}/reveal")
    assert resp.status_code == 403 and anon.resident.openid not in resp.get_data(as_text=True)
    aud = console("auditor")
    assert "查看身份" not in aud.text(f"/console/reports/{r.number}")
    resp = aud.post(f"/console/reports/{r.number}/reveal")
    assert resp.status_code == 403 and r.resident.openid not in resp.get_data(as_text=True)
    assert console("yn_admin").post(f"/console/reports/{r.number}/reveal").status_code == 404
    assert AuditEntry.select().where(AuditEntry.action == "report.reveal_reporter").count() == 1


def test_unknown_and_malformed_numbers(console):
    c = console("county")
    assert c.get("/console/reports/R000000-9999").status_code == 404
    assert c.get("/console/reports/" + "x" * 40).status_code == 404
    assert "找不到" in c.get("/console/reports/bad!number").get_data(as_text=True)
