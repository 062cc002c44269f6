"""Bridge mappings: validation, write-only secrets, test send against the fake DingTalk,
versions and rollback, staging and mention policy at send time, routing dry-run, health."""
from __future__ import annotations

import logging

from bridges.registry import build_worker
from miniapp_api.models import Community
from miniapp_api.models import Delivery
from miniapp_api.models import Grid
from miniapp_api.models import GroupMapping
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api.models.console import AuditEntry
from miniapp_api.models.console import MappingPolicy
from miniapp_api.models.console import MappingVersion
from tests.factories import make_official
from tests.factories import make_report

NEW_SECRET = "SEC-brand-new-secret-0001"
STAGING_SECRET = "SEC-staging-secret-0002"


def new_group(fake, cid="cid-new", token="tok-new", secret=NEW_SECRET):
    fake.state.add_group(cid, "新群", token, secret, [])
    return {"webhook": f"{fake.base_url}/robot/send?access_token={token}", "secret": secret, "conversation_id": cid}


def form(**values) -> dict:
    base = {"webhook": "", "secret": "", "conversation_id": "cid-yongsheng", "mention_policy": "duty", "enabled": "1",
            "op": "save"}
    base.update(values)
    return base


def mapping(code="yongsheng", kind="township") -> GroupMapping:
    return GroupMapping.get((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code))


def test_list_shows_every_unit_and_department(console):
    body = console("county").text("/console/mappings")
    for name in ("永盛街道", "永宁街道", "伊通镇", "城管局"):
        assert name in body
    assert "SEC-secret" not in body and "tok-yongsheng" not in body


def test_unit_admin_sees_only_their_unit(console):
    body = console("ys_admin").text("/console/mappings")
    assert "永盛街道" in body and "永宁街道" not in body and "城管局" not in body


def test_secrets_never_shown(console, fake_dingtalk):
    c = console("county")
    body = c.text("/console/mappings/township/yongsheng")
    assert "SEC-secret-yongsheng" not in body
    assert "tok-yongsheng" not in body  # the access token is shortened too
    assert "已设置" in body


def test_bad_input_is_refused_and_changes_nothing(console, db, fake_dingtalk):
    c = console("county")
    before = mapping().__data__.copy()
    cases = [
        (form(webhook="ftp://oapi.dingtalk.com/robot/send?access_token=abc"), "https://"),
        (form(webhook="https://evil.example/robot/send?access_token=abc"), "必须是钉钉机器人地址"),
        (form(webhook=f"{fake_dingtalk.base_url}/robot/send"), "access_token"),
        (form(webhook="https://user:pw@oapi.dingtalk.com/robot/send?access_token=abc"), "用户名或密码"),
        (form(secret="not-a-secret"), "SEC"),
        (form(conversation_id=""), "conversation id"),
        (form(conversation_id="cid-yongning"), "已绑定到永宁街道"),
        (form(mention_policy="everyone"), "提醒方式"),
        (form(staging_enabled="1"), "先填写演练群"),
        (form(staging_webhook=f"{fake_dingtalk.base_url}/robot/send?access_token=tok-x"), "要一起填写"),
    ]
    for data, message in cases:
        resp = c.post("/console/mappings/township/yongsheng", data)
        assert resp.status_code == 422, data
        assert message in resp.get_data(as_text=True), (data, message)
    assert mapping().__data__ == before
    assert MappingVersion.select().count() == 0
    assert AuditEntry.select().where(AuditEntry.action.startswith("mapping.")).count() == 0


def test_save_keeps_versions_and_audits_without_secrets(console, db, fake_dingtalk, caplog):
    caplog.set_level(logging.INFO)
    c = console("county")
    group = new_group(fake_dingtalk)
    resp = c.post("/console/mappings/township/yongsheng", form(**group, note="换群"))
    assert resp.status_code == 302
    m = mapping()
    assert (m.webhook, m.secret, m.conversation_id) == (group["webhook"], NEW_SECRET, "cid-new")
    versions = list(MappingVersion.select().order_by(MappingVersion.version))
    assert [v.action for v in versions] == ["initial", "update"]
    assert versions[0].secret == "SEC-secret-yongsheng"  # kept for rollback, never shown
    entry = AuditEntry.get(AuditEntry.action == "mapping.updated")
    assert entry.actor == "county" and entry.township == "yongsheng"
    assert entry.before["conversation_id"] == "cid-yongsheng" and entry.after["conversation_id"] == "cid-new"
    assert entry.after["secret"] == "已设置"
    # A blank secret keeps the stored one.
    resp = c.post("/console/mappings/township/yongsheng", form(conversation_id="cid-new", mention_policy="none"))
    assert resp.status_code == 302 and mapping().secret == NEW_SECRET
    body = c.text("/console/mappings/township/yongsheng")
    csv = c.get("/console/audit.csv").get_data(as_text=True)
    for text in (body, csv, caplog.text):
        assert NEW_SECRET not in text and "SEC-secret-yongsheng" not in text
        assert "tok-new" not in text


