"""The report queue: filter, search, open, act, reveal — always scoped by the admin's unit.

Actions go through :func:`miniapp_api.reports.lifecycle.apply` with the actor
``Actor("admin", <name>, Channel.CONSOLE)``, exactly like the DingTalk commands do, so the
timeline, the outbox (groups, the resident's WeChat) and the resident's view change alike.

Reporter identity is masked by level: the console shows "居民(已实名)" (or "匿名"); a unit
administrator of the report's unit or a county administrator may reveal a real-name
reporter, and every reveal is audited. Anonymous reporters are never revealed.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from miniapp_api.reports import lifecycle
from miniapp_api.web.admin_auth import AdminPrincipal
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.errors import NotFound
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import Channel
from miniapp_api.reports.lifecycle import InvalidTransition
from miniapp_api.models import Category
from miniapp_api.models import Department
from miniapp_api.models import Report
from miniapp_api.models import ReportPhoto
from miniapp_api.models import Resident
from miniapp_api.models import TimelineEntry
from miniapp_api.models import Township
from miniapp_api.models import Upload
from miniapp_api.reports.uploads import photo_out
from miniapp_api.reports import completion_photos
from miniapp_api.reports.completion_photos import COMPLETION_PHOTO_POSITION
from miniapp_api.reports.merge import MergeRefused
from miniapp_api.reports.merge import merge
from miniapp_api.reports.uploads import save_upload
from miniapp_api.reports.uploads import shown
from miniapp_api import audit
from miniapp_api.audit import Who
from miniapp_api.validation import FormError
from miniapp_api.console.stats import overdue_clause

PAGE_SIZE = 50
_NUMBER_CHARS = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")


@dataclass
class Filters:
    """The report list's filters and page, as the query string gives them."""

    township: str = ""
    status: str = ""
    category: str = ""
    overdue: bool = False
    q: str = ""
    page: int = 1


def scoped(principal: AdminPrincipal):
    """Reports this administrator may see."""
    query = (Report.select(Report, Category, Township).join(Category).switch(Report).join(Township))
    if principal.role == "unit_admin":
        query = query.where(Township.code == principal.township)
    return query


def search(principal: AdminPrincipal, f: Filters, now: datetime) -> tuple[list[Report], int]:
    """One page of matching reports (oldest open first is the officials' order; here newest
    first) and the total count."""
    query = scoped(principal)
    if f.township:
        query = query.where(Township.code == f.township)
    if f.status:
        query = query.where(Report.status == f.status)
    if f.category:
        query = query.where(Category.code == f.category)
    if f.overdue:
        query = query.where(overdue_clause(now))
    q = f.q.strip()
    if q:
        if set(q) <= _NUMBER_CHARS and q[:1] in "Rr" and len(q) <= 32:
            query = query.where(Report.number.startswith(q.upper()) | Report.description.contains(q))
        else:
            query = query.where(Report.description.contains(q) | Report.address.contains(q))
    total = query.count()
    rows = list(query.order_by(Report.id.desc()).paginate(max(1, f.page), PAGE_SIZE))
    return rows, total


def get(principal: AdminPrincipal, number: str) -> Report:
    """The report, if this administrator may see it (404 otherwise, with no hint)."""
    if len(number) > 32 or not set(number) <= _NUMBER_CHARS:
        raise NotFound("找不到这条上报", code="report_not_found")
    report = scoped(principal).where(Report.number == number).first()
    if report is None:
        raise NotFound("找不到这条上报", code="report_not_found")
    return report


def photos(report: Report) -> list[dict]:
    """The report's photos as the page shows them."""
    rows = (ReportPhoto.select(ReportPhoto, Upload).join(Upload)
            .where((ReportPhoto.report == report) & shown()).order_by(ReportPhoto.position))
    return [dict(photo_out(r.upload, ""), completion=r.position >= COMPLETION_PHOTO_POSITION) for r in rows]


def timeline(report: Report) -> list[TimelineEntry]:
    """The report's timeline, oldest first."""
    return list(TimelineEntry.select().where(TimelineEntry.report == report).order_by(TimelineEntry.id))


def reporter_label(report: Report) -> str:
    """How the page names the reporter (never their openid or phone)."""
    return "匿名" if report.anonymous else "居民(已实名)"


def can_reveal(principal: AdminPrincipal, report: Report) -> bool:
    """True when this administrator may reveal the reporter's identity."""
    return (not report.anonymous and principal.role in ("county_admin", "unit_admin")
            and principal.can_write(report.township.code))


