"""The catalogue cache: what every submission reads and the console rarely changes, kept per
process and valid while the database's version row stays as it was.

The catalogue is the categories, the units (townships, departments, communities, grids), the
duty posts, the ladder policy, the calendar and the emergency switch. Triggers on their
tables (migration v013) bump the ``counter`` row named ``catalogue`` in the transaction of
every change, whoever makes it. A reader asks for the version first (one indexed read, which
the submission folds into a query it makes anyway) and gets the :class:`Snapshot` of that
version: values loaded since that version was read, never before. After a change commits,
the next request of every process reads the new version and loads afresh, so no process
serves a category or a duty post that a committed change replaced.

Values are loaded lazily, on first use at a version (each by the loader the caller gives,
under a name the caller owns), and must be treated as read-only by everyone who gets them.
Without the version row (a database the migrations have not reached) nothing is cached.

A caller that has read the version puts its snapshot in force for the code it calls
(:func:`using`), so that code's :func:`current` costs no second read.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from miniapp_api.db import database
from miniapp_api.models import Counter
from miniapp_api.prepared import Prepared

#: The name of the version row in ``counter`` (written by the triggers of migration v013).
VERSION_ROW = "catalogue"

_VERSION = Prepared(lambda: Counter.select(Counter.value).where(Counter.name == VERSION_ROW))


def version_query():
    """The version as a subquery, for a caller to select beside what it reads anyway."""
    return Counter.select(Counter.value).where(Counter.name == VERSION_ROW)


class Snapshot:
    """The catalogue as of one version: values by name, loaded on first use."""

    def __init__(self, version: int | None, db: Any):
        self.version = version
        self.db = db
        self._values: dict[str, Any] = {}

    def get(self, name: str, load: Callable[[], Any]) -> Any:
        """The value named ``name``, loaded by ``load()`` on first use at this version
        (every time, when there is no version row)."""
        try:
            return self._values[name]
        except KeyError:
            pass
        value = load()
        if self.version is not None:
            self._values[name] = value
        return value


_lock = threading.Lock()
_latest: Snapshot | None = None
_in_force: ContextVar[Snapshot | None] = ContextVar("catalogue_snapshot", default=None)


def read_version() -> int | None:
    """The version row's value now (None without one): one indexed read."""
    return _VERSION.scalar()


def at(version: int | None) -> Snapshot:
    """The snapshot of ``version``, a value the caller has just read from the database."""
    global _latest
    db = database.obj
    latest = _latest
    # The database object too: tests (and the CLI) rebind to another database, whose
    # version numbers say nothing about this one's.
    if latest is not None and version is not None and latest.version == version and latest.db is db:
        return latest
    fresh = Snapshot(version, db)
    if version is not None:
        with _lock:
            _latest = fresh
    return fresh


def current() -> Snapshot:
    """The snapshot in force (see :func:`using`), else the one of the version read now."""
    pinned = _in_force.get()
    if pinned is not None and pinned.db is database.obj:
        return pinned
    return at(read_version())


@contextmanager
def using(snapshot: Snapshot):
    """Put ``snapshot`` in force for :func:`current` in this block (the caller has just read
    its version, so the code it calls need not read it again)."""
    token = _in_force.set(snapshot)
    try:
        yield snapshot
    finally:
        _in_force.reset(token)
