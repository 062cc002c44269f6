"""合并 <编号> <主编号> (CONTRACT §4) from a DingTalk group, through the fake over real HTTP: the
duplicate becomes ``merged``, its reporter and followers follow the main report and are told
(outbox → WeChat), both timelines say so; merging into itself, into a closed report and across
units is refused and changes nothing; a chain is flattened. On SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from bridges.routing import targets_for
from miniapp_api.db import database
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import ReportSupport
from miniapp_api.models import TimelineEntry
from tests.bridges.test_callbacks import officials  # noqa: F401  (fixture)
from tests.bridges.test_callbacks import replies
from tests.bridges.test_callbacks import say  # noqa: F401  (fixture)
from tests.conftest import report_body


def _submit(client, resident, **overrides) -> str:
    resp = client.post("/api/v1/reports", json=report_body(**overrides), headers=resident["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["number"]


def _row(number: str) -> Report:
    database.connect(reuse_if_open=True)
    return Report.get(Report.number == number)


def _last_reply(run, fake, code="yongsheng") -> str:
    run()
    return replies(fake, code)[-1]["text"]


@pytest.fixture
def three(client, residents):
    """Three residents: the duplicate's reporter, a follower of the duplicate, the main's reporter."""
    return residents.login(), residents.login(), residents.login()


def test_merge_moves_reporter_and_followers_and_says_so(client, three, say, officials, run, fake_dingtalk, settings):  # noqa: F811
    dup_owner, fan, main_owner = three
    main = _submit(client, main_owner)
    dup = _submit(client, dup_owner)
    assert client.post(f"/api/v1/reports/{dup}/support", headers=fan["headers"]).status_code == 200
    answer = say("yongsheng", "ys-a", f"合并 {dup} {main}")
    assert answer["status"] == 200
    reply = _last_reply(run, fake_dingtalk)
    assert f"已将 {dup} 合并至 {main}" in reply

    d, m = _row(dup), _row(main)
    assert d.status == "merged" and d.merged_into_id == m.id and m.supporters == 2
    followers = {s.resident_id for s in ReportSupport.select().where(ReportSupport.report == m.id)}
    assert followers == {d.resident_id, Report.get(Report.number == dup).resident_id} | {
        s.resident_id for s in ReportSupport.select().where(ReportSupport.report == d.id)}
    assert [e.action for e in TimelineEntry.select().where(TimelineEntry.report == d.id)][-1] == "merge"
    main_steps = [e for e in TimelineEntry.select().where(TimelineEntry.report == m.id) if e.action == "merge"]
    assert len(main_steps) == 1 and dup in main_steps[0].note and main_steps[0].channel == "dingtalk"
    # The duplicate's reporter and its follower are told in WeChat (outbox → their targets).
    event = OutboxEvent.select().where((OutboxEvent.report == d.id) & (OutboxEvent.kind == "report.status_changed")
                                       ).order_by(OutboxEvent.id.desc()).first()
    wechat = {t.target for t in targets_for(event, settings) if t.channel == "wechat"}
    fan_id = ReportSupport.get(ReportSupport.report == d.id).resident_id
    assert wechat == {f"wechat:resident:{d.resident_id}", f"wechat:resident:{fan_id}"}
    # The resident's views: merged, naming the main report; the main one listed as followed.
    own = client.get(f"/api/v1/reports/{dup}", headers=dup_owner["headers"]).get_json()
    assert own["status"] == "merged" and own["merged_into"] == main
    mine = client.get("/api/v1/reports?mine=true", headers=dup_owner["headers"]).get_json()["items"]
    assert [(i["number"], i["relation"]) for i in mine] == [(dup, "own"), (main, "following")]
    assert client.get(f"/api/v1/reports/{main}", headers=fan["headers"]).status_code == 200


def test_merge_refusals_change_nothing(client, three, say, officials, run, fake_dingtalk):  # noqa: F811
    a_owner, b_owner, c_owner = three
    a = _submit(client, a_owner)
    closed = _submit(client, b_owner)
    elsewhere = _submit(client, c_owner, township="yongning")
    Report.update(status="closed").where(Report.number == closed).execute()
    cases = [(f"合并 {a} {a}", "它自己"), (f"合并 {a} {closed}", "已评价"), (f"合并 {a} {elsewhere}", "找不到")]
    for text, expected in cases:
        say("yongsheng", "ys-a", text)
        assert expected in _last_reply(run, fake_dingtalk), text
        assert _row(a).status == "pending" and _row(a).merged_into_id is None
    say("yongsheng", "ys-a", f"合并 {a}")
    assert "缺少主编号" in _last_reply(run, fake_dingtalk)
    assert ReportSupport.select().count() == 0


def test_merge_chains_are_flattened(client, three, say, officials, run, fake_dingtalk):  # noqa: F811
    a_owner, b_owner, c_owner = three
    a, b, c = _submit(client, a_owner), _submit(client, b_owner), _submit(client, c_owner)
    say("yongsheng", "ys-a", f"合并 {a} {b}")
    run()
    say("yongsheng", "ys-a", f"合并 {b} {c}")
    run()
    assert _row(a).merged_into_id == _row(c).id and _row(b).merged_into_id == _row(c).id
    assert _row(c).supporters == 2  # a's and b's reporters
    # Merging into a merged report goes on to the report it was merged into.
    d = _submit(client, a_owner)
    say("yongsheng", "ys-a", f"合并 {d} {a}")
    assert f"合并至 {c}" in _last_reply(run, fake_dingtalk)
    assert _row(d).merged_into_id == _row(c).id
