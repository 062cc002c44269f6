"""Bridge mappings: the list with health, one mapping's form (save or test the typed values),
test send of the saved group or its staging group, history with rollback, routing dry-run."""
from __future__ import annotations

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from miniapp_api.errors import NotFound
from miniapp_api.models import Category
from miniapp_api.models import Community
from miniapp_api.models import Department
from miniapp_api.models import Grid
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.models.console import MENTION_POLICIES
from miniapp_api.models.console import MappingPolicy
from miniapp_api.deadlines import ladder
from miniapp_api.groups import checks
from miniapp_api.groups import health as group_health
from miniapp_api.groups import mappings as group_mappings
from miniapp_api.groups import owners as group_owners
from miniapp_api.groups import snapshots
from miniapp_api.groups import testsend
from miniapp_api.groups import versions as group_versions
from miniapp_api.org import dryrun
from miniapp_api.validation import FormError
from miniapp_api.console.core import admin
from miniapp_api.console.core import Routes
from miniapp_api.console.core import get_settings
from miniapp_api.console.core import visible_townships
from miniapp_api.console.core import who

routes = Routes()


def _owner_or_404(kind: str, code: str):
    unit = group_owners.owner(kind, code)
    if unit is None:
        raise NotFound("没有这个单位或部门")
    return unit


def _township_of(kind: str, code: str) -> str | None:
    return code if kind == "township" else None


def _require(kind: str, code: str, write: bool) -> None:
    """Units' groups belong to their unit; departments' groups are county-level."""
    if kind == "township":
        admin().require(write=write, township=code)
    else:
        admin().require(write=write, county=True)


@routes.get("/mappings")
def mappings():
    """GET /console/mappings: every group the administrator may see, with its health."""
    rows = []
    owners = [("township", t) for t in visible_townships()]
    if admin().role != "unit_admin":
        owners += [("department", d) for d in Department.select().order_by(Department.id)]
        owners.append(("county", group_owners.CountyGroup()))
    snaps = {(k, u.code): snapshots.public_snapshot(snapshots.snapshot(k, u.code)) for k, u in owners}
    health = group_health.health([group_owners.target_of(k, u.code) for k, u in owners], utcnow())
    for kind, unit in owners:
        policy = MappingPolicy.get_or_none((MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == unit.code))
        rows.append({"kind": kind, "unit": unit, "snap": snaps[(kind, unit.code)], "policy": policy,
                     "health": health[group_owners.target_of(kind, unit.code)]})
    return render_template("console/mappings.html", rows=rows, kinds=group_owners.OWNER_KINDS)


def _page(kind: str, code: str, *, errors=None, form=None, test=None, status=200):
    unit = _owner_or_404(kind, code)
    snap = snapshots.public_snapshot(snapshots.snapshot(kind, code))
    policy = MappingPolicy.get_or_none((MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == code))
    target = group_owners.target_of(kind, code)
    return render_template(
        "console/mapping.html", kind=kind, unit=unit, snap=snap, policy=policy, errors=errors or {},
        form=form or {}, test=test, versions=group_versions.versions(kind, code), policies=MENTION_POLICIES,
        health=group_health.health([target], utcnow())[target], kinds=group_owners.OWNER_KINDS,
        can_edit=admin().can_write(code) if kind == "township" else admin().role == "county_admin",
        public=snapshots.public_snapshot), status


@routes.get("/mappings/<kind>/<code>")
def mapping(kind: str, code: str):
    """GET a group's mapping page."""
    _owner_or_404(kind, code)
    _require(kind, code, write=False)
    return _page(kind, code)


def _input() -> checks.MappingInput:
    f = request.form
    return checks.MappingInput(
        webhook=f.get("webhook", ""), secret=f.get("secret", ""), conversation_id=f.get("conversation_id", ""),
        enabled=f.get("enabled") == "1", mention_policy=f.get("mention_policy", "duty"),
        staging_webhook=f.get("staging_webhook", ""), staging_secret=f.get("staging_secret", ""),
        staging_enabled=f.get("staging_enabled") == "1", staging_clear=f.get("staging_clear") == "1",
        note=f.get("note", ""), chat_id=f.get("chat_id", ""))


def _echo() -> dict:
    """What to put back in the form after an error: never the secrets (nor the webhooks)."""
    f = request.form
    return {k: f.get(k, "") for k in ("conversation_id", "mention_policy", "note", "enabled", "staging_enabled",
                                      "chat_id")}


