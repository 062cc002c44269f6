"""Administrator endpoints (``/api/v1/admin/…``): publish and withdraw notices (with pictures
uploaded here), their statistics, manage campaigns (create, change, cancel, complete, check-in code) and grid
geometry. Authentication is the admin principal (console session or ``admin.api_token``);
a unit administrator acts only for their own unit, county-wide targets need county rights.
"""
from __future__ import annotations

from flask import Response
from flask import request

from miniapp_api.web import collaborators
from miniapp_api.web.admin_auth import AdminPrincipal
from miniapp_api.web.admin_auth import current_admin
from miniapp_api.web.api import ApiBlueprint
from miniapp_api.errors import Conflict
from miniapp_api.errors import Forbidden
from miniapp_api.errors import NotFound
from miniapp_api.errors import ValidationFailed
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import Channel
from miniapp_api.models import Grid
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Notice
from miniapp_api.models.community import Signup
from miniapp_api.time import iso
from miniapp_api.campaigns import service as campaign_service
from miniapp_api.campaigns import checkin as codes
from miniapp_api.org import geo
from miniapp_api.org import grid_import
from miniapp_api.campaigns import hours
from miniapp_api.notices import service as notice_service
from miniapp_api.community.common import mask_phone
from miniapp_api.web.pages import signed_checkin_url
from miniapp_api.community.schemas import MAX_ID
from miniapp_api.campaigns.schemas import AdminCampaignList
from miniapp_api.campaigns.schemas import AdminCampaignOut
from miniapp_api.notices.schemas import AdminNoticeList
from miniapp_api.notices.schemas import AdminNoticeOut
from miniapp_api.campaigns.schemas import CampaignIn
from miniapp_api.campaigns.schemas import CampaignPatchIn
from miniapp_api.campaigns.schemas import CancelIn
from miniapp_api.campaigns.schemas import CheckinCodeOut
from miniapp_api.community.schemas import GeometryIn
from miniapp_api.community.schemas import GridOut
from miniapp_api.notices.schemas import NoticeIn
from miniapp_api.notices.schemas import NoticeStatsOut
from miniapp_api.community.schemas import PageQuery
from miniapp_api.notices.schemas import WithdrawIn
from miniapp_api.campaigns.serialize import campaign_out
from miniapp_api.notices.serialize import notice_detail_out
from miniapp_api.notices.serialize import notice_out
from miniapp_api.community.serialize import prime
from miniapp_api.web.community import number_arg
from miniapp_api.web.uploads import UploadOut
from miniapp_api.reports.uploads import photo_out
from miniapp_api.reports.uploads import save_upload

bp = ApiBlueprint("admin_community", admin=True)  # an administrator, checked before the body is read

ADMIN_ERRORS = {401: "admin_unauthorized", 403: "forbidden"}


def _admin_actor(principal: AdminPrincipal) -> Actor:
    return Actor("admin", principal.name, Channel.CONSOLE, str(principal.user_id or ""))


def _require_target(principal: AdminPrincipal, level: str, township_code: str | None) -> None:
    if level == "county":
        principal.require(write=True, county=True)
    else:
        principal.require(write=True, township=township_code)


def _readable(principal: AdminPrincipal, level: str, township_code: str | None) -> bool:
    return level == "county" or principal.can_read(township_code)


# --- notices ------------------------------------------------------------------------------

def _notice(principal: AdminPrincipal, number: str) -> Notice:
    notice = Notice.get_or_none(Notice.number == number_arg(number))
    if notice is None or not _readable(principal, notice.level, notice.township.code if notice.township_id else None):
        raise NotFound("找不到该通知", code="notice_not_found")
    return notice


def _admin_notice_out(notice: Notice) -> dict:
    body = notice_detail_out(notice, collaborators.current().settings.server.public_base_url)
    body["stats"] = notice_service.stats(notice)
    return body


@bp.operation("/admin/uploads", "POST", summary="上传一张通知用的图片（multipart 字段 file）", tag="admin-notices",
              multipart=True, response=UploadOut, status=201,
              errors={**ADMIN_ERRORS, 413: "file_too_large", 415: "unsupported_media_type",
                      422: "invalid_image / validation_failed", 503: "uploads_busy"})
