"""Shared fixtures: settings, a migrated database (SQLite, and PostgreSQL when
``TEST_DATABASE_URL`` is set), the app, the local WeChat fake over real HTTP, logged-in residents.

Database-backed tests are parametrized over the backends, so one run of the suite covers
SQLite and PostgreSQL.
"""
from __future__ import annotations

import os
import time
import uuid
from datetime import datetime
from datetime import timezone
from pathlib import Path

import pytest
import requests

from bridges.fakes.dingtalk import create_fake_dingtalk
from bridges.fakes.serve import serve_in_thread
from bridges.fakes.wechat import create_fake_wechat
from miniapp_api.config import Settings
from miniapp_api.config import parse_settings

APPID = "wxtest0000000001"
APP_SECRET = "wechat-app-secret-for-tests"
DT_APP_KEY = "dingtest-app-key"
DT_APP_SECRET = "dingtalk-app-secret-for-tests"
PG_URL = os.environ.get("TEST_DATABASE_URL", "")

REPORT_STATUS_FIELDS = {"character_string1": "character_string", "phrase2": "phrase", "thing3": "thing",
                        "time4": "time"}

BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def _worker_suffix() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def pg_url():
    """A PostgreSQL database of this test run and xdist worker alone, dropped at the end.

    Named by the run too, so two runs on one server (two engineers, or CI beside a
    developer) never empty each other's tables.
    """
    import psycopg2

    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", uuid.uuid4().hex)[:8]
    name = f"tongxin_test_{_worker_suffix()}_{run}"
    admin = psycopg2.connect(PG_URL)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        cur.execute(f'CREATE DATABASE "{name}"')
    base = PG_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    from miniapp_api.db import database

    if database.obj is not None and not database.is_closed():
        database.close()
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def _reset_postgres(url: str) -> None:
    """Empty every table (fast) so each test starts from a migrated, empty database."""
    from miniapp_api import migrations
    from miniapp_api.db import bind
    from miniapp_api.db import database
    from miniapp_api.models import ALL_MODELS

    bind(url)
    database.connect(reuse_if_open=True)
    migrations.upgrade()
    tables = ", ".join(f'"{m._meta.table_name}"' for m in ALL_MODELS if m._meta.table_name != "schema_version")
    database.execute_sql(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
    database.close()


@pytest.fixture(params=BACKENDS)
def db_url(request, tmp_path) -> str:
    """The URL of an empty, migrated database; parametrized over SQLite and PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'tongxin.db'}"
    url = request.getfixturevalue("pg_url")
    _reset_postgres(url)
    return url


@pytest.fixture
def fake_wechat():
    """The local fake WeChat server, reached over real HTTP."""
    app = create_fake_wechat(APPID, APP_SECRET, templates={"tmpl-report-status": REPORT_STATUS_FIELDS})
    server = serve_in_thread(app)
    yield server
    server.shutdown()


def township_table(code: str, name: str, kind: str, dingtalk_url: str | None = None) -> dict:
    t = {"code": code, "name": name, "kind": kind}
    if dingtalk_url:
        t["dingtalk"] = {
            "webhook": f"{dingtalk_url}/robot/send?access_token=tok-{code}",
            "secret": f"SEC-secret-{code}",
            "conversation_id": f"cid-{code}",
        }
    return t


def make_settings_dict(db_url: str, tmp_path: Path, wechat_url: str, dingtalk_url: str = "http://127.0.0.1:9") -> dict:
    """A complete, valid configuration pointing at the fakes and at ``tmp_path``."""
    return {
        "server": {"secret_key": "test-secret-key-0123456789abcdef", "public_base_url": "https://tongxin.test"},
        "database": {"url": db_url},
        "reports": {"daily_limit_per_resident": 20},
        "uploads": {"dir": str(tmp_path / "uploads")},
        "wechat": {
            "appid": APPID, "secret": APP_SECRET, "api_base_url": wechat_url, "push_token": "push-token-for-tests",
            "templates": {"report_status": "tmpl-report-status"}, "content_check_timeout_seconds": 1.0,
            "request_timeout_seconds": 2.0,
        },
        "dingtalk": {"api_base_url": dingtalk_url, "app_key": DT_APP_KEY, "app_secret": DT_APP_SECRET},
        "townships": [
            township_table("yongsheng", "永盛街道", "street", dingtalk_url),
            township_table("yongning", "永宁街道", "street", dingtalk_url),
            township_table("yitong", "伊通镇", "town", dingtalk_url),
        ],
        "departments": [{"code": "chengguan", "name": "城管局", "dingtalk": {
            "webhook": f"{dingtalk_url}/robot/send?access_token=tok-chengguan",
            "secret": "SEC-secret-chengguan", "conversation_id": "cid-chengguan"}}],
    }


class Clock:
    """A clock tests step forward: the worker and the fake DingTalk both read it."""

    def __init__(self):
        self.t = time.time()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.t, timezone.utc)


@pytest.fixture
def clock() -> Clock:
    return Clock()


GROUP_MEMBERS = {
    "yongsheng": [{"staff_id": "ys-a", "name": "王永盛", "mobile": "13900000001"},
                  {"staff_id": "ys-b", "name": "李备岗", "mobile": "13900000002"}],
    "yongning": [{"staff_id": "yn-a", "name": "赵永宁", "mobile": "13900000003"}],
    "yitong": [{"staff_id": "yt-a", "name": "钱伊通", "mobile": "13900000004"}],
    "chengguan": [{"staff_id": "cg-a", "name": "孙城管", "mobile": "13900000005"}],
}


@pytest.fixture
def fake_dingtalk(clock):
    """The local fake DingTalk with one group per test unit, on the test clock."""
    app = create_fake_dingtalk(app_key=DT_APP_KEY, app_secret=DT_APP_SECRET, clock=clock)
    state = app.extensions["fake_dingtalk"]
    for code, members in GROUP_MEMBERS.items():
        state.add_group(f"cid-{code}", f"{code}群", f"tok-{code}", f"SEC-secret-{code}", members)
    server = serve_in_thread(app)
    server.state = state
    yield server
    server.shutdown()


@pytest.fixture
def settings_dict(db_url, tmp_path, fake_wechat, fake_dingtalk) -> dict:
    """Edit this dict in a test (before using ``app``) to change one setting."""
    return make_settings_dict(db_url, tmp_path, fake_wechat.base_url, fake_dingtalk.base_url)


@pytest.fixture
def settings(settings_dict) -> Settings:
    return parse_settings(settings_dict)


@pytest.fixture
def app(settings):
    """The app on a migrated database holding the config's organisation."""
    from miniapp_api import create_app
    from miniapp_api import migrations
    from miniapp_api.db import database
    from miniapp_api.seed import apply_config

    app = create_app(settings)
    database.connect(reuse_if_open=True)
    migrations.upgrade()
    apply_config(settings)
    database.close()
    yield app
    if not database.is_closed():
        database.close()


@pytest.fixture
def db(app):
    """The app's database (SQLite or PostgreSQL), with this thread's connection open."""
    from miniapp_api.db import database

    database.connect(reuse_if_open=True)
    yield database
    if not database.is_closed():
        database.close()


@pytest.fixture
def client(app):
    return app.test_client()


class Residents:
    """Log residents in through the fake WeChat, as the mini-program would."""

    def __init__(self, client, wechat_url: str):
        self.client = client
        self.wechat_url = wechat_url

    def code(self, openid: str | None = None) -> str:
        resp = requests.post(f"{self.wechat_url}/_fake/login-code", json={"openid": openid} if openid else {}, timeout=5)
        resp.raise_for_status()
        return resp.json()["code"]

    def login(self, openid: str | None = None) -> dict:
        """Log in and return ``{"token", "openid", "headers"}``."""
        openid = openid or f"o-{uuid.uuid4().hex[:20]}"
        resp = self.client.post("/api/v1/auth/wechat-login", json={"code": self.code(openid)})
        assert resp.status_code == 200, resp.get_json()
        token = resp.get_json()["token"]
        return {"token": token, "openid": openid, "headers": {"Authorization": f"Bearer {token}"}}


@pytest.fixture
def residents(client, fake_wechat) -> Residents:
    return Residents(client, fake_wechat.base_url)


@pytest.fixture
def resident(residents) -> dict:
    """One logged-in resident: ``{"token", "openid", "headers"}``."""
    return residents.login()


def report_body(**overrides) -> dict:
    body = {
        "category": "sanitation",
        "description": "小区门口垃圾堆了三天没人清理",
        "township": "yongsheng",
        "location": {"lat": 43.345, "lng": 125.305, "address": "永盛街道 人民大街 18 号"},
        "photos": [],
        "anonymous": False,
    }
    body.update(overrides)
    return body
