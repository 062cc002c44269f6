"""Working time on the county's calendar (Asia/Shanghai days).

A deadline of *h* hours counted in working days is the point where *h* hours of working days
have passed: the clock runs through Monday–Friday and through make-up working days (调休上班),
and stands still on weekends and public holidays. 24 hours from Friday 17:00 is Monday 17:00;
72 hours are three working days. Pure functions over a :class:`WorkCalendar`; only
:func:`load_calendar` reads the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from datetime import date
from datetime import datetime
from datetime import timedelta
from datetime import timezone

from miniapp_api.models.deadlines import Holiday
from miniapp_api.prepared import Prepared
from miniapp_api.time import LOCAL_TZ
from miniapp_api.time import day_start

#: A deadline never looks further ahead than this (a guard against a calendar with no
#: working day at all).
MAX_DAYS = 3 * 366


@dataclass(frozen=True)
class WorkCalendar:
    """Public holidays (weekdays off) and make-up working days (weekend days worked)."""

    holidays: frozenset[date] = field(default_factory=frozenset)
    workdays: frozenset[date] = field(default_factory=frozenset)

    def is_working_day(self, day: date) -> bool:
        """Whether ``day`` is worked: a listed workday, else a weekday that is no holiday."""
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5


def _holidays_query():
    return Holiday.select(Holiday.day, Holiday.kind)


_HOLIDAYS = Prepared(_holidays_query)


def load_calendar() -> WorkCalendar:
    """The county's calendar from the ``holiday`` table (a few rows a year)."""
    rows = _HOLIDAYS.rows()
    return WorkCalendar(
        holidays=frozenset(r.day for r in rows if r.kind == "holiday"),
        workdays=frozenset(r.day for r in rows if r.kind == "workday"),
    )


_midnight = day_start


def add_hours(start: datetime, hours: float, calendar: WorkCalendar | None) -> datetime:
    """``start`` plus ``hours``: every hour when ``calendar`` is None, else working hours only.

    Returns an aware UTC datetime. A start on a day off counts from the next working day's
    midnight.
    """
    if calendar is None or hours <= 0:
        return (start + timedelta(hours=max(hours, 0))).astimezone(timezone.utc)
    remaining = timedelta(hours=hours)
    local = start.astimezone(LOCAL_TZ)
    day = local.date()
    for _ in range(MAX_DAYS):
        if calendar.is_working_day(day):
            begin = max(local, _midnight(day))
            end = _midnight(day + timedelta(days=1))
            available = end - begin
            if remaining <= available:
                return (begin + remaining).astimezone(timezone.utc)
            remaining -= available
        day += timedelta(days=1)
    raise ValueError("the calendar has no working day within three years")


def working_hours_between(start: datetime, end: datetime, calendar: WorkCalendar | None) -> float:
    """How many (working) hours lie between ``start`` and ``end`` (0 if ``end`` is earlier)."""
    if end <= start:
        return 0.0
    if calendar is None:
        return (end - start).total_seconds() / 3600
    total = timedelta()
    local_start, local_end = start.astimezone(LOCAL_TZ), end.astimezone(LOCAL_TZ)
    day = local_start.date()
    while day <= local_end.date():
        if calendar.is_working_day(day):
            begin = max(local_start, _midnight(day))
            stop = min(local_end, _midnight(day + timedelta(days=1)))
            if stop > begin:
                total += stop - begin
        day += timedelta(days=1)
    return total.total_seconds() / 3600