def reveal(principal: AdminPrincipal, who: Who, report: Report, now: datetime) -> dict:
    """The reporter's identity, audited; raises FormError if not allowed."""
    if report.anonymous:
        raise FormError("匿名上报不能查看上报人")
    principal.require(write=True, township=report.township.code)
    if principal.role not in ("county_admin", "unit_admin"):
        raise FormError("只有单位管理员和县级管理员可以查看上报人")
    resident = Resident.get_by_id(report.resident_id)
    count = Report.select().where(Report.resident == resident).count()
    with write_tx():
        audit.record(who, "report.reveal_reporter", target=f"report:{report.number}",
                     township=report.township.code, after={"resident_id": resident.id}, now=now)
    return {"id": resident.id, "nickname": resident.nickname or "（未填写）", "openid": resident.openid,
            "created_at": resident.created_at, "reports": count}


def departments() -> list[Department]:
    """Every county department, for the transfer form."""
    return list(Department.select().order_by(Department.id))


def act(principal: AdminPrincipal, who: Who, report: Report, action: str, *, text: str = "",
        department: str = "", photo: bytes | None = None, svc=None, now: datetime) -> Report:
    """Accept, resolve (reply and optional photo), reject (reason) or transfer (department)."""
    principal.require(write=True, township=report.township.code)
    actor = Actor("admin", who.name, Channel.CONSOLE, str(who.user_id or ""))
    text = (text or "").strip()
    if len(text) > 500:
        raise FormError({"text": "内容最多 500 个字"})
    upload = _completion_photo(svc, photo) if (photo and action == "resolve") else None
    try:
        with write_tx():  # the change and its audit entry commit together
            if action == "accept":
                new = lifecycle.apply(report, Action.ACCEPT, actor, now, note=text)
            elif action == "resolve":
                if not text:
                    raise FormError({"text": "办结要填写给居民的答复"})
                try:
                    completion_photos.require_proof(report, "请上传办结照片后再办结。", adding=1 if upload else 0)
                except completion_photos.ProofMissing as err:
                    raise FormError({"photo": str(err)}) from None
                if upload:
                    ReportPhoto.create(report=report, upload=upload,
                                       position=COMPLETION_PHOTO_POSITION + _photo_count(report))
                new = lifecycle.apply(report, Action.RESOLVE, actor, now,
                                      note=text + ("（附办结照片）" if upload else ""), changes={"reply": text})
            elif action == "reject":
                if not text:
                    raise FormError({"text": "驳回要填写理由（居民会看到）"})
                new = lifecycle.apply(report, Action.REJECT, actor, now, note=text, changes={"reply": text})
            elif action == "transfer":
                dept = Department.get_or_none(Department.code == department)
                if dept is None:
                    raise FormError({"department": "请选择要转办的部门"})
                new = lifecycle.apply(report, Action.TRANSFER, actor, now,
                                      note=f"转办至{dept.name}" + (f"：{text}" if text else ""),
                                      changes={"department": dept.id, "level": "department"})
            elif action == "merge":  # 合并: text is the main report's number
                try:
                    main = get(principal, text)
                except NotFound:
                    raise FormError({"text": f"找不到主编号「{text[:32]}」，或它不属于您管理的单位"}) from None
                try:
                    new, _ = merge(report, main, actor, now,
                                   same_unit=lambda a, b: principal.can_write(b.township.code))
                except MergeRefused as err:
                    raise FormError({"text": str(err)}) from None
            else:
                raise FormError({"action": "不认识的操作"})
            audit.record(who, f"report.{action}", target=f"report:{report.number}", township=report.township.code,
                         before={"status": report.status}, after={"status": new.status, "note": text[:200]}, now=now)
    except InvalidTransition as err:
        raise FormError(err.message) from None
    return new


def _photo_count(report: Report) -> int:
    return ReportPhoto.select().where((ReportPhoto.report == report)
                                      & (ReportPhoto.position >= COMPLETION_PHOTO_POSITION)).count()


def _completion_photo(svc, data: bytes) -> Upload:
    """Check, clean and store an administrator's completion photo (same rules as residents')."""
    try:
        return save_upload(svc.storage, svc.settings.uploads, None, data)
    except ApiError as err:
        raise FormError({"photo": f"照片无法使用：{err.message}"}) from None

