"""Thin views: validate (done by ``api.route``), call one service function, serialize."""
from __future__ import annotations

from flask import request

from miniapp_api.web import collaborators
from miniapp_api.web.api import ApiBlueprint
from miniapp_api.errors import ValidationFailed
from miniapp_api.models import Report
from miniapp_api.models import Resident
from miniapp_api.models import TimelineEntry
from miniapp_api.models import utcnow
from miniapp_api.reports.schemas import RatingIn
from miniapp_api.reports.schemas import ReopenIn
from miniapp_api.reports.schemas import ReportDetailOut
from miniapp_api.reports.schemas import ReportIn
from miniapp_api.reports.schemas import ReportList
from miniapp_api.reports.schemas import ReportListQuery
from miniapp_api.reports.schemas import NearbyList
from miniapp_api.reports.schemas import NearbyQuery
from miniapp_api.reports.schemas import ReportCreatedOut
from miniapp_api.reports.schemas import SupportOut
from miniapp_api.reports import nearby
from miniapp_api.reports import support
from miniapp_api.models import Category
from miniapp_api.time import iso
from miniapp_api.reports.uploads import photo_out
from miniapp_api.reports import service
from miniapp_api.reports.completion_photos import COMPLETION_PHOTO_POSITION
from miniapp_api.web import support_views

bp = ApiBlueprint("reports")

_NUMBER_CHARS = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-")


def report_out(report, photos: list, base_url: str, *, completion: list | None = None,
               relation: str | None = None) -> dict:
    """A report in the contract's shape (CONTRACT §3). ``report`` is a :class:`Report` or a
    row of :data:`service.LIST_FIELDS` (the list endpoint reads only the columns it shows)."""
    if isinstance(report, Report):
        category = (report.category.code, report.category.name)
        township = (report.township.code, report.township.name)
        grid = service.grid_names(report)
    else:
        category = (report.category_code, report.category_name)
        township = (report.township_code, report.township_name)
        grid = (report.grid_name, report.grid_community) if report.grid_name else None
    return {
        "number": report.number,
        "status": report.status,
        "category": {"code": category[0], "name": category[1]},
        "description": report.description,
        "township": {"code": township[0], "name": township[1]},
        "grid": {"name": grid[0], "community": grid[1]} if grid else None,
        "location": {"lat": report.lat, "lng": report.lng, "address": report.address},
        "photos": [photo_out(u, base_url) for u in photos
                   if getattr(u, "position", 0) < COMPLETION_PHOTO_POSITION],
        "anonymous": report.anonymous,
        "created_at": iso(report.created_at),
        "updated_at": iso(report.updated_at),
        "reply": report.reply,
        "rating": ({"score": report.rating_score, "comment": report.rating_comment or ""}
                   if report.rating_score is not None else None),
        **support_views.extra_out(report, photos, base_url, completion=completion, relation=relation),
    }


def report_detail_out(report: Report, base_url: str, *, relation: str | None = None) -> dict:
    """A report with its photos and timeline, as the API shows it to its resident (or follower)."""
    body = report_out(report, service.photos_of(report.resident_id, [report.id])[report.id], base_url,
                      relation=relation)
    entries = TimelineEntry.select().where(TimelineEntry.report == report).order_by(TimelineEntry.id)
    body["timeline"] = [
        {"at": iso(e.at), "status": e.status, "action": e.action, "channel": e.channel,
         "actor": {"kind": e.actor_kind, "name": e.actor_name}, "note": e.note}
        for e in entries
    ]
    return body


def _number(number: str) -> str:
    if len(number) > 32 or not set(number) <= _NUMBER_CHARS:
        raise ValidationFailed("number：编号格式不正确", field="number")
    return number


@bp.operation("/reports", "POST", summary="随手拍：上报一个问题", tag="reports", body=ReportIn,
              response=ReportCreatedOut,
              status=201, headers={"Idempotency-Key": "同一 key + 同一内容只产生一条上报"},
              errors={409: "idempotency_key_reused", 422: "validation_failed / content_rejected",
                      429: "daily_limit_exceeded"})
