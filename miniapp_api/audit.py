"""The audit log: who changed what (before and after), when, from which address.

Services call :func:`record` inside the transaction of the change they make, so a change and
its audit entry are committed together or not at all. There is no function that changes or
deletes an entry (and the database refuses it, see migration v004). Values that are secrets
never reach an entry: callers pass masked snapshots (``groups.public_snapshot``).
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime

from miniapp_api.models.console import AuditEntry
from miniapp_api.time import LOCAL_TZ
from miniapp_api.time import iso

ACTION_LABELS = {
    "auth.login": "登录",
    "auth.login_failed": "登录失败",
    "auth.logout": "退出登录",
    "auth.password_changed": "修改密码",
    "admin.created": "新建管理员",
    "admin.activated": "启用管理员",
    "admin.deactivated": "停用管理员",
    "admin.password_reset": "重置管理员密码",
    "mapping.created": "新建群映射",
    "mapping.updated": "修改群映射",
    "mapping.rollback": "回滚群映射",
    "mapping.test_send": "测试发送",
    "mapping.staging": "切换演练群",
    "roster.import": "导入花名册",
    "roster.preview": "预览花名册导入",
    "roster.import_refused": "花名册导入被拒",
    "roster.export": "导出花名册",
    "roster.sync_dingtalk": "钉钉通讯录同步",
    "official.on_leave": "人员请假状态",
    "category.created": "新建问题类别",
    "category.updated": "修改问题类别",
    "report.accept": "受理上报",
    "report.resolve": "办结上报",
    "report.reject": "驳回上报",
    "report.transfer": "转办上报",
    "report.reveal_reporter": "查看上报人身份",
    "delivery.requeue": "重新投递",
    "delivery.discard": "丢弃投递",
    "emergency.on": "开启应急模式",
    "emergency.off": "关闭应急模式",
    "audit.export": "导出审计日志",
    "notice.publish": "发布通知",
    "notice.schedule": "定时发布通知",
    "notice.withdraw": "撤回通知",
    "campaign.create": "发起志愿活动",
    "campaign.update": "修改志愿活动",
    "campaign.no_show": "标记志愿者未到",
    "campaign.complete": "结束志愿活动",
    "campaign.cancel": "取消志愿活动",
    "campaign.export": "导出志愿活动名单或时长",
    "grid.boundary": "修改网格边界",
}


@dataclass(frozen=True)
class Who:
    """The administrator acting, as the audit log records them."""

    username: str
    name: str
    role: str
    township: str | None
    ip: str
    user_id: int | None = None


def record(who: Who, action: str, *, target: str = "", township: str | None = None, before=None, after=None,
           note: str = "", now: datetime | None = None) -> AuditEntry:
    """Append one entry (call inside the change's transaction)."""
    values = dict(actor=who.username[:40], actor_name=who.name[:40], actor_role=who.role[:16], ip=who.ip[:64],
                  action=action[:48], target=target[:120], township=township, before=before, after=after,
                  note=note)
    if now is not None:
        values["at"] = now
    return AuditEntry.create(**values)


def query(*, township_scope: str | None, actor: str = "", action: str = "", township: str = "",
          since: datetime | None = None, until: datetime | None = None):
    """Entries newest first; ``township_scope`` limits a unit administrator to their unit."""
    q = AuditEntry.select().order_by(AuditEntry.id.desc())
    if township_scope is not None:
        q = q.where(AuditEntry.township == township_scope)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if action:
        q = q.where(AuditEntry.action.startswith(action))
    if township:
        q = q.where(AuditEntry.township == township)
    if since:
        q = q.where(AuditEntry.at >= since)
    if until:
        q = q.where(AuditEntry.at < until)
    return q


def csv_cell(value) -> str:
    """A CSV cell that a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(entries) -> str:
    """The entries as UTF-8 CSV (with BOM, so Excel reads the Chinese text)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["id", "时间", "用户名", "姓名", "角色", "来源地址", "操作", "操作名称", "对象", "单位", "修改前", "修改后", "说明"])
    for e in entries:
        writer.writerow([csv_cell(v) for v in (
            e.id, iso(e.at), e.actor, e.actor_name, e.actor_role, e.ip, e.action, ACTION_LABELS.get(e.action, ""),
            e.target, e.township or "",
            "" if e.before is None else json.dumps(e.before, ensure_ascii=False, sort_keys=True),
            "" if e.after is None else json.dumps(e.after, ensure_ascii=False, sort_keys=True), e.note)])
    return "\ufeff" + out.getvalue()


def local(dt: datetime | None) -> str:
    """``dt`` in local time as the console shows it, or ""."""
    return "" if dt is None else dt.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S")
