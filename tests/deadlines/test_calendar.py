"""Working time on the county's calendar: weekends, public holidays, make-up working days."""
from __future__ import annotations

from datetime import date
from datetime import datetime

import pytest

from miniapp_api.deadlines.calendar import WorkCalendar
from miniapp_api.deadlines.calendar import add_hours
from miniapp_api.deadlines.calendar import working_hours_between
from miniapp_api.time import LOCAL_TZ

# 2026 National Day week as a county might enter it: Thu 1 Oct – Wed 7 Oct off (the weekend
# inside it is a weekend anyway), Saturday 10 Oct worked instead (调休上班).
NATIONAL_DAY = WorkCalendar(
    holidays=frozenset(date(2026, 10, d) for d in (1, 2, 5, 6, 7)),
    workdays=frozenset({date(2026, 10, 10)}),
)
PLAIN = WorkCalendar()


def bj(*args) -> datetime:
    return datetime(*args, tzinfo=LOCAL_TZ)


@pytest.mark.parametrize("start, hours, calendar, expected", [
    (bj(2026, 11, 23, 9), 24, PLAIN, bj(2026, 11, 24, 9)),          # Monday + 1 day
    (bj(2026, 11, 27, 17), 24, PLAIN, bj(2026, 11, 30, 17)),        # Friday 17:00 → Monday 17:00
    (bj(2026, 11, 27, 23), 2, PLAIN, bj(2026, 11, 30, 1)),          # across the weekend's midnight
    (bj(2026, 11, 28, 10), 1, PLAIN, bj(2026, 11, 30, 1)),          # a start on Saturday counts from Monday
    (bj(2026, 11, 27, 17), 24, None, bj(2026, 11, 28, 17)),         # every hour counts
    (bj(2026, 11, 23, 9), 72, PLAIN, bj(2026, 11, 26, 9)),          # three working days
    (bj(2026, 11, 23, 9), 120, PLAIN, bj(2026, 11, 30, 9)),         # five working days span a weekend
    (bj(2026, 9, 30, 18), 24, NATIONAL_DAY, bj(2026, 10, 8, 18)),   # the whole holiday week stands still
    (bj(2026, 10, 9, 12), 24, NATIONAL_DAY, bj(2026, 10, 10, 12)),  # Saturday 10 Oct is worked
    (bj(2026, 10, 9, 12), 48, NATIONAL_DAY, bj(2026, 10, 12, 12)),  # …Sunday 11 Oct is not
    (bj(2026, 10, 3, 8), 0.5, NATIONAL_DAY, bj(2026, 10, 8, 0, 30)),
])
def test_add_hours(start, hours, calendar, expected):
    assert add_hours(start, hours, calendar) == expected
    if calendar is not None:
        assert working_hours_between(start, expected, calendar) == pytest.approx(hours)


def test_make_up_day_beats_the_weekend_and_holiday_beats_the_weekday():
    assert NATIONAL_DAY.is_working_day(date(2026, 10, 10))      # Saturday, worked
    assert not NATIONAL_DAY.is_working_day(date(2026, 10, 1))   # Thursday, holiday
    assert not NATIONAL_DAY.is_working_day(date(2026, 10, 11))  # Sunday
    assert NATIONAL_DAY.is_working_day(date(2026, 10, 8))       # Thursday


def test_results_are_utc_and_nothing_is_added_for_zero_hours():
    start = bj(2026, 11, 23, 9)
    assert add_hours(start, 0, PLAIN) == start and add_hours(start, 0, PLAIN).utcoffset().total_seconds() == 0
    assert working_hours_between(start, start, PLAIN) == 0
