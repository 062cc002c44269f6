"""Fixtures for the WeChat client, the shared token store and the fake WeChat server.

Everything is real: the fake listens on a local port, the client reaches it over HTTP, and
tokens are stored in a real database (a SQLite file; PostgreSQL too where TEST_DATABASE_URL
names one).
"""
from __future__ import annotations

import os
import uuid
import warnings

import pytest
import requests

from bridges.fakes.serve import serve_in_thread
from miniapp_api.tokens import DbTokenStore
from bridges.wechat.client import WechatClient
from bridges.wechat.client import WechatClientSettings
from bridges.fakes.wechat import create_fake_wechat
from miniapp_api.config import WechatSettings
from miniapp_api.config import WechatTemplates
from miniapp_api.db import bind
from miniapp_api.db import database
from miniapp_api.migrations import upgrade

APPID = "wxfa4e00000000test"
SECRET = "test-app-secret-0123456789"
TEMPLATE = "tpl-report-status"
TEMPLATE_FIELDS = {
    "character_string1": "character_string",
    "thing2": "thing",
    "phrase3": "phrase",
    "time4": "time",
}


class Clock:
    """A clock the test moves by hand (seconds, like ``time.time``)."""

    def __init__(self, start: float = 1_750_000_000.0):
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Fake:
    """The running fake: its base URL, its state and a small HTTP helper for ``/_fake/``."""

    def __init__(self, url: str, state, clock: Clock):
        self.url = url
        self.state = state
        self.clock = clock
        self.http = requests.Session()

    def get(self, path: str, **params) -> dict:
        with self.http.get(self.url + path, params=params, timeout=5) as res:
            res.raise_for_status()
            return res.json()

    def post(self, path: str, body: dict | None = None, **params) -> dict:
        with self.http.post(self.url + path, json=body or {}, params=params, timeout=5) as res:
            res.raise_for_status()
            return res.json()

    def login_code(self, openid: str | None = None, **extra) -> tuple[str, str]:
        """What wx.login would give the mini-program."""
        answer = self.post("/_fake/login-code", {"openid": openid, **extra})
        return answer["code"], answer["openid"]

    def stats(self) -> dict:
        return self.get("/_fake/stats")

    def calls(self, path: str) -> int:
        return self.stats()["calls"].get(path, 0)


@pytest.fixture
def clock() -> Clock:
    return Clock()


class _Switch:
    """A WSGI app that forwards to whichever fake the current test installed."""

    app = None

    def __call__(self, environ, start_response):
        return self.app(environ, start_response)


@pytest.fixture(scope="session")
def _fake_server():
    # One listening server for the session (stopping one takes half a second); each test
    # still gets a brand-new fake behind it.
    switch = _Switch()
    server = serve_in_thread(switch)
    yield server, switch
    server.shutdown()


@pytest.fixture
def fake(_fake_server, clock):
    server, switch = _fake_server
    switch.app = create_fake_wechat(APPID, SECRET, clock=clock, templates={TEMPLATE: TEMPLATE_FIELDS})
    handle = Fake(server.base_url, switch.app.extensions["fake_wechat"], clock)
    yield handle
    handle.http.close()


def _bind_sqlite(tmp_path):
    bind(f"sqlite:///{tmp_path / 'tongxin.db'}")
    database.connect(reuse_if_open=True)
    upgrade()


@pytest.fixture
def db(tmp_path):
    """A fresh SQLite database file with the current schema."""
    _bind_sqlite(tmp_path)
    yield database
    if not database.is_closed():
        database.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_db(request, tmp_path):
    """The same tests on SQLite and, when TEST_DATABASE_URL is set, on PostgreSQL.

    PostgreSQL runs in a schema of its own (dropped afterwards), so parallel runs and other
    suites sharing the database do not see each other's tables.
    """
    if request.param == "sqlite":
        _bind_sqlite(tmp_path)
        yield request.param
        if not database.is_closed():
            database.close()
        return
    url = os.environ.get("TEST_DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        pytest.skip("TEST_DATABASE_URL does not name a PostgreSQL database")
    schema = f"t_wechat_{uuid.uuid4().hex[:12]}"
    sep = "&" if "?" in url else "?"
    with warnings.catch_warnings():
        # miniapp_api.db passes autorollback=True, which peewee 4 deprecates (reported).
        warnings.filterwarnings("ignore", "Peewee no longer uses the \"autorollback\" option",
                                DeprecationWarning)
        bind(f"{url}{sep}options=-csearch_path%3D{schema}")
    database.connect(reuse_if_open=True)
    database.execute_sql(f'CREATE SCHEMA "{schema}"')
    upgrade()
    yield request.param
    database.connect(reuse_if_open=True)
    database.execute_sql(f'DROP SCHEMA "{schema}" CASCADE')
    database.close()


def make_settings(base_url: str, **overrides) -> WechatClientSettings:
    values = {
        "appid": APPID,
        "secret": SECRET,
        "api_base_url": base_url,
        "push_token": "push-token-for-tests",
        "templates": WechatTemplates(report_status=TEMPLATE),
        "request_timeout_seconds": 2.0,
        "miniprogram_state": "developer",
    }
    values.update(overrides)
    return WechatClientSettings.from_config(WechatSettings(**values))


@pytest.fixture
def settings(fake) -> WechatClientSettings:
    return make_settings(fake.url)


@pytest.fixture
def client(settings, db):
    with WechatClient(settings, DbTokenStore()) as wechat:
        yield wechat
