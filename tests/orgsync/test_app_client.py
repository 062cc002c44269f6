"""The one DingTalk app client over real HTTP to the fake: base URL (path prefix and TOP calls
included), the database-shared token, the bounded token retry, errors translated."""
from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import requests
from dingtalk import AppKeyClient
from dingtalk.client.base import BaseClient
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from bridges.dingtalk.app_client import AppClient
from bridges.dingtalk.app_client import DingtalkAppSettings
from bridges.dingtalk.app_client import MaybeDelivered
from bridges.dingtalk.app_client import NotDelivered
from bridges.fakes.dingtalk import create_fake_dingtalk
from bridges.errors import PermanentFailure
from bridges.errors import RetryLater
from bridges.errors import Unavailable
from bridges.fakes.serve import serve_in_thread
from miniapp_api.models import PlatformToken
from miniapp_api.tokens import DbTokenStore
from tests.conftest import DT_APP_KEY
from tests.conftest import DT_APP_SECRET


def _client(settings, **changes) -> AppClient:
    return AppClient(replace(DingtalkAppSettings.from_config(settings.dingtalk), **changes), DbTokenStore())


def test_token_is_fetched_once_and_shared_through_the_database(settings, db, fake_app):
    fake_app.add_user("王一", "13900000011")
    with _client(settings) as a, _client(settings) as b:
        assert a.user("u00001")["name"] == "王一"
        assert b.user("u00001")["mobile"] == "13900000011"
        assert a.access_token() == b.access_token()
    assert fake_app.stats()["gettoken_calls"] == 1
    row = PlatformToken.get(PlatformToken.name == f"dingtalk:{DT_APP_KEY}")
    assert row.value == fake_app.token


def test_each_client_has_its_own_http_session(settings, db):
    with _client(settings) as a, _client(settings) as b:
        assert a.sdk._http is not BaseClient._http and a.sdk._http is not b.sdk._http


def test_a_path_prefix_and_top_calls_reach_the_configured_base(settings, db):
    """dingtalk-sdk urljoins away '/dt/' and sends TOP calls to eco.taobao.com; ours do not."""
    fake = create_fake_dingtalk(app_key=DT_APP_KEY, app_secret=DT_APP_SECRET)
    state = fake.extensions["fake_dingtalk"]
    state.app.add_user("李二", "13900000012")
    outside = Response("not here", status=404)
    server = serve_in_thread(DispatcherMiddleware(lambda env, start: outside(env, start), {"/dt": fake}))
    try:
        client = _client(settings, api_base_url=server.base_url + "/dt")
        assert client.user("u00001")["name"] == "李二"
        from dingtalk.model.message import TextBody

        # A TOP gateway call (work notification) through the SDK, with the token as ``session``.
        task = client.call("asyncsend_v2", lambda: client.sdk.message.asyncsend_v2(
            TextBody("通知"), agent_id="123", userid_list=["u00001"]))
        assert task == 1
        client.close()
        assert state.app.gettoken_calls == 1
        assert state.app.top_calls[0]["method"] == "dingtalk.oapi.message.corpconversation.asyncsend_v2"
        assert state.app.top_calls[0]["params"]["session"] == state.app.token
    finally:
        server.shutdown()


def test_the_plain_sdk_would_lose_the_prefix():
    """The pitfall the client works around (PLATFORMS §6.2), shown on the SDK itself."""
    sdk = AppKeyClient("corp", "k", "s")
    sdk.API_BASE_URL = "http://h/dt/"
    seen = []
    sdk._http = type("S", (), {"request": lambda self, method, url, **kw: seen.append(url) or (_ for _ in ()).throw(
        requests.ConnectionError("stop"))})()
    with pytest.raises(requests.ConnectionError):
        sdk.get_access_token()
    assert seen == ["http://h/gettoken"]


