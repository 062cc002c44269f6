"""The shared token store, on SQLite and (when TEST_DATABASE_URL is set) PostgreSQL."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from miniapp_api.tokens import DbTokenStore
from bridges.wechat.client import WechatClient
from miniapp_api.db import database
from miniapp_api.models import PlatformToken
from miniapp_api.models import utcnow

from .conftest import make_settings


class Fetcher:
    """A fetch callable that counts its calls and hands out token-1, token-2, …"""

    def __init__(self, expires_in: int = 7200, delay: float = 0.0):
        self.calls = 0
        self.expires_in = expires_in
        self.delay = delay
        self._lock = threading.Lock()

    def __call__(self) -> tuple[str, int]:
        time.sleep(self.delay)
        with self._lock:
            self.calls += 1
            return f"token-{self.calls}", self.expires_in


def test_fetches_once_then_serves_the_cached_token(any_db):
    store, fetch = DbTokenStore(), Fetcher()

    assert store.get_or_fetch("wechat:wxa", fetch) == "token-1"
    assert store.get_or_fetch("wechat:wxa", fetch) == "token-1"
    assert fetch.calls == 1
    row = PlatformToken.get_by_id("wechat:wxa")
    assert row.expires_at - row.fetched_at == timedelta(seconds=7200)


def test_refetches_when_the_token_expires_within_the_margin(any_db):
    store, fetch = DbTokenStore(), Fetcher()
    store.get_or_fetch("t", fetch)

    later = utcnow() + timedelta(seconds=7200 - 299)
    assert store.get_or_fetch("t", fetch, now=later) == "token-2"
    assert store.get_or_fetch("t", fetch, margin_seconds=60, now=utcnow()) == "token-2"
    assert fetch.calls == 2


def test_tokens_are_kept_apart_by_name(any_db):
    store, fetch = DbTokenStore(), Fetcher()

    assert store.get_or_fetch("wechat:one", fetch) == "token-1"
    assert store.get_or_fetch("dingtalk:two", fetch) == "token-2"
    assert store.get_or_fetch("wechat:one", fetch) == "token-1"


def test_invalidate_only_forgets_the_value_it_was_given(any_db):
    store, fetch = DbTokenStore(), Fetcher()
    store.get_or_fetch("t", fetch)

    # A late "token invalid" about some older token must not drop the current one.
    assert store.invalidate("t", "token-0") is False
    assert store.get_or_fetch("t", fetch) == "token-1"

    assert store.invalidate("t", "token-1") is True
    assert store.get_or_fetch("t", fetch) == "token-2"
    assert store.invalidate("missing", "x") is False


def test_a_failing_fetch_stores_nothing(any_db):
    store = DbTokenStore()

    def broken():
        raise RuntimeError("platform down")

    with pytest.raises(RuntimeError):
        store.get_or_fetch("t", broken)
    assert store.get_or_fetch("t", Fetcher()) == "token-1"


def test_works_without_an_open_connection(any_db):
    database.close()
    store, fetch = DbTokenStore(), Fetcher()

    assert store.get_or_fetch("t", fetch) == "token-1"
    assert store.invalidate("t", "token-1")
    # It closes what it opened, and leaves an open connection open.
    assert database.is_closed()
    database.connect()
    assert store.get_or_fetch("t", fetch) == "token-2"
    assert not database.is_closed()


def test_concurrent_callers_fetch_once(any_db):
    store, fetch = DbTokenStore(), Fetcher(delay=0.2)
    results, errors = [], []

    def worker():
        try:
            results.append(store.get_or_fetch("t", fetch))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)

    assert errors == []
    assert results == ["token-1"] * 6
    assert fetch.calls == 1


def test_two_clients_share_one_wechat_token(any_db, fake):
    settings = make_settings(fake.url)
    with WechatClient(settings, DbTokenStore()) as first, WechatClient(settings, DbTokenStore()) as second:
        code_a, _ = fake.login_code()
        code_b, _ = fake.login_code()

        first.code_to_session(code_a)
        second.code_to_session(code_b)

        assert first.access_token() == second.access_token()
    assert fake.stats()["token_fetches"] == 1


def test_a_client_picks_up_the_token_another_one_refreshed(any_db, fake):
    settings = make_settings(fake.url)
    with WechatClient(settings, DbTokenStore()) as first, WechatClient(settings, DbTokenStore()) as second:
        openid = first.code_to_session(fake.login_code()[0]).openid
        fake.post("/_fake/force-token-error", {"count": 1})
        first.msg_sec_check(openid=openid, content="你好")  # refreshes the shared token

        fake.clock.advance(301)
        assert second.msg_sec_check(openid=openid, content="你好").suggest == "pass"
    stats = fake.stats()
    assert stats["token_fetches"] == 2
    assert stats["calls"]["/wxa/msg_sec_check"] == 3  # no failed call by the second client


class _Rejected(Exception):
    def __init__(self, errcode):
        self.errcode = errcode


class _MemoryStore:
    """A TokenStore in a dict, counting fetches."""

    def __init__(self):
        self.values: dict[str, str] = {}
        self.fetches = 0
        self.invalidated: list[tuple[str, str]] = []

    def get_or_fetch(self, name, fetch):
        if name not in self.values:
            self.fetches += 1
            self.values[name] = fetch()[0]
        return self.values[name]

    def invalidate(self, name, value):
        self.invalidated.append((name, value))
        return self.values.pop(name, None) is not None


def _shared(store):
    from bridges.tokens import SharedToken

    tokens = iter(f"token-{i}" for i in range(1, 10))
    return SharedToken(store, "p:app", lambda: (next(tokens), 7200), platform="p",
                       rejection=_Rejected, errcodes=frozenset({40001}))


def test_shared_token_refreshes_once_and_retries_once():
    store = _MemoryStore()
    token = _shared(store)
    seen = []

    def request():
        seen.append(token.get())
        if len(seen) == 1:
            raise _Rejected("40001")
        return "ok"

    assert token.call("op", request) == "ok"
    assert seen == ["token-1", "token-2"] and store.invalidated == [("p:app", "token-1")]

    def always_rejected():
        token.get()
        raise _Rejected(40001)

    with pytest.raises(_Rejected):
        token.call("op", always_rejected)
    assert store.fetches == 3  # one refresh per call, never a storm


def test_shared_token_passes_other_errors_through_untouched():
    store = _MemoryStore()
    token = _shared(store)
    for error in (_Rejected(45011), _Rejected(None), ValueError("x")):
        def request(error=error):
            token.get()
            raise error
        with pytest.raises(type(error)):
            token.call("op", request)
    assert store.invalidated == [] and store.fetches == 1
