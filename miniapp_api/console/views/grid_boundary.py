"""网格边界: add or edit one grid's boundary as GeoJSON or WKT, with the checks of
``tongxin import-grids`` (docs/grids.md)."""
from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from miniapp_api import audit
from miniapp_api.console.core import Routes
from miniapp_api.console.core import admin
from miniapp_api.console.core import township_scope
from miniapp_api.console.core import who
from miniapp_api.db import write_tx
from miniapp_api.errors import NotFound
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Township
from miniapp_api.org import geo
from miniapp_api.org import grid_import

routes = Routes()


def _grid(grid_id: int) -> tuple[Grid, Township]:
    """The grid, if it lies in this administrator's scope (404 otherwise, with no hint)."""
    grid = (Grid.select(Grid, Community, Township).join(Community).join(Township)
            .where(Grid.id == grid_id).first()) if 0 < grid_id < 2**31 else None
    scope = township_scope()
    if grid is None or (scope and grid.community.township.code != scope):
        raise NotFound("没有这个网格，或不在您的管理范围内")
    return grid, grid.community.township


@routes.route("/grids/<int:grid_id>/boundary", methods=["GET", "POST"])
def grid_boundary(grid_id: int):
    """GET the grid's boundary as GeoJSON in a form; POST a new one (checked like an import)."""
    grid, township = _grid(grid_id)
    text = grid.boundary or ""
    if request.method == "POST":
        admin().require(write=True, township=township.code)
        text = (request.form.get("boundary") or "").strip()
        if not text:
            flash("请填写边界（GeoJSON 或 WKT）", "error")
        else:
            before = grid.boundary
            try:
                with write_tx():
                    saved = grid_import.save_geometry(grid, text[:geo.MAX_BOUNDARY_CHARS + 1])
                    if saved.boundary != before:
                        audit.record(who(), "grid.boundary", target=f"grid:{grid.id}", township=township.code,
                                     before={"boundary": before}, after={"boundary": saved.boundary})
            except geo.InvalidBoundary as err:
                flash(f"边界未保存：{err}", "error")
            else:
                flash(f"已保存{grid.community.name} {grid.name}的边界", "ok")
                return redirect(url_for("console.grid_boundary", grid_id=grid.id), 303)
    return render_template("console/grid_boundary.html", grid=grid, township=township, text=text), \
        (422 if request.method == "POST" else 200)
