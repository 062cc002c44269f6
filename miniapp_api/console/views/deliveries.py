"""Deliveries: backlog and dead letters per target, re-queue, discard, the staging switch."""
from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from miniapp_api.models import Department
from miniapp_api.models import utcnow
from miniapp_api.models.console import MappingPolicy
from miniapp_api.console import delivery_ops
from miniapp_api.groups import health as group_health
from miniapp_api.groups import owners as group_owners
from miniapp_api.groups import staging
from miniapp_api.validation import FormError
from miniapp_api.console.core import admin
from miniapp_api.console.core import Routes
from miniapp_api.console.core import get_settings
from miniapp_api.console.core import township_scope
from miniapp_api.console.core import visible_townships
from miniapp_api.console.core import who
from miniapp_api.console.core import page_arg

routes = Routes()


def _page(errors=None, status=200):
    a = request.args
    scope = township_scope()
    state = a.get("state", "dead")
    target = a.get("target", "")[:96]
    page = page_arg(a)
    owners = [("township", t) for t in visible_townships()]
    if scope is None:
        owners += [("department", d) for d in Department.select().order_by(Department.id)]
        owners.append(("county", group_owners.CountyGroup()))
    policies = {(p.owner_kind, p.owner_code): p for p in MappingPolicy.select()}
    health = group_health.health([group_owners.target_of(k, u.code) for k, u in owners], utcnow())
    groups_rows = [{"kind": k, "unit": u, "policy": policies.get((k, u.code)),
                    "health": health[group_owners.target_of(k, u.code)]} for k, u in owners]
    return render_template("console/deliveries.html", targets=delivery_ops.targets(scope),
                           rows=delivery_ops.listing(scope, state, target, page), state=state, target=target,
                           states=delivery_ops.STATES, groups_rows=groups_rows, errors=errors or {}, page=page,
                           global_staging=bool(get_settings().dingtalk.staging_webhook)), status


@routes.get("/deliveries")
def deliveries():
    """GET deliveries: backlog and dead letters per target."""
    return _page()


def _ids() -> list[int]:
    out = []
    for raw in request.form.getlist("ids"):
        try:
            out.append(int(raw))
        except ValueError:
            continue
    return out[:1000]


def _require_write():
    scope = township_scope()
    if scope:
        admin().require(write=True, township=scope)
    else:
        admin().require(write=True, county=True)
    return scope


@routes.post("/deliveries/requeue")
def deliveries_requeue():
    """POST: re-queue dead deliveries."""
    scope = _require_write()
    try:
        n = delivery_ops.requeue(who(), scope, _ids(), request.form.get("target", ""), utcnow())
    except FormError as err:
        return _page(err.errors, 422)
    flash(f"已重新排队 {n} 条投递", "ok")
    return redirect(url_for("console.deliveries", state="pending"))


@routes.post("/deliveries/discard")
def deliveries_discard():
    """POST: discard dead deliveries."""
    scope = _require_write()
    try:
        n = delivery_ops.discard(who(), scope, _ids(), request.form.get("target", ""), utcnow())
    except FormError as err:
        return _page(err.errors, 422)
    flash(f"已丢弃 {n} 条投递（不会再发送）", "ok")
    return redirect(url_for("console.deliveries", state="discarded"))


@routes.post("/deliveries/staging")
def deliveries_staging():
    """POST: switch a group's staging on or off."""
    kind = request.form.get("kind", "")
    code = request.form.get("code", "")
    if group_owners.owner(kind, code) is None:
        return _page({"_": "没有这个单位或部门"}, 422)
    if kind == "township":
        admin().require(write=True, township=code)
    else:
        admin().require(write=True, county=True)
    on = request.form.get("on") == "1"
    try:
        staging.set_staging(who(), kind, code, on, utcnow())
    except FormError as err:
        return _page(err.errors, 422)
    flash("已开启演练：该群的消息改发到演练群" if on else "已关闭演练：消息恢复发到正式群", "ok")
    return redirect(url_for("console.deliveries"))
