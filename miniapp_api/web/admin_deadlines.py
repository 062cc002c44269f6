"""Administrator endpoints of the deadlines module (``/api/v1/admin/…``), for the console
and scripts: statistics, and the emergency switch (平战一键转换).

Who may call them is decided by ``admin_auth.current_admin`` (a console session, or
``Authorization: Bearer <admin.api_token>``): statistics of one unit for that unit's
administrator, county-wide statistics for county administrators and auditors; the
county-wide switch for county administrators, one unit's switch for its administrator too.
"""
from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import model_validator

from flask import request

from miniapp_api.web.admin_auth import current_admin
from miniapp_api.web.api import ApiBlueprint
from miniapp_api import audit
from miniapp_api.db import write_tx
from miniapp_api.errors import ValidationFailed
from miniapp_api.models import utcnow
from miniapp_api.time import iso
from miniapp_api.deadlines import emergency
from miniapp_api.deadlines import stats

bp = ApiBlueprint("admin_deadlines", admin=True)  # an administrator, checked before the body is read

ADMIN_ERRORS = {401: "admin_unauthorized", 403: "forbidden"}
MAX_RANGE_DAYS = 366


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


class StatsQuery(_In):
    """The statistics query: a date range, a grouping and optional filters."""

    date_from: date = Field(alias="from", description="起始日期（含），如 2026-11-01（北京时间）")
    date_to: date = Field(alias="to", description="截止日期（含）")
    by: Literal["county", "township", "department", "category", "township_category", "department_category"] = Field(
        default="township", description="分组：全县/乡镇/部门/类别/乡镇×类别/部门×类别")
    township: str | None = Field(default=None, max_length=32, description="只看这个乡镇/街道（code）")
    department: str | None = Field(default=None, max_length=32, description="只看这个部门（code）")
    category: str | None = Field(default=None, max_length=32, description="只看这个类别（code）")
    attribution: bool = Field(default=False, description="同时给出按办结单位、层级、AB岗的办结数与评价（满意度归属）")

    @model_validator(mode="after")
    def _range(self) -> "StatsQuery":
        if self.date_to < self.date_from:
            raise ValueError("to 不能早于 from")
        if (self.date_to - self.date_from).days >= MAX_RANGE_DAYS:
            raise ValueError(f"日期范围不能超过 {MAX_RANGE_DAYS} 天")
        return self


class Metrics(BaseModel):
    """The figures of one group of reports (times, rates, counts)."""

    total: int
    by_status: dict[str, int]
    accepted: int
    avg_accept_hours: float | None
    resolved: int
    avg_resolve_hours: float | None
    on_time: int
    on_time_rate: float | None
    overdue_open: int
    escalated: int
    closure_rate: float | None
    rated: int
    avg_score: float | None
    satisfied_rate: float | None
    redone: int
    redo_rate: float | None
    handovers: int
    b_cover_rate: float | None
    resolved_by_b: int


class CodeName(BaseModel):
    """A unit, department or category: its code and name."""

    code: str
    name: str


class StatsItem(Metrics):
    """The figures of one group, with the unit, department or category it is."""

    township: CodeName | None = None
    department: CodeName | None = None
    category: CodeName | None = None


class AttributionItem(BaseModel):
    """Resolutions and ratings credited to one unit, level and A/B post."""

    unit: str = Field(description="township:<code> | department:<code> | county")
    level: str
    post: str = Field(description="A | B | 空（非AB岗）")
    resolved: int
    ratings: int
    avg_score: float | None
    redo_ratings: int


class StatsOut(BaseModel):
    """The statistics answer: the total, one item per group, and the attribution if asked."""

    model_config = ConfigDict(populate_by_name=True)

    date_from: str = Field(alias="from")
    date_to: str = Field(alias="to")
    by: str
    total: Metrics
    items: list[StatsItem]
    attribution: list[AttributionItem] | None


class EmergencyIn(_In):
    """The emergency switch request: on or off, county-wide or for one unit."""

    on: bool = Field(description="true 开启应急（战时）模式，false 恢复平时")
    township: str | None = Field(default=None, min_length=1, max_length=32,
                                 description="只切换这个乡镇/街道（code）；不填为全县")


class EmergencySwitchOut(BaseModel):
    """One recorded switch of emergency mode."""

    scope: str
    township: str
    on: bool
    at: str
    actor: str


class EmergencyOut(BaseModel):
    """Emergency mode now (county and units), what a switch changed, and the history."""

    county: bool
    townships: dict[str, bool]
    changed: bool = False
    announced: int = 0
    raised_urgent: int = 0
    shortened: int = 0
    history: list[EmergencySwitchOut] = []


def _state_out(result: emergency.SwitchResult) -> dict:
    return {
        "county": result.county, "townships": result.townships, "changed": result.changed,
        "announced": result.announced, "raised_urgent": result.raised_urgent, "shortened": result.shortened,
        "history": [{"scope": h.scope, "township": h.township, "on": h.on, "at": iso(h.at), "actor": h.actor}
                    for h in emergency.history(20)],
    }


@bp.operation("/admin/stats", "GET", summary="统计：按单位、类别和日期范围（受理/办结时长、按时率、结案率、满意度、重办率、B岗补位）",
              tag="admin-deadlines", query=StatsQuery, response=StatsOut, auth=False, errors=ADMIN_ERRORS)
def admin_stats(query: StatsQuery):
    """Statistics by unit, category and date range."""
    principal = current_admin()
    principal.require(write=False, township=query.township, county=query.township is None)
    if query.department and principal.role == "unit_admin":
        principal.require(write=False, county=True)
    try:
        result = stats.report_stats(query.date_from, query.date_to, by=query.by, township=query.township,
                                    department=query.department, category=query.category, now=utcnow(),
                                    with_attribution=query.attribution)
    except ValueError as err:  # pragma: no cover - the query model has checked already
        raise ValidationFailed(str(err)) from None
    return result


@bp.operation("/admin/emergency", "GET", summary="应急模式（平战一键转换）当前状态与切换记录", tag="admin-deadlines",
              response=EmergencyOut, auth=False, errors=ADMIN_ERRORS)
def admin_emergency_state():
    """Emergency mode now and its switch history."""
    current_admin()
    return _state_out(emergency.state())


@bp.operation("/admin/emergency", "POST", summary="平战一键转换：全县或某乡镇/街道开启或关闭应急模式", tag="admin-deadlines",
              body=EmergencyIn, response=EmergencyOut, auth=False,
              errors={**ADMIN_ERRORS, 404: "township_not_found"})
def admin_emergency_switch(body: EmergencyIn):
    """Switch emergency mode on or off, county-wide or for one unit."""
    principal = current_admin()
    principal.require(write=True, township=body.township, county=body.township is None)
    now = utcnow()
    with write_tx():
        before = emergency.state()
        result = emergency.switch(body.on, body.township, principal.name, now)
        if result.changed:
            _audit(principal, body, before, now)
    return _state_out(result)


def _audit(principal, body: EmergencyIn, before: emergency.SwitchResult, now) -> None:
    """Admin changes are audited (the console's audit log), in the switch's transaction."""
    was = before.townships.get(body.township, False) if body.township else before.county
    who = audit.Who(username=principal.name, name=principal.name, role=principal.role, township=principal.township,
                    ip=(request.remote_addr or "")[:64], user_id=principal.user_id)
    audit.record(who, "emergency.on" if body.on else "emergency.off", target=f"emergency:{body.township or 'county'}",
                 township=body.township, before={"emergency": was}, after={"emergency": body.on}, now=now)
