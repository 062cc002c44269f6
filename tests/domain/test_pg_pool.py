"""The PostgreSQL pool: a connection just returned to it is handed out again without
peewee's liveness round trip (``SELECT 1``); one that sat idle is pinged first, and replaced
when the server dropped it meanwhile; a connection lost during a statement is discarded.
PostgreSQL's own ``pg_stat_activity`` shows what each backend last ran. On SQLite the pool's
liveness check never reaches the database at all."""
from __future__ import annotations

import time

import psycopg2
import pytest

from miniapp_api import db as db_module
from miniapp_api.db import database
from miniapp_api.db import is_postgres



def _pid() -> int:
    return database.execute_sql("SELECT pg_backend_pid()").fetchone()[0]


def _last_query(admin, pid: int) -> str:
    with admin.cursor() as cur:
        cur.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,))
        row = cur.fetchone()
    return row[0] if row else ""


def _idle_past_the_window() -> None:
    time.sleep(db_module.PING_AFTER_IDLE_SECONDS + 0.2)


def test_a_connection_is_pinged_only_after_sitting_idle(db, settings):
    if not is_postgres():
        # SQLite's pooled connections live in this process: the check reads a local counter.
        first = database.connection()
        database.close()
        database.connect()
        assert database.connection() is first and database.execute_sql("SELECT 1").fetchone() == (1,)
        return
    admin = psycopg2.connect(settings.database.url)
    admin.autocommit = True
    try:
        pid = _pid()
        database.close()  # back to the pool
        database.connect()
        assert _pid() == pid and _last_query(admin, pid) == "SELECT pg_backend_pid()"
        database.close()
        database.connect()  # straight away: handed out as it is
        assert _last_query(admin, pid) == "SELECT pg_backend_pid()"
        database.close()
        _idle_past_the_window()
        database.connect()  # idle for longer: pinged first
        assert _last_query(admin, pid) == "SELECT 1"
        assert _pid() == pid
    finally:
        admin.close()


def test_a_connection_the_server_dropped_is_replaced(db, settings):
    if not is_postgres():
        database.close()
        database.obj.close_all()  # what a dropped file handle amounts to: a fresh connection
        database.connect()
        assert database.execute_sql("SELECT 1").fetchone() == (1,)
        return
    admin = psycopg2.connect(settings.database.url)
    admin.autocommit = True
    try:
        # Dropped while idle past the window: the ping finds out, the pool opens another.
        pid = _pid()
        database.close()
        _idle_past_the_window()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
        database.connect()
        replacement = _pid()
        assert replacement != pid

        # Dropped within the window: the next statement fails, and the pool discards the
        # connection instead of handing it out again.
        database.close()
        with admin.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (replacement,))
        database.connect()
        with pytest.raises(Exception):
            _pid()
        database.close()
        database.connect()
        assert _pid() not in (pid, replacement)
    finally:
        admin.close()
