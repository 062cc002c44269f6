"""The WeChat client against the fake WeChat server, over real HTTP."""
from __future__ import annotations

import logging
import socket
import time

import pytest

from bridges.errors import PermanentFailure
from bridges.errors import PlatformError
from bridges.errors import RateLimited
from bridges.errors import RetryLater
from bridges.errors import Unavailable
from miniapp_api.tokens import DbTokenStore
from bridges.wechat.client import Verdict
from bridges.wechat.client import WechatClient
from bridges.wechat.client import WechatSession
from bridges.wechat.errcodes import classify

from .conftest import SECRET
from .conftest import TEMPLATE
from .conftest import make_settings

GOOD_DATA = {"character_string1": "R20250601-0042", "thing2": "路灯不亮", "phrase3": "已受理",
             "time4": "2025-06-01 09:30"}


def errcode_of(excinfo) -> int | None:
    return excinfo.value.errcode


# --- login -------------------------------------------------------------------------------------


def test_login_returns_openid_and_session_key(client, fake):
    code, openid = fake.login_code()

    session = client.code_to_session(code)

    assert isinstance(session, WechatSession)
    assert session.openid == openid
    assert len(session.session_key) >= 16
    assert session.unionid is None


def test_login_needs_no_access_token(client, fake):
    code, openid = fake.login_code()
    fake.post("/_fake/token-endpoints", {"down": True})

    assert client.code_to_session(code).openid == openid

    assert fake.calls("/cgi-bin/stable_token") == 0
    assert fake.calls("/cgi-bin/token") == 0
    with pytest.raises(Unavailable):  # the token endpoint really is down
        client.access_token()


def test_login_returns_unionid_when_bound(client, fake):
    code, _ = fake.login_code("o-with-union", unionid="union-42")

    assert client.code_to_session(code).unionid == "union-42"


def test_login_code_is_single_use(client, fake):
    code, _ = fake.login_code()
    client.code_to_session(code)

    with pytest.raises(PlatformError) as excinfo:
        client.code_to_session(code)
    assert errcode_of(excinfo) == 40163


def test_login_code_expires_after_five_minutes(client, fake):
    code, _ = fake.login_code()
    fake.clock.advance(301)

    with pytest.raises(PlatformError) as excinfo:
        client.code_to_session(code)
    assert errcode_of(excinfo) == 40029


def test_unknown_login_code_is_invalid(client, fake):
    with pytest.raises(PlatformError) as excinfo:
        client.code_to_session("no-such-code")
    assert errcode_of(excinfo) == 40029


def test_risky_user_is_blocked(client, fake):
    code, _ = fake.login_code(risky=True)

    with pytest.raises(PlatformError) as excinfo:
        client.code_to_session(code)
    assert errcode_of(excinfo) == 40226


def test_more_than_100_logins_a_minute_are_rate_limited(client, fake):
    openid = "o-busy-user"
    for _ in range(100):
        client.code_to_session(fake.login_code(openid)[0])
    code, _ = fake.login_code(openid)

    with pytest.raises(PlatformError) as excinfo:
        client.code_to_session(code)
    assert errcode_of(excinfo) == 45011

    # A rate-limited code is not used up; a minute later it works.
    fake.clock.advance(60)
    assert client.code_to_session(code).openid == openid


# --- msgSecCheck v2 -----------------------------------------------------------------------------


@pytest.fixture
def active_openid(client, fake) -> str:
    """An openid that logged in just now (msgSecCheck wants one active in the last 2 hours)."""
    return client.code_to_session(fake.login_code()[0]).openid


@pytest.mark.parametrize(
    ("content", "suggest", "label"),
    [
        ("小区门口路灯坏了三天了", "pass", 100),
        ("这里有人在待审内容", "review", 21000),
        ("有人在这里聚众赌博", "risky", 20006),
        ("接到诈骗电话", "risky", 20008),
    ],
)
def test_msg_sec_check_verdicts(client, active_openid, content, suggest, label):
    verdict = client.msg_sec_check(openid=active_openid, content=content, scene=2)

    assert isinstance(verdict, Verdict)
    assert (verdict.suggest, verdict.label) == (suggest, label)
    assert verdict.trace_id


def test_msg_sec_check_sends_v2_body(client, fake, active_openid):
    fake.state.risky_words = {"专用违禁词": 20001}

    verdict = client.msg_sec_check(openid=active_openid, content="含有专用违禁词的内容")

    assert (verdict.suggest, verdict.label) == ("risky", 20001)


def test_msg_sec_check_rejects_bad_scene(client, active_openid):
    with pytest.raises(PlatformError) as excinfo:
        client.msg_sec_check(openid=active_openid, content="你好", scene=5)
    assert errcode_of(excinfo) == 40129