def admin_upload():
    """Store a picture for a notice (its id goes into ``images``): checked, re-encoded
    without its EXIF data and stored as residents' photos are. Not for auditors."""
    principal = current_admin()
    if principal.role not in ("county_admin", "unit_admin"):
        raise Forbidden("只读账号不能上传图片", code="forbidden")
    file = request.files.get("file")
    if file is None:
        raise ValidationFailed("file：请选择要上传的图片", field="file")
    svc = collaborators.current()
    upload = save_upload(svc.storage, svc.settings.uploads, None, file.stream)
    return {"id": upload.id, **photo_out(upload, svc.settings.server.public_base_url)}, 201


@bp.operation("/admin/notices", "POST", summary="发布通知（全县、乡镇/街道、村/社区或网格）", tag="admin-notices",
              body=NoticeIn, response=AdminNoticeOut, status=201, auth=False, errors=ADMIN_ERRORS)
def admin_publish_notice(body: NoticeIn):
    """Publish a notice to the county, a unit, a community or a grid."""
    principal = current_admin()
    t = body.target
    target = notice_service.resolve_target(t.level, t.township, t.community, t.grid)
    _require_target(principal, target.level, target.township_code)
    notice = notice_service.publish(
        collaborators.current().settings, title=body.title, body_html=body.body_html, image_ids=body.images,
        target=target, pinned=body.pinned, expires_at=body.expires_at, ack_hours=body.ack_hours,
        publisher_kind="official" if principal.role == "unit_admin" else "admin", publisher_name=principal.name,
        now=utcnow(), publish_at=body.publish_at, ack_required=body.ack_required)
    return _admin_notice_out(notice), 201


def _own_township_id(principal) -> int:
    """The id of a unit admin's own township (-1, matching nothing, if it no longer exists)."""
    own = Township.get_or_none(Township.code == principal.township)
    return own.id if own else -1


@bp.operation("/admin/notices", "GET", summary="通知列表（本人可见范围内）", tag="admin-notices", query=PageQuery,
              response=AdminNoticeList, auth=False, errors=ADMIN_ERRORS)
def admin_list_notices(query: PageQuery):
    """One page of the notices this admin may see."""
    principal = current_admin()
    q = Notice.select()
    if not principal.can_read(None):
        q = q.where((Notice.level == "county") | (Notice.township == _own_township_id(principal)))
    rows, nxt = notice_service.page(q, query.cursor, query.limit)
    prime(rows)
    return {"items": [notice_out(n) for n in rows], "next_cursor": nxt}


@bp.operation("/admin/notices/<number>", "GET", summary="通知详情与统计", tag="admin-notices", response=AdminNoticeOut,
              auth=False, errors={**ADMIN_ERRORS, 404: "notice_not_found"})
def admin_get_notice(number: str):
    """One notice with its statistics."""
    return _admin_notice_out(_notice(current_admin(), number))


@bp.operation("/admin/notices/<number>/stats", "GET", summary="已读与各单位确认统计", tag="admin-notices",
              response=NoticeStatsOut, auth=False, errors={**ADMIN_ERRORS, 404: "notice_not_found"})
def admin_notice_stats(number: str):
    """Read receipts and each unit's acknowledgements of one notice."""
    return notice_service.stats(_notice(current_admin(), number))


@bp.operation("/admin/notices/<number>/withdraw", "POST", summary="撤回通知（小程序标记撤回，各群发布撤回说明）",
              tag="admin-notices", body=WithdrawIn, response=AdminNoticeOut, auth=False,
              errors={**ADMIN_ERRORS, 404: "notice_not_found", 409: "notice_withdrawn"})
def admin_withdraw_notice(number: str, body: WithdrawIn):
    """Withdraw a notice: marked in the mini-program, announced in the groups."""
    principal = current_admin()
    notice = _notice(principal, number)
    _require_target(principal, notice.level, notice.township.code if notice.township_id else None)
    notice = notice_service.withdraw(notice, by=principal.name, reason=body.reason, now=utcnow())
    return _admin_notice_out(notice)


# --- campaigns ----------------------------------------------------------------------------

def _campaign(principal: AdminPrincipal, number: str) -> Campaign:
    campaign = Campaign.get_or_none(Campaign.number == number_arg(number))
    if campaign is None or not principal.can_read(campaign.township.code):
        raise NotFound("找不到该志愿活动", code="campaign_not_found")
    return campaign


