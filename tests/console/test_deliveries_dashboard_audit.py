"""Deliveries (dead letters, re-queue, discard), the dashboard and the emergency switch, and
the append-only audit log (view, filter, CSV, no edit or delete anywhere)."""
from __future__ import annotations

import peewee
import pytest

from miniapp_api.models import Delivery
from miniapp_api.models import Township
from miniapp_api.models.console import AppendOnlyError
from miniapp_api.models.console import AuditEntry
from miniapp_api.models.deadlines import EmergencySwitch
from tests.factories import make_report


def dead(target="dingtalk:township:yongsheng", error="dingtalk 300001: token is not exist") -> Delivery:
    return Delivery.create(channel="dingtalk", target=target, state="dead", attempts=10, last_error=error,
                           last_errcode="300001")


def test_dead_deliveries_with_their_errors(console, db):
    d = dead()
    body = console("county").text("/console/deliveries")
    assert "token is not exist" in body and "dingtalk:township:yongsheng" in body and f">{d.id}<" in body


def test_requeue_and_discard_are_audited(console, db):
    d1, d2 = dead(), dead()
    c = console("county")
    resp = c.post("/console/deliveries/requeue", {"ids": [str(d1.id)]})
    assert resp.status_code == 302
    d1 = Delivery.get_by_id(d1.id)
    assert (d1.state, d1.attempts) == ("pending", 0)
    resp = c.post("/console/deliveries/discard", {"ids": [str(d2.id)]})
    assert resp.status_code == 302 and Delivery.get_by_id(d2.id).state == "discarded"
    assert "丢弃" in Delivery.get_by_id(d2.id).last_error
    assert [e.action for e in AuditEntry.select().where(AuditEntry.action.startswith("delivery."))
            .order_by(AuditEntry.id)] == ["delivery.requeue", "delivery.discard"]
    resp = c.post("/console/deliveries/requeue", {"ids": [str(d2.id)]})  # discarded: not dead any more
    assert resp.status_code == 422 and "没有可处理的投递" in resp.get_data(as_text=True)
    resp = c.post("/console/deliveries/requeue", {})
    assert resp.status_code == 422 and "请勾选" in resp.get_data(as_text=True)


def test_requeue_all_dead_of_a_target(console, db):
    for _ in range(3):
        dead()
    other = dead("dingtalk:township:yongning")
    resp = console("county").post("/console/deliveries/requeue", {"target": "dingtalk:township:yongsheng"})
    assert resp.status_code == 302
    assert Delivery.select().where(Delivery.state == "pending").count() == 3
    assert Delivery.get_by_id(other.id).state == "dead"


def test_unit_admin_acts_only_on_their_unit(console, db):
    own, other = dead(), dead("dingtalk:township:yongning")
    c = console("ys_admin")
    body = c.text("/console/deliveries")
    assert "dingtalk:township:yongsheng" in body and "dingtalk:township:yongning" not in body
    resp = c.post("/console/deliveries/requeue", {"ids": [str(other.id)]})
    assert resp.status_code == 422 and Delivery.get_by_id(other.id).state == "dead"
    assert c.post("/console/deliveries/requeue", {"ids": [str(own.id)]}).status_code == 302
    assert console("auditor").post("/console/deliveries/discard", {"ids": [str(other.id)]}).status_code == 403


def test_dashboard_numbers(console, db):
    make_report()
    make_report("accepted")
    make_report("closed", rating_score=5)
    make_report(township="yongning")
    body = console("county").text("/console/")
    assert "各单位办理情况" in body and "chart-data" in body and "vendor/chart.umd.min.js" in body
    assert "永盛街道" in body and "永宁街道" in body
    unit = console("yn_admin").text("/console/?period=all")
    assert "永宁街道" in unit and "永盛街道" not in unit
    assert console("county").get("/console/?period=bogus").status_code == 200


def test_chart_library_is_served_locally(console):
    c = console("county")
    resp = c.get("/console/static/vendor/chart.umd.min.js")
    assert resp.status_code == 200 and b"Chart" in resp.data[:2000]
    assert c.get("/console/static/vendor/chart.js.LICENSE.md").status_code == 200
    body = c.text("/console/")
    assert "http://" not in body.replace("http://www.w3.org", "") and "https://cdn" not in body


