"""DingTalk signs only the callback's timestamp, so Tongxin remembers each (timestamp, sign)
pair. A captured pair must not be usable again: not re-spelled with trailing characters, not
behind a msgId already seen; and a genuine twin (two messages stamped in one millisecond share
a pair) is never dropped without a word (issue #14, security 2)."""
from __future__ import annotations

import json

import pytest
import requests

from miniapp_api.reports.commands import TWIN_REPLY
from tests.bridges.test_callbacks import officials  # noqa: F401
from tests.bridges.test_callbacks import replies
from tests.bridges.test_callbacks import say  # noqa: F401
from tests.bridges.test_callbacks import snapshot
from tests.bridges.test_callbacks import submit

A_MINUTE_AGO = -60_000  # still inside the hour DingTalk's signature is valid for


def capture(fake, text: str, *, code: str = "yongsheng", staff: str = "ys-a", **kw):
    """A callback the fake DingTalk signed: (headers, body bytes, payload)."""
    return fake.state.build_callback(conversation_id=f"cid-{code}", staff_id=staff, text=text,
                                     base_url=fake.base_url, **kw)


def post(tongxin, headers: dict, payload_or_body) -> requests.Response:
    body = payload_or_body if isinstance(payload_or_body, bytes) else \
        json.dumps(payload_or_body, ensure_ascii=False).encode()
    return requests.post(f"{tongxin.base_url}/callbacks/dingtalk", data=body, headers=headers, timeout=10)


@pytest.mark.parametrize("header", ["sign", "timestamp"])
@pytest.mark.parametrize("suffix", [b"\xa0", b"\x85", b" ", b"\t", b"\xc2\xa0"])
def test_padded_headers_are_refused(client, resident, officials, tongxin, fake_dingtalk, header, suffix):
    number = submit(client, resident)
    headers, body, payload = capture(fake_dingtalk, f"查询 {number}", timestamp_offset_ms=A_MINUTE_AGO)
    assert post(tongxin, headers, body).status_code == 200
    before = snapshot(number)
    forged = dict(payload, msgId=payload["msgId"] + "-forged", text={"content": f" 驳回 {number} 伪造"})
    padded = dict(headers, **{header: headers[header].encode("latin-1") + suffix})
    resp = post(tongxin, padded, forged)
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"]["code"] in ("invalid_signature", "replayed_signature")
    assert snapshot(number) == before


def test_anything_but_digits_and_base64_is_refused(client, resident, officials, tongxin, fake_dingtalk):
    number = submit(client, resident)
    headers, body, _ = capture(fake_dingtalk, f"受理 {number}")
    for bad in ({"timestamp": "+" + headers["timestamp"]}, {"timestamp": headers["timestamp"] + ".0"},
                {"sign": headers["sign"].rstrip("=") + "%3D"}, {"sign": headers["sign"] + "," + headers["sign"]}):
        resp = post(tongxin, dict(headers, **bad), body)
        assert resp.status_code == 401 and resp.json()["error"]["code"] == "invalid_signature", bad
    assert snapshot(number)[0] == "pending"
    assert post(tongxin, headers, body).status_code == 200  # the genuine spelling still works
    assert snapshot(number)[0] == "accepted"


def test_a_pair_is_recorded_even_for_a_seen_msg_id(client, resident, officials, say, tongxin, fake_dingtalk):
    number = submit(client, resident)
    first = say("yongsheng", "ys-a", f"查询 {number}", msg_id="msg-seen-1")
    assert first["status"] == 200 and first["json"]["duplicate"] is False
    # DingTalk sends the same message again under a new pair: a duplicate, answered 200 ...
    headers, body, payload = capture(fake_dingtalk, f"查询 {number}", msg_id="msg-seen-1",
                                     timestamp_offset_ms=A_MINUTE_AGO)
    again = post(tongxin, headers, body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    # ... and that pair is spent: it cannot carry a new message.
    before = snapshot(number)
    forged = dict(payload, msgId="msg-seen-2", text={"content": f" 驳回 {number} 伪造"})
    resp = post(tongxin, headers, forged)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "replayed_signature"
    assert snapshot(number) == before


def test_an_old_pair_cannot_carry_another_message(client, resident, officials, tongxin, fake_dingtalk):
    number = submit(client, resident)
    headers, body, payload = capture(fake_dingtalk, f"查询 {number}", timestamp_offset_ms=A_MINUTE_AGO)
    assert post(tongxin, headers, body).status_code == 200
    before = snapshot(number)
    forged = dict(payload, msgId=payload["msgId"] + "-forged", text={"content": f" 办结 {number} 伪造"})
    resp = post(tongxin, headers, forged)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "replayed_signature"
    assert snapshot(number) == before


def test_two_messages_in_one_millisecond_are_not_dropped_silently(client, resident, officials, tongxin,
                                                                  fake_dingtalk, run):
    number = submit(client, resident)
    headers, body, _ = capture(fake_dingtalk, f"受理 {number}")
    # An official of another unit wrote in the same millisecond: the same timestamp, so the same sign.
    _, twin_body, _ = capture(fake_dingtalk, "待办", code="yongning", staff="yn-a")
    assert post(tongxin, headers, body).status_code == 200
    resp = post(tongxin, headers, twin_body)
    assert resp.status_code == 200 and resp.json()["duplicate"] is False
    # DingTalk's own retry of the twin is a duplicate, not a second notice.
    assert post(tongxin, headers, twin_body).json()["duplicate"] is True
    run()
    assert snapshot(number)[0] == "accepted"
    told = replies(fake_dingtalk, "yongning")
    assert [m["text"] for m in told] == [TWIN_REPLY]  # not run, and the sender is told to send it again
    assert "已受理" in replies(fake_dingtalk, "yongsheng")[-1]["text"]
