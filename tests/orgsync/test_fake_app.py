"""The fake DingTalk's app side on its own (over real HTTP, raw requests): tokens and their
errcodes, the organisation reads, chat/send's checks, event pushes and their verification of
the answer, the page section that edits members, and the standalone options."""
from __future__ import annotations

import json
import time

import pytest
import requests
from flask import Flask
from flask import jsonify

from bridges.fakes.dingtalk_app import org_from_roster
from bridges.fakes.dingtalk import groups_from_tongxin_config
from bridges.fakes.dingtalk import create_fake_dingtalk
from bridges.fakes.serve import serve_in_thread
from tests.conftest import DT_APP_KEY
from tests.conftest import DT_APP_SECRET
from tests.orgsync.conftest import EVENT_AES_KEY
from tests.orgsync.conftest import EVENT_TOKEN


@pytest.fixture
def fake(clock):
    app = create_fake_dingtalk(app_key=DT_APP_KEY, app_secret=DT_APP_SECRET, clock=clock)
    server = serve_in_thread(app)
    server.state = app.extensions["fake_dingtalk"]
    server.app = server.state.app
    yield server
    server.shutdown()


def get(fake, path, **params):
    return requests.get(fake.base_url + path, params=params, timeout=10).json()


def token(fake) -> str:
    return get(fake, "/gettoken", appkey=DT_APP_KEY, appsecret=DT_APP_SECRET)["access_token"]


def test_gettoken(fake, clock):
    assert get(fake, "/gettoken", appkey="nope", appsecret=DT_APP_SECRET)["errcode"] == 40089
    assert get(fake, "/gettoken", appkey=DT_APP_KEY, appsecret="nope")["errcode"] == 40089
    first = get(fake, "/gettoken", appkey=DT_APP_KEY, appsecret=DT_APP_SECRET)
    assert first["expires_in"] == 7200 and first["errcode"] == 0
    clock.advance(7000)
    assert token(fake) == first["access_token"]  # same token, and its life extended
    clock.advance(7000)
    assert get(fake, "/user/get", access_token=first["access_token"], userid="x")["errcode"] == 60121  # still valid
    clock.advance(7201)
    assert get(fake, "/user/get", access_token=first["access_token"], userid="x")["errcode"] == 42001
    new = token(fake)
    assert new != first["access_token"]
    assert get(fake, "/user/get", access_token=first["access_token"], userid="x")["errcode"] == 42001
    assert get(fake, "/user/get", access_token="made-up", userid="x")["errcode"] == 40001
    assert get(fake, "/user/get", userid="x")["errcode"] == 40001
    assert fake.app.stats()["gettoken_calls"] == 5


def test_scripted_token_errors(fake):
    t = token(fake)
    requests.post(fake.base_url + "/_fake/app/token", json={"reject_next": 2, "errcode": 33001}, timeout=5)
    assert [get(fake, "/department/list", access_token=t)["errcode"] for _ in range(3)] == [33001, 33001, 0]
    assert requests.post(fake.base_url + "/_fake/app/token", json={"reject_next": 1, "errcode": 500},
                         timeout=5).status_code == 400
    requests.post(fake.base_url + "/_fake/app/token", json={"expire_now": True}, timeout=5)
    assert get(fake, "/department/list", access_token=t)["errcode"] == 42001


def test_organisation_reads_and_their_errcodes(fake):
    d = fake.app.add_department("永盛街道")["id"]
    sub = fake.app.add_department("一社区", parentid=d)["id"]
    for i in range(1600):  # the county's 1,592 grid workers fit
        fake.app.add_user(f"员{i}", f"139{i:08d}", [sub])
    t = token(fake)
    top = get(fake, "/department/list", access_token=t, id=1)
    assert [x["id"] for x in top["department"]] == [d]
    assert {x["id"] for x in get(fake, "/department/list", access_token=t, id=1, fetch_child="true")["department"]} == {d, sub}
    assert get(fake, "/department/list", access_token=t, id=1, fetch_child="True")["errcode"] == 40035  # strict
    assert get(fake, "/department/list", access_token=t, id=999)["errcode"] == 60003
    page = get(fake, "/user/list", access_token=t, department_id=sub, offset=1500, size=100)
    assert len(page["userlist"]) == 100 and page["hasMore"] is False
    assert get(fake, "/user/list", access_token=t, department_id=sub, offset=0, size=101)["errcode"] == 40035
    assert get(fake, "/user/list", access_token=t, department_id=999)["errcode"] == 60003
    assert get(fake, "/user/list", access_token=t)["errcode"] == 40035
    u = get(fake, "/user/get", access_token=t, userid="u00001")
    assert u["name"] == "员0" and u["department"] == [sub]


