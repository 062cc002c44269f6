"""The database handle: one ``DatabaseProxy`` bound from ``database.url``.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, so
the API threads and the worker thread can share one file. PostgreSQL is the scale path.
Write transactions go through :func:`write_tx`, which on SQLite takes the write lock up
front (``BEGIN IMMEDIATE``) so two writers never deadlock upgrading a read lock.

Connections are pooled (``playhouse.pool``): a request returns its connection instead of
closing it. Closing the last SQLite connection in WAL mode checkpoints the log, which cost
more than the whole request; a PostgreSQL connection costs a round of authentication.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from urllib.parse import urlparse

from peewee import Database
from peewee import DatabaseProxy
from peewee import PostgresqlDatabase
from peewee import SqliteDatabase
from playhouse.db_url import connect as url_connect
from playhouse.pool import PooledDatabase
from playhouse.pool import PooledSqliteDatabase

database = DatabaseProxy()

# More than gunicorn's threads per process plus the worker; a thread waits up to `timeout`.
POOL = {"max_connections": 64, "stale_timeout": 300, "timeout": 10}

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10_000,
    "synchronous": "normal",
    "cache_size": -16_000,
}


def make_database(url: str) -> Database:
    """Open (lazily) the database a URL names: ``sqlite:///path`` or ``postgresql://...``."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///"):] if url.startswith("sqlite:///") else parsed.path
        if path in ("", ":memory:"):
            return SqliteDatabase(":memory:", pragmas=SQLITE_PRAGMAS, check_same_thread=False)
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return PooledSqliteDatabase(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False, **POOL)
    if parsed.scheme in ("postgres", "postgresql"):
        rest = url.split("://", 1)[1]
        return url_connect(f"postgresql+pool://{rest}", **POOL)
    raise ValueError(f"unsupported database URL scheme: {parsed.scheme}")


def bind(url: str) -> Database:
    """Point the global proxy at the database named by ``url`` and return it."""
    old = database.obj
    db = make_database(url)
    database.initialize(db)
    if isinstance(old, PooledDatabase):
        old.close_all()  # rebinding (tests, the CLI): don't keep the old pool's files open
    return db


def is_postgres() -> bool:
    """True when the bound database is PostgreSQL (``SKIP LOCKED`` and friends are available)."""
    return isinstance(database.obj, PostgresqlDatabase)


# SQLite has one writer at a time. Threads of one process queue here and wake as soon as the
# lock is free, instead of polling in SQLite's busy handler (whose sleeps made the tail).
_sqlite_writer = threading.RLock()


@contextmanager
def write_tx():
    """A transaction meant to write: ``BEGIN IMMEDIATE`` on SQLite, a plain one elsewhere."""
    if isinstance(database.obj, SqliteDatabase):
        with _sqlite_writer, database.atomic("IMMEDIATE"):
            yield
    else:
        with database.atomic():
            yield


def init_app(app) -> None:
    """Open a connection per request and close it afterwards."""

    from flask import request

    @app.before_request
    def _connect():
        # The health checks decide for themselves whether the database answers.
        if request.endpoint in ("healthz", "readyz"):
            return
        database.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if not database.is_closed():
            database.close()
