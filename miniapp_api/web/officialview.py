"""The read-only page a group message links to (``/o/reports/<number>?sig=…``).

Officials open it from DingTalk without logging in, so the link itself is the credential:
an HMAC of the number with the server secret. The page never shows the resident's openid
or phone; the resident appears as 居民(已实名) or 匿名.
"""
from __future__ import annotations

import hashlib
import hmac

from flask import Blueprint
from flask import Flask
from flask import render_template
from flask import request

from miniapp_api.web import context as services
from miniapp_api.config import Settings
from miniapp_api.errors import NotFound
from miniapp_api.reports.lifecycle import ACTION_LABELS
from miniapp_api.reports.lifecycle import STATUS_LABELS
from miniapp_api.models import Report
from miniapp_api.models import ReportPhoto
from miniapp_api.models import TimelineEntry
from miniapp_api.models import Upload
from miniapp_api.reports.schemas import iso
from miniapp_api.reports.uploads import photo_out

bp = Blueprint("officialview", __name__, template_folder="templates")


def _sig(secret_key: str, number: str) -> str:
    return hmac.new(secret_key.encode(), f"report-view:{number}".encode(), hashlib.sha256).hexdigest()[:32]


def signed_report_url(settings: Settings, number: str) -> str:
    """The link put in group messages for ``number``."""
    return f"{settings.server.public_base_url}/o/reports/{number}?sig={_sig(settings.server.secret_key, number)}"


@bp.get("/o/reports/<number>")
def report_page(number: str):
    settings = services.get().settings
    sig = request.args.get("sig", "")
    if len(number) > 32 or not hmac.compare_digest(sig, _sig(settings.server.secret_key, number)):
        raise NotFound("链接无效", code="report_not_found")
    report = Report.get_or_none(Report.number == number)
    if report is None:
        raise NotFound("找不到这条上报", code="report_not_found")
    photos = [photo_out(u, "") for u in Upload.select(Upload).join(ReportPhoto)
              .where(ReportPhoto.report == report).order_by(ReportPhoto.position)]
    timeline = [{"at": iso(e.at).replace("T", " ")[:16], "action": ACTION_LABELS.get(e.action, e.action),
                 "who": e.actor_name or "系统", "note": e.note}
                for e in TimelineEntry.select().where(TimelineEntry.report == report).order_by(TimelineEntry.id)]
    return render_template("report_view.html", report=report, photos=photos, timeline=timeline,
                           status=STATUS_LABELS.get(report.status, report.status),
                           reporter="匿名" if report.anonymous else "居民(已实名)",
                           created=iso(report.created_at).replace("T", " ")[:16])


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
