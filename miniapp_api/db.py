"""The database handle: one ``DatabaseProxy`` bound from ``database.url``.

SQLite (the embedded default) runs in WAL mode with foreign keys on and a busy timeout, so
the API threads and the worker thread can share one file. PostgreSQL is the scale path.
Write transactions go through :func:`write_tx`, which on SQLite takes the write lock up
front (``BEGIN IMMEDIATE``) so two writers never deadlock upgrading a read lock.

Connections are pooled (``playhouse.pool``): a request returns its connection instead of
closing it. Closing the last SQLite connection in WAL mode checkpoints the log, which cost
more than the whole request; a PostgreSQL connection costs a round of authentication.
A pooled PostgreSQL connection is checked for liveness only after it has sat idle (see
:class:`_PooledPostgres`).
"""
from __future__ import annotations

import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

from peewee import Database
from peewee import DatabaseProxy
from peewee import PostgresqlDatabase
from peewee import SqliteDatabase
from playhouse.db_url import parse as parse_url
from playhouse.pool import PooledDatabase
from playhouse.pool import PooledPostgresqlDatabase
from playhouse.pool import PooledSqliteDatabase

try:
    import fcntl
except ImportError:  # not on Linux: threads still queue; processes fall back to SQLite's busy wait
    fcntl = None

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
            return _Sqlite(":memory:", pragmas=SQLITE_PRAGMAS, check_same_thread=False)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return _PooledSqlite(path, pragmas=SQLITE_PRAGMAS, check_same_thread=False, **POOL)
    if parsed.scheme in ("postgres", "postgresql"):
        return _PooledPostgres(**parse_url(url), **POOL)
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


class SqliteWriters:
    """The queue of SQLite writers: threads and processes take turns here before
    ``BEGIN IMMEDIATE``.

    SQLite has one writer at a time, and a writer that finds the file locked sleeps in
    SQLite's busy handler, polling with growing naps (up to 100 ms). Under load those naps
    made the tail and left the CPU idle. Here threads of one process queue on a lock and
    processes (gunicorn workers, the bridge worker) on ``flock`` of a file beside the
    database; the kernel wakes the next writer the moment the lock is free.

    A writer waits as long as the one before it takes. That is short because no write
    transaction waits on the network; a process that hangs anyway is ended by gunicorn's
    worker timeout, and the kernel releases its lock with it.
    """

    def __init__(self, path: str | None):
        self._lock_path = f"{path}.writers" if path else None
        self._threads = threading.RLock()
        self._local = threading.local()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int | None:
        if self._lock_path is None or fcntl is None:
            return None
        # flock belongs to the open file: a descriptor inherited across fork would be shared
        # with the parent's other children, so each process opens its own.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    def __enter__(self) -> None:
        self._threads.acquire()
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            try:
                fd = self._file()
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX)
            except BaseException:
                self._threads.release()
                raise
        self._local.depth = depth + 1

    def __exit__(self, *exc_info) -> None:
        self._local.depth -= 1
        try:
            if self._local.depth == 0 and self._fd is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._threads.release()


class _Sqlite(SqliteDatabase):
    """An unpooled SQLite database (``:memory:``) with its writers' queue."""

    def __init__(self, path: str, **kwargs):
        super().__init__(path, **kwargs)
        self.writers = SqliteWriters(None)


class _PooledSqlite(PooledSqliteDatabase):
    """The embedded default: a pool of connections to one file, and its writers' queue."""

    def __init__(self, path: str, **kwargs):
        super().__init__(path, **kwargs)
        self.writers = SqliteWriters(path)


#: A pooled PostgreSQL connection back in the pool for less than this many seconds is handed
#: out again without a liveness round trip.
PING_AFTER_IDLE_SECONDS = 1.0


class _PooledPostgres(PooledPostgresqlDatabase):
    """PostgreSQL through peewee's pool, which pings a connection only when it has sat idle.

    On every check-out peewee's pool sends ``SELECT 1`` to learn whether the server still holds
    the connection: a round trip per request, for some requests as long as their own work. A
    connection returned to the pool less than :data:`PING_AFTER_IDLE_SECONDS` ago was alive
    then, so it is handed out as it is, as HikariCP does within 500 ms of a connection's last
    use; one idle for longer is pinged as before. If the server drops a connection within that
    second (it restarts, or an administrator ends the backend), the next statement on it fails,
    as a statement in the middle of a request would; the pool then discards it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._returned: dict[int, float] = {}  # connection key -> when it came back to the pool

    def _close(self, conn, close_conn=False):
        key = self.conn_key(conn)
        with self._pool_lock:  # re-entrant: the pool's own _close takes it too
            # Forget first: a connection closed for good must never count as recently used.
            self._returned.pop(key, None)
            super()._close(conn, close_conn)
            if not close_conn and any(c is conn for _, _, c in self._connections):  # back in the pool
                self._returned[key] = time.monotonic()

    def _is_closed(self, conn):
        if conn.closed:
            return True
        returned = self._returned.get(self.conn_key(conn))
        if (returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_SECONDS
                and self._adapter.txn_status(conn) == self._adapter.txn_idle):
            return False
        return super()._is_closed(conn)


@contextmanager
def write_tx():
    """A transaction meant to write: ``BEGIN IMMEDIATE`` on SQLite (after queueing with the
    other writers, see :class:`SqliteWriters`), a plain one elsewhere."""
    db = database.obj
    if isinstance(db, SqliteDatabase):
        with db.writers, database.atomic("IMMEDIATE"):
            yield
    else:
        with database.atomic():
            yield

