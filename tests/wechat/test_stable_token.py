"""The fake's ``POST /cgi-bin/stable_token``, over raw HTTP: normal mode, force_refresh, limits."""
from __future__ import annotations

import pytest

from .conftest import APPID
from .conftest import SECRET
from .test_fake_server import active_user
from .test_fake_server import new_token
from .test_fake_server import sec_check


def stable(fake, **body) -> dict:
    payload = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, **body}
    with fake.http.post(fake.url + "/cgi-bin/stable_token", json=payload, timeout=5) as res:
        assert res.status_code == 200
        return res.json()


def test_normal_mode_returns_the_same_token_while_valid(fake):
    first = stable(fake)
    fake.clock.advance(1000)
    again = stable(fake, force_refresh=False)

    assert again["access_token"] == first["access_token"]
    assert first["expires_in"] == 7200
    assert again["expires_in"] == 6200


def test_normal_mode_rotates_in_the_last_five_minutes_and_both_work(fake):
    openid = active_user(fake)
    old = stable(fake)["access_token"]
    fake.clock.advance(7200 - 299)
    new = stable(fake)["access_token"]

    assert new != old
    assert sec_check(fake, old, openid)["errcode"] == 0
    assert sec_check(fake, new, openid)["errcode"] == 0
    fake.clock.advance(300)
    assert sec_check(fake, old, openid)["errcode"] == 42001  # expired
    openid = active_user(fake)  # (msgSecCheck wants a user seen in the last two hours)
    assert sec_check(fake, new, openid)["errcode"] == 0
    assert stable(fake)["access_token"] == new


def test_force_refresh_retires_the_previous_token_at_once(fake):
    openid = active_user(fake)
    old = stable(fake)["access_token"]
    fake.clock.advance(31)
    new = stable(fake, force_refresh=True)["access_token"]

    assert new != old
    assert sec_check(fake, old, openid)["errcode"] == 40001
    assert sec_check(fake, new, openid)["errcode"] == 0
    assert stable(fake)["access_token"] == new


def test_force_refresh_is_limited_to_every_30_seconds_and_20_a_day(fake):
    first = stable(fake, force_refresh=True)["access_token"]
    assert stable(fake, force_refresh=True)["access_token"] == first  # too soon: no refresh
    for _ in range(19):
        fake.clock.advance(31)
        assert stable(fake, force_refresh=True)["access_token"] != first
    fake.clock.advance(31)
    assert stable(fake, force_refresh=True)["errcode"] == 45009
    assert "access_token" in stable(fake)  # normal mode still answers


def test_stable_and_classic_tokens_do_not_retire_each_other(fake):
    openid = active_user(fake)
    stable_token = stable(fake)["access_token"]
    classic = new_token(fake)
    new_token(fake)
    fake.clock.advance(301)

    assert sec_check(fake, stable_token, openid)["errcode"] == 0
    assert sec_check(fake, classic, openid)["errcode"] == 40001  # retired by the next classic one
    stable(fake, force_refresh=True)
    assert stable(fake)["access_token"] != stable_token


@pytest.mark.parametrize(("override", "errcode"), [
    ({"appid": "wxnot"}, 40013),
    ({"secret": "wrong"}, 40125),
    ({"grant_type": "password"}, 40002),
    ({"force_refresh": "false"}, 47001),
])
def test_stable_token_errors(fake, override, errcode):
    assert stable(fake, **override)["errcode"] == errcode


def test_stable_token_is_post_json_only(fake):
    params = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}
    with fake.http.get(fake.url + "/cgi-bin/stable_token", params=params, timeout=5) as res:
        assert res.json()["errcode"] == 43002
    with fake.http.post(fake.url + "/cgi-bin/stable_token", data=params, timeout=5) as res:
        assert res.json()["errcode"] == 47001


def test_token_endpoints_can_be_scripted_down(fake):
    fake.post("/_fake/token-endpoints", {"down": True})
    with fake.http.post(fake.url + "/cgi-bin/stable_token", json={}, timeout=5) as res:
        assert res.status_code == 500
    fake.post("/_fake/token-endpoints", {"down": False})
    assert "access_token" in stable(fake)
