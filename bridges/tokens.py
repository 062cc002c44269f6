"""The access token of a platform client: kept in a token store, refreshed once when rejected.

The WeChat client and the DingTalk app client handle their tokens the same way, written here
once (:class:`SharedToken`):

- the token is read through a :class:`TokenStore` under a name (``wechat:<appid>``,
  ``dingtalk:<app_key>``); the store fetches a new one (once, under its own lock) only when
  it is missing or about to expire;
- a call the platform rejects with one of its token errcodes forgets exactly the token that
  call used (another process may already hold a newer one), fetches once and retries once;
  a second rejection is raised as it is (the SDKs' own retries have no bound, and a server
  that keeps answering 40001 would make them recurse until the stack runs out).

The store is a protocol, so these clients import no database: production wires in
:class:`miniapp_api.tokens.DbTokenStore`, which shares each token between every process
(each new classic WeChat token retires the previous one).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Protocol
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: What a token fetch returns: ``(token, expires_in_seconds)``.
Fetch = Callable[[], tuple[str, int]]


class TokenStore(Protocol):
    """Where platform access tokens are kept between calls, one value per name."""

    def get_or_fetch(self, name: str, fetch: Fetch) -> str:
        """Return token ``name``, calling ``fetch()`` only when it is missing or stale.

        Whatever ``fetch`` raises propagates and nothing is stored.
        """
        ...

    def invalidate(self, name: str, value: str) -> bool:
        """Forget token ``name`` if it still equals ``value``; return whether it was forgotten."""
        ...


def _errcode(exc: BaseException) -> int | None:
    """The integer errcode an SDK exception carries, or None."""
    try:
        return int(exc.errcode)  # type: ignore[attr-defined]
    except (AttributeError, TypeError, ValueError):
        return None


class SharedToken:
    """One client's access token: read through a :class:`TokenStore`, refreshed once on rejection.

    ``rejection`` is the SDK's exception class for an errcode answer (it carries ``errcode``);
    ``errcodes`` are the codes meaning "this token is no good". Thread-safe: the only per-call
    state (which token this thread last used) is thread-local.
    """

    def __init__(self, store: TokenStore, name: str, fetch: Fetch, *, platform: str,
                 rejection: type[Exception], errcodes: frozenset[int]):
        self.store = store
        self.name = name
        self._fetch = fetch
        self._platform = platform
        self._rejection = rejection
        self._errcodes = errcodes
        self._local = threading.local()

    def get(self) -> str:
        """The current token, fetched through the store when stale; remembered for this thread."""
        token = self.store.get_or_fetch(self.name, self._fetch)
        self._local.token = token
        return token

    def call(self, operation: str, request: Callable[[], T]) -> T:
        """Run ``request()``; on a token errcode forget the token used, then retry once.

        The retry fetches a new token through :meth:`get` (the request reads it); a second
        token error, like any other failure, is raised as it is.
        """
        try:
            return request()
        except self._rejection as exc:
            code = _errcode(exc)
            if code not in self._errcodes:
                raise
            logger.warning("%s %s: token rejected (errcode %s), refreshing once",
                           self._platform, operation, code)
            self.store.invalidate(self.name, getattr(self._local, "token", ""))
            return request()