@routes.post("/mappings/<kind>/<code>")
def mapping_save(kind: str, code: str):
    """POST the mapping form: test the typed values, or save them."""
    _owner_or_404(kind, code)
    _require(kind, code, write=True)
    settings = get_settings()
    now = utcnow()
    data = _input()
    if request.form.get("op") == "test":
        # Test the typed values before trusting them; nothing is saved.
        try:
            result = testsend.test_send(who(), kind, code, settings, now, webhook=data.webhook, secret=data.secret,
                                      chat_id=data.chat_id)
        except FormError as err:
            return _page(kind, code, errors=err.errors, form=_echo(), status=422)
        return _page(kind, code, form=_echo(), test=result)
    try:
        version = group_mappings.save_mapping(who(), kind, code, data, settings, now)
    except FormError as err:
        return _page(kind, code, errors=err.errors, form=_echo(), status=422)
    flash(f"已保存（版本 {version}）。建议点“测试发送”确认群能收到消息。", "ok")
    return redirect(url_for("console.mapping", kind=kind, code=code))


@routes.post("/mappings/<kind>/<code>/test")
def mapping_test(kind: str, code: str):
    """POST: a test message to the saved group or its staging group."""
    _owner_or_404(kind, code)
    _require(kind, code, write=True)
    which = "staging" if request.form.get("which") == "staging" else "main"
    try:
        result = testsend.test_send(who(), kind, code, get_settings(), utcnow(), which=which)
    except FormError as err:
        return _page(kind, code, errors=err.errors, status=422)
    return _page(kind, code, test=result)


@routes.post("/mappings/<kind>/<code>/rollback")
def mapping_rollback(kind: str, code: str):
    """POST: restore an earlier version."""
    _owner_or_404(kind, code)
    _require(kind, code, write=True)
    try:
        version = int(request.form.get("version", ""))
        new = group_mappings.rollback(who(), kind, code, version, utcnow())
    except ValueError:
        return _page(kind, code, errors={"_": "请选择要回滚到的版本"}, status=422)
    except FormError as err:
        return _page(kind, code, errors=err.errors, status=422)
    flash(f"已回滚到版本 {version}（新版本 {new}）", "ok")
    return redirect(url_for("console.mapping", kind=kind, code=code))


@routes.get("/routing")
def routing_dry_run():
    """The dry-run form and, when asked, its answer (a GET: nothing is written)."""
    townships = visible_townships()
    categories = list(Category.select().where(Category.active == True).order_by(Category.sort_order))  # noqa: E712
    a = request.args
    township = a.get("township", townships[0].code if len(townships) == 1 else "")
    grids = []
    if township:
        admin().require(write=False, township=township)  # before anything of that unit is read
        grids = list(Grid.select(Grid, Community).join(Community).join(Township)
                     .where(Township.code == township).order_by(Community.name, Grid.name))
    result, errors, people = None, {}, []
    if a.get("run"):
        try:
            grid_id = int(a["grid"]) if a.get("grid") else None
            lat = float(a["lat"]) if a.get("lat") else None
            lng = float(a["lng"]) if a.get("lng") else None
            if (lat is None) != (lng is None) or (lat is not None and not (-90 <= lat <= 90 and -180 <= lng <= 180)):
                raise FormError({"lat": "坐标要同时填写纬度（-90～90）和经度（-180～180）"})
            # A place is routed by the dry run itself, with the one routing function.
            found = dryrun.dry_run(get_settings(), township, a.get("category", ""), grid_id=grid_id, lat=lat, lng=lng)
            if found.route is not None and found.route.moved:
                if not admin().can_read(found.township.code):  # another unit's people are not shown
                    raise FormError({"lat": f"该位置在{found.township.name}的网格内，上报会改由{found.township.name}"
                                            "办理；该单位不在您的管理范围内"})
                township = found.township.code  # the location wins over the township picked
            result = found
            people = ladder.people_by_level(result.township.id, result.grid.id if result.grid else None)
        except ValueError:
            errors = {"lat": "网格和坐标应为数字"}
        except FormError as err:
            errors = err.errors
    return render_template("console/routing.html", townships=townships, categories=categories, grids=grids,
                           args=a, township=township, result=result, errors=errors,
                           people=people), 422 if errors else 200