def test_msg_sec_check_rejects_unknown_openid(client):
    with pytest.raises(PlatformError) as excinfo:
        client.msg_sec_check(openid="o-never-seen", content="你好")
    assert errcode_of(excinfo) == 40003


def test_msg_sec_check_wants_a_user_active_in_the_last_two_hours(client, fake, active_openid):
    fake.clock.advance(2 * 3600 + 1)

    with pytest.raises(PlatformError) as excinfo:
        client.msg_sec_check(openid=active_openid, content="你好")
    assert errcode_of(excinfo) == 61010


def test_media_check_wants_a_user_active_in_the_last_two_hours(client, fake, active_openid):
    url = "https://tongxin.example/media/abc.jpg"
    assert client.media_check_async(media_url=url, openid=active_openid)  # a trace_id
    fake.clock.advance(2 * 3600 + 1)
    with pytest.raises(PlatformError) as excinfo:
        client.media_check_async(media_url=url, openid=active_openid)
    assert errcode_of(excinfo) == 61010


# --- outages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["busy", "error500", "html"])
def test_outage_is_unavailable(client, fake, active_openid, mode):
    fake.post("/_fake/outage", {"mode": mode, "count": 1})

    with pytest.raises(Unavailable):
        client.msg_sec_check(openid=active_openid, content="你好")
    # The outage was one call long.
    assert client.msg_sec_check(openid=active_openid, content="你好").suggest == "pass"


def test_login_during_outage_is_unavailable(client, fake):
    code, _ = fake.login_code()
    fake.post("/_fake/outage", {"mode": "error500"})

    with pytest.raises(Unavailable):
        client.code_to_session(code)


def test_timeout_is_unavailable_quickly(client, fake, active_openid):
    fake.post("/_fake/outage", {"mode": "timeout", "count": 1, "seconds": 1.5})

    started = time.monotonic()
    with pytest.raises(Unavailable):
        client.msg_sec_check(openid=active_openid, content="你好", timeout=0.3)
    assert time.monotonic() - started < 1.2


def test_connection_refused_is_unavailable(db):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with WechatClient(make_settings(f"http://127.0.0.1:{port}"), DbTokenStore()) as wechat:
        with pytest.raises(Unavailable) as excinfo:
            wechat.code_to_session("any")
    # Neither the message nor a chained exception carries the secret (it is in the token URL).
    assert SECRET not in str(excinfo.value)
    assert excinfo.value.__suppress_context__


def test_wrong_secret_is_a_platform_error_not_a_retry(fake, db):
    with WechatClient(make_settings(fake.url, secret="not-the-secret"), DbTokenStore()) as wechat:
        with pytest.raises(PlatformError) as login:
            wechat.code_to_session(fake.login_code()[0])
        with pytest.raises(PlatformError) as token:
            wechat.access_token()
    assert errcode_of(login) == 40125
    assert errcode_of(token) == 40125
    assert fake.calls("/cgi-bin/stable_token") == 1


def test_token_quota_is_a_platform_error(client, fake):
    fake.state.stable_token_daily_limit = 0

    with pytest.raises(PlatformError) as excinfo:
        client.access_token()
    assert errcode_of(excinfo) == 45009
    assert isinstance(classify(45009, ""), RateLimited)


# --- token retry --------------------------------------------------------------------------------


def test_token_error_is_retried_once_with_a_fresh_token(client, fake, active_openid):
    fake.post("/_fake/force-token-error", {"count": 1})

    assert client.msg_sec_check(openid=active_openid, content="你好").suggest == "pass"

    stats = fake.stats()
    assert stats["token_fetches"] == 2
    assert stats["calls"]["/wxa/msg_sec_check"] == 2


def test_persistent_token_errors_do_not_loop(client, fake, active_openid):
    fake.post("/_fake/force-token-error", {"count": 5})

    with pytest.raises(PlatformError) as excinfo:
        client.msg_sec_check(openid=active_openid, content="你好")

    assert errcode_of(excinfo) == 40001
    stats = fake.stats()
    assert stats["token_fetches"] == 2  # the first one, then exactly one refresh
    assert stats["calls"]["/wxa/msg_sec_check"] == 2  # the call and exactly one retry


def test_other_users_of_the_appid_do_not_retire_our_token(client, fake, active_openid):
    ours = client.access_token()
    # A laptop with the same AppID: a classic token, then a stable one in normal mode.
    fake.get("/cgi-bin/token", grant_type="client_credential", appid=fake.state.appid, secret=SECRET)
    with fake.http.post(fake.url + "/cgi-bin/stable_token", timeout=5, json={
            "grant_type": "client_credential", "appid": fake.state.appid, "secret": SECRET}) as res:
        assert res.json()["access_token"] == ours

    fake.clock.advance(3600)  # long past the classic token's five-minute overlap
    assert client.msg_sec_check(openid=active_openid, content="你好").suggest == "pass"
    assert client.access_token() == ours
    assert fake.calls("/wxa/msg_sec_check") == 1


