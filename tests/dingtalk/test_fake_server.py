"""The fake DingTalk itself: message validation, callbacks to a receiver, sessions, the page."""
from __future__ import annotations

import json
import urllib.parse

import pytest
import requests

from bridges.fakes.dingtalk import add_roster_members
from bridges.fakes.dingtalk import groups_from_file
from bridges.fakes.dingtalk import groups_from_tongxin_config
from bridges.dingtalk.render import ReportCard
from bridges.dingtalk.render import chunk_for_digest
from bridges.dingtalk.render import render_digest
from bridges.dingtalk.render import render_new_report
from bridges.dingtalk.render import render_status_change
from bridges.dingtalk.render import render_text_reply
from bridges.dingtalk.signing import signed_webhook_url
from bridges.errors import PermanentFailure
from tests.dingtalk.conftest import CID
from tests.dingtalk.conftest import FIXTURES
from tests.dingtalk.conftest import SECRET
from tests.dingtalk.conftest import TOKEN

LINK = "https://tongxin.example.gov.cn/r/YT-1"


def raw_send(fake, body, *, secret=SECRET, token=TOKEN, ts=None) -> dict:
    ts = fake.now_ms() if ts is None else ts
    url = signed_webhook_url(f"{fake.base_url}/robot/send?access_token={token}", secret, ts)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url, data=data, headers={"Content-Type": "application/json"}, timeout=10).json()


# ---------------------------------------------------------------- message shapes

VALID = [
    {"msgtype": "text", "text": {"content": "hi"}, "at": {"atMobiles": ["13800000001"], "isAtAll": False}},
    {"msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": LINK, "picUrl": ""}},
    {"msgtype": "markdown", "markdown": {"title": "t", "text": "## x"}},
    {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "singleTitle": "查看详情", "singleURL": LINK,
                                             "btnOrientation": "0", "hideAvatar": "0"}},
    {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "btnOrientation": "1",
                                             "btns": [{"title": "受理", "actionURL": LINK}, {"title": "详情", "actionURL": LINK}]}},
    {"msgtype": "feedCard", "feedCard": {"links": [{"title": "t", "messageURL": LINK, "picURL": LINK}]}},
    {"msgtype": "markdown", "markdown": {"title": "t", "text": "x"}, "at": {"atUserIds": ["u1"], "isAtAll": False}, "msgUuid": "x"},
]