def create_report(resident: Resident, body: ReportIn):
    """File a report (随手拍); an ``Idempotency-Key`` makes a retry safe."""
    svc = collaborators.current()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (1 <= len(key) <= 128 and key.isprintable() and key.isascii()):
        raise ValidationFailed("Idempotency-Key：应为 1–128 个可见 ASCII 字符", field="Idempotency-Key")
    report, photos, created = service.create_report(svc, resident, body, key, utcnow())
    body_out = report_out(report, photos, svc.settings.server.public_base_url, relation="own")
    body_out["nearby"] = [support_views.nearby_out(n, svc.settings.server.public_base_url)
                          for n in nearby.find(report.category, report.lat, report.lng, svc.settings.reports,
                                               utcnow(), exclude_id=report.id)]
    headers = {} if created else {"Idempotent-Replayed": "true"}
    return body_out, 201, headers


@bp.operation("/reports", "GET", summary="我的上报（最新在前，游标分页）", tag="reports", query=ReportListQuery,
              response=ReportList)
def list_reports(resident: Resident, query: ReportListQuery):
    """One page of the resident's reports, newest first."""
    base = collaborators.current().settings.server.public_base_url
    return support_views.my_reports(resident, query.cursor, query.limit, base, report_out)


@bp.operation("/reports/<number>", "GET", summary="一条上报的详情和办理过程", tag="reports",
              response=ReportDetailOut, errors={404: "report_not_found"})
def get_report(resident: Resident, number: str):
    """One of the resident's reports with its timeline."""
    report = support.own_or_followed(resident, _number(number))
    # A follower opens the report from a notification too: "relation" tells the client not to
    # offer the rating and 重办, which only the reporter may use.
    relation = "own" if report.resident_id == resident.id else "following"
    return report_detail_out(report, collaborators.current().settings.server.public_base_url, relation=relation)


@bp.operation("/reports/<number>/rating", "POST", summary="评价已办结的问题（随即关闭）", tag="reports",
              body=RatingIn, response=ReportDetailOut,
              errors={404: "report_not_found", 409: "invalid_transition", 422: "content_rejected",
                      503: "wechat_unavailable"})
def rate_report(resident: Resident, number: str, body: RatingIn):
    """Rate a resolved report (which closes it, or reopens it when rated low)."""
    svc = collaborators.current()
    report = service.rate_report(resident, _number(number), body, utcnow(), svc=svc)
    return report_detail_out(report, svc.settings.server.public_base_url)


@bp.operation("/reports/<number>/reopen", "POST", summary="问题未解决，要求重新办理", tag="reports",
              body=ReopenIn, response=ReportDetailOut,
              errors={404: "report_not_found", 409: "invalid_transition", 422: "content_rejected",
                      503: "wechat_unavailable"})
def reopen_report(resident: Resident, number: str, body: ReopenIn):
    """The problem is not solved: ask for the report to be handled again."""
    svc = collaborators.current()
    report = service.reopen_report(resident, _number(number), body, svc.settings.reports.reopen_days, utcnow(),
                                   svc=svc)
    return report_detail_out(report, svc.settings.server.public_base_url)


@bp.operation("/reports/nearby", "GET", summary="附近同类未办结的上报（我也遇到）", tag="reports",
              query=NearbyQuery, response=NearbyList, errors={422: "validation_failed"})
def nearby_reports(resident: Resident, query: NearbyQuery):
    """Open reports of a category near a point, nearest first; never who reported them."""
    svc = collaborators.current()
    category = Category.get_or_none((Category.code == query.category) & (Category.active == True))  # noqa: E712
    if category is None:
        raise ValidationFailed("category：没有这个问题类别", field="category")
    found = nearby.find(category, query.lat, query.lng, svc.settings.reports, utcnow())
    return {"items": [support_views.nearby_out(n, svc.settings.server.public_base_url) for n in found]}


@bp.operation("/reports/<number>/support", "POST", summary="我也遇到：关注这条上报", tag="reports",
              response=SupportOut, errors={404: "report_not_found", 409: "invalid_transition"})
def support_report(resident: Resident, number: str):
    """我也遇到: follow a report (its notifications; listed as followed); once per resident."""
    report = support.support(resident, _number(number), utcnow())
    return {"number": report.number, "supporters": report.supporters}
