"""Fixtures of the console tests: accounts of every role, a logged-in browser-like client."""
from __future__ import annotations

import re

import pytest
from argon2 import PasswordHasher

from miniapp_api.console import security
from miniapp_api.db import database
from miniapp_api.models import utcnow

PASSWORD = "Correct-horse-42"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ACCOUNTS = {
    "county": ("县管理员", "county_admin", None),
    "ys_admin": ("永盛管理员", "unit_admin", "yongsheng"),
    "yn_admin": ("永宁管理员", "unit_admin", "yongning"),
    "auditor": ("审计员", "auditor", None),
}


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch):
    """Cheap argon2 parameters: the tests hash many passwords on a small machine."""
    monkeypatch.setattr(security, "hasher", PasswordHasher(time_cost=1, memory_cost=256, parallelism=1))
    monkeypatch.setattr(security, "_dummy_hash", None)


@pytest.fixture
def accounts(app):
    """One account per role (and two unit administrators), all with ``PASSWORD``."""
    database.connect(reuse_if_open=True)
    for username, (name, role, township) in ACCOUNTS.items():
        security.create_admin(username, name, role, PASSWORD, township, utcnow())
    database.close()
    return ACCOUNTS


class Console:
    """A test client that logs in through the form and sends the CSRF token like a browser."""

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()
        self.token = ""

    def _remember(self, resp):
        m = CSRF_RE.search(resp.get_data(as_text=True))
        if m:
            self.token = m.group(1)
        return resp

    def login(self, username: str, password: str = PASSWORD):
        self._remember(self.client.get("/console/login"))
        resp = self.client.post("/console/login", data={"username": username, "password": password,
                                                        "csrf_token": self.token})
        if resp.status_code == 302:
            self._remember(self.client.get("/console/password"))
        return resp

    def get(self, path: str, **kw):
        return self._remember(self.client.get(path, **kw))

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw):
        data = dict(data or {})
        if csrf:
            data.setdefault("csrf_token", self.token)
        return self._remember(self.client.post(path, data=data, **kw))

    def text(self, path: str) -> str:
        resp = self.get(path)
        assert resp.status_code == 200, (path, resp.status_code, resp.get_data(as_text=True)[:500])
        return resp.get_data(as_text=True)


@pytest.fixture
def console(app, accounts):
    """Log in as ``console("county")``; each call is a fresh browser."""

    def make(username: str | None = None) -> Console:
        c = Console(app)
        if username:
            resp = c.login(username)
            assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
        return c

    return make


@pytest.fixture
def db():
    """An open connection for tests that look at rows directly."""
    database.connect(reuse_if_open=True)
    yield database
    if not database.is_closed():
        database.close()
