"""RobotClient against the fake DingTalk over real HTTP, and the errcode table."""
from __future__ import annotations

import time

import pytest
import requests
from flask import Flask
from flask import Response

from bridges.dingtalk import errcodes
from bridges.dingtalk.client import RobotClient
from bridges.errors import PermanentFailure
from bridges.errors import RateLimited
from bridges.errors import RetryLater
from bridges.errors import Unavailable
from bridges.fakes.serve import serve_in_thread
from tests.dingtalk.conftest import CID
from tests.dingtalk.conftest import SECRET


def md(text: str = "测试消息", mobiles: list[str] | None = None) -> dict:
    body = {"msgtype": "markdown", "markdown": {"title": "测试", "text": text}, "at": {"isAtAll": False}}
    if mobiles:
        body["at"]["atMobiles"] = mobiles
    return body


# ---------------------------------------------------------------- errcode table


@pytest.mark.parametrize(
    "code, msg, cls, extra",
    [
        (130101, "send too fast, exceed 20 times per minute", RateLimited, {"retry_after": 600.0}),
        ("130101", "send too fast", RateLimited, {"retry_after": 600.0}),
        (410100, "rate limited", RateLimited, {}),
        (90030, "webhook over limit", RateLimited, {}),
        (310000, "sign not match", PermanentFailure, {}),
        (310000, "keywords not in content", PermanentFailure, {}),
        (310000, "ip 1.2.3.4 not in whitelist", PermanentFailure, {}),
        (310000, "invalid timestamp", RetryLater, {}),
        (300001, "token is not exist", PermanentFailure, {}),
        (300005, "token is not exist", PermanentFailure, {}),
        (300001, "session 不存在", PermanentFailure, {}),
        (400013, "group dissolved", PermanentFailure, {}),
        (40035, "缺少参数 json", PermanentFailure, {}),
        (999999, "something new", RetryLater, {}),
        ("abc", "garbage", RetryLater, {}),
        (None, "", RetryLater, {}),
    ],
)
def test_classify(code, msg, cls, extra):
    err = errcodes.classify(code, msg)
    assert type(err) is cls
    for attr, value in extra.items():
        assert getattr(err, attr) == value
    if isinstance(code, int):
        assert err.errcode == code


def test_classify_ok_is_none():
    assert errcodes.classify(0, "ok") is None
    assert errcodes.classify("0", "ok") is None


def test_quota_waits_longer_than_block():
    assert errcodes.classify(90030, "").retry_after > errcodes.classify(130101, "").retry_after


def test_rule_refuses_duplicates():
    with pytest.raises(ValueError):
        errcodes.rule(130101)(lambda c, m: RetryLater("x"))


# ---------------------------------------------------------------- success and errors


def test_send_success_signed(fake, client):
    answer = client.send(fake.webhook, SECRET, md("你好 @13800000001", ["13800000001"]), msg_uuid="u-1", now_ms=fake.now_ms())
    assert answer == {"errcode": 0, "errmsg": "ok"}
    [msg] = fake.state.messages(CID)
    assert msg["via"] == "robot" and msg["msgtype"] == "markdown"
    assert msg["msg_uuid"] == "u-1" and msg["at_mobiles"] == ["13800000001"]
    assert msg["rendered_mentions"] == ["13800000001"] and msg["is_at_all"] is False


def test_send_does_not_mutate_payload(fake, client):
    payload = md()
    client.send(fake.webhook, SECRET, payload, msg_uuid="u-2", now_ms=fake.now_ms())
    assert "msgUuid" not in payload


def test_unknown_token_is_permanent(fake, client):
    with pytest.raises(PermanentFailure) as exc:
        client.send(f"{fake.base_url}/robot/send?access_token=nope", SECRET, md(), msg_uuid=None, now_ms=fake.now_ms())
    assert exc.value.errcode == 300001


def test_bad_secret_is_permanent(fake, client):
    with pytest.raises(PermanentFailure) as exc:
        client.send(fake.webhook, "SECwrong", md(), msg_uuid=None, now_ms=fake.now_ms())
    assert exc.value.errcode == 310000 and "sign not match" in str(exc.value)


def test_missing_secret_on_signed_robot_is_rejected(fake, client):
    with pytest.raises(RetryLater) as exc:  # no timestamp at all → "invalid timestamp"
        client.send(fake.webhook, None, md(), msg_uuid=None, now_ms=fake.now_ms())
    assert exc.value.errcode == 310000
    assert fake.state.messages(CID) == []


