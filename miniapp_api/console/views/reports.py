"""The report queue, one report (timeline, photos, actions), revealing the reporter."""
from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from miniapp_api.web import collaborators
from miniapp_api.reports.lifecycle import STATUS_LABELS
from miniapp_api.models import Category
from miniapp_api.models import Report
from miniapp_api.models import utcnow
from miniapp_api.console import queue
from miniapp_api.validation import FormError
from miniapp_api.console.core import admin
from miniapp_api.console.core import Routes
from miniapp_api.console.core import visible_townships
from miniapp_api.console.core import who
from miniapp_api.console.core import page_arg
from miniapp_api.console.stats import overdue_clause

routes = Routes()


def _filters() -> queue.Filters:
    a = request.args
    page = page_arg(a)
    status = a.get("status", "")
    return queue.Filters(township=a.get("township", ""), status=status if status in STATUS_LABELS else "",
                         category=a.get("category", ""), overdue=a.get("overdue") == "1", q=a.get("q", "")[:60],
                         page=page)


@routes.get("/reports")
def reports():
    """GET the report queue."""
    f = _filters()
    now = utcnow()
    rows, total = queue.search(admin(), f, now)
    overdue_ids = {r.id for r in Report.select(Report.id).where(Report.id.in_([r.id for r in rows]) & overdue_clause(now))} if rows else set()
    categories = list(Category.select().order_by(Category.sort_order, Category.id))
    return render_template("console/reports.html", rows=rows, total=total, f=f, townships=visible_townships(),
                           categories=categories, overdue_ids=overdue_ids, page_size=queue.PAGE_SIZE)


def _detail(report, *, identity=None, errors=None, status=200):
    p = admin()
    now = utcnow()
    overdue = Report.select().where((Report.id == report.id) & overdue_clause(now)).exists()
    return render_template("console/report.html", r=report, photos=queue.photos(report), timeline=queue.timeline(report),
                           reporter=queue.reporter_label(report), can_reveal=queue.can_reveal(p, report),
                           can_act=p.can_write(report.township.code), identity=identity, errors=errors or {},
                           departments=queue.departments(), overdue=overdue), status


@routes.get("/reports/<number>")
def report(number: str):
    """GET one report's page."""
    return _detail(queue.get(admin(), number))


@routes.post("/reports/<number>/act")
def report_act(number: str):
    """POST an action on a report."""
    report = queue.get(admin(), number)
    file = request.files.get("photo")
    photo = file.read(collaborators.current().settings.uploads.max_bytes + 1) if file is not None and file.filename else None
    action = request.form.get("action", "")
    try:
        new = queue.act(admin(), who(), report, action, text=request.form.get("text", ""),
                        department=request.form.get("department", ""), photo=photo, svc=collaborators.current(), now=utcnow())
    except FormError as err:
        return _detail(queue.get(admin(), number), errors=err.errors, status=422)
    flash(f"{new.number}：{STATUS_LABELS.get(new.status, new.status)}，居民会收到通知", "ok")
    return redirect(url_for("console.report", number=number))


@routes.post("/reports/<number>/reveal")
def report_reveal(number: str):
    """POST: reveal the reporter's identity (audited)."""
    report = queue.get(admin(), number)
    try:
        identity = queue.reveal(admin(), who(), report, utcnow())
    except FormError as err:
        return _detail(report, errors=err.errors, status=403)
    return _detail(report, identity=identity)