def _admin_campaign_out(campaign: Campaign) -> dict:
    campaign = Campaign.get_by_id(campaign.id)
    signups = list(Signup.select().where((Signup.campaign == campaign) & (Signup.status != "cancelled"))
                   .order_by(Signup.status, Signup.queue, Signup.id))
    waiting = sum(1 for s in signups if s.status == "waitlisted")
    body = campaign_out(campaign, waiting)
    body["roster"] = [{"name": s.name or hours.display_name(s.resident_id), "phone": mask_phone(s.phone),
                       "status": s.status, "signed_up_at": iso(s.signed_up_at), "checked_in_at": iso(s.checked_in_at)}
                      for s in signups]
    body["checkin_page_url"] = signed_checkin_url(collaborators.current().settings, campaign.number)
    return body


@bp.operation("/admin/campaigns", "POST", summary="发起志愿活动（可由一条上报发起）", tag="admin-campaigns",
              body=CampaignIn, response=AdminCampaignOut, status=201, auth=False,
              errors={**ADMIN_ERRORS, 404: "report_not_found", 409: "report_not_suitable"})
def admin_create_campaign(body: CampaignIn):
    """Start a volunteer campaign (possibly from a report)."""
    principal = current_admin()
    settings = collaborators.current().settings
    now = utcnow()
    if body.report:
        body = body.model_copy(update={"report": number_arg(body.report)})
    planned = campaign_service.plan(settings, body, now)
    principal.require(write=True, township=planned["scope"][1].code)
    if planned["report"] is not None:
        principal.require(write=True, township=planned["report"].township.code)
    try:
        campaign = campaign_service.create(
            settings, **planned, publisher_kind="official" if principal.role == "unit_admin" else "admin",
            publisher_name=principal.name, actor=_admin_actor(principal), now=now)
    except campaign_service.CampaignRefused as err:
        raise Conflict(str(err), code="report_not_suitable") from None
    return _admin_campaign_out(campaign), 201


@bp.operation("/admin/campaigns", "GET", summary="志愿活动列表（本人可见范围内）", tag="admin-campaigns", query=PageQuery,
              response=AdminCampaignList, auth=False, errors=ADMIN_ERRORS)
def admin_list_campaigns(query: PageQuery):
    """One page of the campaigns this admin may see."""
    principal = current_admin()
    q = Campaign.select()
    if not principal.can_read(None):
        q = q.where(Campaign.township == _own_township_id(principal))
    rows, nxt = campaign_service.page(q, query.cursor, query.limit)
    prime(rows)
    waiting = campaign_service.waitlisted_counts([c.id for c in rows])
    return {"items": [campaign_out(c, waiting.get(c.id, 0)) for c in rows], "next_cursor": nxt}


@bp.operation("/admin/campaigns/<number>", "GET", summary="志愿活动详情与花名册（电话打码）", tag="admin-campaigns",
              response=AdminCampaignOut, auth=False, errors={**ADMIN_ERRORS, 404: "campaign_not_found"})
def admin_get_campaign(number: str):
    """One campaign with its roster (phone numbers masked)."""
    return _admin_campaign_out(_campaign(current_admin(), number))


@bp.operation("/admin/campaigns/<number>", "PATCH", summary="修改志愿活动（时间、名额、地点等；扩容时候补自动转正）",
              tag="admin-campaigns", body=CampaignPatchIn, response=AdminCampaignOut, auth=False,
              errors={**ADMIN_ERRORS, 404: "campaign_not_found", 409: "campaign_closed / capacity_below_signups"})
def admin_update_campaign(number: str, body: CampaignPatchIn):
    """Change a campaign's time, capacity or place (a larger capacity promotes the waitlist)."""
    principal = current_admin()
    campaign = _campaign(principal, number)
    principal.require(write=True, township=campaign.township.code)
    campaign = campaign_service.update(campaign, campaign_service.changes_of(body), utcnow())
    return _admin_campaign_out(campaign)


@bp.operation("/admin/campaigns/<number>/cancel", "POST", summary="取消志愿活动（通知群和已报名居民）",
              tag="admin-campaigns", body=CancelIn, response=AdminCampaignOut, auth=False,
              errors={**ADMIN_ERRORS, 404: "campaign_not_found", 409: "campaign_closed"})
def admin_cancel_campaign(number: str, body: CancelIn):
    """Cancel a campaign and tell its groups and signed-up residents."""
    principal = current_admin()
    campaign = _campaign(principal, number)
    principal.require(write=True, township=campaign.township.code)
    campaign = campaign_service.cancel(campaign, _admin_actor(principal), body.reason, utcnow())
    return _admin_campaign_out(campaign)