def test_chat_send_checks(fake, clock):
    fake.state.add_group("cid-app", "应用群", "", None, [], chat_id="chat1")
    with pytest.raises(ValueError):
        fake.state.add_group("cid-other", "x", "", None, [], chat_id="chat1")
    t = token(fake)

    def send(body):
        return requests.post(f"{fake.base_url}/chat/send", params={"access_token": t}, data=json.dumps(body),
                             timeout=10).json()

    ok = send({"chatid": "chat1", "msgtype": "markdown", "markdown": {"title": "标题", "text": "正文"}})
    assert ok["errcode"] == 0 and ok["messageId"]
    [m] = fake.state.messages("cid-app")
    assert (m["via"], m["title"], m["text"], m["message_id"]) == ("app", "标题", "正文", ok["messageId"])
    assert send({"chatid": "nope", "msgtype": "text", "text": {"content": "x"}})["errcode"] == 34013
    robot_shape = {"chatid": "chat1", "msgtype": "actionCard", "actionCard": {"title": "t", "text": "x",
                                                                             "singleTitle": "a", "singleURL": "b"}}
    assert send(robot_shape)["errcode"] == 34014
    assert send({"chatid": "chat1", "msgtype": "text", "text": {"content": "x"}, "at": {}})["errcode"] == 34014
    assert send({"chatid": "chat1", "msgtype": "text", "text": {"content": "长" * 5001}})["errcode"] == 34016
    assert send({"chatid": "chat1", "msgtype": "action_card",
                 "action_card": {"title": "t", "markdown": "x", "btn_orientation": "0",
                                 "btn_json_list": [{"title": "a", "actionURL": "b"}]}})["errcode"] == 34014
    requests.post(fake.base_url + "/_fake/app/config", json={"app_qps": 3}, timeout=5)
    clock.advance(2)
    answers = [send({"chatid": "chat1", "msgtype": "text", "text": {"content": str(i)}})["errcode"] for i in range(4)]
    assert answers == [0, 0, 0, 90002]
    clock.advance(1.5)
    assert send({"chatid": "chat1", "msgtype": "text", "text": {"content": "later"}})["errcode"] == 0
    requests.post(f"{fake.base_url}/_fake/chats/chat1/disband", json={}, timeout=5)
    assert send({"chatid": "chat1", "msgtype": "text", "text": {"content": "x"}})["errcode"] == 34013
    assert fake.state.stats()["robots"]["cid-app"]["app_accepted"] == 5


def test_top_gateway(fake):
    t = token(fake)
    r = requests.post(f"{fake.base_url}/router/rest", params={"method": "dingtalk.oapi.nope", "session": t}, timeout=5)
    assert r.json()["error_response"]["code"] == 22


class Receiver:
    """A stand-in for Tongxin's events URL with a scripted answer."""

    def __init__(self):
        self.app = Flask(__name__)
        self.answer = lambda: ("{}", 200)
        self.app.add_url_rule("/events", "events", lambda: self.answer(), methods=["POST"])
        self.server = serve_in_thread(self.app)
        self.url = self.server.base_url + "/events"


