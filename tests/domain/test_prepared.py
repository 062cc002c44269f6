"""Queries compiled once (miniapp_api.prepared) read and write exactly what peewee would,
on SQLite and PostgreSQL."""
from __future__ import annotations

from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest
from peewee import IntegrityError

from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.models import Counter
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import utcnow
from miniapp_api.prepared import Param
from miniapp_api.prepared import Prepared
from tests.factories import make_report



RECENT = Prepared(lambda: Report.select(Report.id, Report.number, Report.created_at, Report.anonymous,
                                        Report.resident)
                  .where((Report.created_at >= Param("since", Report.created_at)) & (Report.status == "pending"))
                  .order_by(Report.id.desc()).limit(Param("limit")))


def test_rows_match_peewee_and_bind_fresh_values_each_call(db):
    old = make_report(now=utcnow() - timedelta(days=3))
    new = [make_report(), make_report(anonymous=True)]
    since = utcnow() - timedelta(days=1)

    rows = RECENT.rows(since=since, limit=10)
    expected = list(Report.select(Report.id, Report.number, Report.created_at, Report.anonymous, Report.resident)
                    .where((Report.created_at >= since) & (Report.status == "pending"))
                    .order_by(Report.id.desc()).limit(10).tuples())
    assert [tuple(r) for r in rows] == expected
    assert [r.id for r in rows] == [new[1].id, new[0].id]
    # converted as peewee converts: aware UTC datetimes, booleans, foreign keys as ids
    assert rows[0].created_at.tzinfo is not None and rows[0].anonymous is True and rows[1].anonymous is False
    assert rows[0].resident == new[1].resident_id

    # the same compiled statement, other values
    assert [r.id for r in RECENT.rows(since=since - timedelta(days=5), limit=10)] == [new[1].id, new[0].id, old.id]
    assert [r.id for r in RECENT.rows(since=since - timedelta(days=5), limit=1)] == [new[1].id]
    assert RECENT.one(since=utcnow() + timedelta(days=1), limit=1) is None


def test_a_query_is_compiled_once_per_dialect(db):
    make_report()
    built = []

    def build():
        built.append(1)
        return Report.select(Report.number).where(Report.id == Param("id"))

    query = Prepared(build)
    for _ in range(3):
        query.rows(id=1)
    assert built == [1]
    assert "?" in query._compile().sql or "%s" in query._compile().sql


def test_datetime_values_are_converted_by_their_field(db):
    # A naive datetime is a bug the field refuses, prepared or not.
    report = make_report()
    with pytest.raises(ValueError):
        RECENT.rows(since=datetime(2026, 1, 1), limit=1)
    aware = datetime(2020, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=8)))
    assert [r.id for r in RECENT.rows(since=aware, limit=5)] == [report.id]


def test_upsert_with_returning_counts_up_on_both_databases(db):
    bump = Prepared(lambda: Counter.insert(name=Param("name"), value=1)
                    .on_conflict(conflict_target=[Counter.name], update={Counter.value: Counter.value + 1})
                    .returning(Counter.value))
    with write_tx():
        assert [bump.scalar(name="test:a") for _ in range(3)] == [1, 2, 3]
        assert bump.scalar(name="test:b") == 1
    assert Counter.get_by_id("test:a").value == 3


def test_an_insert_may_not_freeze_a_callable_default(db):
    # created_at defaults to utcnow(): compiled once, it would be the same instant forever.
    frozen = Prepared(lambda: OutboxEvent.insert(kind=Param("kind"), payload=Param("payload", OutboxEvent.payload)))
    with pytest.raises(RuntimeError, match="created_at"):
        frozen.execute(kind="x", payload={})


NUMBER_OF = Prepared(lambda: Report.select(Report.number).where(Report.id == Param("id")))


def _server_statements() -> set[str]:
    """The statements PostgreSQL holds prepared for this thread's connection."""
    return {name for (name,) in database.execute_sql("SELECT name FROM pg_prepared_statements").fetchall()}


def test_postgresql_prepares_each_statement_once_per_connection(db):
    report = make_report()
    if not is_postgres():
        # SQLite has no server; its driver keeps its own statement cache.
        assert NUMBER_OF.scalar(id=report.id) == report.number and NUMBER_OF._compile().server is None
        return
    name, prepare, execute = NUMBER_OF._compile().server
    assert prepare.startswith(f"PREPARE {name} AS SELECT") and "$1" in prepare and execute == f"EXECUTE {name}(%s)"
    assert NUMBER_OF.scalar(id=report.id) == report.number
    assert name in _server_statements()
    before = database.execute_sql("SELECT count(*) FROM pg_prepared_statements").fetchone()[0]
    assert [NUMBER_OF.scalar(id=report.id) for _ in range(3)] == [report.number] * 3
    assert database.execute_sql("SELECT count(*) FROM pg_prepared_statements").fetchone()[0] == before

    # A failed transaction does not lose the statement: it runs again after the rollback.
    with pytest.raises(Exception):
        with database.atomic():
            NUMBER_OF.scalar(id=report.id)
            database.execute_sql("SELECT 1/0")
    assert NUMBER_OF.scalar(id=report.id) == report.number

    # Another connection has its own statements: it prepares on first use.
    database.close()
    database.obj.close_all()
    database.connect()
    assert name not in _server_statements()
    assert NUMBER_OF.scalar(id=report.id) == report.number
    assert name in _server_statements()


def test_an_insert_that_fails_leaves_its_statement_usable(db):
    bump = Prepared(lambda: Counter.insert(name=Param("name"), value=Param("value")).returning(Counter.value))
    with write_tx():
        assert bump.scalar(name="test:once", value=7) == 7
    with pytest.raises(IntegrityError):
        with write_tx():
            bump.scalar(name="test:once", value=8)
    with write_tx():
        assert bump.scalar(name="test:twice", value=9) == 9
    assert [c.value for c in Counter.select().where(Counter.name.startswith("test:")).order_by(Counter.name)] == [7, 9]