def test_test_send_reaches_the_fake_and_shows_the_answer(console, db, fake_dingtalk, caplog):
    caplog.set_level(logging.INFO)
    c = console("county")
    resp = c.post("/console/mappings/township/yongsheng/test", {"which": "main"})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "测试发送成功" in body and "errcode = <code>0</code>" in body
    [msg] = fake_dingtalk.state.messages("cid-yongsheng")
    assert "连接测试" in msg["text"] and "永盛街道" in msg["text"]
    policy = MappingPolicy.get(MappingPolicy.owner_code == "yongsheng")
    assert policy.last_test_ok is True
    assert AuditEntry.get(AuditEntry.action == "mapping.test_send").after["ok"] is True
    assert "SEC-secret-yongsheng" not in caplog.text


def test_test_send_of_typed_values_shows_dingtalks_error_and_saves_nothing(console, db, fake_dingtalk):
    c = console("county")
    group = new_group(fake_dingtalk)
    resp = c.post("/console/mappings/township/yongsheng",
                  form(**dict(group, secret="SEC-wrong-secret-000"), op="test"))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "测试发送失败" in body
    assert "310000" in body and "sign not match" in body and "加签 secret 不对" in body
    assert "SEC-wrong-secret-000" not in body
    assert mapping().conversation_id == "cid-yongsheng"  # nothing saved
    resp = c.post("/console/mappings/township/yongsheng", form(**group, op="test"))
    assert "测试发送成功" in resp.get_data(as_text=True)
    assert len(fake_dingtalk.state.messages("cid-new")) == 1
    resp = c.post("/console/mappings/township/yongsheng",
                  form(webhook=f"{fake_dingtalk.base_url}/robot/send?access_token=no-such-token", op="test"))
    assert "300001" in resp.get_data(as_text=True)


def test_rollback(console, db, fake_dingtalk):
    c = console("county")
    group = new_group(fake_dingtalk)
    c.post("/console/mappings/township/yongsheng", form(**group))
    assert mapping().conversation_id == "cid-new"
    resp = c.post("/console/mappings/township/yongsheng/rollback", {"version": "1"})
    assert resp.status_code == 302
    m = mapping()
    assert (m.conversation_id, m.secret) == ("cid-yongsheng", "SEC-secret-yongsheng")
    assert [v.action for v in MappingVersion.select().order_by(MappingVersion.version)] == ["initial", "update", "rollback"]
    assert AuditEntry.get(AuditEntry.action == "mapping.rollback").note.endswith("回滚到版本 1")
    resp = c.post("/console/mappings/township/yongsheng/rollback", {"version": "99"})
    assert resp.status_code == 422 and "没有版本 99" in resp.get_data(as_text=True)
    resp = c.post("/console/mappings/township/yongsheng/rollback", {"version": "x"})
    assert resp.status_code == 422


def test_create_a_mapping_for_an_unmapped_unit(console, db, fake_dingtalk):
    GroupMapping.delete().where(GroupMapping.owner_code == "yitong").execute()
    c = console("county")
    assert "未绑定" in c.text("/console/mappings")
    group = new_group(fake_dingtalk, "cid-yt2", "tok-yt2", "SEC-yitong-two-0003")
    resp = c.post("/console/mappings/township/yitong", form(conversation_id="cid-yt2"))
    assert resp.status_code == 422 and "请填写 webhook" in resp.get_data(as_text=True)
    resp = c.post("/console/mappings/township/yitong", form(**group))
    assert resp.status_code == 302
    assert mapping("yitong").conversation_id == "cid-yt2"
    assert AuditEntry.get(AuditEntry.action == "mapping.created").township == "yitong"


def _worker(settings, clock):
    w = build_worker(settings, worker_id="console-test")
    w.rand = lambda: 0.5
    return w


def test_staging_switch_redirects_deliveries(console, db, fake_dingtalk, settings, clock):
    c = console("county")
    staging = new_group(fake_dingtalk, "cid-staging", "tok-staging", STAGING_SECRET)
    resp = c.post("/console/mappings/township/yongsheng",
                  form(staging_webhook=staging["webhook"], staging_secret=STAGING_SECRET))
    assert resp.status_code == 302
    resp = c.post("/console/deliveries/staging", {"kind": "township", "code": "yongsheng", "on": "1"})
    assert resp.status_code == 302
    db.connect(reuse_if_open=True)
    make_report()
    _worker(settings, clock).run_once(clock.now())
    assert fake_dingtalk.state.messages("cid-yongsheng") == []
    assert len(fake_dingtalk.state.messages("cid-staging")) == 1
    c.post("/console/deliveries/staging", {"kind": "township", "code": "yongsheng", "on": "0"})
    db.connect(reuse_if_open=True)
    make_report()
    _worker(settings, clock).run_once(clock.now())
    assert len(fake_dingtalk.state.messages("cid-yongsheng")) == 1
    assert [e.after["staging_enabled"] for e in AuditEntry.select().where(AuditEntry.action == "mapping.staging")
            .order_by(AuditEntry.id)] == [True, False]


