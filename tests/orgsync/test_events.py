"""``POST /callbacks/dingtalk/events``: pushes signed and encrypted by the fake DingTalk with
dingtalk-sdk's crypto, over real HTTP. Valid ones are answered with the encrypted ``success``
in time and queued once (a duplicate is acknowledged the same way and queues nothing);
tampered, wrongly signed, undecryptable and stale ones are refused and change nothing."""
from __future__ import annotations

import pytest
import requests

from miniapp_api.models import CallbackReceipt
from miniapp_api.models import Delivery
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models import OutboxEvent
from miniapp_api.models import TargetState
from miniapp_api.models import Township
from miniapp_api.models.dingtalk import OrgSyncRun
from tests.factories import make_report


def org_events() -> list[OutboxEvent]:
    return list(OutboxEvent.select().where(OutboxEvent.kind == "dingtalk.org_event").order_by(OutboxEvent.id))


def official(name: str, mobile: str, **fields) -> Official:
    return Official.create(township=Township.get(Township.code == "yongsheng"), name=name, role="grid_worker",
                           mobile=mobile, **fields)


def test_check_url_is_answered_with_encrypted_success_in_time(db, events_url, fake_app):
    for old_spelling in (False, True):  # msg_signature/timestamp and signature/timeStamp
        r = fake_app.push_event("check_url", old_spelling=old_spelling)
        assert r["status"] == 200 and r["acknowledged"], r
        assert r["elapsed_ms"] < 1500
    assert org_events() == []
    assert CallbackReceipt.select().where(CallbackReceipt.source == "dt-event").count() == 2


def test_a_member_who_joins_changes_and_leaves_is_followed(db, events_url, fake_dingtalk, fake_app, run):
    o = official("赵新人", "13900000021")
    base = fake_dingtalk.base_url
    answer = requests.post(f"{base}/_fake/org/users", json={"name": "赵新人", "mobile": "13900000021"}, timeout=10).json()
    uid = answer["user"]["userid"]
    assert answer["event"]["acknowledged"], answer
    events = org_events()
    assert [e.payload["type"] for e in events] == ["user_add_org"] and events[0].payload["user_ids"] == [uid]
    assert Official.get_by_id(o.id).dingtalk_user_id is None  # queued, not done inline
    run()
    assert Official.get_by_id(o.id).dingtalk_user_id == uid
    assert Delivery.get(Delivery.target == "system:dingtalk_org").state == "sent"

    # The same push again (DingTalk retrying after a slow answer) gets the encrypted
    # "success" it waits for, and queues nothing.
    r = fake_app.push_event("", variant="replay")
    assert r["status"] == 200 and r["acknowledged"], r
    assert len(org_events()) == 1
    run()
    assert OrgSyncRun.select().count() == 1

    requests.post(f"{base}/_fake/org/users/{uid}", json={"mobile": "13900000099"}, timeout=10)
    run()
    assert Official.get_by_id(o.id).mobile == "13900000099"

    requests.delete(f"{base}/_fake/org/users/{uid}", timeout=10)
    run()
    gone = Official.get_by_id(o.id)
    assert not gone.active and gone.left_org_at is not None and gone.dingtalk_user_id == uid  # kept
    assert [r.summary["outcomes"][uid] for r in OrgSyncRun.select().order_by(OrgSyncRun.id)] == \
        ["linked", "updated", "left"]
    assert len(org_events()) == 3


def test_a_late_or_repeated_event_applies_dingtalk_state_not_its_claim(db, events_url, fake_app, run):
    o = official("钱老员工", "13900000031", dingtalk_user_id="u-old")
    fake_app.add_user("钱老员工", "13900000031", [1], "u-old")
    # A stale "left" event for someone still in the organisation changes nothing.
    assert fake_app.push_event("user_leave_org", {"UserId": ["u-old"]})["acknowledged"]
    run()
    assert Official.get_by_id(o.id).active


@pytest.mark.parametrize("variant, status, code", [
    ("tampered", 401, "invalid_signature"),
    ("wrong_signature", 401, "invalid_signature"),
    ("bad_ciphertext", 400, "bad_ciphertext"),
    ("wrong_owner", 400, "bad_ciphertext"),  # encrypted for the CorpId, not the AppKey
    ("stale", 401, "stale_timestamp"),
])
def test_bad_pushes_are_refused_and_change_nothing(db, events_url, fake_app, run, variant, status, code):
    o = official("孙某", "13900000041")
    fake_app.add_user("孙某", "13900000041", [1], "u-sun")
    r = fake_app.push_event("user_add_org", {"UserId": ["u-sun"]}, variant=variant)
    assert (r["status"], r["acknowledged"]) == (status, False), r
    assert code in r["body"]
    assert org_events() == []
    assert CallbackReceipt.select().count() == 0
    run()
    assert Official.get_by_id(o.id).dingtalk_user_id is None


def test_malformed_requests_are_refused(db, events_url):
    assert requests.post(events_url, json={"encrypt": "x"}, timeout=5).status_code == 400  # no signature
    assert requests.post(events_url + "?msg_signature=a&timestamp=abc&nonce=n", json={"encrypt": "x"},
                         timeout=5).status_code == 401
    assert org_events() == []


def test_chat_disband_marks_the_mapping_broken_and_messages_wait(settings_dict, request, fake_dingtalk, fake_app):
    settings_dict["townships"][0]["dingtalk"]["chat_id"] = "chat-yongsheng"
    fake_dingtalk.state.add_group("cid-yongsheng", "永盛群", "tok-yongsheng", "SEC-secret-yongsheng", [],
                                  chat_id="chat-yongsheng")
    request.getfixturevalue("app")
    request.getfixturevalue("events_url")
    run = request.getfixturevalue("run")
    from miniapp_api.db import database

    database.connect(reuse_if_open=True)
    r = requests.post(f"{fake_dingtalk.base_url}/_fake/chats/chat-yongsheng/disband", json={}, timeout=10).json()
    assert r["event"]["acknowledged"]
    run()
    m = GroupMapping.get(GroupMapping.owner_code == "yongsheng")
    assert not m.enabled and "解散" in m.broken_reason and m.broken_at is not None
    state = TargetState.get(TargetState.target == "dingtalk:township:yongsheng")
    assert "解散" in state.last_error  # the console's health shows it
    number = make_report().number
    run()
    d = Delivery.get(Delivery.target == "dingtalk:township:yongsheng")
    assert d.state == "pending" and "no DingTalk group mapped" in d.last_error  # waits, not lost
    assert number not in str(fake_dingtalk.state.messages("cid-yongsheng"))

    # init-db again with the same config: still the disbanded group, it stays off...
    from miniapp_api.config import parse_settings
    from miniapp_api.seed import apply_config

    apply_config(request.getfixturevalue("settings"))
    assert not GroupMapping.get(GroupMapping.owner_code == "yongsheng").enabled
    # ...until the config names a new group.
    settings_dict["townships"][0]["dingtalk"]["chat_id"] = "chat-yongsheng-2"
    apply_config(parse_settings(settings_dict))
    m = GroupMapping.get(GroupMapping.owner_code == "yongsheng")
    assert (m.enabled, m.broken_reason, m.chat_id) == (True, None, "chat-yongsheng-2")


def test_without_keys_the_endpoint_is_off(settings_dict, request):
    settings_dict["dingtalk"].pop("event_token")
    settings_dict["dingtalk"].pop("event_aes_key")
    client = request.getfixturevalue("client")
    assert client.post("/callbacks/dingtalk/events?msg_signature=a&timestamp=1&nonce=n",
                       json={"encrypt": "x"}).status_code == 404
