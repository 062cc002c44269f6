"""The fake WeChat server's own rules, checked over raw HTTP (no client in between)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from bridges.fakes.wechat import KEYWORD_RULES
from bridges.fakes.wechat import FakeWechatState

from .conftest import APPID
from .conftest import SECRET
from .conftest import TEMPLATE

ROOT = Path(__file__).resolve().parents[2]


def wx_get(fake, path: str, **params) -> dict:
    with fake.http.get(fake.url + path, params=params, timeout=5) as res:
        assert res.status_code == 200
        return res.json()


def wx_post(fake, path: str, body, **params) -> dict:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body, ensure_ascii=False).encode()
    with fake.http.post(fake.url + path, data=data, params=params, timeout=5) as res:
        assert res.status_code == 200
        return res.json()


def new_token(fake) -> str:
    answer = wx_get(fake, "/cgi-bin/token", grant_type="client_credential", appid=APPID, secret=SECRET)
    assert answer["expires_in"] == 7200
    return answer["access_token"]


def active_user(fake) -> str:
    code, openid = fake.login_code()
    assert wx_get(fake, "/sns/jscode2session", appid=APPID, secret=SECRET, js_code=code,
                  grant_type="authorization_code")["openid"] == openid
    return openid


def sec_check(fake, token: str, openid: str, **body) -> dict:
    return wx_post(fake, "/wxa/msg_sec_check",
                   {"version": 2, "openid": openid, "scene": 1, "content": "你好", **body},
                   access_token=token)


# --- /cgi-bin/token -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "errcode"),
    [
        ({"grant_type": "client_credential", "appid": "wxnot", "secret": SECRET}, 40013),
        ({"grant_type": "client_credential", "appid": APPID, "secret": "wrong"}, 40001),
        ({"grant_type": "password", "appid": APPID, "secret": SECRET}, 40002),
    ],
)
def test_token_endpoint_errors(fake, params, errcode):
    assert wx_get(fake, "/cgi-bin/token", **params)["errcode"] == errcode


def test_token_daily_quota(fake):
    fake.state.token_daily_limit = 2
    new_token(fake)
    new_token(fake)

    assert wx_get(fake, "/cgi-bin/token", grant_type="client_credential", appid=APPID,
                  secret=SECRET)["errcode"] == 45009
    fake.clock.advance(86400)
    new_token(fake)


def test_a_new_token_retires_the_old_one_after_five_minutes(fake):
    openid = active_user(fake)
    old = new_token(fake)
    current = new_token(fake)

    fake.clock.advance(299)
    assert sec_check(fake, old, openid)["errcode"] == 0
    fake.clock.advance(2)
    assert sec_check(fake, old, openid)["errcode"] == 40001
    assert sec_check(fake, current, openid)["errcode"] == 0


def test_token_expires_after_two_hours(fake):
    token = new_token(fake)
    fake.clock.advance(7200)

    assert sec_check(fake, token, "anyone")["errcode"] == 42001


def test_business_calls_need_a_known_token(fake):
    assert sec_check(fake, "", "anyone")["errcode"] == 41001
    assert sec_check(fake, "made-up", "anyone")["errcode"] == 40001


# --- /sns/jscode2session ------------------------------------------------------------------------


def test_jscode2session_tolerates_an_access_token_param(fake):
    code, openid = fake.login_code(unionid="u-1")

    answer = wx_get(fake, "/sns/jscode2session", appid=APPID, secret=SECRET, js_code=code,
                    grant_type="authorization_code", access_token="whatever")

    assert answer["openid"] == openid
    assert answer["unionid"] == "u-1"
    assert "errcode" not in answer


@pytest.mark.parametrize(
    ("override", "errcode"),
    [({"appid": "wxother"}, 40013), ({"secret": "nope"}, 40125), ({"grant_type": "x"}, 40002)],
)
def test_jscode2session_checks_the_app(fake, override, errcode):
    code, _ = fake.login_code()
    params = {"appid": APPID, "secret": SECRET, "js_code": code, "grant_type": "authorization_code"}

    assert wx_get(fake, "/sns/jscode2session", **{**params, **override})["errcode"] == errcode


# --- /wxa/msg_sec_check -------------------------------------------------------------------------


def test_msg_sec_check_answer_shape(fake):
    openid, token = active_user(fake), new_token(fake)

    answer = sec_check(fake, token, openid, content="有人赌博")

    assert answer["errcode"] == 0
    assert answer["result"] == {"suggest": "risky", "label": 20006}
    assert answer["trace_id"]
    assert {d["strategy"] for d in answer["detail"]} == {"content_model", "keyword"}
    assert answer["detail"][1]["keyword"] == "赌博"


@pytest.mark.parametrize(
    ("body", "errcode"),
    [
        (b"", 44002),
        (b"not json", 47001),
        ({"version": 1}, 47001),
        ({"content": ""}, 44002),
        ({"content": "字" * 2501}, 47001),
        ({"scene": 0}, 40129),
        ({"scene": "1"}, 40129),
        ({"openid": "o-unknown"}, 40003),
    ],
)
def test_msg_sec_check_rules(fake, body, errcode):
    openid, token = active_user(fake), new_token(fake)
    if isinstance(body, dict):
        body = {"version": 2, "openid": openid, "scene": 1, "content": "你好", **body}

    assert wx_post(fake, "/wxa/msg_sec_check", body, access_token=token)["errcode"] == errcode


def test_msg_sec_check_accepts_2500_chars(fake):
    openid, token = active_user(fake), new_token(fake)

    assert sec_check(fake, token, openid, content="字" * 2500)["errcode"] == 0


def test_msg_sec_check_must_be_posted(fake):
    assert wx_get(fake, "/wxa/msg_sec_check", access_token=new_token(fake))["errcode"] == 43302


def test_known_but_inactive_user(fake):
    _, openid = fake.login_code()  # never logged in with it
    assert sec_check(fake, new_token(fake), openid)["errcode"] == 61010  # "user access record expired"


# --- /cgi-bin/message/subscribe/send ------------------------------------------------------------

VALID = {"character_string1": "R-20250601_01", "thing2": "路灯不亮", "phrase3": "处理中", "time4": "09:30"}


def send(fake, token: str, openid: str, **overrides) -> dict:
    body = {"touser": openid, "template_id": TEMPLATE,
            "data": {k: {"value": v} for k, v in VALID.items()}, **overrides}
    return wx_post(fake, "/cgi-bin/message/subscribe/send", body, access_token=token)


@pytest.mark.parametrize(
    ("key", "value", "ok"),
    [
        ("thing2", "一" * 20, True),
        ("thing2", "一" * 21, False),
        ("thing2", "", False),
        ("character_string1", "A" * 32, True),
        ("character_string1", "A" * 33, False),
        ("character_string1", "编号1", False),
        ("character_string1", "R 1", False),
        ("phrase3", "已办结", True),
        ("phrase3", "已经处理完毕了", False),
        ("phrase3", "done", False),
        ("time4", "2025年6月1日 09:30", True),
        ("time4", "2025-06-01 09:30:00 ~ 2025-06-01 18:00", True),
        ("time4", "25:00", False),
        ("time4", "明天上午", False),
    ],
)
def test_subscribe_keyword_rules(fake, key, value, ok):
    openid, token = active_user(fake), new_token(fake)
    fake.state.grant_consent(openid, TEMPLATE)

    answer = send(fake, token, openid, data={**{k: {"value": v} for k, v in VALID.items()},
                                             key: {"value": value}})

    if ok:
        assert answer["errcode"] == 0
    else:
        assert answer["errcode"] == 47003
        assert answer["errmsg"].startswith(f"argument invalid! data.{key}.value invalid")


@pytest.mark.parametrize(
    ("kind", "good", "bad"),
    [
        ("number", "12.5", "12a"),
        ("letter", "abc", "ab1"),
        ("symbol", "#&", "######"),
        ("date", "2025-06-01", "09:30"),
        ("amount", "¥100.50元", "1000000000000"),
        ("phone_number", "+86 139-0000-0000", "tel:139"),
        ("car_number", "浙A12345", "浙A123456789"),
        ("name", "张三", "张三三三三三三三三三三"),
    ],
)
def test_other_keyword_types(kind, good, bad):
    assert KEYWORD_RULES[kind](good)
    assert not KEYWORD_RULES[kind](bad)


def test_subscribe_missing_declared_key(fake):
    openid, token = active_user(fake), new_token(fake)
    fake.state.grant_consent(openid, TEMPLATE)
    data = {k: {"value": v} for k, v in VALID.items() if k != "time4"}

    answer = send(fake, token, openid, data=data)

    assert answer["errcode"] == 47003
    assert "data.time4.value" in answer["errmsg"]


@pytest.mark.parametrize(("override", "errcode"), [
    ({"miniprogram_state": "production"}, 47003),
    ({"lang": "fr_FR"}, 47003),
    ({"touser": "o-nobody"}, 40003),
    ({"template_id": "nope"}, 40037),
])
def test_subscribe_rejects_bad_fields(fake, override, errcode):
    openid, token = active_user(fake), new_token(fake)
    fake.state.grant_consent(openid, TEMPLATE)

    assert send(fake, token, openid, **override)["errcode"] == errcode


def test_subscribe_page_checked_when_pages_are_declared(fake):
    openid, token = active_user(fake), new_token(fake)
    fake.state.grant_consent(openid, TEMPLATE, 2)
    fake.state.pages = {"pages/report/detail"}

    assert send(fake, token, openid, page="pages/nope")["errcode"] == 41030
    assert send(fake, token, openid, page="pages/report/detail?number=R1")["errcode"] == 0


def test_consents_are_counted_and_recorded(fake):
    openid, token = active_user(fake), new_token(fake)
    assert fake.post("/_fake/consents", {"openid": openid, "template_id": TEMPLATE, "count": 2})["unused"] == 2

    assert send(fake, token, openid)["errcode"] == 0
    assert send(fake, token, openid, lang="en_US", miniprogram_state="trial")["errcode"] == 0
    assert send(fake, token, openid)["errcode"] == 43101

    items = fake.get("/_fake/messages")["items"]
    assert [(m["lang"], m["miniprogram_state"]) for m in items] == [("zh_CN", "formal"), ("en_US", "trial")]
    assert items[0]["data"] == VALID


# --- scripting ----------------------------------------------------------------------------------


def test_outage_counts_down_and_spares_the_token_endpoint(fake):
    openid, token = active_user(fake), new_token(fake)
    fake.post("/_fake/outage", {"mode": "error500", "count": 2})

    new_token(fake)  # not affected
    for _ in range(2):
        with fake.http.post(fake.url + "/wxa/msg_sec_check", params={"access_token": token},
                            json={"version": 2}, timeout=5) as res:
            assert res.status_code == 500
    assert sec_check(fake, token, openid)["errcode"] == 0


def test_outage_until_switched_off(fake):
    openid, token = active_user(fake), new_token(fake)
    fake.post("/_fake/outage", {"mode": "busy"})
    assert [sec_check(fake, token, openid)["errcode"] for _ in range(3)] == [-1, -1, -1]

    fake.post("/_fake/outage", {"mode": "off"})
    assert sec_check(fake, token, openid)["errcode"] == 0


def test_bad_outage_mode_is_refused(fake):
    with fake.http.post(fake.url + "/_fake/outage", json={"mode": "flaky"}, timeout=5) as res:
        assert res.status_code == 400


def test_force_token_error_and_stats(fake):
    openid, token = active_user(fake), new_token(fake)
    fake.post("/_fake/force-token-error", {"count": 2})

    assert [sec_check(fake, token, openid)["errcode"] for _ in range(3)] == [40001, 40001, 0]
    stats = fake.stats()
    assert stats["token_fetches"] == 1
    assert stats["logins"] == 1
    assert stats["calls"]["/wxa/msg_sec_check"] == 3


def test_advance_and_reset(fake):
    code, _ = fake.login_code()
    fake.post("/_fake/advance", {"seconds": 301})
    assert wx_get(fake, "/sns/jscode2session", appid=APPID, secret=SECRET, js_code=code,
                  grant_type="authorization_code")["errcode"] == 40029

    fake.post("/_fake/reset")
    assert fake.stats() == {"token_fetches": 0, "logins": 0, "messages_sent": 0,
                            "calls": {"/_fake/stats": 1}}


def test_unknown_path_is_an_invalid_url(fake):
    assert wx_get(fake, "/sns/jsCode2Session")["errcode"] == 40066


def test_index_page(fake):
    with fake.http.get(fake.url + "/", timeout=5) as res:
        assert res.status_code == 200
        assert res.headers["Content-Type"].startswith("text/html")
        assert "获取登录 code" in res.text
        assert "http" not in res.text.replace("http-equiv", "")  # no external assets


def test_state_is_usable_without_http():
    now = [1000.0]
    state = FakeWechatState(APPID, SECRET, clock=lambda: now[0])
    code, openid = state.issue_login_code()

    assert state.code_to_session(APPID, SECRET, code, "authorization_code")["openid"] == openid
    with pytest.raises(ValueError):
        state.register_template("t", {"k": "emoji"})


# --- standalone ---------------------------------------------------------------------------------


def test_runs_standalone():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridges.fakes.wechat", "--port", str(port), "--appid", APPID,
         "--secret", SECRET, "--template", "tpl1=thing1:thing,time2:time"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        with requests.Session() as http:
            deadline = time.monotonic() + 10
            while True:
                try:
                    with http.get(f"http://127.0.0.1:{port}/cgi-bin/token", timeout=1, params={
                        "grant_type": "client_credential", "appid": APPID, "secret": SECRET,
                    }) as res:
                        assert res.json()["expires_in"] == 7200
                        break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "the fake did not start"
                    time.sleep(0.1)
            with http.post(f"http://127.0.0.1:{port}/_fake/consents", timeout=1,
                           json={"openid": "o1", "template_id": "tpl1"}) as res:
                assert res.json()["unused"] == 1
    finally:
        proc.terminate()
        proc.wait(timeout=10)