def test_clock_skew_is_retry_later(fake, client):
    with pytest.raises(RetryLater) as exc:
        client.send(fake.webhook, SECRET, md(), msg_uuid=None, now_ms=fake.now_ms() - 2 * 3_600_000)
    assert exc.value.errcode == 310000 and exc.value.delay


def test_snake_case_body_rejected(fake, client):
    body = {"msgtype": "actionCard", "action_card": {"title": "t", "text": "x", "single_title": "查看", "single_url": "http://x"}}
    with pytest.raises(PermanentFailure) as exc:
        client.send(fake.webhook, SECRET, body, msg_uuid=None, now_ms=fake.now_ms())
    assert exc.value.errcode == 40035
    assert fake.state.messages(CID) == []


# ---------------------------------------------------------------- rate limit


def test_21st_message_in_a_minute_is_rate_limited_then_blocked_10_minutes(fake, client):
    for i in range(20):
        client.send(fake.webhook, SECRET, md(f"第{i}条"), msg_uuid=f"m{i}", now_ms=fake.now_ms())
    with pytest.raises(RateLimited) as exc:
        client.send(fake.webhook, SECRET, md("第21条"), msg_uuid="m20", now_ms=fake.now_ms())
    assert exc.value.errcode == 130101 and exc.value.retry_after == 600

    # Still blocked well after the minute has passed …
    fake.post("/_fake/clock", {"advance_seconds": 120})
    with pytest.raises(RateLimited):
        client.send(fake.webhook, SECRET, md("仍在封禁"), msg_uuid="m21", now_ms=fake.now_ms())
    fake.post("/_fake/clock", {"advance_seconds": 470})  # 590 s after the trip
    with pytest.raises(RateLimited):
        client.send(fake.webhook, SECRET, md("仍在封禁"), msg_uuid="m22", now_ms=fake.now_ms())

    # … and free again once 10 minutes have passed on the fake's clock.
    fake.post("/_fake/clock", {"advance_seconds": 11})
    assert client.send(fake.webhook, SECRET, md("解封"), msg_uuid="m23", now_ms=fake.now_ms())["errcode"] == 0

    stats = fake.get("/_fake/stats").json()["robots"][CID]
    assert stats["accepted"] == 21 and stats["max_in_60s"] == 20
    assert stats["rejected"] == {"130101": 3}
    assert len(fake.state.messages(CID)) == 21


def test_window_slides(fake, client):
    for i in range(20):
        client.send(fake.webhook, SECRET, md(), msg_uuid=f"a{i}", now_ms=fake.now_ms())
    fake.post("/_fake/clock", {"advance_seconds": 61})
    for i in range(20):
        client.send(fake.webhook, SECRET, md(), msg_uuid=f"b{i}", now_ms=fake.now_ms())
    assert fake.get("/_fake/stats").json()["robots"][CID]["max_in_60s"] == 20


def test_block_as_http_302(fake, client):
    fake.post("/_fake/config", {"block_http_302": True})
    for i in range(20):
        client.send(fake.webhook, SECRET, md(), msg_uuid=f"c{i}", now_ms=fake.now_ms())
    with pytest.raises(RateLimited) as first:
        client.send(fake.webhook, SECRET, md(), msg_uuid="c20", now_ms=fake.now_ms())
    assert first.value.errcode == 130101
    with pytest.raises(RateLimited) as during:  # the block itself answers with a redirect
        client.send(fake.webhook, SECRET, md(), msg_uuid="c21", now_ms=fake.now_ms())
    assert "302" in str(during.value) and during.value.retry_after == 600


# ---------------------------------------------------------------- idempotency


def test_msg_uuid_dedupe(fake, client):
    for _ in range(3):
        assert client.send(fake.webhook, SECRET, md("同一条"), msg_uuid="same", now_ms=fake.now_ms())["errcode"] == 0
    assert len(fake.state.messages(CID)) == 1
    assert fake.get("/_fake/stats").json()["robots"][CID]["deduplicated"] == 2


# ---------------------------------------------------------------- outages


def test_outage_500_is_unavailable_then_recovers(fake, client):
    fake.post("/_fake/outage", {"mode": "error500", "count": 1})
    with pytest.raises(Unavailable):
        client.send(fake.webhook, SECRET, md(), msg_uuid="o1", now_ms=fake.now_ms())
    assert client.send(fake.webhook, SECRET, md(), msg_uuid="o1", now_ms=fake.now_ms())["errcode"] == 0
    assert len(fake.state.messages(CID)) == 1


