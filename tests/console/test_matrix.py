"""The authorisation matrix: every role against every console action, on its own unit and on
another unit. Each action is judged by its effect in the database (or, for a page, by being
shown), so a refusal must also have changed nothing."""
from __future__ import annotations

import pytest

from miniapp_api.models import Category
from miniapp_api.models import Delivery
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api.models.console import AdminUser
from miniapp_api.models.console import AuditEntry
from miniapp_api.models.console import MappingPolicy
from tests.factories import make_official
from tests.factories import make_report

OWN = "yongsheng"  # ys_admin's unit


def _mapping_form(code):
    return {"conversation_id": f"cid-{code}", "mention_policy": "none", "enabled": "1", "op": "save"}


def _policy(code):
    return MappingPolicy.get_or_none(MappingPolicy.owner_code == code)


def save_mapping(c, code, fx):
    c.post(f"/console/mappings/township/{code}", _mapping_form(code))
    p = _policy(code)
    return bool(p and p.mention_policy == "none")


def send_test(c, code, fx):
    c.post(f"/console/mappings/township/{code}/test", {"which": "main"})
    p = _policy(code)
    return bool(p and p.last_test_at)


def staging(c, code, fx):
    c.post("/console/deliveries/staging", {"kind": "township", "code": code, "on": "1"})
    return _policy(code).staging_enabled


def accept(c, code, fx):
    r = fx["reports"][code]
    c.post(f"/console/reports/{r.number}/act", {"action": "accept"})
    return Report.get_by_id(r.id).status == "accepted"


def reveal(c, code, fx):
    r = fx["reports2"][code]
    resp = c.post(f"/console/reports/{r.number}/reveal")
    return r.resident.openid in resp.get_data(as_text=True)


def on_leave(c, code, fx):
    o = fx["officials"][code]
    c.post(f"/console/roster/officials/{o.id}/leave", {"on_leave": "1"})
    return Official.get_by_id(o.id).on_leave


def emergency(c, code, fx):
    c.post("/console/emergency", {"township": code, "on": "1", "confirm": "yes"})
    return Township.get(Township.code == code).emergency


def requeue(c, code, fx):
    d = fx["dead"][code]
    c.post("/console/deliveries/requeue", {"ids": [str(d.id)]})
    return Delivery.get_by_id(d.id).state == "pending"


def view_mapping(c, code, fx):
    return c.get(f"/console/mappings/township/{code}").status_code == 200


def view_report(c, code, fx):
    return c.get(f"/console/reports/{fx['reports'][code].number}").status_code == 200


def view_routing(c, code, fx):
    return c.get(f"/console/routing?run=1&township={code}&category=sanitation").status_code == 200


def export_roster(c, code, fx):
    text = c.get("/console/roster/export.csv").get_data(as_text=True)
    return fx["officials"][code].name in text


# County-level actions (the ``code`` is ignored).
def category(c, code, fx):
    c.post("/console/categories/sanitation", {"name": "改名", "level": "grid", "accept_hours": "1", "resolve_hours": "2"})
    return Category.get(Category.code == "sanitation").name == "改名"


def department_mapping(c, code, fx):
    c.post("/console/mappings/department/chengguan", {"conversation_id": "cid-chengguan", "mention_policy": "none",
                                                      "enabled": "1", "op": "save"})
    return bool(_policy("chengguan"))


def view_department_mapping(c, code, fx):
    return c.get("/console/mappings/department/chengguan").status_code == 200


def county_emergency(c, code, fx):
    c.post("/console/emergency", {"township": "", "on": "1", "confirm": "yes"})
    from miniapp_api.deadlines.emergency import county_on

    return county_on()


def create_admin(c, code, fx):
    c.post("/console/admins", {"username": "made_here", "display_name": "x", "role": "auditor",
                               "password": "Correct-horse-42"})
    return AdminUser.get_or_none(AdminUser.username == "made_here") is not None


def view_admins(c, code, fx):
    return c.get("/console/admins").status_code == 200


def view_audit(c, code, fx):
    return c.get("/console/audit").status_code == 200


UNIT_WRITES = [save_mapping, send_test, staging, accept, reveal, on_leave, emergency, requeue]
UNIT_READS = [view_mapping, view_report, view_routing, export_roster]
COUNTY_WRITES = [category, department_mapping, county_emergency, create_admin]
COUNTY_READS = [view_department_mapping, view_admins]


def expected(role: str, action, unit: str) -> bool:
    own = unit == OWN
    if action in UNIT_WRITES:
        return role == "county" or (role == "ys_admin" and own)
    if action in UNIT_READS:
        return role in ("county", "auditor") or own
    if action in COUNTY_WRITES:
        return role == "county"
    if action is view_department_mapping:
        return role in ("county", "auditor")
    if action is view_admins:  # auditors see who has access; only county administrators change it
        return role in ("county", "auditor")
    if action is view_audit:
        return True
    raise AssertionError(action)


@pytest.fixture
def fx(app, accounts, db, fake_dingtalk):
    data = {"reports": {}, "reports2": {}, "officials": {}, "dead": {}}
    for i, code in enumerate(("yongsheng", "yongning")):
        data["reports"][code] = make_report(township=code)
        data["reports2"][code] = make_report(township=code)
        data["officials"][code] = make_official(f"干部{code}", f"staff-{code}", township=code, mobile=f"1390000001{i}")
        data["dead"][code] = Delivery.create(channel="dingtalk", target=f"dingtalk:township:{code}", state="dead",
                                             last_error="x")
        MappingPolicy.create(owner_kind="township", owner_code=code, staging_secret="SEC-staging-000001",
                             staging_webhook=GroupMapping.get(GroupMapping.owner_code == code).webhook)
    return data


@pytest.mark.parametrize("unit", ["yongsheng", "yongning"], ids=["own_unit", "other_unit"])
@pytest.mark.parametrize("role", ["county", "ys_admin", "auditor"])
def test_authorisation_matrix(role, unit, console, fx, db):
    c = console(role)
    wrong = []
    for action in UNIT_WRITES + UNIT_READS + COUNTY_WRITES + COUNTY_READS + [view_audit]:
        audit_before = AuditEntry.select().where(~AuditEntry.action.startswith("auth.")
                                                 & ~AuditEntry.action.in_(["roster.export", "audit.export"])).count()
        got = action(c, unit, fx)
        db.connect(reuse_if_open=True)
        want = expected(role, action, unit)
        if got != want:
            wrong.append(f"{role} {action.__name__} on {unit}: expected {'allowed' if want else 'refused'}")
        if not want:
            after = AuditEntry.select().where(~AuditEntry.action.startswith("auth.")
                                              & ~AuditEntry.action.in_(["roster.export", "audit.export"])).count()
            if after != audit_before:
                wrong.append(f"{role} {action.__name__} on {unit}: refused but audited a change")
    assert not wrong, "\n".join(wrong)
