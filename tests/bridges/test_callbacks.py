"""Officials' @robot commands end to end (CONTRACT §4): the fake DingTalk signs a callback and
POSTs it to Tongxin served over real HTTP; Tongxin changes the report through the lifecycle,
the worker sends the reply back through the callback's sessionWebhook (or the group's robot
when the session expired), the resident sees the change in the API and in WeChat.

Forged, stale, replayed and unauthorised callbacks change nothing. Hostile text a resident
wrote stays inert in every group message that quotes it.
"""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
import requests

from bridges.dingtalk.commands import HELP_TEXT
from miniapp_api.db import database
from miniapp_api.models import Delivery
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.models import utcnow
from tests.bridges.conftest import numbers_in
from tests.conftest import report_body
from tests.factories import make_official
from tests.factories import make_report

HOSTILE = "[点我](http://evil.com) ![x](http://e/x.png) # 标题 - 列表 @13800000000 @所有人 <script>alert(1)</script>"
HOSTILE_ADDRESS = "- 列表地址 [家](javascript:alert(1)) @13800000000 # 标题地址"


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def officials(app):
    """One registered official per test unit, each a member of their unit's fake group."""
    database.connect(reuse_if_open=True)
    return {
        "ys": make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001"),
        "yn": make_official("赵永宁", "yn-a", township="yongning", mobile="13900000003"),
        "cg": make_official("孙城管", "cg-a", township=None, department="chengguan", mobile="13900000005"),
    }


@pytest.fixture
def say(tongxin, fake_dingtalk):
    """``say("yongsheng", "ys-a", "受理 R…")``: an @robot message in ``cid-<code>``, signed by the fake."""

    def _say(code: str, staff_id: str | None, text: str, **kwargs) -> dict:
        return fake_dingtalk.state.deliver_callback(
            f"{tongxin.base_url}/callbacks/dingtalk", fake_dingtalk.base_url,
            conversation_id=f"cid-{code}", staff_id=staff_id, text=text, **kwargs)

    return _say