def test_wrong_secret_is_a_permanent_failure_and_stores_nothing(settings, db, fake_app, caplog):
    caplog.set_level("DEBUG", logger="dingtalk")
    caplog.set_level("DEBUG", logger="bridges")
    with _client(settings, app_secret="wrong-secret-4f1c") as c:
        with pytest.raises(PermanentFailure) as err:
            c.departments()
    assert err.value.errcode == 40089
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("dingtalk", "bridges")))
    assert "wrong-secret-4f1c" not in ours and "wrong-secret-4f1c" not in str(err.value)
    assert "40089" in ours  # what failed is still said (the SDK's own line, with the secret, is not)
    assert PlatformToken.get_or_none(PlatformToken.name == f"dingtalk:{DT_APP_KEY}") is None
    assert fake_app.stats()["gettoken_calls"] == 1


def test_an_expired_token_is_refreshed_once_and_the_call_retried_once(settings, db, fake_app):
    fake_app.add_user("王一", "13900000011")
    with _client(settings) as c:
        c.user("u00001")
        old = fake_app.token
        fake_app.expire_now()
        assert c.user("u00001")["name"] == "王一"
    stats = fake_app.stats()
    assert stats["gettoken_calls"] == 2  # the first, and one refresh
    assert stats["token_errors"] == {"42001": 1}
    assert stats["calls"]["/user/get"] == 3  # ok, 42001, retried ok
    assert fake_app.token != old


def test_a_token_error_that_persists_is_not_a_storm(settings, db, fake_app):
    """The SDK alone would refresh and retry for as long as the server says 40001."""
    with _client(settings) as c:
        c.departments()
        requests.post(f"{settings.dingtalk.api_base_url}/_fake/app/token", json={"reject_next": 50}, timeout=5)
        with pytest.raises(RetryLater) as err:
            c.departments()
    assert err.value.errcode == 40001
    stats = fake_app.stats()
    assert stats["calls"]["/department/list"] == 3  # first call, then one try and one retry
    assert stats["gettoken_calls"] == 2
    assert stats["token_errors"] == {"40001": 2}


def test_many_threads_share_one_refresh(settings, db, fake_app):
    fake_app.add_user("王一", "13900000011")
    with _client(settings) as c:
        c.user("u00001")
        fake_app.expire_now()
        errors = []

        def call():
            try:
                c.user("u00001")
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
    assert not errors
    # Every thread saw 42001 once, but only one fetched: the others found the fresh token.
    assert fake_app.stats()["gettoken_calls"] == 2


def test_platform_errors_and_outages_are_translated(settings, db, fake_dingtalk, fake_app):
    with _client(settings) as c:
        assert c.user("nobody") is None  # 60121: not in the organisation
        with pytest.raises(PermanentFailure) as err:
            c.chat_send("no-such-chat", {"msgtype": "text", "text": {"content": "x"}})
        assert err.value.errcode == 34013
        with pytest.raises(PermanentFailure) as err:
            c.chat_send("no-such-chat", {"msgtype": "actionCard", "actionCard": {"title": "x", "text": "y"}})
        assert err.value.errcode == 34014
        fake_dingtalk.state.set_outage("error500", count=1)
        with pytest.raises(Unavailable):
            c.chat_send("x", {"msgtype": "text", "text": {"content": "x"}})
    with _client(settings, request_timeout_seconds=0.2) as c:
        c.access_token()
        fake_dingtalk.state.set_outage("timeout", count=1, seconds=0.5)
        with pytest.raises(MaybeDelivered):
            c.chat_send("x", {"msgtype": "text", "text": {"content": "x"}})
    with _client(settings, api_base_url="http://127.0.0.1:9") as c:
        with pytest.raises(NotDelivered):
            c.departments()


def test_departments_and_paged_members(settings, db, fake_app):
    d = fake_app.add_department("永盛街道")["id"]
    sub = fake_app.add_department("永盛一社区", parentid=d)["id"]
    for i in range(250):
        fake_app.add_user(f"成员{i}", f"139{i:08d}", [sub])
    fake_app.add_user("县领导", "13800000000", [1])
    with _client(settings) as c:
        depts = c.departments()
        assert {x["id"] for x in depts} == {1, d, sub}
        members = list(c.users_in_department(sub))
        assert len(members) == 250 and len({m["userid"] for m in members}) == 250
        assert [m["name"] for m in c.users_in_department(1)] == ["县领导"]
    assert fake_app.stats()["calls"]["/user/list"] == 3 + 1  # 100 + 100 + 50, and the root