def test_a_forced_refresh_elsewhere_costs_one_bounded_retry(client, fake, active_openid):
    ours = client.access_token()
    with fake.http.post(fake.url + "/cgi-bin/stable_token", timeout=5, json={
            "grant_type": "client_credential", "appid": fake.state.appid, "secret": SECRET,
            "force_refresh": True}) as res:
        theirs = res.json()["access_token"]
    assert theirs != ours

    assert client.msg_sec_check(openid=active_openid, content="你好").suggest == "pass"
    assert client.access_token() == theirs
    assert fake.calls("/wxa/msg_sec_check") == 2  # refused once with 40001, retried once


# --- subscribe messages -------------------------------------------------------------------------


def test_subscribe_message_uses_up_one_consent(client, fake, active_openid):
    fake.post("/_fake/consents", {"openid": active_openid, "template_id": TEMPLATE, "count": 1})

    client.send_subscribe_message(openid=active_openid, template_id=TEMPLATE, data=GOOD_DATA,
                                  page="pages/report/detail?number=R20250601-0042")

    messages = fake.get("/_fake/messages")["items"]
    assert len(messages) == 1
    sent = messages[0]
    assert sent["touser"] == active_openid
    assert sent["data"] == GOOD_DATA
    assert sent["page"] == "pages/report/detail?number=R20250601-0042"
    assert (sent["miniprogram_state"], sent["lang"]) == ("developer", "zh_CN")

    with pytest.raises(PlatformError) as excinfo:
        client.send_subscribe_message(openid=active_openid, template_id=TEMPLATE, data=GOOD_DATA)
    assert errcode_of(excinfo) == 43101


def test_subscribe_message_without_consent(client, active_openid):
    with pytest.raises(PlatformError) as excinfo:
        client.send_subscribe_message(openid=active_openid, template_id=TEMPLATE, data=GOOD_DATA)
    assert errcode_of(excinfo) == 43101


def test_subscribe_message_thing_longer_than_20_chars(client, fake, active_openid):
    fake.post("/_fake/consents", {"openid": active_openid, "template_id": TEMPLATE, "count": 1})

    with pytest.raises(PlatformError) as excinfo:
        client.send_subscribe_message(openid=active_openid, template_id=TEMPLATE,
                                      data={**GOOD_DATA, "thing2": "一" * 21})

    assert errcode_of(excinfo) == 47003
    assert "data.thing2.value invalid" in excinfo.value.errmsg
    # A rejected message does not use up the consent.
    client.send_subscribe_message(openid=active_openid, template_id=TEMPLATE, data=GOOD_DATA)


def test_subscribe_message_unknown_template(client, fake, active_openid):
    fake.post("/_fake/consents", {"openid": active_openid, "template_id": "tpl-unknown"})

    with pytest.raises(PlatformError) as excinfo:
        client.send_subscribe_message(openid=active_openid, template_id="tpl-unknown", data=GOOD_DATA)
    assert errcode_of(excinfo) == 40037


def test_subscribe_message_unknown_user(client):
    with pytest.raises(PlatformError) as excinfo:
        client.send_subscribe_message(openid="o-never-seen", template_id=TEMPLATE, data=GOOD_DATA)
    assert errcode_of(excinfo) == 40003


# --- hygiene ------------------------------------------------------------------------------------


def test_logs_carry_no_secrets(client, fake, caplog):
    caplog.set_level(logging.DEBUG)
    session = client.code_to_session(fake.login_code()[0])
    fake.post("/_fake/force-token-error", {"count": 5})
    with pytest.raises(PlatformError):
        client.msg_sec_check(openid=session.openid, content="你好")
    token = client.access_token()

    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bridges")]
    assert ours  # the refresh and the failure were logged…
    for message in ours:  # …without the secret, the token or the session_key
        assert SECRET not in message
        assert token not in message
        assert session.session_key not in message


@pytest.mark.parametrize(
    ("errcode", "kind"),
    [
        (43101, PermanentFailure),
        (47003, PermanentFailure),
        (40037, PermanentFailure),
        (40003, PermanentFailure),
        (41030, PermanentFailure),
        (45009, RateLimited),
        (45011, RateLimited),
        (-1, RetryLater),
        (40001, RetryLater),
        (99999, RetryLater),
    ],
)
def test_errcodes_classify(errcode, kind):
    decision = classify(errcode, "msg")

    assert isinstance(decision, kind)
    assert decision.errcode == errcode
