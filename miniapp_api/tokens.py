"""Platform access tokens shared by every process through the database.

A new classic WeChat token retires the previous one five minutes later, so if each process
fetched its own, they would keep knocking each other's tokens out. Instead one row per token
(``PlatformToken``) holds the current value: readers take it as long as it is fresh, and a
process that finds it stale takes the write lock, looks again (another process may have just
refreshed it) and only then asks the platform.

:class:`DbTokenStore` is the production implementation of the platform clients' token store
protocol (``bridges.tokens.TokenStore``), matching it by shape since the domain never imports
``bridges``; whoever builds a client passes a ``DbTokenStore()`` in.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from datetime import timedelta

from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.models import PlatformToken
from miniapp_api.models import utcnow

logger = logging.getLogger(__name__)


def _fresh(row: PlatformToken | None, now: datetime, margin: timedelta) -> bool:
    return bool(row and row.value and row.expires_at and row.expires_at - margin > now)


class DbTokenStore:
    """Access tokens cached in the ``platform_token`` table, refreshed by one caller at a time.

    Implements ``bridges.tokens.TokenStore`` (structurally: the domain never imports bridges).

    Each process also remembers a token it has read for up to ``LOCAL_SECONDS`` (never past
    the refresh margin), so a busy API does not read the table on every WeChat call. That is
    safe because WeChat keeps a replaced token working for 5 minutes, and a token error
    (``invalidate``) forgets the local copy at once.
    """

    LOCAL_SECONDS = 60

    def __init__(self):
        self._local: dict[str, tuple[str, datetime, datetime]] = {}
        # The last token of each name the platform refused in this process. Until the table
        # has forgotten it, a thread reading the row must not pick it up (and cache it) again.
        self._rejected: dict[str, str] = {}
        self._lock = threading.Lock()

    def get_or_fetch(
        self,
        name: str,
        fetch: Callable[[], tuple[str, int]],
        *,
        margin_seconds: int = 300,
        now: datetime | None = None,
    ) -> str:
        """Return the token called ``name``, fetching a new one only when it is missing or stale.

        A token is stale when it expires within ``margin_seconds``. ``fetch()`` returns
        ``(token, expires_in_seconds)`` and is called under the write lock, after a second look
        at the row, so concurrent callers (threads or processes) trigger one fetch, not many.
        Whatever ``fetch`` raises propagates and nothing is stored.

        Call it outside any open transaction: inside one, the write lock becomes a savepoint
        of the caller's transaction (and on SQLite a deferred one may fail to take the lock).
        """
        now = now or utcnow()
        margin = timedelta(seconds=margin_seconds)
        cached = self._local.get(name)
        if cached and cached[1] - margin > now and cached[2] > now:
            return cached[0]
        rejected = self._rejected.get(name)
        opened = database.connect(reuse_if_open=True)
        try:
            row = PlatformToken.get_or_none(PlatformToken.name == name)
            if _fresh(row, now, margin) and row.value != rejected:
                self._remember(name, row.value, row.expires_at, now)
                return row.value
            with write_tx():
                row = self._locked_row(name)
                if _fresh(row, now, margin) and row.value != rejected:
                    return row.value
                value, expires_in = fetch()
                # Measure expiry from when the answer arrived, not from when we were called.
                fetched_at = max(now, utcnow())
                PlatformToken.insert(
                    name=name,
                    value=value,
                    expires_at=fetched_at + timedelta(seconds=int(expires_in)),
                    fetched_at=fetched_at,
                ).on_conflict(
                    conflict_target=[PlatformToken.name],
                    preserve=[PlatformToken.value, PlatformToken.expires_at, PlatformToken.fetched_at],
                ).execute()
                logger.info("platform token refreshed: %s (expires in %ss)", name, expires_in)
                self._remember(name, value, fetched_at + timedelta(seconds=int(expires_in)), now)
                return value
        finally:
            if opened:
                database.close()

    def invalidate(self, name: str, value: str) -> bool:
        """Forget token ``name`` if it still equals ``value``; return whether it was forgotten.

        Comparing with the value the caller actually used means a late 40001 for an old token
        does not throw away the fresh token another process stored meanwhile.
        """
        with self._lock:
            self._rejected[name] = value
            self._local.pop(name, None)
        opened = database.connect(reuse_if_open=True)
        try:
            with write_tx():
                count = (
                    PlatformToken.update(value="", expires_at=None)
                    .where((PlatformToken.name == name) & (PlatformToken.value == value))
                    .execute()
                )
            if count:
                logger.info("platform token invalidated: %s", name)
            return bool(count)
        finally:
            if opened:
                database.close()

    def _remember(self, name: str, value: str, expires_at: datetime, now: datetime) -> None:
        with self._lock:
            if value != self._rejected.get(name):
                self._local[name] = (value, expires_at, now + timedelta(seconds=self.LOCAL_SECONDS))

    @staticmethod
    def _locked_row(name: str) -> PlatformToken | None:
        """Read the row inside the write transaction, locking it where the database allows."""
        if not is_postgres():
            # SQLite: write_tx() is BEGIN IMMEDIATE, which already holds the database write lock.
            return PlatformToken.get_or_none(PlatformToken.name == name)
        # PostgreSQL locks rows, not the database: make sure the row exists, then lock it so a
        # second process waits here until the first has stored its token.
        PlatformToken.insert(name=name, value="").on_conflict_ignore().execute()
        return PlatformToken.select().where(PlatformToken.name == name).for_update().get()
