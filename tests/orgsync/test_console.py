"""The console's side of the DingTalk app: the roster's "sync from DingTalk" button (county
administrators, preview then apply, audited), app groups in the mapping form (chat_id instead
of a webhook), their test send through chat.send, the dry-run and a broken group's health."""
from __future__ import annotations

from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models import TargetState
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.models.console import AuditEntry
from miniapp_api.models.console import MappingVersion
from tests.console.conftest import accounts  # noqa: F401  (console fixtures)
from tests.console.conftest import console  # noqa: F401
from tests.console.conftest import fast_hashes  # noqa: F401
from tests.console.test_mappings import form


def _roster(fake_app, n=30):
    t = Township.get(Township.code == "yongsheng")
    for i in range(n):
        fake_app.add_user(f"成员{i}", f"139{i:08d}")
        Official.create(township=t, name=f"成员{i}", role="grid_worker", mobile=f"139{i:08d}")


def test_sync_button_previews_then_applies_and_is_audited(console, db, fake_app):
    _roster(fake_app)
    c = console("county")
    assert "从钉钉通讯录同步" in c.text("/console/roster")
    resp = c.post("/console/roster/sync-dingtalk", {"mode": "preview"})
    assert resp.status_code == 302 and "#dingtalk-sync" in resp.headers["Location"]
    body = c.text(resp.headers["Location"].split("#")[0])
    assert "预览（未写入）" in body and "匹配 30 人" in body and 'id="sync-apply"' in body
    assert Official.select().where(Official.dingtalk_user_id.is_null(False)).count() == 0
    resp = c.post("/console/roster/sync-dingtalk", {"mode": "apply"})
    body = c.text(resp.headers["Location"].split("#")[0])
    assert "已写入" in body and "新填钉钉 ID 30" in body
    assert Official.select().where(Official.dingtalk_user_id.is_null(False)).count() == 30
    entry = AuditEntry.get(AuditEntry.action == "roster.sync_dingtalk")
    assert entry.after["filled"] == 30 and entry.after["applied"] is True
    assert "钉钉通讯录同步" in c.text("/console/audit")


def test_a_conflict_is_shown_and_nothing_is_applied(console, db, fake_app):
    _roster(fake_app, 3)
    Official.create(township=Township.get(Township.code == "yongsheng"), name="同号", role="grid_worker",
                    mobile="13900000001")
    c = console("county")
    resp = c.post("/console/roster/sync-dingtalk", {"mode": "apply"})
    body = c.text(resp.headers["Location"].split("#")[0])
    assert "钉钉同步失败，没有做任何修改" in body and "冲突 1 处" in body and "139****0001" in body
    assert Official.select().where(Official.dingtalk_user_id.is_null(False)).count() == 0
    assert AuditEntry.get(AuditEntry.action == "roster.sync_dingtalk").after["applied"] is False


def test_only_county_administrators_may_sync(console, db, fake_app):
    for who in ("ys_admin", "auditor"):
        c = console(who)
        assert 'id="sync-preview"' not in c.text("/console/roster")
        assert c.post("/console/roster/sync-dingtalk", {"mode": "apply"}).status_code == 403
    assert console("county").post("/console/roster/sync-dingtalk", {"mode": "preview"}, csrf=False).status_code == 400


def test_an_app_group_is_mapped_tested_and_rolled_back(console, db, fake_dingtalk):
    fake_dingtalk.state.add_group("cid-appgroup", "应用群", "", None, [], chat_id="chatApp001")
    c = console("county")
    resp = c.post("/console/mappings/township/yongsheng", form(conversation_id="cid-appgroup", chat_id="nope",
                                                                op="test"))
    body = resp.get_data(as_text=True)
    assert "测试发送失败" in body and "34013" in body and "群不存在" in body
    resp = c.post("/console/mappings/township/yongsheng", form(conversation_id="cid-appgroup", chat_id="chatApp001",
                                                                op="test"))
    assert "测试发送成功" in resp.get_data(as_text=True)
    [msg] = fake_dingtalk.state.messages("cid-appgroup")
    assert msg["via"] == "app" and "连接测试" in msg["text"]

    # Saved with the chat_id only (the robot's webhook and secret are kept as they were).
    resp = c.post("/console/mappings/township/yongsheng", form(conversation_id="cid-appgroup", chat_id="chatApp001"))
    assert resp.status_code == 302
    m = GroupMapping.get(GroupMapping.owner_code == "yongsheng")
    assert m.chat_id == "chatApp001"
    body = c.text("/console/mappings/township/yongsheng")
    assert "应用发送（chat.send）" in body and "chatApp001" in body
    assert "应用发送" in c.text("/console/mappings")
    resp = c.post("/console/mappings/township/yongsheng/test", {"which": "main"})
    assert "测试发送成功" in resp.get_data(as_text=True)
    assert len(fake_dingtalk.state.messages("cid-appgroup")) == 2
    dry = c.text("/console/routing?run=1&township=yongsheng&category=road")
    assert "钉钉群（应用发送）" in dry and "chatApp001" in dry

    # Another unit cannot take the same chat.
    resp = c.post("/console/mappings/township/yongning", form(conversation_id="cid-other", chat_id="chatApp001"))
    assert resp.status_code == 422 and "chat_id 已绑定" in resp.get_data(as_text=True)

    first = MappingVersion.select().where(MappingVersion.owner_code == "yongsheng").order_by(MappingVersion.version).first()
    assert first.chat_id is None
    resp = c.post("/console/mappings/township/yongsheng/rollback", {"version": str(first.version)})
    assert resp.status_code == 302
    assert GroupMapping.get(GroupMapping.owner_code == "yongsheng").chat_id is None


def test_a_broken_group_shows_in_health_and_a_save_clears_it(console, db, fake_dingtalk):
    from bridges.dingtalk.app_sender import mark_broken

    fake_dingtalk.state.add_group("cid-appgroup", "应用群", "", None, [], chat_id="chatApp001")
    GroupMapping.update(chat_id="chatApp001").where(GroupMapping.owner_code == "yongsheng").execute()
    mark_broken("chatApp001", "钉钉群已解散（chat_disband 事件）", utcnow())
    c = console("county")
    assert "群不可用（需重新绑定）" in c.text("/console/mappings")
    body = c.text("/console/mappings/township/yongsheng")
    assert "群不可用" in body and "已解散" in body
    resp = c.post("/console/mappings/township/yongsheng", form(chat_id="chatApp001"))
    assert resp.status_code == 302
    m = GroupMapping.get(GroupMapping.owner_code == "yongsheng")
    assert m.enabled and m.broken_reason is None
    assert TargetState.get_or_none(TargetState.target == "dingtalk:township:yongsheng") is None
