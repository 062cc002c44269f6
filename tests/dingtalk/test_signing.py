"""Signatures pinned against vectors computed by hand from the spec text (PLATFORMS §1.2, §2.1)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

import pytest

from bridges.dingtalk.signing import callback_sign
from bridges.dingtalk.signing import signed_webhook_url
from bridges.dingtalk.signing import verify_callback
from bridges.dingtalk.signing import webhook_sign

SECRET = "SEC1f2e3d4c5b6a79880123456789abcdef0123456789abcdef0123456789abcd"
TS = 1700000000001
# Computed once with the official sample's steps; this value contains "+", "/" and "=",
# so it also pins the quote_plus encoding (%2B, %2F, %3D).
RAW_B64 = "FjClo4cvs/ED1rDJXvjfDZEIl3Zdy0tW0k9Z+8JLNmw="
URL_SIGN = "FjClo4cvs%2FED1rDJXvjfDZEIl3Zdy0tW0k9Z%2B8JLNmw%3D"

APP_SECRET = "appsecret-Yitong-DEMO-0123456789"
APP_TS = 1613630252678
APP_SIGN = "v6myTDBGaY83l02QwS0rVraifzojUhl0zNjcr6OOaOU="


def official_sample(secret: str, timestamp: int) -> str:
    """The DingTalk doc's Python sample, step by step (not our code)."""
    secret_enc = secret.encode("utf-8")
    string_to_sign = "{}\n{}".format(timestamp, secret)
    string_to_sign_enc = string_to_sign.encode("utf-8")
    hmac_code = hmac.new(secret_enc, string_to_sign_enc, digestmod=hashlib.sha256).digest()
    return urllib.parse.quote_plus(base64.b64encode(hmac_code))


def test_pinned_vector_matches_official_sample():
    assert official_sample(SECRET, TS) == URL_SIGN
    assert urllib.parse.unquote_plus(URL_SIGN) == RAW_B64


def test_webhook_sign_matches_vector():
    assert webhook_sign(SECRET, TS) == URL_SIGN


@pytest.mark.parametrize("ts", [0, 1, 1613630252678, 1700000000001, 1999999999999])
@pytest.mark.parametrize("secret", ["SECabc", "SEC" + "x" * 64, "密钥-含中文"])
def test_webhook_sign_equals_official_sample(secret, ts):
    assert webhook_sign(secret, ts) == official_sample(secret, ts)


def test_signed_webhook_url_appends_timestamp_and_sign():
    url = signed_webhook_url("https://oapi.dingtalk.com/robot/send?access_token=abc", SECRET, TS)
    assert url == f"https://oapi.dingtalk.com/robot/send?access_token=abc&timestamp={TS}&sign={URL_SIGN}"
    # The query decodes back to the raw Base64 value, which is what the server compares.
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert q["sign"] == [RAW_B64] and q["timestamp"] == [str(TS)] and q["access_token"] == ["abc"]


def test_signed_webhook_url_without_query():
    assert signed_webhook_url("http://h/robot/send", "s", 5).startswith("http://h/robot/send?timestamp=5&sign=")


def test_callback_sign_is_plain_base64_keyed_with_app_secret():
    by_hand = base64.b64encode(
        hmac.new(APP_SECRET.encode(), f"{APP_TS}\n{APP_SECRET}".encode(), hashlib.sha256).digest()
    ).decode()
    assert by_hand == APP_SIGN
    assert callback_sign(APP_SECRET, APP_TS) == APP_SIGN


def test_verify_callback_accepts_valid_within_window():
    assert verify_callback(APP_SECRET, str(APP_TS), APP_SIGN, now_ms=APP_TS)
    assert verify_callback(APP_SECRET, str(APP_TS), APP_SIGN, now_ms=APP_TS + 3_600_000)
    assert verify_callback(APP_SECRET, str(APP_TS), APP_SIGN, now_ms=APP_TS - 3_600_000)


@pytest.mark.parametrize(
    "ts, sign, now",
    [
        (str(APP_TS), APP_SIGN, APP_TS + 3_600_001),            # stale
        (str(APP_TS), APP_SIGN, APP_TS - 3_600_001),            # from the future
        (str(APP_TS), APP_SIGN[:-2] + "A=", APP_TS),            # wrong signature
        (str(APP_TS), urllib.parse.quote_plus(APP_SIGN), APP_TS),  # url-encoded: not the callback form
        (str(APP_TS + 1), APP_SIGN, APP_TS),                    # signature of another timestamp
        ("", APP_SIGN, APP_TS),
        (None, APP_SIGN, APP_TS),
        (str(APP_TS), "", APP_TS),
        (str(APP_TS), None, APP_TS),
        ("abc", APP_SIGN, APP_TS),
        ("-1613630252678", APP_SIGN, APP_TS),
        ("1613630252678.0", APP_SIGN, APP_TS),
        ("１６１３６３０２５２６７８", APP_SIGN, APP_TS),           # full-width digits
        ("9" * 40, APP_SIGN, APP_TS),
    ],
)
def test_verify_callback_rejects(ts, sign, now):
    assert verify_callback(APP_SECRET, ts, sign, now_ms=now) is False


def test_verify_callback_wrong_secret():
    assert verify_callback("another-secret", str(APP_TS), APP_SIGN, now_ms=APP_TS) is False


def test_verify_callback_custom_window():
    assert verify_callback(APP_SECRET, str(APP_TS), APP_SIGN, now_ms=APP_TS + 61_000, window_ms=60_000) is False