@bp.operation("/admin/campaigns/<number>/complete", "POST",
              summary="结束志愿活动：为已签到者记入时长；关联上报记为「由志愿者协助办结」", tag="admin-campaigns",
              response=AdminCampaignOut, auth=False, errors={**ADMIN_ERRORS, 404: "campaign_not_found", 409: "campaign_closed"})
def admin_complete_campaign(number: str):
    """End a campaign: hours for those who checked in, its report resolved with volunteers' help."""
    principal = current_admin()
    campaign = _campaign(principal, number)
    principal.require(write=True, township=campaign.township.code)
    campaign = campaign_service.complete(campaign, _admin_actor(principal), utcnow())
    return _admin_campaign_out(campaign)


@bp.operation("/admin/campaigns/<number>/checkin-code", "GET", summary="当前签到码（轮换）及二维码地址",
              tag="admin-campaigns", response=CheckinCodeOut, auth=False,
              errors={**ADMIN_ERRORS, 404: "campaign_not_found"})
def admin_checkin_code(number: str):
    """The current (rotating) check-in code and the address of its QR code."""
    principal = current_admin()
    campaign = _campaign(principal, number)
    principal.require(write=True, township=campaign.township.code)
    settings = collaborators.current().settings
    period = settings.campaigns.checkin_code_seconds
    code, until = codes.current_code(settings.server.secret_key, campaign.number, utcnow(), period)
    base = settings.server.public_base_url
    return {"number": campaign.number, "code": code, "qr_text": codes.qr_text(campaign.number, code),
            "valid_until": iso(until), "period_seconds": period,
            "qr_svg_url": f"{base}/api/v1/admin/campaigns/{campaign.number}/checkin-qr",
            "page_url": signed_checkin_url(settings, campaign.number)}


@bp.operation("/admin/campaigns/<number>/checkin-qr", "GET", summary="当前签到码的二维码（SVG；?format=png 为 PNG）",
              tag="admin-campaigns", auth=False, errors={**ADMIN_ERRORS, 404: "campaign_not_found"})
def admin_checkin_qr(number: str):
    """The QR code of the current check-in code (SVG, or PNG with ``?format=png``)."""
    principal = current_admin()
    campaign = _campaign(principal, number)
    principal.require(write=True, township=campaign.township.code)
    settings = collaborators.current().settings
    code, _ = codes.current_code(settings.server.secret_key, campaign.number, utcnow(),
                                 settings.campaigns.checkin_code_seconds)
    text = codes.qr_text(campaign.number, code)
    if request.args.get("format") == "png":
        resp = Response(codes.qr_png(text), mimetype="image/png")
    else:
        resp = Response(codes.qr_svg(text), mimetype="image/svg+xml")
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp


# --- grid geometry --------------------------------------------------------------------------

@bp.operation("/admin/grids/<int:grid_id>/geometry", "PUT", summary="设置网格边界（WKT 或 GeoJSON）和中心点",
              tag="admin-places", body=GeometryIn, response=GridOut, auth=False,
              errors={**ADMIN_ERRORS, 404: "grid_not_found", 422: "invalid_boundary / validation_failed"})
def admin_put_grid_geometry(grid_id: int, body: GeometryIn):
    """Set a grid's boundary (WKT or GeoJSON) and centre point."""
    principal = current_admin()
    grid = Grid.get_or_none(Grid.id == grid_id) if grid_id <= MAX_ID else None
    if grid is None:
        raise NotFound("找不到该网格", code="grid_not_found")
    principal.require(write=True, township=grid.community.township.code)
    if (body.center_lat is None) != (body.center_lng is None):
        raise ValidationFailed("center_lng：中心点需同时给出纬度和经度", field="center_lng")
    center = (body.center_lat, body.center_lng) if body.center_lat is not None else None
    try:
        grid = grid_import.save_geometry(grid, body.boundary, center)  # the import's checks too
    except geo.InvalidBoundary as err:
        raise ValidationFailed(f"boundary：{err}", field="boundary", code="invalid_boundary") from None
    return {"id": grid.id, "name": grid.name,
            "center": {"lat": grid.center_lat, "lng": grid.center_lng} if grid.center_lat is not None else None}
