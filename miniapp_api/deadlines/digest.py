"""The daily digest (每日简报): one message per group per day at ``digest_time`` (Asia/Shanghai).

Each mapped group (every unit, every department and the county group) gets, for the 24 hours
before today's digest time: new, accepted and resolved reports, average acceptance and
resolution times and the satisfaction of the ratings given; and the open reports overdue
right now. The figures are SQL aggregates (:func:`.stats.window_figures`). A
:class:`SchedulerMark` per day and group, written with the outbox event, makes it once a day
however many passes or workers run. A digest missed for a whole day (no worker ran after the
digest time until midnight) is not sent afterwards.
"""
from __future__ import annotations

from datetime import datetime
from datetime import time
from datetime import timedelta
from datetime import timezone

from peewee import IntegrityError

from miniapp_api import outbox
from miniapp_api.config import Settings
from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.models import Department
from miniapp_api.models import GroupMapping
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api.models.deadlines import SchedulerMark
from miniapp_api.time import LOCAL_TZ
from miniapp_api.deadlines import stats


def digest_window(settings: Settings, now: datetime) -> tuple[datetime, datetime] | None:
    """``(start, end)`` of today's digest when it is due at ``now``, else None."""
    if not settings.deadlines.digest_enabled:
        return None
    hh, mm = (int(x) for x in settings.deadlines.digest_time.split(":"))
    local = now.astimezone(LOCAL_TZ)
    end = datetime.combine(local.date(), time(hh, mm), LOCAL_TZ)
    if local < end:
        return None
    return (end - timedelta(days=1)).astimezone(timezone.utc), end.astimezone(timezone.utc)


def _scopes():
    """``(owner_kind, code, unit name, report condition)`` of every mapped group."""
    mapped = {(m.owner_kind, m.owner_code) for m in GroupMapping.select().where(GroupMapping.enabled == True)}  # noqa: E712
    out = []
    for t in Township.select().order_by(Township.sort_order, Township.id):
        if ("township", t.code) in mapped:
            out.append(("township", t.code, t.name, Report.township == t.id))
    for d in Department.select().order_by(Department.id):
        if ("department", d.code) in mapped:
            out.append(("department", d.code, d.name, Report.department == d.id))
    if ("county", "county") in mapped:
        out.append(("county", "county", "全县", None))
    return out


def run(settings: Settings, now: datetime) -> int:
    """Queue today's digest for every group that has not had it; returns how many."""
    window = digest_window(settings, now)
    if window is None:
        return 0
    start, end = window
    day = end.astimezone(LOCAL_TZ).date().isoformat()
    database.connect(reuse_if_open=True)
    done = {m.key for m in SchedulerMark.select(SchedulerMark.key).where(SchedulerMark.key.startswith(f"digest:{day}:"))}
    queued = 0
    for owner_kind, code, name, cond in _scopes():
        key = f"digest:{day}:{owner_kind}:{code}"
        if key in done:
            continue
        try:
            with write_tx():
                SchedulerMark.create(key=key, at=now)
                figures = stats.window_figures(start, end, now, cond)
                outbox.record("digest.daily", {
                    "group": {"kind": owner_kind, "code": code}, "unit_name": name, "day": day,
                    "from": start.isoformat(), "to": end.isoformat(), **figures,
                }, now=now)
            queued += 1
        except IntegrityError:
            continue  # another worker queued it
    return queued
