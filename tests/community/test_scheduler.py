"""The campaign schedule on the test clock: coalesced sign-up counts within the rate limit,
reminders by subscribe message before the start, the roster at the start (phones masked),
completion after the end; every step once, however often the pass runs."""
from __future__ import annotations

from datetime import timedelta

from bridges.registry import build_worker
from miniapp_api.community.scheduler import run_pass
from miniapp_api.db import database
from miniapp_api.models import utcnow
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import VolunteerHours
from tests.community.conftest import COUNTY
from tests.community.conftest import wechat_messages
from tests.community.test_campaigns import code_now


def create(client, org, start_in: timedelta, capacity: int = 10, hours: float = 2) -> str:
    start = utcnow() + start_in
    resp = client.post("/api/v1/admin/campaigns", headers=COUNTY, json={
        "title": "敬老院义务劳动", "place": {"name": "敬老院", "lat": 43.345, "lng": 125.305},
        "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=hours)).isoformat(),
        "capacity": capacity, "scope": {"level": "township", "township": "yongsheng"}})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["number"]


def group(fake_dingtalk, word: str) -> list[dict]:
    return [m for m in fake_dingtalk.state.messages("cid-yongsheng") if word in m["title"]]


def test_counts_are_coalesced(client, people, org, fake_dingtalk, run, clock):
    n = create(client, org, timedelta(days=2), capacity=3)
    run()
    for _ in range(5):
        client.post(f"/api/v1/campaigns/{n}/signup", json={}, headers=people.at(org["东风一网格"])["headers"])
    run(passes=2)
    [first] = group(fake_dingtalk, "报名")
    assert "3/3" in first["title"] and "已满员" in first["text"] and "候补 2 人" in first["text"]
    for _ in range(4):
        client.post(f"/api/v1/campaigns/{n}/signup", json={}, headers=people.at(org["东风一网格"])["headers"])
    run(passes=3, step=60)
    assert len(group(fake_dingtalk, "报名")) == 1  # still inside the 10-minute interval
    clock.advance(600)
    run(passes=2)
    counts = group(fake_dingtalk, "报名")
    assert len(counts) == 2 and "候补 6 人" in counts[1]["text"]
    run(passes=3, step=700)
    assert len(group(fake_dingtalk, "报名")) == 2  # no change, no message


def test_reminder_roster_and_completion(client, people, org, fake_wechat, fake_dingtalk, run, clock, settings):
    n = create(client, org, timedelta(hours=30), capacity=2)
    volunteers = [people.at(org["东风一网格"]) for _ in range(3)]
    for i, v in enumerate(volunteers):
        people.consent(v, "tmpl-campaign")
        client.post(f"/api/v1/campaigns/{n}/signup", json={"name": f"张{i}", "phone": f"1391234567{i}"},
                    headers=v["headers"])
    run(passes=2)
    assert wechat_messages(fake_wechat, "tmpl-campaign") == []
    clock.advance(7 * 3600)  # 23 h before the start: reminder_hours = 24
    run(passes=2)
    sent = wechat_messages(fake_wechat, "tmpl-campaign")
    assert sorted(m["touser"] for m in sent) == sorted(v["openid"] for v in volunteers[:2])  # not the waitlisted
    assert all("即将开始" in m["data"]["thing4"] for m in sent)
    run(passes=3, step=600)
    assert len(wechat_messages(fake_wechat, "tmpl-campaign")) == 2

    clock.advance(23 * 3600)  # the start: the roster goes to the group
    run(passes=2)
    [roster] = group(fake_dingtalk, "花名册")
    assert "张0" in roster["text"] and "张1" in roster["text"] and "张2" not in roster["text"]
    assert "13912345670" not in str(roster["payload"]) and "139＊＊＊＊5670" in roster["text"]
    assert "候补 1 人" in roster["text"] and "/o/campaigns/" in roster["text"]

    # Volunteer 0 checks in (the API runs on the real clock: move the start back for it).
    database.connect(reuse_if_open=True)
    real_start = utcnow() - timedelta(minutes=5)
    Campaign.update(starts_at=real_start, ends_at=real_start + timedelta(hours=2)).where(Campaign.number == n).execute()
    resp = client.post(f"/api/v1/campaigns/{n}/checkin", json={"code": code_now(n), "lat": 43.345, "lng": 125.305},
                       headers=volunteers[0]["headers"])
    assert resp.status_code == 200, resp.get_json()
    clock.t = (real_start + timedelta(hours=2, minutes=61)).timestamp()  # an hour after the end
    run(passes=2)
    database.connect(reuse_if_open=True)
    assert Campaign.get(Campaign.number == n).status == "completed"
    assert [(h.resident.openid, h.hours) for h in VolunteerHours.select()] == [(volunteers[0]["openid"], 2.0)]
    [done] = group(fake_dingtalk, "完成")
    assert "1 人" in done["text"]
    run(passes=3, step=3600)
    assert len(group(fake_dingtalk, "完成")) == 1 and len(group(fake_dingtalk, "花名册")) == 1


def test_a_pass_is_idempotent_across_restarts(client, people, org, settings, clock):
    n = create(client, org, timedelta(minutes=-10), capacity=5)
    client.post(f"/api/v1/campaigns/{n}/signup", json={}, headers=people.at(org["东风一网格"])["headers"])
    client.post("/api/v1/admin/notices", json={"title": "通知", "target": {"level": "county"}}, headers=COUNTY)
    database.connect(reuse_if_open=True)
    later = clock.now() + timedelta(hours=49)
    first = run_pass(later, settings)
    assert first["notice_reminders"] == 3 and first["notice_escalations"] == 1 and first["completions"] == 1
    assert first["campaign_counts"] == 0  # ended: no count message any more
    again = run_pass(later, settings)
    assert set(again.values()) == {0}
    restarted = build_worker(settings, worker_id="another")  # a fresh worker after a restart
    restarted.run_once(later + timedelta(seconds=1))
    assert set(run_pass(later + timedelta(hours=1), settings).values()) == {0}
