"""The dashboard: per-unit statistics with charts, and the emergency switch (with a
confirmation step)."""
from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.console import stats
from miniapp_api.validation import FormError
from miniapp_api.console.core import admin
from miniapp_api.console.core import Routes
from miniapp_api.console.core import visible_townships
from miniapp_api.console.core import who

routes = Routes()

PERIODS = {"7": ("近 7 天", 7), "30": ("近 30 天", 30), "90": ("近 90 天", 90), "all": ("全部", None)}
STATUS_ORDER = ["pending", "accepted", "transferred", "resolved", "closed", "rejected"]


@routes.get("/")
def dashboard():
    """GET the overview."""
    period = request.args.get("period", "30")
    if period not in PERIODS:
        period = "30"
    label, days = PERIODS[period]
    now = utcnow()
    townships = visible_townships()
    rows, total = stats.unit_stats(townships, days, now)
    chart = {
        "units": [r.name for r in rows],
        "statuses": [{"code": s, "counts": [r.by_status.get(s, 0) for r in rows]} for s in STATUS_ORDER],
        "rates": {"closure": [r.closure_rate for r in rows], "on_time": [r.on_time_rate for r in rows],
                  "satisfaction": [r.satisfaction for r in rows]},
        "overdue": [r.overdue for r in rows],
    }
    return render_template("console/dashboard.html", rows=rows, total=total, chart=chart, period=period,
                           periods=PERIODS, period_label=label, statuses=STATUS_ORDER,
                           county_emergency=stats.county_emergency())


@routes.post("/emergency")
def emergency():
    """Step 1 (no ``confirm``): show what will happen. Step 2 (``confirm=yes``): switch."""
    code = request.form.get("township", "")
    on = request.form.get("on") == "1"
    p = admin()
    if code:
        p.require(write=True, township=code)
        unit = Township.get_or_none(Township.code == code)
        if unit is None:
            flash("没有这个乡镇/街道", "error")
            return redirect(url_for("console.dashboard"))
        scope_name = unit.name
    else:
        p.require(write=True, county=True)
        scope_name = "全县"
    if request.form.get("confirm") != "yes":
        return render_template("console/emergency_confirm.html", code=code, on=on, scope_name=scope_name)
    try:
        changed = stats.set_emergency(who(), code or None, on, utcnow())
    except FormError as err:
        flash(err.message, "error")
        return redirect(url_for("console.dashboard"))
    state = "进入应急模式（战时）" if on else "恢复常态（平时）"
    flash(f"{scope_name}已{state}" if changed else f"{scope_name}本来就是这个状态，没有变化", "ok")
    return redirect(url_for("console.dashboard"))