def test_emergency_switch_needs_confirmation(console, db):
    c = console("county")
    resp = c.post("/console/emergency", {"township": "yongsheng", "on": "1"})
    assert resp.status_code == 200 and "确认切换" in resp.get_data(as_text=True)
    assert Township.get(Township.code == "yongsheng").emergency is False
    resp = c.post("/console/emergency", {"township": "yongsheng", "on": "1", "confirm": "yes"})
    assert resp.status_code == 302
    assert Township.get(Township.code == "yongsheng").emergency is True
    entry = AuditEntry.get(AuditEntry.action == "emergency.on")
    assert entry.township == "yongsheng" and entry.before == {"emergency": False}
    assert "应急" in c.text("/console/")
    resp = c.post("/console/emergency", {"township": "", "on": "1", "confirm": "yes"})
    assert resp.status_code == 302
    assert EmergencySwitch.select().where(EmergencySwitch.scope == "county").first().on is True


def test_emergency_switch_scope(console, db):
    assert console("yn_admin").post("/console/emergency", {"township": "yongsheng", "on": "1", "confirm": "yes"}).status_code == 403
    assert console("ys_admin").post("/console/emergency", {"township": "", "on": "1", "confirm": "yes"}).status_code == 403
    assert console("auditor").post("/console/emergency", {"township": "yongsheng", "on": "1", "confirm": "yes"}).status_code == 403
    assert Township.get(Township.code == "yongsheng").emergency is False
    assert console("ys_admin").post("/console/emergency", {"township": "yongsheng", "on": "1", "confirm": "yes"}).status_code == 302
    assert Township.get(Township.code == "yongsheng").emergency is True


def test_audit_log_view_filter_export(console, db):
    c = console("county")
    c.post("/console/categories/sanitation", {"name": "环境卫生2", "level": "grid", "accept_hours": "12",
                                              "resolve_hours": "48", "active": "1"})
    body = c.text("/console/audit")
    assert "<td>修改问题类别</td>" in body and "<td>登录</td>" in body and "环境卫生2" in body
    body = c.text("/console/audit?action=category.updated")
    assert "<td>修改问题类别</td>" in body and "<td>登录</td>" not in body
    body = c.text("/console/audit?actor=nobody")
    assert "没有记录" in body
    resp = c.get("/console/audit?since=yesterday")
    assert resp.status_code == 422 and "日期格式" in resp.get_data(as_text=True)
    csv = c.get("/console/audit.csv?action=category").get_data(as_text=True)
    assert csv.startswith("\ufeffid,时间") and "category.updated" in csv and "auth.login" not in csv
    assert AuditEntry.select().where(AuditEntry.action == "audit.export").count() == 1


def test_unit_admin_sees_their_units_audit_only(console, db):
    console("county").post("/console/categories/sanitation", {"name": "环境卫生2", "level": "grid",
                                                              "accept_hours": "12", "resolve_hours": "48"})
    body = console("ys_admin").text("/console/audit")
    assert "<td>修改问题类别</td>" not in body and "<td>登录</td>" in body


def test_audit_csv_cells_cannot_run_as_formulas(console, db):
    c = console("county")
    c.post("/console/categories/sanitation", {"name": "=HYPERLINK(\"x\")", "level": "grid", "accept_hours": "12",
                                              "resolve_hours": "48"})
    csv = c.get("/console/audit.csv").get_data(as_text=True)
    assert ",=HYPERLINK" not in csv


def test_audit_entries_cannot_be_changed_or_deleted(console, db):
    console("county")
    entry = AuditEntry.select().first()
    entry.note = "tampered"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete_instance()
    with pytest.raises(peewee.DatabaseError):
        with db.atomic():
            AuditEntry.update(note="tampered").execute()
    with pytest.raises(peewee.DatabaseError):
        with db.atomic():
            AuditEntry.delete().execute()
    assert AuditEntry.get_by_id(entry.id).note == ""


def test_no_route_changes_the_audit_log(app):
    rules = [r for r in app.url_map.iter_rules() if "audit" in r.rule]
    assert rules and all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in rules)
