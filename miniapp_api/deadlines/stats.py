"""Statistics for the console and the daily digest: SQL aggregates, on SQLite and PostgreSQL.

:func:`report_stats` answers, for reports *submitted* in a date range (Asia/Shanghai days,
both ends included), per unit and/or category:

==================  ======================================================================
``total``           reports submitted
``by_status``       how many are pending, accepted, transferred, resolved, closed, rejected now
``accepted``        reports accepted; ``avg_accept_hours`` from submission to acceptance
``resolved``        reports resolved now (status resolved or closed); ``avg_resolve_hours``
                    from submission to (the latest) resolution
``on_time``         resolved reports that never missed a deadline; ``on_time_rate`` = on_time
                    / resolved
``overdue_open``    open reports past their current deadline at the time of the query
``escalated``       reports that missed at least one deadline (raised up the ladder)
``closure_rate``    结案率 = (resolved + closed) / (total − rejected)
``rated``           reports rated; ``avg_score`` 1–5; ``satisfied_rate`` share rated 4–5
``redone``          reports sent back at least once (重办); ``redo_rate`` = redone / reports
                    resolved at least once
``handovers``       reports where B had to cover for A (an A→B handover); ``b_cover_rate`` =
                    handovers / total; ``resolved_by_b`` resolved by a B post
==================  ======================================================================

``attribution`` (on request) lists the resolutions and ratings by the unit, level and post
that resolved the reports. The figures are SQL aggregates of one ``GROUP BY`` over the
range (per group and status); Python only adds the few status rows of a group, divides and
names.
"""
from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from peewee import SQL
from peewee import Case
from peewee import fn

from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.models import Category
from miniapp_api.models import Department
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api.models.deadlines import RatingRecord
from miniapp_api.time import day_start

STATUSES = ("pending", "accepted", "transferred", "resolved", "closed", "rejected")
GROUPINGS = ("county", "township", "department", "category", "township_category", "department_category")


def hours_between(later, earlier):
    """``later − earlier`` in hours, as SQL (NULL when either is NULL)."""
    if is_postgres():
        return fn.date_part("epoch", later - earlier) / 3600.0  # double precision, not numeric
    return (fn.julianday(later) - fn.julianday(earlier)) * 24.0


def _count(cond):
    return fn.COUNT(SQL("*")).filter(cond)


def _avg(cond, value):
    return fn.AVG(Case(None, [(cond, value)], None))


def _overdue(now: datetime):
    return (((Report.status.in_(["pending", "transferred"])) & (Report.accept_due_at < now))
            | ((Report.status == "accepted") & (Report.resolve_due_at < now)))


def local_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """UTC bounds of the local days ``start`` … ``end`` (inclusive)."""
    lo = day_start(start).astimezone(timezone.utc)
    hi = day_start(end + timedelta(days=1)).astimezone(timezone.utc)
    return lo, hi


def _aggregates(now: datetime) -> list:
    """The sums of one (group, status) cell; rates and averages are made from them after."""
    on_time = Report.resolved_at.is_null(False) & (Report.missed_deadlines == 0) & (
        Report.resolve_due_at.is_null() | (Report.resolved_at <= Report.resolve_due_at))
    return [
        fn.COUNT(SQL("*")).alias("n"),
        fn.COUNT(Report.accepted_at).alias("accepted"),
        fn.SUM(hours_between(Report.accepted_at, Report.created_at)).alias("accept_h"),
        fn.COUNT(Report.resolved_at).alias("with_resolved"),
        fn.SUM(hours_between(Report.resolved_at, Report.created_at)).alias("resolve_h"),
        _count(on_time).alias("on_time"),
        _count(Report.accept_due_at < now).alias("past_accept_due"),
        _count(Report.resolve_due_at < now).alias("past_resolve_due"),
        _count(Report.missed_deadlines > 0).alias("escalated"),
        fn.COUNT(Report.rating_score).alias("rated"),
        fn.SUM(Report.rating_score).alias("score_sum"),
        _count(Report.rating_score >= 4).alias("satisfied"),
        _count(Report.redo_count > 0).alias("redone"),
        _count(Report.handover_count > 0).alias("handovers"),
        _count(Report.resolved_post == "B").alias("resolved_by_b"),
    ]


_SUMMED = ("n", "accepted", "accept_h", "with_resolved", "resolve_h", "on_time", "past_accept_due", "past_resolve_due",
           "escalated", "rated", "score_sum", "satisfied", "redone", "handovers", "resolved_by_b")


