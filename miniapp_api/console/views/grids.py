"""网格: one township's grids (officials, boundary status, open reports), its map (网格地图),
and 指派 from the console (docs/console.md)."""
from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from miniapp_api.console.core import CSP
from miniapp_api.console.core import Routes
from miniapp_api.console.core import admin
from miniapp_api.console.core import visible_townships
from miniapp_api.db import write_tx
from miniapp_api.errors import NotFound
from miniapp_api.groups import duty
from miniapp_api.models import Category
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.reports import assignment
from miniapp_api.reports.lifecycle import OPEN_STATUSES
from miniapp_api.reports.lifecycle import STATUS_LABELS
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import Channel

routes = Routes()

#: A report's deadline state, as the map colours it.
DEADLINE_STATES = {"overdue": "已超时", "due_soon": "临近时限", "on_time": "时限内", "none": "未计时"}
#: How a grid can be located: by its boundary, by its centre only, or not at all.
BOUNDARY_STATES = {"boundary": "有边界", "centre": "仅中心点", "missing": "缺失"}
#: The share of a deadline after which a report counts as near its deadline.
DUE_SOON = 0.75


def deadline_state(report: Report, now: datetime) -> str:
    """``overdue``, ``due_soon`` (three quarters of the time gone), ``on_time`` or ``none``."""
    due = report.resolve_due_at if report.status == "accepted" else report.accept_due_at
    if due is None:
        return "none"
    if now >= due:
        return "overdue"
    start = report.phase_started_at
    if start is not None and due > start and (now - start) >= (due - start) * DUE_SOON:
        return "due_soon"
    return "on_time"


def boundary_state(grid: Grid) -> str:
    """``boundary``, ``centre`` (a centre point only) or ``missing``."""
    if grid.boundary:
        return "boundary"
    return "centre" if grid.center_lat is not None and grid.center_lng is not None else "missing"


def _township() -> Township:
    towns = visible_townships()
    code = request.values.get("township") or (towns[0].code if towns else "")
    township = next((t for t in towns if t.code == code), None)
    if township is None:
        raise NotFound("没有这个乡镇/街道，或不在您的管理范围内")
    return township


def _grids(township: Township) -> list[Grid]:
    return list(Grid.select(Grid, Community).join(Community)
                .where(Community.township == township.id).order_by(Community.name, Grid.name))


def _open_reports(township: Township) -> list[Report]:
    return list(Report.select(Report, Category).join(Category)
                .where((Report.township == township.id) & Report.status.in_(list(OPEN_STATUSES))
                       & Report.moderation.in_(["pass", "review"]))
                .order_by(Report.created_at, Report.id))


def _posts_text(posts: duty.Posts) -> str:
    held = [f"{p}岗 {o.name}{'（请假）' if o.on_leave else ''}" for p, o in (("A", posts.a), ("B", posts.b)) if o]
    return "、".join(held) or "未登记A/B岗"


@routes.get("/grids")
def grids():
    """GET one township's grids: their officials, boundary status and open reports."""
    township = _township()
    rows = _grids(township)
    units = duty.Snapshot()
    reports = _open_reports(township)
    now = utcnow()
    by_grid: dict[int | None, list[Report]] = defaultdict(list)
    for r in reports:
        by_grid[r.grid_id].append(r)
    communities: dict[int, dict] = {}
    for grid in rows:
        c = communities.setdefault(grid.community_id, {
            "name": grid.community.name, "leaders": _posts_text(units.posts(("community", grid.community_id))),
            "grids": []})
        officials = list(Official.select().where((Official.grid == grid.id) & (Official.active == True))  # noqa: E712
                         .order_by(Official.duty_post, Official.name))
        c["grids"].append({"grid": grid, "state": boundary_state(grid), "officials": officials,
                           "posts": _posts_text(units.posts(("grid", grid.id))),
                           "reports": by_grid.get(grid.id, [])})
    summary = defaultdict(int)
    for c in communities.values():
        for item in c["grids"]:
            summary[item["state"]] += 1
    return render_template(
        "console/grids.html", township=township, townships=visible_townships(), communities=list(communities.values()),
        unassigned=by_grid.get(None, []), grids=rows, summary=summary, BOUNDARY_STATES=BOUNDARY_STATES,
        township_posts=_posts_text(units.posts(("township", township.id))),
        states={r.id: deadline_state(r, now) for r in reports}, DEADLINE_STATES=DEADLINE_STATES)


@routes.post("/grids/assign")
def grid_assign():
    """POST 指派: set the grid of an open report of the township (township administrators)."""
    township = _township()
    admin().require(write=True, township=township.code)
    number = (request.form.get("number") or "").strip()[:32]
    report = Report.get_or_none((Report.number == number) & (Report.township == township.id))
    grid = None
    try:
        grid_id = int(request.form.get("grid") or 0)
    except ValueError:
        grid_id = 0
    if grid_id:
        grid = (Grid.select(Grid, Community).join(Community)
                .where((Grid.id == grid_id) & (Community.township == township.id)).first())
    if report is None or grid is None:
        flash("请选择本单位的上报和网格", "error")
        return redirect(url_for("console.grids", township=township.code)), 303
    p = admin()
    try:
        with write_tx():
            report = Report.get_by_id(report.id)
            who = assignment.assign(report, grid, Actor("admin", p.name, Channel.CONSOLE, str(p.user_id or "")),
                                    utcnow())
    except assignment.AssignRefused as err:
        flash(str(err), "error")
    else:
        flash(f"已将 {report.number} 指派至{assignment.grid_label(grid)}，已提醒{who}", "ok")
    return redirect(url_for("console.grids", township=township.code))


def _tiles() -> dict | None:
    settings = current_app.config["TONGXIN_SETTINGS"]
    url = settings.console.map_tile_url
    if not url:
        return None
    return {"url": url, "attribution": settings.console.map_tile_attribution}


@routes.get("/grids/map")
def grid_map():
    """GET 网格地图: one township's grid boundaries and open reports coloured by deadline state,
    drawn with Leaflet served by Tongxin; no tile server unless ``[console] map_tile_url``."""
    township = _township()
    rows = _grids(township)
    now = utcnow()
    names = {g_.id: assignment.grid_label(g_) for g_ in rows}
    data = {"grids": [], "reports": [], "tiles": _tiles(), "states": DEADLINE_STATES}
    for grid in rows:
        data["grids"].append({
            "label": names[grid.id], "state": boundary_state(grid),
            "boundary": json.loads(grid.boundary) if grid.boundary else None,
            "center": [grid.center_lat, grid.center_lng] if grid.center_lat is not None else None})
    for r in _open_reports(township):
        data["reports"].append({"number": r.number, "lat": r.lat, "lng": r.lng, "state": deadline_state(r, now),
                                "status": STATUS_LABELS.get(r.status, r.status), "category": r.category.name,
                                "grid": names.get(r.grid_id, assignment.UNASSIGNED)})
    if data["tiles"]:
        parts = urlsplit(data["tiles"]["url"])
        netloc = "*." + parts.netloc[4:] if parts.netloc.startswith("{s}.") else parts.netloc
        origin = f"{parts.scheme}://{netloc}"
        g.console_csp = CSP.replace("img-src 'self' data:", f"img-src 'self' data: {origin}")
    return render_template("console/grid_map.html", township=township, townships=visible_townships(), data=data,
                           DEADLINE_STATES=DEADLINE_STATES)