def test_event_pushes_verify_the_answer(fake):
    fake.app.configure(event_token=EVENT_TOKEN, event_aes_key=EVENT_AES_KEY)
    from dingtalk.crypto import DingTalkCrypto

    crypto = DingTalkCrypto(EVENT_TOKEN, EVENT_AES_KEY, DT_APP_KEY)
    rx = Receiver()
    try:
        rx.answer = lambda: jsonify(crypto.encrypt_message("success"))
        assert fake.app.push_event("check_url", target_url=rx.url)["acknowledged"]
        rx.answer = lambda: jsonify(crypto.encrypt_message("fail"))
        assert not fake.app.push_event("check_url", target_url=rx.url)["acknowledged"]
        rx.answer = lambda: jsonify(DingTalkCrypto(EVENT_TOKEN, EVENT_AES_KEY, "corp").encrypt_message("success"))
        assert not fake.app.push_event("check_url", target_url=rx.url)["acknowledged"]  # wrong owner key

        def slow():
            time.sleep(1.6)
            return jsonify(crypto.encrypt_message("success"))

        rx.answer = slow
        r = fake.app.push_event("check_url", target_url=rx.url)
        assert r["elapsed_ms"] >= 1500 and not r["acknowledged"]  # too late for DingTalk
        assert requests.post(fake.base_url + "/_fake/events/push", json={"variant": "bogus", "target_url": rx.url},
                             timeout=5).status_code == 400
    finally:
        rx.server.shutdown()


def test_the_page_edits_members_and_pushes_events(fake):
    fake.app.configure(event_token=EVENT_TOKEN, event_aes_key=EVENT_AES_KEY)
    pushed = []
    rx = Receiver()
    rx.answer = lambda: (pushed.append(1), ("{}", 200))[1]
    try:
        s = requests.Session()
        base = fake.base_url
        s.post(base + "/_fake/ui/org", data={"op": "events_url", "events_url": rx.url}, timeout=5)
        r = s.post(base + "/_fake/ui/org", data={"op": "add", "name": "周新", "mobile": "13911112222", "dept": "永盛街道"},
                   timeout=5)
        assert "已添加" in r.text and "周新" in r.text and "13911112222" in r.text
        uid = next(u for u in fake.app.users.values() if u["name"] == "周新")["userid"]
        r = s.post(base + "/_fake/ui/org", data={"op": "change", "userid": uid, "mobile": "13933334444"}, timeout=5)
        assert "已修改" in r.text and fake.app.users[uid]["mobile"] == "13933334444"
        assert "周新" in s.get(base + "/", params={"q": "周"}, timeout=5).text
        r = s.post(base + "/_fake/ui/org", data={"op": "remove", "userid": uid}, timeout=5)
        assert "已移除" in r.text and uid not in fake.app.users
        assert len(pushed) == 3  # user_add_org, user_modify_org, user_leave_org
        assert [e["type"] for e in fake.app.events] == ["user_add_org", "user_modify_org", "user_leave_org"]
        r = s.post(base + "/_fake/ui/org", data={"op": "remove", "userid": "nobody"}, timeout=5)
        assert "没有这个成员" in r.text
    finally:
        rx.server.shutdown()


def test_standalone_options(tmp_path):
    cfg = tmp_path / "tongxin.toml"
    cfg.write_text('''[dingtalk]
app_key = "k"
app_secret = "s"
event_token = "t"

[[townships]]
code = "a"
name = "甲镇"
  [townships.dingtalk]
  conversation_id = "cid-a"
  chat_id = "chat-a"
''', encoding="utf-8")
    creds, groups = groups_from_tongxin_config(str(cfg))
    assert creds["event_token"] == "t"
    assert groups[0]["chat_id"] == "chat-a" and groups[0]["access_token"] == ""
    roster = tmp_path / "roster.csv"
    roster.write_text("township,community,grid,official_name,role,duty_post,dingtalk_user_id,mobile\n"
                      "a,一村,一格,王一,grid_leader,A,dt-1,13900000001\n"
                      "a,一村,一格,李二,grid_worker,B,,13900000002\n"
                      "a,一村,二格,,,,,\n", encoding="utf-8")
    app = create_fake_dingtalk(app_key="k", app_secret="s")
    fa = app.extensions["fake_dingtalk"].app
    assert org_from_roster(fa, str(roster)) == 2
    assert fa.users["dt-1"]["name"] == "王一" and len(fa.departments) == 2
