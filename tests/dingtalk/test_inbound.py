"""@robot callback verification and parsing (PLATFORMS §2.1, CONTRACT §4)."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import pytest

from bridges.dingtalk.inbound import CallbackRejected
from bridges.dingtalk.inbound import CallbackRequest
from bridges.dingtalk.inbound import parse_callback
from tests.dingtalk.conftest import load_fixture

APP_SECRET = "appsecret-Yitong-DEMO-0123456789"
EXAMPLE = load_fixture("callback_official_example.json")
NOW = EXAMPLE["createAt"] + 2_000


def sign(ts: int | str, secret: str = APP_SECRET) -> str:
    """Computed by hand from the spec: Base64(HMAC-SHA256(AppSecret, ts + "\\n" + AppSecret))."""
    return base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()


def make(body: dict | bytes, ts: int | str | None = EXAMPLE["createAt"], sig: str | None = "auto", **extra_headers) -> CallbackRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", **extra_headers}
    if ts is not None:
        headers["timestamp"] = str(ts)
    if sig == "auto":
        sig = sign(ts)
    if sig is not None:
        headers["sign"] = sig
    return CallbackRequest(headers=headers, body=raw)


def test_valid_official_example():
    msg = parse_callback(make(EXAMPLE), APP_SECRET, now_ms=NOW)
    assert msg.msg_id == EXAMPLE["msgId"]
    assert msg.conversation_id == EXAMPLE["conversationId"]
    assert msg.conversation_type == "2"
    assert msg.sender_staff_id == "user123"
    assert msg.sender_nick == "张三"
    assert msg.text == "受理 YT-20240101-0001"  # leading space removed
    assert msg.session_webhook == EXAMPLE["sessionWebhook"]
    assert msg.session_webhook_expires_ms == 1613635652738
    assert msg.create_at_ms == 1613630252678
    assert msg.conversation_title == "机器人测试-TEST"
    assert msg.raw == EXAMPLE


def test_header_names_are_case_insensitive():
    req = make(EXAMPLE)
    req = CallbackRequest(headers={"Timestamp": req.headers["timestamp"], "SIGN": req.headers["sign"]}, body=req.body)
    assert parse_callback(req, APP_SECRET, now_ms=NOW).msg_id == EXAMPLE["msgId"]


def test_full_width_space_and_padding_stripped():
    body = dict(EXAMPLE, text={"content": "\u3000 办结 YT-1 已处理 完毕 \n"})
    assert parse_callback(make(body), APP_SECRET, now_ms=NOW).text == "办结 YT-1 已处理 完毕"


def test_external_sender_has_no_staff_id():
    body = {k: v for k, v in EXAMPLE.items() if k != "senderStaffId"}
    assert parse_callback(make(body), APP_SECRET, now_ms=NOW).sender_staff_id is None


def test_non_text_message_gives_empty_text():
    body = {k: v for k, v in EXAMPLE.items() if k != "text"}
    body["msgtype"] = "picture"
    msg = parse_callback(make(body), APP_SECRET, now_ms=NOW)
    assert msg.msgtype == "picture" and msg.text == ""


@pytest.mark.parametrize(
    "req",
    [
        pytest.param(make(EXAMPLE, sig=sign(EXAMPLE["createAt"], "wrong-secret")), id="tampered-secret"),
        pytest.param(make(EXAMPLE, sig=sign(EXAMPLE["createAt"])[:-4] + "AAA="), id="tampered-sign"),
        pytest.param(make(EXAMPLE, ts=EXAMPLE["createAt"] + 1, sig=sign(EXAMPLE["createAt"])), id="tampered-timestamp"),
        pytest.param(make(EXAMPLE, ts=NOW - 3_600_001), id="stale"),
        pytest.param(make(EXAMPLE, ts=NOW + 3_600_001), id="future"),
        pytest.param(make(EXAMPLE, ts=None, sig=sign(EXAMPLE["createAt"])), id="missing-timestamp"),
        pytest.param(make(EXAMPLE, sig=None), id="missing-sign"),
        pytest.param(make(EXAMPLE, ts=None, sig=None), id="missing-both"),
        pytest.param(make(EXAMPLE, ts="abc"), id="non-numeric-timestamp"),
        pytest.param(make(EXAMPLE, ts=f"{EXAMPLE['createAt'] / 1000:.3f}"), id="seconds-not-ms"),
    ],
)
def test_rejected_401(req):
    with pytest.raises(CallbackRejected) as exc:
        parse_callback(req, APP_SECRET, now_ms=NOW)
    assert exc.value.status == 401


def test_signature_checked_before_body():
    # A body that is not even JSON, with a bad signature: 401, not 400.
    with pytest.raises(CallbackRejected) as exc:
        parse_callback(make(b"{not json", sig="bad"), APP_SECRET, now_ms=NOW)
    assert exc.value.status == 401


def _without(key: str) -> dict:
    return {k: v for k, v in EXAMPLE.items() if k != key}


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="bad-json"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
        pytest.param(b"[1, 2]", id="array"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"", id="empty"),
        pytest.param(_without("msgId"), id="no-msgId"),
        pytest.param(_without("conversationId"), id="no-conversationId"),
        pytest.param(_without("sessionWebhook"), id="no-sessionWebhook"),
        pytest.param(_without("sessionWebhookExpiredTime"), id="no-expiry"),
        pytest.param(_without("createAt"), id="no-createAt"),
        pytest.param(_without("text"), id="no-text"),
        pytest.param(dict(EXAMPLE, text={"content": 5}), id="text-not-string"),
        pytest.param(dict(EXAMPLE, createAt="yesterday"), id="createAt-not-number"),
        pytest.param(dict(EXAMPLE, createAt=True), id="createAt-bool"),
        pytest.param(dict(EXAMPLE, msgId={"x": 1}), id="msgId-object"),
        pytest.param(dict(EXAMPLE, sessionWebhook="javascript:alert(1)"), id="sessionWebhook-not-http"),
    ],
)
def test_rejected_400(body):
    with pytest.raises(CallbackRejected) as exc:
        parse_callback(make(body), APP_SECRET, now_ms=NOW)
    assert exc.value.status == 400


def test_oversized_body_400():
    body = dict(EXAMPLE, text={"content": "x" * 300_000})
    with pytest.raises(CallbackRejected) as exc:
        parse_callback(make(body), APP_SECRET, now_ms=NOW)
    assert exc.value.status == 400
