"""Counting the SQL statements a piece of work sends, at the driver: every ``execute`` on a
cursor of the bound database (transaction control included: ``BEGIN``, ``COMMIT``, savepoints,
``PREPARE``)."""
from __future__ import annotations

from contextlib import contextmanager

from miniapp_api.db import database


class _CountingCursor:
    """A DB-API cursor that records each statement it runs, and is otherwise the cursor."""

    def __init__(self, cursor, seen: list[str]):
        self._cursor = cursor
        self._seen = seen

    def execute(self, sql, params=()):
        self._seen.append(sql)
        return self._cursor.execute(sql, params)

    def executemany(self, sql, seq):
        self._seen.append(sql)
        return self._cursor.executemany(sql, seq)

    def __iter__(self):
        return iter(self._cursor)

    def __getattr__(self, name):
        return getattr(self._cursor, name)


@contextmanager
def statements():
    """Yield a list that fills with every SQL statement sent while the block runs (in this
    process, through the bound database)."""
    db = database.obj
    seen: list[str] = []
    plain = type(db).cursor

    def cursor(*args, **kwargs):
        return _CountingCursor(plain(db, *args, **kwargs), seen)

    db.cursor = cursor
    try:
        yield seen
    finally:
        del db.cursor
