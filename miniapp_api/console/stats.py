"""The dashboard's numbers per unit, the overdue rule the queue filters by, and the
emergency switch (平战一键转换) — all from the deadlines module (issue 4), which owns them:

* figures: :func:`miniapp_api.deadlines.stats.report_stats` (SQL aggregates per unit:
  counts by status, 办结率, 按时办结率, 满意率, 超时 …);
* the switch: :func:`miniapp_api.deadlines.emergency.switch` (it also shortens running
  deadlines and announces the flip in the groups); the console adds the audit entry.

Overdue: an open report past its accept deadline (pending, transferred) or its resolve
deadline (accepted), as the deadlines module counts it; a report without stored deadlines
(older data) falls back to its category's hours counted from submission.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timedelta

from miniapp_api.db import write_tx
from miniapp_api.deadlines import emergency
from miniapp_api.deadlines.stats import report_stats
from miniapp_api.models import Category
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api.time import LOCAL_TZ
from miniapp_api import audit
from miniapp_api.audit import Who
from miniapp_api.validation import FormError

OPEN = ("pending", "accepted", "transferred")
#: "All time" on the dashboard: reports submitted since this day.
EPOCH = date(2020, 1, 1)


def overdue_clause(now: datetime):
    """SQL condition: the report is open and past its deadline at ``now``."""
    by_due = ((Report.status.in_(["pending", "transferred"]) & (Report.accept_due_at < now))
              | ((Report.status == "accepted") & (Report.resolve_due_at < now)))
    fallback = None
    for c in Category.select(Category.id, Category.accept_hours, Category.resolve_hours):
        cond = (Report.category == c.id) & (
            ((Report.status == "pending") & (Report.created_at < now - timedelta(hours=c.accept_hours)))
            | (Report.status.in_(OPEN) & (Report.created_at < now - timedelta(hours=c.resolve_hours))))
        fallback = cond if fallback is None else (fallback | cond)
    if fallback is None:
        return by_due
    return by_due | (Report.accept_due_at.is_null() & Report.resolve_due_at.is_null() & fallback)


@dataclass
class UnitStats:
    """One dashboard row (rates in per cent, None when there is nothing to divide)."""

    code: str
    name: str
    emergency: bool = False
    by_status: dict[str, int] = field(default_factory=dict)
    total: int = 0
    overdue: int = 0
    closure_rate: float | None = None
    on_time_rate: float | None = None
    satisfaction: float | None = None
    avg_score: float | None = None
    rated: int = 0


def _pct(ratio: float | None) -> float | None:
    return None if ratio is None else round(100 * ratio, 1)


def _row(code: str, name: str, emergency_on: bool, m: dict | None) -> UnitStats:
    if not m:
        return UnitStats(code, name, emergency_on)
    return UnitStats(code, name, emergency_on, by_status=dict(m["by_status"]), total=m["total"],
                     overdue=m["overdue_open"], closure_rate=_pct(m["closure_rate"]),
                     on_time_rate=_pct(m["on_time_rate"]), satisfaction=_pct(m["satisfied_rate"]),
                     avg_score=m["avg_score"], rated=m["rated"])


def unit_stats(townships: list[Township], days: int | None, now: datetime) -> tuple[list[UnitStats], UnitStats]:
    """Rows for ``townships`` over reports submitted in the last ``days`` local days (all when
    None), and the total line (the county, or the one unit of a unit administrator)."""
    end = now.astimezone(LOCAL_TZ).date()
    start = end - timedelta(days=days - 1) if days else EPOCH
    scope = townships[0].code if len(townships) == 1 else None
    result = report_stats(start, end, by="township", township=scope, now=now)
    by_code = {item["township"]["code"]: item for item in result["items"] if item.get("township")}
    rows = [_row(t.code, t.name, bool(t.emergency), by_code.get(t.code)) for t in townships]
    total = _row("all", townships[0].name if scope else "全县", False, result["total"])
    return rows, total


def county_emergency() -> bool:
    """True while the county-wide emergency mode is on."""
    return emergency.county_on()


def set_emergency(who: Who, township_code: str | None, on: bool, now: datetime) -> bool:
    """Flip 平战一键转换 for one unit or the county; returns whether anything changed."""
    with write_tx():
        before = emergency.state()
        if township_code and township_code not in before.townships:
            raise FormError({"township": "没有这个乡镇/街道"})
        result = emergency.switch(on, township_code, who.name, now)
        if result.changed:
            was = before.townships.get(township_code, False) if township_code else before.county
            audit.record(who, "emergency.on" if on else "emergency.off",
                         target=f"emergency:{township_code or 'county'}", township=township_code,
                         before={"emergency": was}, after={"emergency": on},
                         note=f"通知了 {result.announced} 个群，{result.raised_urgent} 条上报转为紧急", now=now)
    return result.changed
