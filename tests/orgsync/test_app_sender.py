"""The app channel: a unit's mapping names a ``chat_id`` and its messages go through
``chat.send`` (the SDK's snake_case bodies), under the same worker: outbox, per-group and
app-wide limits, digests, retries, outages, dead letters — checked on what the fake received."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from bridges.dingtalk import render
from bridges.dingtalk.app_sender import RESEND_NOTE
from bridges.dingtalk.app_sender import to_app_body
from bridges.fakes.dingtalk_app import parse_app_message
from miniapp_api.db import database
from miniapp_api.models import Delivery
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models import Township
from miniapp_api.models.dingtalk import AppSend
from tests.bridges.conftest import numbers_in
from tests.factories import make_report

CHATS = {"yongsheng": "chatYongsheng01", "yongning": "chatYongning01"}


@pytest.fixture
def settings_dict(settings_dict, fake_dingtalk):
    """yongsheng and yongning are app-created groups (chat_id, no robot); the others keep theirs."""
    for t in settings_dict["townships"]:
        if t["code"] in CHATS:
            t["dingtalk"] = {"conversation_id": f"cid-{t['code']}", "chat_id": CHATS[t["code"]]}
            fake_dingtalk.state.add_group(f"cid-{t['code']}", f"{t['code']}群", "", None, [], chat_id=CHATS[t["code"]])
    return settings_dict


def app_messages(fake, code: str) -> list[dict]:
    return [m for m in fake.state.messages(f"cid-{code}") if m["via"] == "app"]


def test_config_seeds_an_app_group_without_robot(app, db):
    m = GroupMapping.get(GroupMapping.owner_code == "yongsheng")
    assert (m.chat_id, m.webhook, m.secret, m.enabled) == (CHATS["yongsheng"], "", "", True)
    assert GroupMapping.get(GroupMapping.owner_code == "yitong").chat_id is None


def test_a_new_report_goes_through_chat_send(app, db, fake_dingtalk, fake_app, run):
    Official.create(township=Township.get(Township.code == "yongsheng"), name="王永盛", role="township_staff",
                    duty_post="A", mobile="13900000001")
    number = make_report(township="yongsheng", level="township").number
    run()
    msgs = app_messages(fake_dingtalk, "yongsheng")
    assert len(msgs) == 1 and numbers_in(msgs) == [number]
    m = msgs[0]
    assert m["msgtype"] == "markdown" and set(m["payload"]) == {"chatid", "msgtype", "markdown"}
    assert "@王永盛" in m["text"] and "13900000001" not in m["text"]  # no @ in chat.send: a name
    d = Delivery.get(Delivery.target == "dingtalk:township:yongsheng")
    assert (d.state, d.attempts) == ("sent", 1)
    sent = AppSend.get(AppSend.msg_uuid == d.msg_uuid)
    assert (sent.state, sent.message_id) == ("sent", m["message_id"])
    assert fake_dingtalk.state.stats()["robots"]["cid-yongsheng"]["accepted"] == 0  # no robot involved
    assert fake_app.stats()["gettoken_calls"] == 1


def test_every_rendered_shape_converts_to_a_valid_chat_body():
    card = render.ReportCard(number="R261127-0001", category="环境卫生", township_name="永盛街道", address="人民大街",
                             description="垃圾", photo_urls=[], link="https://t/o/reports/R261127-0001?sig=x",
                             mention_mobiles=["13900000001"], anonymous=False, reporter_label="居民", urgent=False,
                             level_label="网格")
    payloads = [
        render.render_new_report(card),
        render.render_digest([card, card], "新上报汇总"),
        render.render_text_reply("已受理", "staff-1"),
        render.render_text_reply("**粗体**", None, markdown=True),
        {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "singleTitle": "查看", "singleURL": "https://a"}},
        {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "x", "btnOrientation": "1",
                                                 "btns": [{"title": "a", "actionURL": "https://a"}]}},
        {"msgtype": "link", "link": {"title": "t", "text": "x", "messageUrl": "https://a", "picUrl": "https://p"}},
        {"msgtype": "feedCard", "feedCard": {"links": [{"title": "t", "messageURL": "https://a", "picURL": "https://p"}]}},
    ]
    import json

    for p in payloads:
        for resend in (False, True):
            body = dict(to_app_body(p, resend=resend), chatid="chat1")
            parsed, problem = parse_app_message(json.dumps(body).encode())
            assert problem is None, (p, body, problem)
            assert "at" not in body and "msgUuid" not in body
            assert (RESEND_NOTE in json.dumps(body, ensure_ascii=False)) == resend
    single = to_app_body(payloads[4])
    assert single == {"msgtype": "action_card", "action_card": {
        "title": "t", "markdown": "x", "single_title": "查看", "single_url": "https://a"}}
    btns = to_app_body(payloads[5])["action_card"]
    assert btns["btn_orientation"] == "1" and btns["btn_json_list"] == [{"title": "a", "action_url": "https://a"}]


def test_a_backlog_is_coalesced_under_the_groups_own_limit(settings_dict, request, fake_dingtalk, clock):
    settings_dict["dingtalk"].update(app_chat_rate_limit_per_minute=12, digest_wait_seconds=0)
    request.getfixturevalue("app")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    numbers = [make_report(township="yongsheng").number for _ in range(60)]
    run(passes=200, step=1)
    msgs = app_messages(fake_dingtalk, "yongsheng")
    assert sorted(numbers_in(msgs)) == sorted(numbers)  # each once
    assert any("汇总" in m["title"] for m in msgs)
    stats = fake_dingtalk.state.stats()["robots"]["cid-yongsheng"]
    assert stats["app_max_in_60s"] <= 12
    assert {d.state for d in Delivery.select().where(Delivery.channel == "dingtalk")} <= {"sent", "coalesced"}


def test_the_app_wide_limit_holds_across_groups(settings_dict, request, fake_dingtalk, clock):
    settings_dict["dingtalk"].update(app_rate_limit_per_minute=10, app_chat_rate_limit_per_minute=8,
                                     digest_reserve=2)
    request.getfixturevalue("app")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    numbers = [make_report(township=code).number for code in CHATS for _ in range(6)]
    run(passes=240, step=1)
    msgs = [m for code in CHATS for m in app_messages(fake_dingtalk, code)]
    assert sorted(numbers_in(msgs)) == sorted(numbers)
    times = sorted(m["time"] for m in msgs)
    assert max(sum(1 for t in times if t0 <= t < t0 + 60) for t0 in times) <= 10
    assert max(sum(1 for t in times if t0 <= t < t0 + 1) for t0 in times) <= 1  # 10/min → 1 a second


def test_an_outage_is_ridden_out_with_backoff(app, db, fake_dingtalk, run, clock):
    number = make_report(township="yongsheng").number
    fake_dingtalk.state.set_outage("error500", count=10_000)
    t0 = clock.now()
    for _ in range(40):
        run(step=1)
    d = Delivery.get(Delivery.target == "dingtalk:township:yongsheng")
    # Attempts at 0, 5, 15 and 35 s; the next at 75 s (5·2^(n−1), no jitter in tests).
    assert (d.state, d.attempts, d.last_errcode) == ("pending", 4, "Unavailable")
    assert abs((d.next_attempt_at - t0).total_seconds() - 75) < 0.01
    assert app_messages(fake_dingtalk, "yongsheng") == []
    fake_dingtalk.state.set_outage("off")
    clock.advance(40)
    run()
    assert numbers_in(app_messages(fake_dingtalk, "yongsheng")) == [number]
    d = Delivery.get_by_id(d.id)
    assert (d.state, d.attempts) == ("sent", 5)
    assert AppSend.get(AppSend.msg_uuid == d.msg_uuid).in_doubt_resends == 0  # a 500 is a clear "no"


def test_too_many_failures_end_in_a_dead_letter(settings_dict, request, fake_dingtalk, clock):
    settings_dict["worker"] = {"max_attempts": 3}
    request.getfixturevalue("app")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    make_report(township="yongsheng")
    fake_dingtalk.state.set_outage("error500", count=10_000)
    for _ in range(40):
        run(step=30)
    d = Delivery.get(Delivery.target == "dingtalk:township:yongsheng")
    assert (d.state, d.attempts, d.last_errcode) == ("dead", 3, "Unavailable")


def test_a_timed_out_send_is_resent_once_and_says_so(settings_dict, request, fake_dingtalk, clock):
    """chat.send has no msgUuid: after a timeout the message may be in the group already.
    The resend carries a note, so nobody acts on it twice; nothing is lost."""
    settings_dict["dingtalk"]["request_timeout_seconds"] = 0.3
    request.getfixturevalue("app")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    from bridges.dingtalk.app_client import AppClient
    from bridges.dingtalk.app_client import DingtalkAppSettings
    from miniapp_api.tokens import DbTokenStore

    with AppClient(DingtalkAppSettings.from_config(request.getfixturevalue("settings").dingtalk), DbTokenStore()) as c:
        c.access_token()  # the token first, so the timeout hits chat/send itself
    number = make_report(township="yongsheng").number
    fake_dingtalk.state.set_outage("timeout", count=1, seconds=0.6)
    run()
    time.sleep(0.8)  # the slow platform shows the message after all
    d = Delivery.get(Delivery.target == "dingtalk:township:yongsheng")
    assert (d.state, d.last_errcode) == ("pending", "MaybeDelivered")
    assert AppSend.get(AppSend.msg_uuid == d.msg_uuid).state == "unknown"
    clock.advance(10)
    run()
    msgs = app_messages(fake_dingtalk, "yongsheng")
    assert numbers_in(msgs) == [number, number]
    assert RESEND_NOTE not in msgs[0]["text"] and RESEND_NOTE in msgs[1]["text"]
    assert Delivery.get_by_id(d.id).state == "sent"
    assert AppSend.get(AppSend.msg_uuid == d.msg_uuid).in_doubt_resends == 1


def test_a_send_already_answered_is_not_repeated(app, db, fake_dingtalk, run, clock):
    """Killed after DingTalk answered and AppSend recorded it, before the delivery row was
    marked sent: the retry finds the answer and sends nothing."""
    number = make_report(township="yongsheng").number
    run()
    d = Delivery.get(Delivery.target == "dingtalk:township:yongsheng")
    Delivery.update(state="sending", claimed_until=clock.now() - timedelta(seconds=1), claimed_by="dead:1:1",
                    attempts=0, sent_at=None).where(Delivery.id == d.id).execute()
    clock.advance(5)
    run()
    assert numbers_in(app_messages(fake_dingtalk, "yongsheng")) == [number]
    assert Delivery.get_by_id(d.id).state == "sent"


def test_a_group_that_is_gone_marks_the_mapping_broken(app, db, fake_dingtalk, run, clock):
    fake_dingtalk.state.drop_chat(CHATS["yongsheng"])
    make_report(township="yongsheng")
    run()
    m = GroupMapping.get(GroupMapping.owner_code == "yongsheng")
    assert not m.enabled and "34013" in m.broken_reason
    d = Delivery.get(Delivery.target == "dingtalk:township:yongsheng")
    assert d.state == "pending" and d.last_errcode == "34013"  # waits for a new mapping
    clock.advance(400)
    run()
    d = Delivery.get_by_id(d.id)
    assert d.state == "pending" and "no DingTalk group mapped" in d.last_error  # no further chat.send
    assert fake_dingtalk.state.app.stats()["chat_rejected"] == {"34013": 1}


def test_an_expired_token_mid_run_is_refreshed_once(app, db, fake_dingtalk, fake_app, run, clock):
    make_report(township="yongsheng")
    run()
    fake_app.expire_now()
    for _ in range(3):
        make_report(township="yongning", category="road", level="township")
    clock.advance(1)
    run(passes=5, step=1)
    assert len(app_messages(fake_dingtalk, "yongning")) >= 1
    stats = fake_app.stats()
    assert stats["gettoken_calls"] == 2 and stats["token_errors"] == {"42001": 1}
    assert {d.state for d in Delivery.select().where(Delivery.channel == "dingtalk")} <= {"sent", "coalesced"}


def test_the_staging_switch_still_uses_a_robot(app, db, fake_dingtalk, run):
    from miniapp_api.models.console import MappingPolicy

    MappingPolicy.create(owner_kind="township", owner_code="yongsheng", staging_enabled=True,
                         staging_webhook=f"{fake_dingtalk.base_url}/robot/send?access_token=tok-yitong",
                         staging_secret="SEC-secret-yitong")
    number = make_report(township="yongsheng").number
    run()
    assert app_messages(fake_dingtalk, "yongsheng") == []
    assert numbers_in(fake_dingtalk.state.messages("cid-yitong")) == [number]


def test_a_digest_that_may_have_been_shown_is_never_split(settings_dict, request, fake_dingtalk, clock):
    """A worker died while sending a digest (its AppSend is still in flight, attempts 0). After
    the restart, a rate limit hands the digest back unsent: it must stay whole — split into
    single cards under new msgUuids, its reports would be shown twice without a mark."""
    settings_dict["dingtalk"]["app_rate_limit_per_minute"] = 60  # one a second
    request.getfixturevalue("app")
    worker = request.getfixturevalue("worker")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    now = clock.now()
    numbers = [make_report(township="yongsheng", now=now).number for _ in range(3)]
    worker.fan_out(now)
    single, *members = list(Delivery.select().where(Delivery.target == "dingtalk:township:yongsheng")
                            .order_by(Delivery.id))
    earlier = now - timedelta(seconds=5)
    digest = Delivery.create(event=None, channel="dingtalk", target=single.target, state="sending",
                             payload={"members": [m.id for m in members]}, msg_uuid="digest-in-doubt",
                             claimed_until=now - timedelta(seconds=1), claimed_by="dead-host:1:1",
                             created_at=earlier, next_attempt_at=earlier)
    Delivery.update(state="coalesced", digest=digest).where(Delivery.id.in_([m.id for m in members])).execute()
    AppSend.create(msg_uuid="digest-in-doubt", chat_id=CHATS["yongsheng"], state="in_flight", attempts=1,
                   started_at=earlier)
    AppSend.create(msg_uuid="other", chat_id=CHATS["yongning"], state="sent", started_at=now)  # this second is used
    run()  # the single card is rate-limited; the digest behind it is handed back
    database.connect(reuse_if_open=True)
    assert Delivery.get_by_id(digest.id).payload == {"members": [m.id for m in members]}
    assert {Delivery.get_by_id(m.id).state for m in members} == {"coalesced"}
    run(passes=10, step=1)
    msgs = app_messages(fake_dingtalk, "yongsheng")
    plain = [m for m in msgs if RESEND_NOTE not in m["text"]]
    marked = [m for m in msgs if RESEND_NOTE in m["text"]]
    assert numbers_in(plain) == [numbers[0]]
    assert len(marked) == 1 and "汇总" in marked[0]["title"] and sorted(numbers_in(marked)) == sorted(numbers[1:])


def test_a_digest_made_in_this_pass_still_dissolves_when_handed_back(settings_dict, request, fake_dingtalk, clock):
    settings_dict["dingtalk"].update(app_rate_limit_per_minute=60, app_chat_rate_limit_per_minute=12,
                                     digest_wait_seconds=0)
    settings_dict["worker"] = {"batch_size": 500}  # all 120 fanned out in one pass
    request.getfixturevalue("app")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    for _ in range(120):
        make_report(township="yongsheng")
    run()  # merges the backlog into digests; sends one, the app's second is used up
    database.connect(reuse_if_open=True)
    digests = list(Delivery.select().where(Delivery.payload.is_null(False) & Delivery.event.is_null())
                   .order_by(Delivery.id))
    # The first was sent, the second hit the app's limit (kept whole, as any rate-limited
    # delivery); the ones behind it were made this pass, never sent: dissolved.
    assert [d.state for d in digests] == ["sent", "pending"]
    singles = Delivery.select().where((Delivery.state == "pending") & Delivery.digest.is_null()
                                      & Delivery.event.is_null(False)).count()
    assert singles == 120 - sum(len(d.payload["members"]) for d in digests) > 0


def test_a_card_that_may_have_been_shown_is_never_merged_after_a_hand_back(settings_dict, request, fake_dingtalk,
                                                                           clock):
    """The single-card case of the above: handed back unsent after a restart, it must not
    become a plain pending card that a later digest would swallow (and show again)."""
    settings_dict["dingtalk"].update(app_rate_limit_per_minute=60, app_chat_rate_limit_per_minute=8,
                                     digest_reserve=2, digest_wait_seconds=0)
    request.getfixturevalue("app")
    worker = request.getfixturevalue("worker")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    now = clock.now()
    first = make_report(township="yongsheng", now=now, urgent=True).number  # goes first: rate-limited
    doubt = make_report(township="yongsheng", now=now).number
    worker.fan_out(now)
    d_first, d_doubt = Delivery.select().order_by(Delivery.id)
    Delivery.update(state="sending", claimed_until=now - timedelta(seconds=1), claimed_by="dead-host:1:1").where(
        Delivery.id == d_doubt.id).execute()
    AppSend.create(msg_uuid=d_doubt.msg_uuid, chat_id=CHATS["yongsheng"], state="in_flight", attempts=1,
                   started_at=now - timedelta(seconds=5))
    AppSend.create(msg_uuid="other", chat_id=CHATS["yongning"], state="sent", started_at=now)
    run()
    database.connect(reuse_if_open=True)
    assert Delivery.get_by_id(d_doubt.id).state == "sending"  # handed back, still in doubt
    backlog = [make_report(township="yongsheng", now=now).number for _ in range(20)]
    run(passes=120, step=1)
    msgs = app_messages(fake_dingtalk, "yongsheng")
    assert any("汇总" in m["title"] for m in msgs)
    marked = [m for m in msgs if RESEND_NOTE in m["text"]]
    assert len(marked) == 1 and numbers_in(marked) == [doubt] and "汇总" not in marked[0]["title"]
    plain = numbers_in([m for m in msgs if RESEND_NOTE not in m["text"]])
    assert sorted(plain) == sorted([first] + backlog)  # the doubtful card never in a digest


def test_a_card_that_may_have_been_shown_is_never_merged_after_its_own_rate_limit(settings_dict, request,
                                                                                 fake_dingtalk, clock):
    """Taken over from a dead worker and then rate-limited itself: it stays in flight, and
    goes out alone, marked — not swallowed by the digest of the backlog behind it."""
    settings_dict["dingtalk"].update(app_rate_limit_per_minute=60, app_chat_rate_limit_per_minute=8,
                                     digest_reserve=2, digest_wait_seconds=0)
    request.getfixturevalue("app")
    worker = request.getfixturevalue("worker")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    now = clock.now()
    doubt = make_report(township="yongsheng", now=now).number
    worker.fan_out(now)
    d = Delivery.get()
    Delivery.update(state="sending", claimed_until=now - timedelta(seconds=1), claimed_by="dead-host:1:1").where(
        Delivery.id == d.id).execute()
    AppSend.create(msg_uuid=d.msg_uuid, chat_id=CHATS["yongsheng"], state="in_flight", attempts=1,
                   started_at=now - timedelta(seconds=5))
    AppSend.create(msg_uuid="other", chat_id=CHATS["yongning"], state="sent", started_at=now)
    run()  # the app's second is used up: rate-limited before anything is sent
    database.connect(reuse_if_open=True)
    d = Delivery.get_by_id(d.id)
    assert (d.state, d.last_errcode, d.attempts) == ("sending", "app_rate_limit", 0)
    backlog = [make_report(township="yongsheng", now=now).number for _ in range(20)]
    run(passes=120, step=1)
    msgs = app_messages(fake_dingtalk, "yongsheng")
    marked = [m for m in msgs if RESEND_NOTE in m["text"]]
    assert numbers_in(marked) == [doubt] and "汇总" not in marked[0]["title"]
    assert sorted(numbers_in([m for m in msgs if RESEND_NOTE not in m["text"]])) == sorted(backlog)