class _Cell:
    """The sums of one group over its status rows (one row per status from the query)."""

    def __init__(self):
        self.by_status = {s: 0 for s in STATUSES}
        self.sums = {k: 0.0 for k in ("accepted", "accept_h", "resolved", "resolve_h", "on_time", "overdue_open",
                                      "escalated", "rated", "score_sum", "satisfied", "redone", "ever_resolved",
                                      "handovers", "resolved_by_b")}

    def add(self, row: dict) -> None:
        status = row["status"]
        v = {k: float(row[k] or 0) for k in _SUMMED}
        self.by_status[status] = self.by_status.get(status, 0) + int(v["n"])
        s = self.sums
        for k in ("accepted", "accept_h", "escalated", "rated", "score_sum", "satisfied", "redone", "handovers",
                  "resolved_by_b"):
            s[k] += v[k]
        s["ever_resolved"] += v["with_resolved"]
        if status in ("resolved", "closed"):
            s["resolved"] += v["with_resolved"]
            s["resolve_h"] += v["resolve_h"]
            s["on_time"] += v["on_time"]
        if status in ("pending", "transferred"):
            s["overdue_open"] += v["past_accept_due"]
        elif status == "accepted":
            s["overdue_open"] += v["past_resolve_due"]

    def merge(self, other: "_Cell") -> None:
        for k, v in other.by_status.items():
            self.by_status[k] = self.by_status.get(k, 0) + v
        for k, v in other.sums.items():
            self.sums[k] += v

    def shape(self) -> dict:
        s = {k: int(v) if k not in ("accept_h", "resolve_h") else v for k, v in self.sums.items()}
        total = sum(self.by_status.values())
        closed = self.by_status["resolved"] + self.by_status["closed"]
        return {
            "total": total, "by_status": dict(self.by_status),
            "accepted": s["accepted"], "avg_accept_hours": _num(_div(s["accept_h"], s["accepted"])),
            "resolved": s["resolved"], "avg_resolve_hours": _num(_div(s["resolve_h"], s["resolved"])),
            "on_time": s["on_time"], "on_time_rate": _ratio(s["on_time"], s["resolved"]),
            "overdue_open": s["overdue_open"], "escalated": s["escalated"],
            "closure_rate": _ratio(closed, total - self.by_status["rejected"]),
            "rated": s["rated"], "avg_score": _num(_div(s["score_sum"], s["rated"])),
            "satisfied_rate": _ratio(s["satisfied"], s["rated"]),
            "redone": s["redone"], "redo_rate": _ratio(s["redone"], s["ever_resolved"]),
            "handovers": s["handovers"], "b_cover_rate": _ratio(s["handovers"], total),
            "resolved_by_b": s["resolved_by_b"],
        }


def _div(a, b):
    return None if not b else a / b


def _ratio(a, b) -> float | None:
    return None if not b else round(a / b, 4)


def _num(v, digits: int = 2) -> float | None:
    return None if v is None else round(float(v), digits)


def _names():
    return ({t.id: (t.code, t.name) for t in Township.select()},
            {d.id: (d.code, d.name) for d in Department.select()},
            {c.id: (c.code, c.name) for c in Category.select()})


def report_stats(start: date, end: date, *, by: str = "township", township: str | None = None,
                 department: str | None = None, category: str | None = None,
                 now: datetime | None = None, with_attribution: bool = False) -> dict:
    """Statistics of reports submitted from ``start`` to ``end`` (local days, inclusive).

    ``by``: ``county`` (the total only), ``township``, ``department``, ``category``,
    ``township_category`` or ``department_category``. ``township``/``department``/
    ``category`` (codes) narrow the reports. Returns ``{"from", "to", "by", "total",
    "items": [{"township"|"department"|"category": {code, name}, ...metrics}],
    "attribution"}`` (``attribution`` only ``with_attribution``, else ``None``).

    One ``GROUP BY`` query over the range (the keys and the status): every figure is a
    count or sum of it; the total is the sum of the groups.
    """
    if by not in GROUPINGS:
        raise ValueError(f"by must be one of {', '.join(GROUPINGS)}")
    now = now or datetime.now(timezone.utc)
    lo, hi = local_bounds(start, end)
    cond = (Report.created_at >= lo) & (Report.created_at < hi)
    if township:
        cond &= Report.township == Township.select(Township.id).where(Township.code == township)
    if department:
        cond &= Report.department == Department.select(Department.id).where(Department.code == department)
    if category:
        cond &= Report.category == Category.select(Category.id).where(Category.code == category)
    keys = {"county": [], "township": [Report.township], "department": [Report.department],
            "category": [Report.category], "township_category": [Report.township, Report.category],
            "department_category": [Report.department, Report.category]}[by]
    if by.startswith("department"):
        cond &= Report.department.is_null(False)
    key_cols = [k.alias(f"k{i}") for i, k in enumerate(keys)]
    query = (Report.select(*key_cols, Report.status, *_aggregates(now)).where(cond)
             .group_by(*keys, Report.status))
    # Raw rows: a few hundred of them, no per-value conversion needed.
    cursor = database.execute_sql(*query.sql())
    names = [d[0] for d in cursor.description]
    cells: dict[tuple, _Cell] = {}
    total = _Cell()
    for values in cursor.fetchall():
        row = dict(zip(names, values))
        key = tuple(row[f"k{i}"] for i in range(len(keys)))
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = _Cell()
        cell.add(row)
    for cell in cells.values():
        total.merge(cell)
    items = []
    if keys:
        townships, departments, categories = _names()
        tables = {"township": townships, "department": departments, "category": categories}
        for key in sorted(cells, key=lambda k: tuple(x or 0 for x in k)):
            item = {}
            for i, k in enumerate(keys):
                code, name = tables[k.name].get(key[i], ("", ""))
                item[k.name] = {"code": code, "name": name}
            item.update(cells[key].shape())
            items.append(item)
    return {"from": start.isoformat(), "to": end.isoformat(), "by": by, "total": total.shape(),
            "items": items, "attribution": attribution(cond) if with_attribution else None}


