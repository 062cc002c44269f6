"""The roster (officials, import with a dry-run preview, export, on leave) and categories."""
from __future__ import annotations

from flask import Response
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for
from peewee import JOIN

from miniapp_api.errors import NotFound
from miniapp_api.models import Category
from miniapp_api.models import Community
from miniapp_api.models import Department
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.org.roster_import import HEADER
from miniapp_api.org.roster_import import ImportFailed
from miniapp_api.org import rosters
from miniapp_api.validation import FormError
from miniapp_api.console.core import admin
from miniapp_api.console.core import Routes
from miniapp_api.console.core import township_scope
from miniapp_api.console.core import visible_townships
from miniapp_api.console.core import who
from miniapp_api.console.core import page_arg

routes = Routes()

ROLES = {"grid_leader": "网格长", "grid_worker": "网格员", "community_leader": "村（社区）网格长",
         "township_staff": "乡镇/街道工作人员", "department_staff": "部门工作人员", "county_staff": "县指挥中心"}
PAGE_SIZE = 100


def _officials(args) -> tuple[list[Official], int]:
    q = (Official.select(Official, Township, Department, Community, Grid)
         .join(Township, JOIN.LEFT_OUTER).switch(Official)
         .join(Department, JOIN.LEFT_OUTER).switch(Official)
         .join(Community, JOIN.LEFT_OUTER).switch(Official)
         .join(Grid, JOIN.LEFT_OUTER).where(Official.active == True))  # noqa: E712
    scope = township_scope()
    if scope:
        q = q.where(Township.code == scope)
    if args.get("township"):
        q = q.where(Township.code == args["township"])
    if args.get("q"):
        text = args["q"].strip()[:40]
        q = q.where(Official.name.contains(text) | Grid.name.contains(text) | Community.name.contains(text))
    if args.get("on_leave") == "1":
        q = q.where(Official.on_leave == True)  # noqa: E712
    page = page_arg(args)
    total = q.count()
    return list(q.order_by(Township.sort_order, Community.name, Grid.name, Official.duty_post, Official.name, Official.id)
                .paginate(page, PAGE_SIZE)), total


def _roster_page(result=None, errors=None, csv_text="", status=200):
    officials, total = _officials(request.args)
    return render_template("console/roster.html", officials=officials, total=total, roles=ROLES,
                           townships=visible_townships(), args=request.args, result=result,
                           import_errors=errors, csv_text=csv_text, header=",".join(HEADER),
                           page_size=PAGE_SIZE), status


@routes.get("/roster")
def roster():
    """GET the roster page."""
    return _roster_page()


@routes.post("/roster/import")
def roster_import():
    """POST a roster CSV: preview, or import."""
    scope = township_scope()
    admin().require(write=True, township=scope) if scope else admin().require(write=True, county=True)
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data, filename = upload.read(rosters.MAX_IMPORT_BYTES + 1), upload.filename
    else:
        data, filename = request.form.get("csv_text", "").encode("utf-8"), "preview.csv"
    dry_run = request.form.get("mode") != "apply"
    try:
        result = rosters.import_roster(who(), data, dry_run=dry_run, scope=scope, filename=filename, now=utcnow())
    except ImportFailed as err:
        return _roster_page(errors=err.errors, status=422)
    text = data.decode("utf-8-sig", "replace") if dry_run else ""
    if not dry_run:
        flash(f"导入完成：{result.rows} 行；新建村/社区 {result.communities_created}，新建网格 {result.grids_created}，"
              f"新建人员 {result.officials_created}，更新 {result.officials_updated}，未变 {result.officials_unchanged}", "ok")
        return redirect(url_for("console.roster"))
    return _roster_page(result=result, csv_text=text)


@routes.get("/roster/export.csv")
def roster_export():
    """GET the roster as CSV."""
    admin().require(write=False, township=township_scope()) if township_scope() else None
    text = rosters.export_roster(who(), township_scope(), utcnow())
    return Response("\ufeff" + text, mimetype="text/csv",
                    headers={"Content-Disposition": "attachment; filename=roster.csv"})


@routes.post("/roster/officials/<int:official_id>/leave")
def official_leave(official_id: int):
    """POST: set an official's on-leave state."""
    official = Official.get_or_none(Official.id == official_id)
    if official is None:
        raise NotFound("没有这个人员")
    code = official.township.code if official.township_id else None
    if code:
        admin().require(write=True, township=code)
    else:
        admin().require(write=True, county=True)
    on = request.form.get("on_leave") == "1"
    rosters.set_on_leave(who(), official, on, utcnow())
    flash(f"{official.name}：{'已标记请假（由 B 岗顶岗）' if on else '已销假'}", "ok")
    return redirect(request.form.get("back") if (request.form.get("back") or "").startswith("/console/roster")
                    else url_for("console.roster"))


# --- categories -------------------------------------------------------------------------------


def _categories_page(errors=None, form=None, editing=None, status=200):
    cats = list(Category.select().order_by(Category.sort_order, Category.id))
    return render_template("console/categories.html", categories=cats, levels=rosters.LEVELS, errors=errors or {},
                           form=form or {}, editing=editing,
                           can_edit=admin().role == "county_admin"), status


@routes.get("/categories")
def categories():
    """GET the categories page."""
    return _categories_page()


@routes.post("/categories")
def category_create():
    """POST: create a category."""
    admin().require(write=True, county=True)
    try:
        cat = rosters.save_category(who(), None, request.form, utcnow())
    except FormError as err:
        return _categories_page(err.errors, request.form, editing="new", status=422)
    flash(f"已新建类别 {cat.name}", "ok")
    return redirect(url_for("console.categories"))


@routes.post("/categories/<code>")
def category_update(code: str):
    """POST: change a category."""
    admin().require(write=True, county=True)
    try:
        cat = rosters.save_category(who(), code, request.form, utcnow())
    except FormError as err:
        return _categories_page(err.errors, request.form, editing=code, status=422)
    flash(f"已保存类别 {cat.name}", "ok")
    return redirect(url_for("console.categories"))
