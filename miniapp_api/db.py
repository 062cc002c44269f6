"""The database handle: one ``DatabaseProxy`` bound from ``database.url``.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, so
the API threads and the worker thread can share one file. PostgreSQL is the scale path.
Write transactions go through :func:`write_tx`, which on SQLite takes the write lock up
front (``BEGIN IMMEDIATE``) so two writers never deadlock upgrading a read lock.
"""
from __future__ import annotations

from urllib.parse import urlparse

from peewee import Database
from peewee import DatabaseProxy
from peewee import PostgresqlDatabase
from peewee import SqliteDatabase
from playhouse.db_url import connect as url_connect

database = DatabaseProxy()

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
            path = ":memory:"
        else:
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        return SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False)
    if parsed.scheme in ("postgres", "postgresql"):
        return url_connect(url.replace("postgres://", "postgresql://", 1))
    raise ValueError(f"unsupported database URL scheme: {parsed.scheme}")


def bind(url: str) -> Database:
    """Point the global proxy at the database named by ``url`` and return it."""
    db = make_database(url)
    database.initialize(db)
    return db


def is_postgres() -> bool:
    """True when the bound database is PostgreSQL (``SKIP LOCKED`` and friends are available)."""
    return isinstance(database.obj, PostgresqlDatabase)


def write_tx():
    """A transaction meant to write: ``BEGIN IMMEDIATE`` on SQLite, a plain one elsewhere."""
    if isinstance(database.obj, SqliteDatabase):
        return database.atomic("IMMEDIATE")
    return database.atomic()


def init_app(app) -> None:
    """Open a connection per request and close it afterwards."""

    @app.before_request
    def _connect():
        database.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if not database.is_closed():
            database.close()