def attribution(cond) -> list[dict]:
    """Ratings and resolutions by the unit, level and post that resolved the reports."""
    ratings = (RatingRecord.select(RatingRecord.unit, RatingRecord.level, RatingRecord.post,
                                   fn.COUNT(RatingRecord.id).alias("ratings"),
                                   fn.AVG(RatingRecord.score).alias("avg_score"),
                                   _count(RatingRecord.redo == True).alias("redo_ratings"))  # noqa: E712
               .join(Report).where(cond)
               .group_by(RatingRecord.unit, RatingRecord.level, RatingRecord.post).dicts())
    resolved = (Report.select(Report.resolved_unit.alias("unit"), Report.resolved_level.alias("level"),
                              Report.resolved_post.alias("post"), fn.COUNT(Report.id).alias("resolved"))
                .where(cond & (Report.resolved_unit != ""))
                .group_by(Report.resolved_unit, Report.resolved_level, Report.resolved_post).dicts())
    out: dict[tuple, dict] = {}
    for row in resolved:
        key = (row["unit"], row["level"], row["post"])
        out[key] = {"unit": row["unit"], "level": row["level"], "post": row["post"], "resolved": int(row["resolved"]),
                    "ratings": 0, "avg_score": None, "redo_ratings": 0}
    for row in ratings:
        key = (row["unit"], row["level"], row["post"])
        entry = out.setdefault(key, {"unit": row["unit"], "level": row["level"], "post": row["post"], "resolved": 0})
        entry.update(ratings=int(row["ratings"]), avg_score=_num(row["avg_score"]),
                     redo_ratings=int(row["redo_ratings"] or 0))
    return [out[k] for k in sorted(out)]


def window_figures(start: datetime, end: datetime, now: datetime, cond=None) -> dict:
    """The daily digest's figures for reports matching ``cond`` (None: the whole county)."""
    def within(col):
        return (col >= start) & (col < end)

    scope = within(Report.created_at) | within(Report.accepted_at) | within(Report.resolved_at) | \
        Report.status.in_(["pending", "accepted", "transferred"])
    if cond is not None:
        scope = cond & scope
    row = Report.select(
        _count(within(Report.created_at)).alias("new"),
        _count(within(Report.accepted_at)).alias("accepted"),
        _count(within(Report.resolved_at)).alias("resolved"),
        _count(_overdue(now)).alias("overdue"),
        _avg(within(Report.accepted_at), hours_between(Report.accepted_at, Report.created_at)).alias("accept_h"),
        _avg(within(Report.resolved_at), hours_between(Report.resolved_at, Report.created_at)).alias("resolve_h"),
    ).where(scope).dicts().get()
    rq = RatingRecord.select(fn.COUNT(RatingRecord.id).alias("n"), fn.AVG(RatingRecord.score).alias("avg")) \
        .join(Report).where(within(RatingRecord.at))
    if cond is not None:
        rq = rq.where(cond)
    rating = rq.dicts().get()
    return {"new": int(row["new"] or 0), "accepted": int(row["accepted"] or 0), "resolved": int(row["resolved"] or 0),
            "overdue": int(row["overdue"] or 0), "avg_accept_hours": _num(row["accept_h"], 1),
            "avg_resolve_hours": _num(row["resolve_h"], 1), "ratings": int(rating["n"] or 0),
            "avg_score": _num(rating["avg"], 1)}
