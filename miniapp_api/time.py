"""Local time: residents and officials live in China, so times are shown (and days counted)
in Asia/Shanghai (+08:00). The database keeps UTC."""
from __future__ import annotations

from datetime import date
from datetime import datetime
from datetime import time
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with the local offset, e.g. ``2026-11-27T09:30:00+08:00``."""
    return None if dt is None else dt.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


def local(dt: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A UTC time shown in China's local time (``2026-11-28 09:00``)."""
    return "" if dt is None else dt.astimezone(LOCAL_TZ).strftime(fmt)


def local_day(dt: datetime) -> date:
    """The local calendar day ``dt`` falls on."""
    return dt.astimezone(LOCAL_TZ).date()


def day_start(day: date) -> datetime:
    """Local midnight at the start of ``day`` (an aware datetime)."""
    return datetime.combine(day, time(0), LOCAL_TZ)
