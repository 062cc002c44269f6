"""The delivery worker against the fake DingTalk and WeChat over real HTTP: fan-out,
rate limits and digests, outages, blocks, dead letters, msgUuid, staging, content checks."""
from __future__ import annotations

import collections

import requests

from miniapp_api.db import database
from miniapp_api.models import Delivery
from miniapp_api.models import GroupMapping
from miniapp_api.models import Report
from miniapp_api.models import TargetState
from tests.bridges.conftest import numbers_in
from tests.conftest import report_body
from tests.factories import make_official


def submit(client, resident, n: int = 1, **overrides) -> list[str]:
    out = []
    for i in range(n):
        resp = client.post("/api/v1/reports", json=report_body(**{"description": f"问题 {i}", **overrides}),
                           headers=resident["headers"])
        assert resp.status_code == 201, resp.get_json()
        out.append(resp.get_json()["number"])
    return out


def group(fake, code: str) -> list[dict]:
    return fake.state.messages(f"cid-{code}")


def test_new_report_reaches_its_group(client, resident, fake_dingtalk, run):
    database.connect(reuse_if_open=True)
    make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001")
    make_official("李备岗", "ys-b", duty_post="B", mobile="13900000002")
    [number] = submit(client, resident)
    run()
    [msg] = group(fake_dingtalk, "yongsheng")
    assert number in msg["text"] and "环境卫生" in msg["text"] and "人民大街" in msg["text"]
    assert msg["rendered_mentions"] == ["13900000001"] and not msg["is_at_all"]
    assert resident["openid"] not in str(msg["payload"])
    assert "/o/reports/" in msg["text"]  # the link officials open
    assert group(fake_dingtalk, "yongning") == []
    database.connect(reuse_if_open=True)
    assert Delivery.get(Delivery.channel == "dingtalk").state == "sent"


def test_b_post_is_mentioned_when_a_is_on_leave(client, resident, fake_dingtalk, run):
    database.connect(reuse_if_open=True)
    make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001", on_leave=True)
    make_official("李备岗", "ys-b", duty_post="B", mobile="13900000002")
    submit(client, resident)
    run()
    assert group(fake_dingtalk, "yongsheng")[0]["rendered_mentions"] == ["13900000002"]


def test_anonymous_report_shows_no_reporter(client, resident, fake_dingtalk, run):
    submit(client, resident, anonymous=True)
    run()
    text = group(fake_dingtalk, "yongsheng")[0]["text"]
    assert "匿名" in text and "已实名" not in text


def test_burst_is_coalesced_within_the_rate_limit(client, residents, fake_dingtalk, run):
    # 60 reports from 3 residents (daily limit 20 each), far more than 20 messages a minute.
    numbers = []
    for _ in range(3):
        numbers += submit(client, residents.login(), 20)
    for _ in range(40):
        run(step=3)
    shown = numbers_in(group(fake_dingtalk, "yongsheng"))
    assert sorted(shown) == sorted(numbers)  # every report, none twice
    stats = fake_dingtalk.state.stats()["robots"]["cid-yongsheng"]
    assert stats["max_in_60s"] <= 20 and stats["rejected"] == {}
    assert any("汇总" in m["title"] for m in group(fake_dingtalk, "yongsheng"))
    database.connect(reuse_if_open=True)
    assert Delivery.select().where(Delivery.state == "coalesced").count() == 0
    assert Delivery.select().where((Delivery.channel == "dingtalk") & (Delivery.state != "sent")).count() == 0


def test_outage_is_retried_with_backoff(client, resident, fake_dingtalk, run, clock):
    requests.post(f"{fake_dingtalk.base_url}/_fake/outage", json={"mode": "error500", "count": 3}, timeout=5)
    [number] = submit(client, resident)
    run()  # attempt 1 fails
    database.connect(reuse_if_open=True)
    d = Delivery.get(Delivery.channel == "dingtalk")
    assert (d.state, d.attempts, d.last_errcode) == ("pending", 1, "Unavailable")
    first_wait = (d.next_attempt_at - clock.now()).total_seconds()
    assert 4 <= first_wait <= 6  # first_retry_seconds = 5, no jitter in tests
    run()  # not due yet: nothing is sent, nothing counted
    assert Delivery.get_by_id(d.id).attempts == 1
    for _ in range(3):
        clock.advance(60)
        run()
    d = Delivery.get_by_id(d.id)
    assert d.state == "sent" and d.attempts == 4
    assert numbers_in(group(fake_dingtalk, "yongsheng")) == [number]


def test_unknown_token_is_dead_lettered(client, resident, fake_dingtalk, run):
    database.connect(reuse_if_open=True)
    GroupMapping.update(webhook=f"{fake_dingtalk.base_url}/robot/send?access_token=wrong").where(
        GroupMapping.owner_code == "yongsheng").execute()
    submit(client, resident)
    run()
    d = Delivery.get(Delivery.channel == "dingtalk")
    assert d.state == "dead" and d.last_errcode == "300001" and "token is not exist" in d.last_error
    assert d.attempts == 1
    assert TargetState.get_by_id("dingtalk:township:yongsheng").last_error


