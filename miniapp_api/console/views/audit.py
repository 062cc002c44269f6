"""The audit log: view, filter, export as CSV. There is no route that changes an entry."""
from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from flask import Response
from flask import render_template
from flask import request

from miniapp_api.db import write_tx
from miniapp_api.models import utcnow
from miniapp_api.time import LOCAL_TZ
from miniapp_api import audit
from miniapp_api.console.core import Routes
from miniapp_api.console.core import township_scope
from miniapp_api.console.core import visible_townships
from miniapp_api.console.core import who
from miniapp_api.console.core import page_arg

routes = Routes()

PAGE_SIZE = 100
EXPORT_LIMIT = 50_000


def _day(raw: str | None, errors: dict, key: str) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d").replace(tzinfo=LOCAL_TZ)
    except ValueError:
        errors[key] = "日期格式应为 年-月-日，例如 2026-01-31"
        return None


def _query(errors: dict):
    a = request.args
    since = _day(a.get("since"), errors, "since")
    until = _day(a.get("until"), errors, "until")
    return audit.query(township_scope=township_scope(), actor=a.get("actor", "").strip()[:40],
                       action=a.get("action", "")[:48], township=a.get("township", "")[:32],
                       since=since, until=until + timedelta(days=1) if until else None)


@routes.get("/audit")
def audit_log():
    """GET the audit log."""
    errors: dict = {}
    q = _query(errors)
    page = page_arg(request.args)
    rows = list(q.paginate(page, PAGE_SIZE)) if not errors else []
    return render_template("console/audit.html", rows=rows, args=request.args, errors=errors, page=page,
                           page_size=PAGE_SIZE, labels=audit.ACTION_LABELS, townships=visible_townships()), \
        422 if errors else 200


@routes.get("/audit.csv")
def audit_export():
    """GET the audit log as CSV."""
    errors: dict = {}
    q = _query(errors)
    if errors:
        return render_template("console/error.html", status=422, title="导出失败",
                               message="；".join(errors.values())), 422
    rows = list(q.limit(EXPORT_LIMIT))
    with write_tx():
        audit.record(who(), "audit.export", target="audit", township=township_scope(),
                     after={"rows": len(rows), "filters": {k: v for k, v in request.args.items()}}, now=utcnow())
    return Response(audit.to_csv(rows), mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=audit.csv"})