def submit(client, resident, **overrides) -> str:
    resp = client.post("/api/v1/reports", json=report_body(**overrides), headers=resident["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["number"]


def detail(client, resident, number: str) -> dict:
    resp = client.get(f"/api/v1/reports/{number}", headers=resident["headers"])
    assert resp.status_code == 200
    return resp.get_json()


def group(fake, code: str) -> list[dict]:
    return fake.state.messages(f"cid-{code}")


def replies(fake, code: str) -> list[dict]:
    """Command replies the group received (plain text messages; cards and updates are markdown)."""
    return [m for m in group(fake, code) if m["msgtype"] == "text"]


def snapshot(number: str) -> tuple:
    """Everything a command could change about a report."""
    database.connect(reuse_if_open=True)
    r = Report.get(Report.number == number)
    return (r.status, r.reply, r.department_id, r.level, r.updated_at,
            TimelineEntry.select().where(TimelineEntry.report == r).count(),
            OutboxEvent.select().where((OutboxEvent.report == r) & (OutboxEvent.kind == "report.status_changed")).count())


def reply_events() -> int:
    database.connect(reuse_if_open=True)
    return OutboxEvent.select().where(OutboxEvent.kind == "dingtalk.reply").count()


def refused(say, fake, run, number: str, code: str, staff_id: str | None, text: str, expect: str) -> str:
    """Send a command that must change nothing; return the reply the group got."""
    before = snapshot(number)
    answer = say(code, staff_id, text)
    assert answer["status"] == 200, answer["body"]
    assert snapshot(number) == before
    run()
    got = replies(fake, code)[-1]
    assert expect in got["text"], got["text"]
    assert got["via"] == "session" and not got["is_at_all"]
    return got["text"]


# --------------------------------------------------------------------------- the commands


def test_accept_from_the_group(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)
    run()  # the card reaches the group
    assert numbers_in(group(fake_dingtalk, "yongsheng")) == [number]

    answer = say("yongsheng", "ys-a", f"受理 {number}")
    assert answer["status"] == 200 and answer["json"] == {"ok": True, "duplicate": False}
    body = detail(client, resident, number)
    assert body["status"] == "accepted"
    entry = body["timeline"][-1]
    assert (entry["status"], entry["action"], entry["channel"]) == ("accepted", "accept", "dingtalk")
    assert entry["actor"]["name"] == "王永盛" and entry["actor"]["kind"] == "official"

    run()
    [reply] = replies(fake_dingtalk, "yongsheng")
    assert reply["via"] == "session" and reply["reply_to_staff_id"] == "ys-a"
    assert number in reply["text"] and "已受理" in reply["text"] and "王永盛" in reply["text"]
    assert reply["at_user_ids"] == ["ys-a"]
    # The group's own robot posts the status update that quotes the number.
    updates = [m for m in group(fake_dingtalk, "yongsheng") if m["via"] == "robot" and m["title"].startswith("受理")]
    assert len(updates) == 1 and number in updates[0]["text"] and "王永盛" in updates[0]["text"]


def test_resolve_shows_the_reply_to_the_resident(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)
    say("yongsheng", "ys-a", f"受理 {number}")
    answer = say("yongsheng", "ys-a", f"办结 {number} 已清理完毕 感谢您的反映")
    assert answer["status"] == 200
    body = detail(client, resident, number)
    assert body["status"] == "resolved"
    assert body["reply"] == "已清理完毕 感谢您的反映"  # inner spaces are the official's own
    entry = body["timeline"][-1]
    assert (entry["action"], entry["channel"], entry["actor"]["name"]) == ("resolve", "dingtalk", "王永盛")
    assert entry["note"] == "已清理完毕 感谢您的反映"
    run()
    texts = [m["text"] for m in replies(fake_dingtalk, "yongsheng")]
    assert len(texts) == 2 and "已办结" in texts[1] and number in texts[1]


def test_reject_shows_the_reason_to_the_resident(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)
    say("yongsheng", "ys-a", f"驳回 {number} 不属于本街道管辖，请联系物业")
    body = detail(client, resident, number)
    assert body["status"] == "rejected" and body["reply"] == "不属于本街道管辖，请联系物业"
    entry = body["timeline"][-1]
    assert (entry["action"], entry["channel"], entry["actor"]["name"]) == ("reject", "dingtalk", "王永盛")
    assert entry["note"] == "不属于本街道管辖，请联系物业"
    run()
    [reply] = replies(fake_dingtalk, "yongsheng")
    assert "已驳回" in reply["text"] and number in reply["text"]


def test_transfer_to_a_department_and_accept_there(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)
    run()
    say("yongsheng", "ys-a", f"转办 {number} 城管局")
    body = detail(client, resident, number)
    assert body["status"] == "transferred"
    assert body["timeline"][-1]["channel"] == "dingtalk" and body["timeline"][-1]["actor"]["name"] == "王永盛"
    run()
    dept = group(fake_dingtalk, "chengguan")
    assert len(dept) == 1 and number in dept[0]["text"] and dept[0]["via"] == "robot"
    assert "转办" in dept[0]["title"]
    assert "城管局" in replies(fake_dingtalk, "yongsheng")[-1]["text"]

    # The department's official takes it in the department's group.
    answer = say("chengguan", "cg-a", f"受理 {number}")
    assert answer["status"] == 200
    body = detail(client, resident, number)
    assert body["status"] == "accepted"
    assert body["timeline"][-1]["actor"]["name"] == "孙城管" and body["timeline"][-1]["channel"] == "dingtalk"
    run()
    [reply] = replies(fake_dingtalk, "chengguan")
    assert reply["via"] == "session" and "孙城管 已受理" in reply["text"]
    # Both groups hear what the department did.
    assert any(number in m["text"] and m["title"].startswith("受理") for m in group(fake_dingtalk, "chengguan"))
    assert any(number in m["text"] and m["title"].startswith("受理") for m in group(fake_dingtalk, "yongsheng"))


def test_transfer_to_an_unknown_department_changes_nothing(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)
    text = refused(say, fake_dingtalk, run, number, "yongsheng", "ys-a", f"转办 {number} 宇宙局", "没有名为")
    assert "城管局" in text  # the reply lists the departments one can transfer to


def test_query_shows_state_and_timeline(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)
    say("yongsheng", "ys-a", f"受理 {number} 马上安排")
    before = snapshot(number)
    say("yongsheng", "ys-a", f"查询 {number}")
    assert snapshot(number) == before  # a query changes nothing
    run()
    text = replies(fake_dingtalk, "yongsheng")[-1]["text"]
    assert number in text and "已受理" in text and "环境卫生" in text
    assert "居民 上报" in text and "王永盛 受理（马上安排）" in text


def test_todo_lists_open_reports_oldest_first(app, officials, say, fake_dingtalk, run):
    database.connect(reuse_if_open=True)
    now = utcnow()
    newer = make_report(now=now - timedelta(minutes=5)).number
    older = make_report(now=now - timedelta(hours=3)).number      # inserted later, but older
    accepted = make_report("accepted", now=now - timedelta(hours=1)).number
    done = make_report("resolved", now=now - timedelta(hours=5)).number
    elsewhere = make_report(township="yongning", now=now - timedelta(hours=4)).number
    say("yongsheng", "ys-a", "待办")
    run()
    text = replies(fake_dingtalk, "yongsheng")[-1]["text"]
    listed = re.findall(r"R\d{6}-\d{4,}", text)
    assert listed == [older, accepted, newer]
    assert done not in text and elsewhere not in text
    assert "永盛街道" in text


def test_help(officials, say, fake_dingtalk, run):
    say("yongsheng", "ys-a", "帮助")
    say("yongsheng", "ys-a", "")  # a bare @robot is a request for help too
    run()
    texts = [m["text"] for m in replies(fake_dingtalk, "yongsheng")]
    assert texts == [HELP_TEXT, HELP_TEXT]
    for verb in ("受理", "办结", "驳回", "转办", "查询", "待办", "帮助"):
        assert verb in HELP_TEXT


# --------------------------------------------------------------------------- replays and forgeries


def test_the_same_msg_id_twice_has_one_effect(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)
    first = say("yongsheng", "ys-a", f"受理 {number}", msg_id="msg-replayed-1")
    after_first = snapshot(number)
    second = say("yongsheng", "ys-a", f"受理 {number}", msg_id="msg-replayed-1")
    assert first["json"]["duplicate"] is False and second["json"]["duplicate"] is True
    assert second["status"] == 200  # DingTalk must not retry it again
    assert snapshot(number) == after_first
    assert reply_events() == 1
    # Even a different command under a replayed msgId is the same message: ignored.
    third = say("yongsheng", "ys-a", f"办结 {number} 好了", msg_id="msg-replayed-1")
    assert third["json"]["duplicate"] is True and snapshot(number) == after_first
    run()
    assert len(replies(fake_dingtalk, "yongsheng")) == 1
    timeline = detail(client, resident, number)["timeline"]
    assert [e["action"] for e in timeline] == ["submit", "accept"]


def test_a_tampered_signature_is_refused(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)
    before = snapshot(number)
    answer = say("yongsheng", "ys-a", f"受理 {number}", tamper=True)
    assert answer["status"] == 401
    assert answer["json"]["error"]["code"] == "invalid_signature"
    assert snapshot(number) == before and reply_events() == 0
    run()
    assert replies(fake_dingtalk, "yongsheng") == []


@pytest.mark.parametrize("offset_ms", [-(3_600_000 + 60_000), 3_600_000 + 60_000, -86_400_000])
def test_a_stale_or_future_timestamp_is_refused(client, resident, officials, say, fake_dingtalk, run, offset_ms):
    number = submit(client, resident)
    before = snapshot(number)
    # Correctly signed, but for a time more than an hour away from Tongxin's clock.
    answer = say("yongsheng", "ys-a", f"受理 {number}", timestamp_offset_ms=offset_ms)
    assert answer["status"] == 401
    assert snapshot(number) == before and reply_events() == 0


def test_a_timestamp_just_inside_the_hour_is_accepted(client, resident, officials, say):
    number = submit(client, resident)
    answer = say("yongsheng", "ys-a", f"受理 {number}", timestamp_offset_ms=-(3_600_000 - 60_000))
    assert answer["status"] == 200
    assert snapshot(number)[0] == "accepted"


def test_missing_or_mangled_headers_are_refused(client, resident, officials, tongxin, fake_dingtalk):
    number = submit(client, resident)
    before = snapshot(number)
    headers, body, _ = fake_dingtalk.state.build_callback(
        conversation_id="cid-yongsheng", staff_id="ys-a", text=f"受理 {number}", base_url=fake_dingtalk.base_url)
    url = f"{tongxin.base_url}/callbacks/dingtalk"
    plain = {"Content-Type": "application/json; charset=utf-8"}
    variants = [
        plain,                                                       # no timestamp, no sign
        {**plain, "timestamp": headers["timestamp"]},               # no sign
        {**plain, "sign": headers["sign"]},                          # no timestamp
        {**plain, "timestamp": str(int(headers["timestamp"]) + 1), "sign": headers["sign"]},  # sign of another time
        {**plain, "timestamp": headers["timestamp"], "sign": ""},
    ]
    for h in variants:
        resp = requests.post(url, data=body, headers=h, timeout=10)
        assert resp.status_code == 401, h
        assert resp.json()["error"]["code"] == "invalid_signature"
    # A body changed after signing still verifies (DingTalk signs only the timestamp), but the
    # headers are checked before the body is read: garbage with good headers is a 400, not a 500.
    resp = requests.post(url, data=b"\xff not json", headers=headers, timeout=10)
    assert resp.status_code == 400
    assert snapshot(number) == before and reply_events() == 0


# --------------------------------------------------------------------------- who may act, on what


def test_a_sender_who_is_not_an_official_changes_nothing(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)
    # A group member without an official record, then someone from outside the organisation.
    refused(say, fake_dingtalk, run, number, "yongsheng", "ys-b", f"受理 {number}", "不是本群所属单位登记的干部")
    refused(say, fake_dingtalk, run, number, "yongsheng", None, f"受理 {number}", "无法识别您的钉钉身份")


def test_an_inactive_official_changes_nothing(client, resident, officials, say, fake_dingtalk, run):
    from miniapp_api.models import Official

    number = submit(client, resident)
    Official.update(active=False).where(Official.dingtalk_user_id == "ys-a").execute()
    refused(say, fake_dingtalk, run, number, "yongsheng", "ys-a", f"受理 {number}", "不是本群所属单位登记的干部")


def test_an_official_of_another_unit_cannot_touch_this_units_report(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)  # a yongsheng report
    # In their own group, the report is not theirs: no hint that it exists elsewhere.
    for verb in (f"受理 {number}", f"驳回 {number} 不管", f"转办 {number} 城管局", f"查询 {number}"):
        text = refused(say, fake_dingtalk, run, number, "yongning", "yn-a", verb, "找不到编号为")
        assert "环境卫生" not in text and "垃圾" not in text
    # In this unit's group, they are not this unit's official.
    refused(say, fake_dingtalk, run, number, "yongsheng", "yn-a", f"受理 {number}", "不是本群所属单位登记的干部")
    # A department only sees what was transferred to it.
    refused(say, fake_dingtalk, run, number, "chengguan", "cg-a", f"受理 {number}", "找不到编号为")


def test_unknown_number(officials, say, fake_dingtalk, run):
    say("yongsheng", "ys-a", "受理 R000101-9999")
    run()
    assert "找不到编号为 R000101-9999" in replies(fake_dingtalk, "yongsheng")[-1]["text"]
    assert reply_events() == 1


def test_a_command_not_allowed_from_the_status_changes_nothing(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)  # pending: it cannot be resolved before it is accepted
    refused(say, fake_dingtalk, run, number, "yongsheng", "ys-a", f"办结 {number} 已处理", "不能办结")


def test_commands_that_do_not_fit_the_status(client, resident, officials, say, fake_dingtalk, run):
    number = submit(client, resident)
    say("yongsheng", "ys-a", f"受理 {number}")
    refused(say, fake_dingtalk, run, number, "yongsheng", "ys-a", f"受理 {number}", "不能受理")
    say("yongsheng", "ys-a", f"办结 {number} 好了")
    refused(say, fake_dingtalk, run, number, "yongsheng", "ys-a", f"驳回 {number} 晚了", "不能驳回")
    refused(say, fake_dingtalk, run, number, "yongsheng", "ys-a", f"转办 {number} 城管局", "不能转办")


@pytest.mark.parametrize("text, expect", [
    ("受理", "缺少编号"),
    ("受理 ../../etc/passwd", "格式不对"),
    ("办结 {n}", "缺少回复内容"),
    ("驳回 {n}", "缺少驳回理由"),
    ("转办 {n}", "缺少部门名称"),
    ("做饭 {n}", "无法识别的指令"),
    ("办结 {n} " + "长" * 501, "过长"),
])
def test_a_malformed_command_gets_a_clear_reply(client, resident, officials, say, fake_dingtalk, run, text, expect):
    number = submit(client, resident)
    refused(say, fake_dingtalk, run, number, "yongsheng", "ys-a", text.format(n=number), expect)


def test_a_group_mapped_to_no_unit(client, resident, officials, say, fake_dingtalk, run):
    fake_dingtalk.state.add_group("cid-stray", "无关的群", "tok-stray", "SEC-secret-stray",
                                  [{"staff_id": "ys-a", "name": "王永盛"}])
    number = submit(client, resident)
    refused(say, fake_dingtalk, run, number, "stray", "ys-a", f"受理 {number}", "没有绑定")


# --------------------------------------------------------------------------- the resident's side


def test_each_change_sends_the_resident_a_wechat_message(client, resident, officials, say, fake_wechat,
                                                         fake_dingtalk, run):
    number = submit(client, resident)
    requests.post(f"{fake_wechat.base_url}/_fake/consents",
                  json={"openid": resident["openid"], "template_id": "tmpl-report-status", "count": 3}, timeout=5)
    for _ in range(3):
        resp = client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl-report-status"]},
                           headers=resident["headers"])
        assert resp.status_code == 200
    say("yongsheng", "ys-a", f"受理 {number}")
    run()
    say("yongsheng", "ys-a", f"办结 {number} 井盖已补装")
    run()
    sent = requests.get(f"{fake_wechat.base_url}/_fake/messages", timeout=5).json()["items"]
    assert [m["touser"] for m in sent] == [resident["openid"]] * 2
    assert [m["data"]["character_string1"] for m in sent] == [number, number]
    assert [m["data"]["phrase2"] for m in sent] == ["已受理", "已办结"]
    assert sent[1]["data"]["thing3"] == "井盖已补装"
    assert sent[0]["page"].endswith(number)
    subs = client.get("/api/v1/me/subscriptions", headers=resident["headers"]).get_json()["items"]
    assert subs == [{"template_id": "tmpl-report-status", "remaining": 1}]
    # A refused command is no change: no third message.
    say("yongsheng", "ys-a", f"受理 {number}")
    run()
    assert len(requests.get(f"{fake_wechat.base_url}/_fake/messages", timeout=5).json()["items"]) == 2


# --------------------------------------------------------------------------- replies that cannot use the session


def test_an_expired_session_reply_falls_back_to_the_group_robot(client, resident, officials, tongxin,
                                                                fake_dingtalk, clock, run):
    number = submit(client, resident)
    # The callback is signed now (Tongxin checks it against its own clock), and then the
    # worker only gets to the reply after the sessionWebhook's 90 minutes are over.
    headers, body, payload = fake_dingtalk.state.build_callback(
        conversation_id="cid-yongsheng", staff_id="ys-a", text=f"受理 {number}", base_url=fake_dingtalk.base_url)
    resp = requests.post(f"{tongxin.base_url}/callbacks/dingtalk", data=body, headers=headers, timeout=10)
    assert resp.status_code == 200
    assert snapshot(number)[0] == "accepted"
    clock.advance(91 * 60)
    run(passes=2)  # the reply moves under the group robot's rate limit, then goes out
    [reply] = replies(fake_dingtalk, "yongsheng")
    assert reply["via"] == "robot" and number in reply["text"] and "已受理" in reply["text"]
    assert reply["at_user_ids"] == ["ys-a"]
    database.connect(reuse_if_open=True)
    d = Delivery.get(Delivery.event == OutboxEvent.get(OutboxEvent.kind == "dingtalk.reply"))
    assert (d.state, d.target, d.attempts) == ("sent", "dingtalk:township:yongsheng", 1)


def test_a_session_the_platform_forgot_falls_back_to_the_group_robot(client, resident, officials, say,
                                                                     fake_dingtalk, run):
    number = submit(client, resident)
    say("yongsheng", "ys-a", f"受理 {number}")
    with fake_dingtalk.state.lock:
        fake_dingtalk.state.sessions.clear()  # DingTalk answers 300001 "session 不存在"
    run(passes=2)
    [reply] = replies(fake_dingtalk, "yongsheng")
    assert reply["via"] == "robot" and "已受理" in reply["text"]


def test_a_reply_that_fails_is_retried_not_lost(client, resident, officials, say, fake_dingtalk, clock, run):
    number = submit(client, resident)
    say("yongsheng", "ys-a", f"查询 {number}")
    fake_dingtalk.state.set_outage("error500", count=2)
    run()
    assert replies(fake_dingtalk, "yongsheng") == []
    database.connect(reuse_if_open=True)
    d = Delivery.get(Delivery.target == "dingtalk:reply:cid-yongsheng")
    assert (d.state, d.attempts) == ("pending", 1)
    for _ in range(3):
        clock.advance(60)
        run()
    [reply] = replies(fake_dingtalk, "yongsheng")
    assert number in reply["text"]
    assert Delivery.get_by_id(d.id).state == "sent"


# --------------------------------------------------------------------------- hostile text


def assert_inert(message: dict) -> None:
    """Nothing a resident wrote became markdown, HTML or a mention in ``message``."""
    text = message["text"]
    assert not re.search(r"\]\s*\(\s*(https?://(evil|e/)|javascript)", text, re.I), text
    assert "![" not in text
    assert "evil.com" not in text.lower()  # no autolink either
    assert "<script" not in text.lower()
    # The resident's words never open a line as a heading, list item or quote (our own
    # numbered digest entries and headings are fine), and no ``#`` survives as syntax.
    for line in text.splitlines():
        assert not re.match(r"\s*(#+|[-+*]|\d+[.)]|>)\s*(标题|列表|\[点我|［点我)", line), line
    assert "# 标题" not in text
    assert "@13800000000" not in text and "@所有人" not in text
    assert "13800000000" not in message["at_mobiles"]
    assert not message["is_at_all"]
    assert message["payload"].get("at", {}).get("isAtAll") in (None, False)


def test_hostile_text_is_neutralised_in_cards_queries_and_digests(settings_dict, request, fake_dingtalk):
    settings_dict["dingtalk"]["digest_wait_seconds"] = 0
    client, resident, run, say = (request.getfixturevalue(n) for n in ("client", "resident", "run", "say"))
    request.getfixturevalue("officials")
    number = submit(client, resident, description=HOSTILE,
                    location={"lat": 43.3, "lng": 125.3, "address": HOSTILE_ADDRESS})
    run()
    [card] = group(fake_dingtalk, "yongsheng")
    assert number in card["text"] and "点我" in card["text"]  # the words are there, inert
    assert_inert(card)

    say("yongsheng", "ys-a", f"查询 {number}")
    say("yongsheng", "ys-a", "待办")
    say("yongsheng", "ys-a", f"驳回 {number} {HOSTILE}")  # an official pasting it back
    run()
    msgs = group(fake_dingtalk, "yongsheng")
    assert len(msgs) == 5  # card, 2 replies, rejection reply, status update
    for m in msgs:
        assert_inert(m)

    # A backlog big enough to be merged into digests, every entry hostile.
    database.connect(reuse_if_open=True)
    for _ in range(25):
        r = make_report(township="yitong", description=HOSTILE)
        Report.update(address=HOSTILE_ADDRESS).where(Report.id == r.id).execute()
    run()
    digests = [m for m in group(fake_dingtalk, "yitong") if "汇总" in m["title"]]
    assert digests, [m["title"] for m in group(fake_dingtalk, "yitong")]
    for m in group(fake_dingtalk, "yitong"):
        assert_inert(m)


def test_replies_that_fall_back_to_the_robot_respect_its_minute(client, residents, officials, tongxin, fake_dingtalk,
                                                              clock, run):
    """After a long outage the robot carries both the backlog and the replies whose sessions
    expired: together they must stay within its 20 messages a minute (no 130101 block)."""
    database.connect(reuse_if_open=True)
    numbers = [make_report().number for _ in range(6)]
    sent_callbacks = []
    for n in numbers:  # officials act while DingTalk is down
        headers, body, _ = fake_dingtalk.state.build_callback(
            conversation_id="cid-yongsheng", staff_id="ys-a", text=f"查询 {n}", base_url=fake_dingtalk.base_url)
        sent_callbacks.append(requests.post(f"{tongxin.base_url}/callbacks/dingtalk", data=body, headers=headers,
                                            timeout=10).status_code)
    assert sent_callbacks == [200] * 6
    database.connect(reuse_if_open=True)
    backlog = [make_report().number for _ in range(25)]
    fake_dingtalk.state.set_outage("error500")
    for _ in range(10):
        run(step=600)  # 100 minutes of outage: the sessions expire
    fake_dingtalk.state.set_outage("off")
    for _ in range(60):
        run(step=30)
    msgs = group(fake_dingtalk, "yongsheng")
    robot = fake_dingtalk.state.stats()["robots"]["cid-yongsheng"]
    assert robot["rejected"] == {}, robot
    assert robot["max_in_60s"] <= 20
    assert sorted(numbers_in(msgs)) == sorted(numbers + backlog)
    assert len([m for m in msgs if m["msgtype"] == "text"]) == 6  # every reply, through the robot


def test_captured_headers_cannot_carry_another_message(client, resident, officials, tongxin, fake_dingtalk, run):
    """DingTalk signs only the timestamp: a captured header pair replayed with a new body is refused.
    (Within seconds of its signing, a second message under a pair is taken for a genuine twin:
    not run, and its sender is asked to send it again; see tests/security/test_callback_replay.py.)"""
    import json

    number = submit(client, resident)
    headers, body, payload = fake_dingtalk.state.build_callback(
        conversation_id="cid-yongsheng", staff_id="ys-a", text="查询 " + number, base_url=fake_dingtalk.base_url,
        timestamp_offset_ms=-60_000)
    url = f"{tongxin.base_url}/callbacks/dingtalk"
    assert requests.post(url, data=body, headers=headers, timeout=10).status_code == 200
    before = snapshot(number)
    forged = dict(payload, msgId=payload["msgId"] + "-forged", text={"content": " 驳回 " + number + " 伪造"})
    resp = requests.post(url, data=json.dumps(forged, ensure_ascii=False).encode(), headers=headers, timeout=10)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "replayed_signature"
    assert snapshot(number) == before
    # DingTalk's own retry of the first message (same msgId) is still just a duplicate.
    again = requests.post(url, data=body, headers=headers, timeout=10)
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_a_reply_never_goes_to_a_foreign_session_webhook(client, resident, officials, tongxin, fake_dingtalk, run):
    """The sessionWebhook is not covered by the signature: only DingTalk's own host gets replies."""
    import json

    caught = []
    from flask import Flask

    trap_app = Flask("trap")

    @trap_app.post("/robot/sendBySession")
    def trap():
        caught.append(1)
        return {"errcode": 0, "errmsg": "ok"}

    from bridges.fakes.serve import serve_in_thread

    trap = serve_in_thread(trap_app)
    try:
        headers, body, payload = fake_dingtalk.state.build_callback(
            conversation_id="cid-yongsheng", staff_id="ys-a", text="帮助", base_url=fake_dingtalk.base_url)
        payload = dict(payload, sessionWebhook=f"{trap.base_url}/robot/sendBySession?session=x")
        resp = requests.post(f"{tongxin.base_url}/callbacks/dingtalk", headers=headers, timeout=10,
                             data=json.dumps(payload, ensure_ascii=False).encode())
        assert resp.status_code == 200
        run()
        run()
    finally:
        trap.shutdown()
    assert caught == []
    assert any("帮助" in m["text"] or "指令" in m["text"] for m in replies(fake_dingtalk, "yongsheng"))