def test_staging_switch_needs_a_staging_group(console, db):
    resp = console("county").post("/console/deliveries/staging", {"kind": "township", "code": "yongsheng", "on": "1"})
    assert resp.status_code == 422 and "还没有配置演练群" in resp.get_data(as_text=True)
    assert MappingVersion.select().count() == 0


def test_mention_policy_applies_at_send_time(console, db, fake_dingtalk, settings, clock):
    make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001")
    make_official("李备岗", "ys-b", duty_post="B", mobile="13900000002")
    c = console("county")
    c.post("/console/mappings/township/yongsheng", form(mention_policy="duty_ab"))
    db.connect(reuse_if_open=True)
    make_report()
    _worker(settings, clock).run_once(clock.now())
    assert fake_dingtalk.state.messages("cid-yongsheng")[-1]["rendered_mentions"] == ["13900000001", "13900000002"]
    c.post("/console/mappings/township/yongsheng", form(mention_policy="none"))
    db.connect(reuse_if_open=True)
    make_report()
    _worker(settings, clock).run_once(clock.now())
    assert fake_dingtalk.state.messages("cid-yongsheng")[-1]["rendered_mentions"] == []


def _counts():
    return [m.select().count() for m in (Report, OutboxEvent, Delivery, AuditEntry, MappingVersion)]


def test_routing_dry_run_answers_and_writes_nothing(console, db):
    t = Township.get(Township.code == "yongsheng")
    community = Community.create(township=t, name="人民社区", kind="neighborhood")
    grid = Grid.create(community=community, name="第一网格", center_lat=43.34, center_lng=125.30)
    Grid.create(community=community, name="第二网格", center_lat=43.40, center_lng=125.40)
    make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001", grid=grid, community=community, role="grid_worker")
    make_official("李备岗", "ys-b", duty_post="B", mobile="13900000002", grid=grid, community=community, role="grid_worker",
                  on_leave=False)
    c = console("ys_admin")
    before = _counts()
    body = c.text("/console/routing?run=1&township=yongsheng&category=sanitation&lat=43.341&lng=125.301")
    assert "第一网格" in body and "王永盛" in body and "李备岗" not in body
    assert "永盛街道 钉钉群" in body and "dingtalk:township:yongsheng" in body
    assert "139****0001" in body and "13900000001" not in body
    assert "新上报" in body  # the preview of the card
    body = c.text(f"/console/routing?run=1&township=yongsheng&category=road&grid={grid.id}")
    assert "按所选网格" in body and "乡镇/街道" in body
    assert _counts() == before


def test_routing_dry_run_bad_input(console, db):
    c = console("county")
    resp = c.get("/console/routing?run=1&township=&category=")
    assert resp.status_code == 422 and "请选择乡镇/街道" in resp.get_data(as_text=True)
    resp = c.get("/console/routing?run=1&township=yongsheng&category=sanitation&lat=abc&lng=1")
    assert resp.status_code == 422
    resp = c.get("/console/routing?run=1&township=yongsheng&category=sanitation&lat=100&lng=1")
    assert resp.status_code == 422 and "纬度" in resp.get_data(as_text=True)
    # Another unit's routing is not a unit administrator's business.
    assert console("yn_admin").get("/console/routing?run=1&township=yongsheng&category=sanitation").status_code == 403


def test_health_shows_last_delivery_and_failures(console, db, fake_dingtalk, settings, clock):
    make_report()
    _worker(settings, clock).run_once(clock.now())
    body = console("county").text("/console/mappings")
    assert "正常" in body
    Delivery.create(channel="dingtalk", target="dingtalk:township:yongning", state="dead", last_error="dingtalk 300001: token is not exist",
                    last_errcode="300001")
    body = console("county").text("/console/mappings/township/yongning")
    assert "1 条投递失败" in body


def test_init_db_does_not_undo_console_changes(console, db, fake_dingtalk, settings):
    from miniapp_api.seed import apply_config

    c = console("county")
    group = new_group(fake_dingtalk)
    c.post("/console/mappings/township/yongsheng", form(**group))
    db.connect(reuse_if_open=True)
    apply_config(settings)  # what `tongxin init-db` runs on every deploy
    assert mapping().conversation_id == "cid-new"
    assert mapping("yongning").conversation_id == "cid-yongning"  # untouched ones still follow the config


def test_county_group_is_listed(console, db):
    body = console("county").text("/console/mappings")
    assert "县指挥中心" in body
    assert console("county").get("/console/mappings/county/county").status_code == 200
    assert console("ys_admin").get("/console/mappings/county/county").status_code == 403
    assert console("county").get("/console/mappings/county/other").status_code == 404
