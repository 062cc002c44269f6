"""The read-only page a group message links to (``/o/reports/<number>?sig=…``).

Officials open it from DingTalk without logging in, so the link itself is the credential:
an HMAC of the number with the server secret. The page never shows the resident's openid
or phone; the resident appears as 居民(已实名) or 匿名. The resident's photos (上报照片) and
the officials' completion photos (办结照片) show under their own headings.
"""
from __future__ import annotations

import hmac

from flask import Blueprint
from flask import render_template
from flask import request

from miniapp_api.web import collaborators
from miniapp_api.config import Settings
from miniapp_api.errors import NotFound
from miniapp_api.reports.lifecycle import ACTION_LABELS
from miniapp_api.reports.lifecycle import STATUS_LABELS
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.time import iso
from miniapp_api.reports.links import REPORT_VIEW
from miniapp_api.reports.links import sign
from miniapp_api.reports.links import signed_report_url  # noqa: F401  (where the link is made; kept importable here)
from miniapp_api.reports.completion_photos import photos_by_report
from miniapp_api.reports.uploads import photo_out

bp = Blueprint("officialview", __name__, template_folder="templates")


@bp.get("/o/reports/<number>")
def report_page(number: str):
    """The signed, read-only page of one report for officials."""
    settings = collaborators.current().settings
    sig = request.args.get("sig", "")
    if len(number) > 32 or not hmac.compare_digest(sig.encode(), sign(settings.server.secret_key, REPORT_VIEW, number).encode()):
        raise NotFound("链接无效", code="report_not_found")
    report = Report.get_or_none(Report.number == number)
    if report is None:
        raise NotFound("找不到这条上报", code="report_not_found")
    own, done = photos_by_report([report.id])
    photos = [photo_out(u, "") for u in own[report.id]]
    completion = [photo_out(u, "") for u in done[report.id]]
    merged_into = None
    if report.merged_into_id:  # the report it goes on as, with its own signed link
        main = Report.get_by_id(report.merged_into_id).number
        merged_into = {"number": main, "url": f"/o/reports/{main}?sig={sign(settings.server.secret_key, REPORT_VIEW, main)}"}
    timeline = [{"at": iso(e.at).replace("T", " ")[:16], "action": ACTION_LABELS.get(e.action, e.action),
                 "who": e.actor_name or "系统", "note": e.note}
                for e in TimelineEntry.select().where(TimelineEntry.report == report).order_by(TimelineEntry.id)]
    return render_template("report_view.html", report=report, photos=photos, completion=completion,
                           merged_into=merged_into, timeline=timeline,
                           status=STATUS_LABELS.get(report.status, report.status),
                           reporter="匿名" if report.anonymous else "居民(已实名)",
                           created=iso(report.created_at).replace("T", " ")[:16])
