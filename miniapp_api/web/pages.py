"""Pages officials open from group messages, without logging in (the link is the credential,
an HMAC of the number with the server secret, as for ``/o/reports``):

* ``/o/notices/<number>?sig=…`` — the notice and which units have acknowledged it;
* ``/o/campaigns/<number>/checkin?sig=…`` — the current check-in code and its QR, refreshed
  when the code rotates, to show on a phone at the campaign's place.
"""
from __future__ import annotations

import hmac

from flask import Blueprint
from flask import Response
from flask import render_template
from flask import request

from miniapp_api.web import collaborators
from miniapp_api.config import Settings
from miniapp_api.errors import NotFound
from miniapp_api.models import Upload
from miniapp_api.models import utcnow
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Notice
from miniapp_api.models.community import Signup
from miniapp_api.reports.uploads import photo_out
from miniapp_api.campaigns import checkin as codes
from miniapp_api.notices import service as notice_service
from miniapp_api.time import local
from miniapp_api.community.common import time_range
from miniapp_api.community.links import signed_checkin_url  # noqa: F401  (kept importable here)
from miniapp_api.community.links import signed_notice_url  # noqa: F401  (kept importable here)
from miniapp_api.community.links import CAMPAIGN_CHECKIN
from miniapp_api.community.links import NOTICE_VIEW
from miniapp_api.community.links import target_label
from miniapp_api.reports.links import sign

bp = Blueprint("community_pages", __name__, template_folder="templates")

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' https: data:; base-uri 'none'; form-action 'none'"


def _check(purpose: str, number: str) -> Settings:
    settings = collaborators.current().settings
    sig = request.args.get("sig", "")
    if len(number) > 32 or not hmac.compare_digest(sig.encode(), sign(settings.server.secret_key, purpose, number).encode()):
        raise NotFound("链接无效", code="not_found")
    return settings


def _html(body: str) -> Response:
    resp = Response(body, mimetype="text/html")
    resp.headers["Content-Security-Policy"] = _CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.get("/o/notices/<number>")
def notice_page(number: str):
    """The signed page of one notice for officials; only a published notice that needs it asks
    the units for 收到 (a withdrawn one says so instead)."""
    settings = _check(NOTICE_VIEW, number)
    notice = Notice.get_or_none(Notice.number == number)
    if notice is None:
        raise NotFound("找不到该通知", code="notice_not_found")
    uploads = {u.id: u for u in Upload.select().where(Upload.id.in_(notice.images or []))}
    images = [photo_out(uploads[i], settings.server.public_base_url) for i in notice.images or [] if i in uploads]
    return _html(render_template(
        "community_notice.html", notice=notice, images=images, stats=notice_service.stats(notice),
        published=local(notice.published_at), withdrawn=local(notice.withdrawn_at),
        asks_ack=notice.status == "published" and notice_service.acks_required(notice),
        ack_due=local(notice.ack_due_at),
        target=target_label(notice.level, notice.township, notice.community, notice.grid)))


@bp.get("/o/campaigns/<number>/checkin")
def checkin_page(number: str):
    """The signed check-in page of one campaign (its rotating code and QR)."""
    settings = _check(CAMPAIGN_CHECKIN, number)
    campaign = Campaign.get_or_none(Campaign.number == number)
    if campaign is None:
        raise NotFound("找不到该志愿活动", code="campaign_not_found")
    now = utcnow()
    period = settings.campaigns.checkin_code_seconds
    code, until = codes.current_code(settings.server.secret_key, number, now, period)
    live = campaign.status == "published" and now <= campaign.ends_at
    present = Signup.select().where((Signup.campaign == campaign) & Signup.checked_in_at.is_null(False)).count()
    reason = {"cancelled": "该活动已取消。", "completed": "该活动已结束。"}.get(campaign.status, "该活动已结束。")
    return _html(render_template(
        "community_checkin.html", campaign=campaign, live=live, code=code if live else "",
        qr=codes.qr_svg(codes.qr_text(number, code)) if live else "", period=period,
        refresh=max(1, int((until - now).total_seconds()) + 1), present=present, closed_reason=reason,
        window=time_range(campaign.starts_at, campaign.ends_at)))