def test_outage_until_off(fake, client):
    fake.post("/_fake/outage", {"mode": "error500"})
    for _ in range(3):
        with pytest.raises(Unavailable):
            client.send(fake.webhook, SECRET, md(), msg_uuid="o2", now_ms=fake.now_ms())
    fake.post("/_fake/outage", {"mode": "off"})
    client.send(fake.webhook, SECRET, md(), msg_uuid="o2", now_ms=fake.now_ms())


def test_timeout_is_unavailable_and_retry_with_same_uuid_is_not_duplicated(fake):
    fake.post("/_fake/outage", {"mode": "timeout", "count": 1, "seconds": 0.6})
    with requests.Session() as s:
        slow = RobotClient(timeout=0.2, session=s)
        with pytest.raises(Unavailable):
            slow.send(fake.webhook, SECRET, md("慢"), msg_uuid="t1", now_ms=fake.now_ms())
        # The platform was slow, not down: the message lands after the client gave up.
        deadline = time.monotonic() + 5
        while not fake.state.messages(CID) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(fake.state.messages(CID)) == 1
        slow.send(fake.webhook, SECRET, md("慢"), msg_uuid="t1", now_ms=fake.now_ms())
    assert len(fake.state.messages(CID)) == 1


def test_connection_refused_is_unavailable(client):
    server = serve_in_thread(Flask("gone"))
    url = f"{server.base_url}/robot/send?access_token=x"
    server.shutdown()
    with pytest.raises(Unavailable):
        client.send(url, SECRET, md(), msg_uuid=None, now_ms=0)


@pytest.fixture(scope="module")
def odd_server():
    """A server that answers in ways DingTalk should not (non-JSON, 404, JSON without errcode)."""
    app = Flask("odd")

    @app.post("/html")
    def html():
        return Response("<html>ok</html>", mimetype="text/html")

    @app.post("/nocode")
    def nocode():
        return {"status": 1111}

    @app.post("/throttle")
    def throttle():  # the throttled answer seen in the wild (PLATFORMS §1.5)
        return {"status": 1111, "wait": 5, "source": "x5", "punish": "deny", "uuid": "u",
                "errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}

    @app.post("/e429")
    def e429():
        return Response("slow down", status=429)

    server = serve_in_thread(app)
    yield server.base_url
    server.shutdown()


@pytest.mark.parametrize("path, cls", [("/html", RetryLater), ("/nocode", RetryLater), ("/missing", RetryLater),
                                       ("/throttle", RateLimited), ("/e429", RateLimited)])
def test_odd_answers(odd_server, client, path, cls):
    with pytest.raises(cls):
        client.send(odd_server + path + "?access_token=x", SECRET, md(), msg_uuid=None, now_ms=0)


def test_errors_do_not_leak_tokens(fake, client):
    with pytest.raises(Unavailable) as exc:
        fake.post("/_fake/outage", {"mode": "error500", "count": 1})
        client.send(fake.webhook, SECRET, md(), msg_uuid=None, now_ms=fake.now_ms())
    assert "access_token" not in str(exc.value) and "tok-" not in str(exc.value)


# ---------------------------------------------------------------- sessionWebhook


def test_send_by_session_unknown_session_is_permanent(fake, client):
    with pytest.raises(PermanentFailure) as exc:
        client.send_by_session(f"{fake.base_url}/robot/sendBySession?session=nope", md(), now_ms=fake.now_ms())
    assert exc.value.errcode == 300001 and "session" in str(exc.value)


def test_send_by_session_valid_then_expired(fake, client):
    sess = fake.state.open_session(CID, "staff-wang", fake.now_ms())
    url = f"{fake.base_url}/robot/sendBySession?session={sess.session_id}"
    assert client.send_by_session(url, md("回复"), now_ms=fake.now_ms())["errcode"] == 0
    [msg] = fake.state.messages(CID)
    assert msg["via"] == "session" and msg["reply_to_staff_id"] == "staff-wang"
    fake.post("/_fake/clock", {"advance_seconds": 90 * 60 + 1})
    with pytest.raises(PermanentFailure):
        client.send_by_session(url, md("太晚了"), now_ms=fake.now_ms())