def test_a_block_is_waited_out_without_hammering(client, residents, fake_dingtalk, run, clock):
    # The robot was already pushed hard by someone else: DingTalk blocks at its 21st message.
    fake_dingtalk.state.groups["cid-yongsheng"].limiter.blocked_until = clock() + 600
    numbers = submit(client, residents.login(), 3)
    run()
    stats = fake_dingtalk.state.stats()["robots"]["cid-yongsheng"]
    assert stats["rejected"] == {"130101": 1}  # one try, then the whole target waits
    for _ in range(5):
        clock.advance(60)
        run()
    assert fake_dingtalk.state.stats()["robots"]["cid-yongsheng"]["rejected"] == {"130101": 1}
    clock.advance(360)
    run()
    assert sorted(numbers_in(group(fake_dingtalk, "yongsheng"))) == sorted(numbers)
    database.connect(reuse_if_open=True)
    assert all(d.attempts == 1 for d in Delivery.select().where(Delivery.channel == "dingtalk"))


def test_timeout_retry_is_not_shown_twice(settings_dict, request, fake_dingtalk, clock):
    settings_dict["dingtalk"]["request_timeout_seconds"] = 0.3
    client, resident, run = (request.getfixturevalue(n) for n in ("client", "resident", "run"))
    fake_dingtalk.state.set_outage("timeout", count=1, seconds=0.8)
    [number] = submit(client, resident)
    run()  # the client gives up; the fake still takes the message after 0.8 s
    import time

    time.sleep(1.0)
    clock.advance(60)
    run()  # the retry carries the same msgUuid
    msgs = group(fake_dingtalk, "yongsheng")
    assert numbers_in(msgs) == [number]
    assert fake_dingtalk.state.stats()["robots"]["cid-yongsheng"]["deduplicated"] == 1


def test_staging_sends_everything_to_one_group(settings_dict, request, fake_dingtalk):
    settings_dict["dingtalk"]["staging_webhook"] = f"{fake_dingtalk.base_url}/robot/send?access_token=tok-yitong"
    settings_dict["dingtalk"]["staging_secret"] = "SEC-secret-yitong"
    client, resident, run = (request.getfixturevalue(n) for n in ("client", "resident", "run"))
    [number] = submit(client, resident, township="yongning")
    run()
    assert group(fake_dingtalk, "yongning") == []
    assert numbers_in(group(fake_dingtalk, "yitong")) == [number]


def test_deferred_content_check_announces_or_rejects(client, residents, fake_wechat, fake_dingtalk, run):
    a, b = residents.login(), residents.login()
    requests.post(f"{fake_wechat.base_url}/_fake/outage", json={"mode": "busy", "count": 2}, timeout=5)
    [clean] = submit(client, a)
    [risky] = submit(client, b, description="这里有人诈骗老人")
    database.connect(reuse_if_open=True)
    assert Report.select().where(Report.moderation == "unchecked").count() == 2
    run()
    run()
    assert numbers_in(group(fake_dingtalk, "yongsheng")) == [clean]
    body = client.get(f"/api/v1/reports/{risky}", headers=b["headers"]).get_json()
    assert body["status"] == "rejected"
    assert body["timeline"][-1]["channel"] == "system" and "内容" in body["timeline"][-1]["note"]


def test_a_check_wechat_refuses_for_an_inactive_resident_is_settled_as_review(
        client, resident, fake_wechat, fake_dingtalk, run):
    # WeChat is down when the resident submits, and back only after they stopped using the
    # mini-program: WeChat then refuses to check for them (61010). The report is announced
    # as "review" instead of waiting for a check that can never come.
    requests.post(f"{fake_wechat.base_url}/_fake/outage", json={"mode": "busy", "count": 1}, timeout=5)
    [number] = submit(client, resident)
    database.connect(reuse_if_open=True)
    assert Report.get(Report.number == number).moderation == "unchecked"
    requests.post(f"{fake_wechat.base_url}/_fake/advance", json={"seconds": 2 * 3600 + 60}, timeout=5)
    run()  # the check, settled; the announcement it records goes out on the next pass
    run()
    assert Report.get(Report.number == number).moderation == "review"
    assert numbers_in(group(fake_dingtalk, "yongsheng")) == [number]
    check = Delivery.get(Delivery.target == "system:content_check")
    assert check.state == "sent" and check.attempts == 1  # settled, not retried until dead


def test_resident_notification_uses_one_consent(client, resident, fake_wechat, fake_dingtalk, run):
    from miniapp_api.reports import lifecycle
    from miniapp_api.models import utcnow
    from tests.factories import OFFICIAL

    [number] = submit(client, resident)
    # The resident taps 允许 in wx.requestSubscribeMessage: WeChat records it, the app tells us.
    requests.post(f"{fake_wechat.base_url}/_fake/consents",
                  json={"openid": resident["openid"], "template_id": "tmpl-report-status", "count": 1}, timeout=5)
    client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl-report-status"]}, headers=resident["headers"])
    database.connect(reuse_if_open=True)
    report = Report.get(Report.number == number)
    report = lifecycle.apply(report, "accept", OFFICIAL, utcnow())
    lifecycle.apply(report, "resolve", OFFICIAL, utcnow(), note="垃圾已经清运完毕，感谢您的反映和耐心等待，祝生活愉快",
                    changes={"reply": "已清运"})
    run()
    sent = requests.get(f"{fake_wechat.base_url}/_fake/messages", timeout=5).json()["items"]
    assert len(sent) == 1  # one consent, one message
    data = sent[0]["data"]
    assert sent[0]["touser"] == resident["openid"]
    assert data["character_string1"] == number and data["phrase2"] == "已受理"
    states = collections.Counter(d.state for d in Delivery.select().where(Delivery.channel == "wechat"))
    assert states == {"sent": 1, "skipped": 1}
    assert client.get("/api/v1/me/subscriptions", headers=resident["headers"]).get_json()["items"][0]["remaining"] == 0
