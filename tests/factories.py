"""Plain functions that put rows in the database for tests (no HTTP, no mocks)."""
from __future__ import annotations

import uuid

from miniapp_api.db import write_tx
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import submit
from miniapp_api.models import Category
from miniapp_api.models import Report
from miniapp_api.models import Resident
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.reports.service import next_number
from miniapp_api.reports.service import resident_actor


def make_resident(openid: str | None = None) -> Resident:
    return Resident.create(openid=openid or f"o-{uuid.uuid4().hex[:16]}")


def make_report(status: str = "pending", *, resident: Resident | None = None, township: str = "yongsheng",
                category: str = "sanitation", now=None, **fields) -> Report:
    """A report created the way residents create them, then forced into ``status``."""
    now = now or utcnow()
    resident = resident or make_resident()
    with write_tx():
        report = submit(Report(
            number=next_number(now), resident=resident, category=Category.get(Category.code == category),
            township=Township.get(Township.code == township), description=fields.pop("description", "井盖丢失"),
            lat=43.3, lng=125.3, address="人民大街", created_at=now, updated_at=now, **fields,
        ), resident_actor(resident), now, checked=True)
    if status != "pending":
        Report.update(status=status).where(Report.id == report.id).execute()
    return Report.get_by_id(report.id)


OFFICIAL = Actor("official", "张网格", "dingtalk", "staff-1")


def make_official(name: str, staff_id: str, *, township: str | None = "yongsheng", department: str | None = None,
                  role: str = "township_staff", duty_post: str = "", mobile: str = "", **fields):
    """An official registered for a unit (or a department, or the county when both are None)."""
    from miniapp_api.models import Department
    from miniapp_api.models import Official

    return Official.create(
        name=name, dingtalk_user_id=staff_id, role=role, duty_post=duty_post, mobile=mobile,
        township=Township.get(Township.code == township) if township else None,
        department=Department.get(Department.code == department) if department else None, **fields)
