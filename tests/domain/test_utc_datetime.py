"""Times are stored as UTC and read back aware, equal to what was written, on SQLite and
PostgreSQL, through peewee and through prepared queries; SQLite text in the older forms
peewee also writes (no fraction, date only) still reads."""
from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.models import AuthSession
from miniapp_api.models import Report
from miniapp_api.prepared import Param
from miniapp_api.prepared import Prepared
from tests.factories import make_report

CREATED = Prepared(lambda: Report.select(Report.created_at).where(Report.id == Param("id")))
moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1),
                       timezones=st.sampled_from([timezone.utc, timezone(timedelta(hours=8)),
                                                  timezone(timedelta(hours=-3, minutes=-30))]))


@pytest.fixture
def report(app):
    database.connect(reuse_if_open=True)
    yield make_report()
    database.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moment=moments)
def test_a_time_reads_back_as_written_and_in_utc(report, moment):
    with write_tx():
        Report.update(created_at=moment).where(Report.id == report.id).execute()
    for value in (Report.get_by_id(report.id).created_at, CREATED.scalar(id=report.id)):
        assert value == moment
        assert value.tzinfo is timezone.utc


def test_older_sqlite_text_forms_still_read(report):
    if is_postgres():
        # PostgreSQL hands back datetime objects, never text: nothing older to read.
        assert isinstance(database.execute_sql('SELECT created_at FROM report').fetchone()[0], datetime)
        return
    for text, expected in (("2026-12-05 22:51:18", datetime(2026, 12, 5, 22, 51, 18, tzinfo=timezone.utc)),
                           ("2026-12-05 22:51:18.5", datetime(2026, 12, 5, 22, 51, 18, 500000, tzinfo=timezone.utc)),
                           ("2026-12-05", datetime(2026, 12, 5, tzinfo=timezone.utc))):
        database.execute_sql('UPDATE report SET created_at = ? WHERE id = ?', (text, report.id))
        assert Report.get_by_id(report.id).created_at == expected, text
        assert CREATED.scalar(id=report.id) == expected, text


def test_a_naive_time_is_refused(report):
    with pytest.raises(ValueError):
        AuthSession.expires_at.db_value(datetime(2026, 1, 1))
