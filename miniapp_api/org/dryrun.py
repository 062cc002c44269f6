"""The routing dry run: "a report of this category at this place would go to this grid, this
official, this group", without writing anything. The grid (and, by its location, the township)
comes from the one routing function, ``miniapp_api.org.routing.route``, exactly as a
submission's; the card and its mentions from the same code the worker uses (through the
bridge's :class:`~miniapp_api.groups.gateway.GroupGateway`).

It lives beside the routing it calls: ``org`` builds on ``groups``, not the other way round."""
from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field

from miniapp_api.config import Settings
from miniapp_api.db import database
from miniapp_api.models import Category
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api.models.console import MappingPolicy
from miniapp_api.groups import gateway
from miniapp_api.groups.owners import owner
from miniapp_api.groups.snapshots import mask_webhook
from miniapp_api.org import routing
from miniapp_api.validation import FormError


@dataclass
class DryRun:
    """Where a report of a category at a place would go: grid, officials, group, card."""

    township: Township
    category: Category
    level_label: str
    grid: Grid | None
    grid_how: str
    officials: list[Official]
    target: str
    group_label: str
    group_detail: str
    group_ok: bool
    urgent: bool
    preview: str = ""
    notes: list[str] = field(default_factory=list)
    route: routing.Route | None = None  # how the place was routed (None: a grid was chosen, or no place)


def dry_run(settings: Settings, township_code: str, category_code: str, *, grid_id: int | None = None,
            lat: float | None = None, lng: float | None = None) -> DryRun:
    """Where a report would go, computed on an unsaved report; nothing is written."""
    township = Township.get_or_none(Township.code == township_code)
    category = Category.get_or_none(Category.code == category_code)
    errors = {}
    if township is None:
        errors["township"] = "请选择乡镇/街道"
    if category is None:
        errors["category"] = "请选择问题类别"
    if errors:
        raise FormError(errors)
    grid, how, route = None, "未指定网格：按乡镇/街道值班人员提醒", None
    if grid_id:
        grid = (Grid.select(Grid).join(Community).where((Grid.id == grid_id) & (Community.township == township.id)).first())
        if grid is None:
            raise FormError({"grid": "该网格不属于所选乡镇/街道"})
        how = "按所选网格"
    elif lat is not None and lng is not None:
        # The one routing function, as a submission calls it (no resident here: no home grid).
        route = routing.route(lat, lng, township=township, max_metres=settings.routing.nearest_grid_max_metres)
        if route.moved:  # the location lies in another township's grid: the location wins
            township = Township.get_by_id(route.township.id)
        if route.grid is not None:
            grid = Grid.select(Grid, Community).join(Community).where(Grid.id == route.grid.id).first()
        how = route.note()
    report = Report(number="DRYRUN-0001", township=township, category=category, grid=grid, level=category.level,
                    description="（路由试算）", lat=lat or 0.0, lng=lng or 0.0, address="（路由试算）",
                    anonymous=False, status="pending", moderation="pass", urgent=bool(township.emergency))
    with database.atomic() as tx:  # read-only by construction; the rollback makes sure of it
        answer = gateway.current().preview_new_report(report, settings)
        targets = answer.targets
        mobiles = list(answer.mention_mobiles)
        officials = []
        if mobiles:  # any level's people (a community's, the county's): a mobile names one active official
            found = Official.select().where(Official.active & Official.mobile.in_(mobiles)).order_by(Official.id.desc())
            by_mobile = {o.mobile: o for o in found}
            officials = [by_mobile[m] for m in mobiles if m in by_mobile]
        preview = answer.markdown
        for m in mobiles:  # the page shows whom, not their full numbers
            preview = preview.replace(m, f"{m[:3]}****{m[-4:]}")
        tx.rollback()
    target = targets[0] if targets else "（无）"
    label, detail, ok = describe_target(target, settings)
    notes = []
    if township.emergency:
        notes.append("该单位处于应急模式：上报标记为紧急。")
    if not officials:
        notes.append("没有可 @ 的值班人员（网格没有 A/B 岗、人员请假或没有手机号，或提醒方式为不 @）。")
    return DryRun(township, category, answer.level_label or category.level, grid, how, officials,
                  target, label, detail, ok, bool(township.emergency), preview, notes, route)


def describe_target(target: str, settings: Settings) -> tuple[str, str, bool]:
    """The target as the page names it, its detail (masked) and whether it can receive now."""
    if target == "dingtalk:staging":
        return "全局演练群（配置文件 dingtalk.staging_webhook）", mask_webhook(settings.dingtalk.staging_webhook), True
    try:
        _, kind, code = target.split(":", 2)
    except ValueError:
        return target, "", False
    unit = owner(kind, code)
    name = unit.name if unit else code
    staging = MappingPolicy.get_or_none((MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == code))
    if staging and staging.staging_enabled and staging.staging_webhook:
        return f"{name} 的演练群（演练开关已开启）", mask_webhook(staging.staging_webhook), True
    m = GroupMapping.get_or_none((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code))
    if m is None:
        return f"{name}（尚未绑定钉钉群：消息会等待，直到绑定）", "", False
    if m.broken_reason:
        return f"{name}（钉钉群不可用：{m.broken_reason}；消息会等待，直到重新绑定）", m.chat_id or "", False
    if not m.enabled:
        return f"{name}（钉钉群已停用：消息会等待，直到启用）", mask_webhook(m.webhook), False
    if m.chat_id:
        return f"{name} 钉钉群（应用发送）", f"conversation id {m.conversation_id} · chat_id {m.chat_id}", True
    return f"{name} 钉钉群", f"conversation id {m.conversation_id} · {mask_webhook(m.webhook)}", True