INVALID = [
    pytest.param({"msgtype": "actionCard", "action_card": {"title": "t", "text": "x", "single_title": "a", "single_url": LINK}}, id="action_card"),
    pytest.param({"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "single_title": "a", "single_url": LINK}}, id="single_title"),
    pytest.param({"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "singleTitle": "a", "singleUrl": LINK}}, id="singleUrl"),
    pytest.param({"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "btns": [{"title": "a", "action_url": LINK}]}}, id="action_url"),
    pytest.param({"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x"}}, id="card-without-buttons"),
    pytest.param({"msgtype": "link", "link": {"title": "t", "text": "x", "message_url": LINK}}, id="message_url"),
    pytest.param({"msgtype": "link", "link": {"title": "t", "text": "x", "messageURL": LINK}}, id="link-messageURL"),
    pytest.param({"msgtype": "feedCard", "feedCard": {"links": [{"title": "t", "messageUrl": LINK}]}}, id="feed-messageUrl"),
    pytest.param({"msgtype": "feedCard", "feed_card": {"links": []}}, id="feed_card"),
    pytest.param({"msgtype": "markdown", "markdown": {"title": "t"}}, id="markdown-no-text"),
    pytest.param({"msgtype": "markdown", "markdown": {"title": "t", "text": "x"}, "at": {"at_mobiles": ["1"]}}, id="at_mobiles"),
    pytest.param({"msgtype": "markdown", "markdown": {"title": "t", "text": "x"}, "at": {"isAtAll": "false"}}, id="isAtAll-string"),
    pytest.param({"msgtype": "markdown", "markdown": {"title": "t", "text": "x" * 5001}}, id="too-long"),
    pytest.param({"msgtype": "image", "image": {"mediaId": "x"}}, id="image"),
    pytest.param({"msgtype": "action_card", "action_card": {"title": "t"}}, id="msgtype-snake"),
    pytest.param({"text": {"content": "x"}}, id="no-msgtype"),
    pytest.param({"msgtype": "text", "text": {"content": "x"}, "msg_uuid": "1"}, id="msg_uuid"),
    pytest.param(b"not json", id="not-json"),
    pytest.param(b"[]", id="array"),
]


@pytest.mark.parametrize("body", VALID)
def test_valid_shapes_accepted(fake, body):
    assert raw_send(fake, body) == {"errcode": 0, "errmsg": "ok"}


@pytest.mark.parametrize("body", INVALID)
def test_invalid_shapes_rejected(fake, body):
    answer = raw_send(fake, body)
    assert answer["errcode"] == 40035
    assert fake.state.messages(CID) == []


def test_our_renderers_are_accepted_verbatim(fake, client):
    card = ReportCard("YT-1", "道路破损", "永盛街道", "人民大街", "坑", [LINK + ".jpg"], LINK, ["13800000001"])
    payloads = [
        render_new_report(card),
        render_status_change("YT-1", "已受理", "受理", "王网格长", "马上到", LINK),
        render_text_reply("好的", "staff-wang"),
        render_text_reply("**好的**", "staff-wang", markdown=True),
    ]
    cards = [ReportCard(f"YT-{i}", "环境卫生", "永盛街道", "某小区" * 30, "描述" * 50, [], f"{LINK}{i}", []) for i in range(60)]
    payloads += [render_digest(chunk, "新上报汇总") for chunk in chunk_for_digest(cards, "新上报汇总")]
    for i, p in enumerate(payloads):
        client.send(fake.webhook, SECRET, p, msg_uuid=f"r{i}", now_ms=fake.now_ms())
    msgs = fake.state.messages(CID)
    assert len(msgs) == len(payloads)
    assert msgs[0]["rendered_mentions"] == ["13800000001"]
    digest_text = "".join(m["text"] for m in msgs[4:])
    assert all(f"YT-{i}" in digest_text for i in range(60))


# ---------------------------------------------------------------- sign / token details


def test_unencoded_sign_fails_like_dingtalk(fake):
    ts = 1700000000001  # its Base64 signature contains "+": unencoded it arrives as a space
    fake.state.offset_seconds = ts / 1000 - fake.state.clock()
    url = f"{fake.base_url}/robot/send?access_token={TOKEN}&timestamp={ts}&sign=FjClo4cvs/ED1rDJXvjfDZEIl3Zdy0tW0k9Z+8JLNmw="
    answer = requests.post(url, json=VALID[2], timeout=10).json()
    assert answer == {"errcode": 310000, "errmsg": "sign not match"}
    assert raw_send(fake, VALID[2], ts=ts)["errcode"] == 0


@pytest.mark.parametrize("delta_ms, code", [(-3_610_000, 310000), (3_610_000, 310000), (-3_590_000, 0), (3_590_000, 0)])
def test_timestamp_window(fake, delta_ms, code):
    assert raw_send(fake, VALID[2], ts=fake.now_ms() + delta_ms)["errcode"] == code


def test_unknown_token(fake):
    assert raw_send(fake, VALID[2], token="nope") == {"errcode": 300001, "errmsg": "token is not exist"}
    assert fake.get("/_fake/stats").json()["unknown_token"] == 1


def test_keyword_robot(fake):
    r = fake.post("/_fake/groups", {"conversation_id": "cid-kw", "title": "关键词群", "access_token": "tok-kw",
                                    "keywords": ["同心"], "members": []})
    assert r.status_code == 201
    url = f"{fake.base_url}/robot/send?access_token=tok-kw"
    ok = {"msgtype": "text", "text": {"content": "同心：新上报"}}
    bad = {"msgtype": "text", "text": {"content": "新上报"}}
    assert requests.post(url, json=ok, timeout=10).json()["errcode"] == 0
    assert requests.post(url, json=bad, timeout=10).json() == {"errcode": 310000, "errmsg": "keywords not in content"}


def test_group_registration_errors(fake):
    assert fake.post("/_fake/groups", {"conversation_id": "x", "access_token": "t"}).status_code == 400  # no security
    assert fake.post("/_fake/groups", {"conversation_id": "x", "access_token": TOKEN, "secret": "s"}).status_code == 400
    listed = fake.get("/_fake/groups").json()["items"]
    assert [g["conversation_id"] for g in listed] == [CID]
    assert "secret" not in listed[0] and "access_token" not in listed[0]


def test_messages_endpoint_and_reset(fake):
    raw_send(fake, VALID[0])
    items = fake.get(f"/_fake/groups/{CID}/messages").json()["items"]
    assert len(items) == 1 and items[0]["at_mobiles"] == ["13800000001"]
    assert fake.get("/_fake/groups/nope/messages").status_code == 404
    fake.post("/_fake/reset", {})
    assert fake.get(f"/_fake/groups/{CID}/messages").json()["items"] == []


def test_bad_scripting_requests(fake):
    assert fake.post("/_fake/outage", {"mode": "explode"}).status_code == 400
    assert fake.post("/_fake/clock", {"advance_seconds": "soon"}).status_code == 400
    assert fake.post("/_fake/callback", {"conversation_id": CID, "text": "x"}).status_code == 400  # no target
    assert fake.post("/_fake/callback", {"conversation_id": "nope", "text": "x", "target_url": "http://x"}).status_code == 404


# ---------------------------------------------------------------- callbacks


def test_callback_reaches_receiver_and_reply_lands_in_group(fake, receiver):
    r = fake.post("/_fake/callback", {"conversation_id": CID, "staff_id": "staff-wang", "text": "受理 YT-1", "target_url": receiver.url})
    assert r.status_code == 200
    result = r.json()
    assert result["status"] == 200 and result["json"] == {"ok": True}

    [msg] = receiver.got
    assert msg.text == "受理 YT-1" and msg.sender_staff_id == "staff-wang" and msg.sender_nick == "王网格长"
    assert msg.conversation_id == CID and msg.conversation_type == "2" and msg.conversation_title == "永盛街道"
    assert msg.session_webhook_expires_ms - msg.create_at_ms == 5_400_000
    assert msg.raw["text"]["content"] == " 受理 YT-1"  # the leading space DingTalk keeps
    assert msg.raw["isInAtList"] is True and msg.raw["atUsers"]
    assert msg.session_webhook.startswith(fake.base_url + "/robot/sendBySession?session=")
    assert receiver.reply_errors == []

    [reply] = fake.state.messages(CID)
    assert reply["via"] == "session" and reply["text"] == "收到：受理 YT-1"
    assert reply["at_user_ids"] == ["staff-wang"] and reply["reply_to_staff_id"] == "staff-wang"


def test_callback_msg_id_and_external_sender(fake, receiver):
    r = fake.post("/_fake/callback", {"conversation_id": CID, "text": "待办", "target_url": receiver.url, "msg_id": "m-fixed"})
    assert r.json()["status"] == 200
    [msg] = receiver.got
    assert msg.msg_id == "m-fixed" and msg.sender_staff_id is None


@pytest.mark.parametrize("extra", [{"tamper": True}, {"timestamp_offset_ms": -3_600_001 - 5_000}, {"timestamp_offset_ms": 3_700_000}])
def test_tampered_or_stale_callback_is_401(fake, receiver, extra):
    r = fake.post("/_fake/callback", {"conversation_id": CID, "staff_id": "staff-wang", "text": "受理 YT-1",
                                      "target_url": receiver.url, **extra})
    assert r.json()["status"] == 401
    assert receiver.got == [] and receiver.rejected == [401]
    assert fake.state.messages(CID) == []


def test_callback_target_down_is_502(fake):
    r = fake.post("/_fake/callback", {"conversation_id": CID, "text": "x", "target_url": "http://127.0.0.1:9/cb"})
    assert r.status_code == 502


def test_session_expires_after_90_minutes(fake, receiver, client):
    r = fake.post("/_fake/callback", {"conversation_id": CID, "staff_id": "staff-li", "text": "帮助", "target_url": receiver.url})
    session_webhook = r.json()["session_webhook"]
    fake.post("/_fake/clock", {"advance_seconds": 89 * 60})
    client.send_by_session(session_webhook, render_text_reply("还来得及"), now_ms=fake.now_ms())
    fake.post("/_fake/clock", {"advance_seconds": 2 * 60})
    with pytest.raises(PermanentFailure) as exc:
        client.send_by_session(session_webhook, render_text_reply("太晚了"), now_ms=fake.now_ms())
    assert exc.value.errcode == 300001 and "session 不存在" in str(exc.value)


def test_session_reply_shape_checked(fake, receiver):
    r = fake.post("/_fake/callback", {"conversation_id": CID, "staff_id": "staff-li", "text": "帮助", "target_url": receiver.url})
    bad = requests.post(r.json()["session_webhook"], json={"msgtype": "text", "text": {"contents": "x"}}, timeout=10).json()
    assert bad["errcode"] == 40035


# ---------------------------------------------------------------- HTML page


def test_page_lists_groups_and_escapes_messages(fake):
    raw_send(fake, {"msgtype": "markdown", "markdown": {"title": "t", "text": "<script>alert(1)</script> **新上报**"}})
    page = fake.get("/")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    body = page.text
    assert "永盛街道" in body and "王网格长" in body and "本地钉钉模拟器" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>" not in body
    assert "http://" not in body.replace(fake.base_url, "") or "placeholder" in body  # no external assets
    assert "<link" not in body and "src=" not in body
    assert 'http-equiv="refresh"' in fake.get("/?auto=5").text


def test_page_form_sends_command_as_member(fake, receiver):
    assert fake.post("/_fake/config", {"callback_url": receiver.url}).json()["callback_url"] == receiver.url
    r = requests.post(fake.base_url + "/_fake/ui/callback", data={"conversation_id": CID, "staff_id": "staff-li", "text": "查询 YT-1"},
                      timeout=10, allow_redirects=False)
    assert r.status_code == 303
    flash = urllib.parse.unquote(r.headers["Location"])
    assert "HTTP 200" in flash
    [msg] = receiver.got
    assert msg.sender_staff_id == "staff-li" and msg.text == "查询 YT-1"
    page = requests.get(fake.base_url + r.headers["Location"], timeout=10).text
    assert "收到：查询 YT-1" in page and "HTTP 200" in page


def test_page_config_form(fake):
    r = requests.post(fake.base_url + "/_fake/ui/config", data={"callback_url": "http://127.0.0.1:8000/callbacks/dingtalk"},
                      timeout=10, allow_redirects=False)
    assert r.status_code == 303 and fake.state.callback_url == "http://127.0.0.1:8000/callbacks/dingtalk"


# ---------------------------------------------------------------- standalone configuration


def test_groups_from_tongxin_config_and_roster():
    creds, groups = groups_from_tongxin_config(str(FIXTURES / "tongxin_groups.toml"))
    assert creds["app_key"] == "dingdemoappkey"
    assert [(g["conversation_id"], g["title"], g["access_token"]) for g in groups] == [
        ("cid-yongsheng", "永盛街道", "tok-yongsheng"), ("cid-chengguan", "城管局", "tok-chengguan")]
    add_roster_members(groups, str(FIXTURES / "roster.csv"))
    assert groups[0]["members"] == [
        {"staff_id": "staff-wang", "name": "王网格长", "mobile": "13800000001"},
        {"staff_id": "staff-li", "name": "李网格员", "mobile": "13800000002"},
    ]
    assert groups[1]["members"] == []


def test_groups_from_json_file(tmp_path):
    path = tmp_path / "groups.json"
    path.write_text(json.dumps({"groups": [{"conversation_id": "c", "title": "t", "access_token": "a", "secret": "s"}]}), encoding="utf-8")
    assert groups_from_file(str(path))[0]["access_token"] == "a"
