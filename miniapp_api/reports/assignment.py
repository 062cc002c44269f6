"""指派网格 and the township's 待办 by grid: the grid a report belongs to, set by people.

A report is routed to a grid at submission (``miniapp_api.org.routing``); when no rule found
one (待指派网格) or it found the wrong one, township staff set it with ``指派 <编号> <网格名>``
in their group, or in the console. The grid's A post (B when A is away; the next level up,
said plainly, when nobody there can act) is mentioned at once, through the outbox, in the same
transaction as the change and its timeline entry.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from miniapp_api.groups import duty
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.models import Township
from miniapp_api.org.levels import LEVEL_LABELS
from miniapp_api.reports import lifecycle
from miniapp_api.reports.lifecycle import OPEN_STATUSES
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import Actor

#: What a report without a grid is called (the timeline, 待办, the console).
UNASSIGNED = "待指派网格"
#: Who may 指派 in a group: the township's staff (and the county's).
ASSIGNING_ROLES = ("township_staff", "county_staff")


class AssignRefused(Exception):
    """The grid cannot be set; the message is the Chinese reply."""


def grid_label(grid: Grid | None) -> str:
    """``人民社区 第2网格``, or 待指派网格."""
    return f"{grid.community.name} {grid.name}" if grid is not None else UNASSIGNED


def find_grid(township_id: int, text: str) -> Grid:
    """The township's grid named ``text``: ``第2网格``, or ``人民社区 第2网格`` (also with
    ``/`` or ``·``) when two communities have a grid of that name."""
    text = " ".join(text.replace("/", " ").replace("·", " ").replace("／", " ").split())
    grids = list(Grid.select(Grid, Community).join(Community)
                 .where((Community.township == township_id) & (Grid.name == text)))
    if not grids and " " in text:
        community, name = text.rsplit(" ", 1)
        grids = list(Grid.select(Grid, Community).join(Community)
                     .where((Community.township == township_id) & (Community.name == community) & (Grid.name == name)))
    if len(grids) == 1:
        return grids[0]
    if len(grids) > 1:
        options = "、".join(grid_label(g) for g in grids[:5])
        raise AssignRefused(f"有 {len(grids)} 个网格叫「{text[:30]}」（{options}），请写成「村/社区名 网格名」。")
    raise AssignRefused(f"本单位没有名为「{text[:30]}」的网格。请按花名册中的网格名称填写，"
                        f"同名网格可写「村/社区名 网格名」。")


def assign(report: Report, grid: Grid, actor: Actor, now: datetime) -> str:
    """Set ``report``'s grid (inside the caller's transaction): one timeline entry and one
    ``report.assigned`` event that mentions the grid's A post. Returns whom it names."""
    if report.status not in OPEN_STATUSES:
        raise AssignRefused(f"编号 {report.number} 已{lifecycle.STATUS_LABELS.get(report.status, report.status)}，"
                            f"不能再指派网格。")
    if grid.community.township_id != report.township_id:
        raise AssignRefused("只能指派到本乡镇/街道的网格。")
    if report.grid_id == grid.id:
        raise AssignRefused(f"编号 {report.number} 已在{grid_label(grid)}，无需指派。")
    before = grid_label(Grid.select(Grid, Community).join(Community).where(Grid.id == report.grid_id).first()
                        if report.grid_id else None)
    Report.update(grid=grid.id, updated_at=now).where(Report.id == report.id).execute()
    report.grid = grid
    found = duty.reach("grid", township_id=report.township_id, grid_id=grid.id)
    officials = found.on_duty()
    who = _who(found, officials)
    note = f"指派至{grid_label(grid)}（原为{before}），提醒{who}"
    township = Township.get_by_id(report.township_id)
    lifecycle.note_step(report, Action.ASSIGN, actor, now, note=note, event_kind="report.assigned", payload={
        "grid": grid.name, "community": grid.community.name, "previous": before, "township": township.code,
        "township_name": township.name, "category": report.category.name, "level": report.level,
        "mobiles": list(dict.fromkeys(o.mobile for o in officials if o.mobile)),
        "names": "、".join(o.name for o in officials), "who": who, "reached_level": found.by,
        "actor": actor.name})
    return who


def _who(found: duty.Reach, officials: list[Official]) -> str:
    """``网格A岗网格甲``, or the level that stands in, said plainly."""
    names = "、".join(f"{o.duty_post}岗{o.name}" for o in officials)
    if not found.stands_in:
        return f"网格{names}"
    if not found.by:
        return "网格及上级均无人在岗（未登记A/B岗），请在花名册中登记"
    return f"网格无人在岗（未登记A/B岗或请假），由{LEVEL_LABELS.get(found.by, found.by)}{names}处理"


# --- 待办 by grid -----------------------------------------------------------------------------


def own_grids(official: Official) -> set[int]:
    """The grids an official answers for: their grid, or every grid of their community."""
    if official.grid_id:
        return {official.grid_id}
    if official.community_id:
        return {g.id for g in Grid.select(Grid.id).where(Grid.community == official.community_id)}
    return set()


def accepted_by(official: Official, report_ids: list[int]) -> set[int]:
    """Which of the reports ``official`` accepted (their DingTalk id in the timeline)."""
    if not official.dingtalk_user_id or not report_ids:
        return set()
    return {e.report_id for e in TimelineEntry.select(TimelineEntry.report)
            .where(TimelineEntry.report.in_(report_ids) & (TimelineEntry.action == "accept")
                   & (TimelineEntry.actor_id == official.dingtalk_user_id))}


def by_grid(rows: list[Report], official: Official) -> list[tuple[str, bool, list[Report]]]:
    """The rows grouped by grid as ``(label, own, reports)``: the official's own first (the
    grids they answer for, and reports they accepted), then each grid in the rows' order,
    then 待指派网格. Within a group the rows keep their order."""
    grids = {g.id: g for g in Grid.select(Grid, Community).join(Community)
             .where(Grid.id.in_([r.grid_id for r in rows if r.grid_id] or [0]))}
    mine = own_grids(official)
    accepted = accepted_by(official, [r.id for r in rows])
    groups: dict[object, list[Report]] = defaultdict(list)
    order: list[object] = []
    own_rows = [r for r in rows if r.id in accepted and r.grid_id not in mine]
    own_ids = {r.id for r in own_rows}
    for r in rows:
        if r.id in own_ids:
            continue
        key = r.grid_id or UNASSIGNED
        if key not in groups:
            order.append(key)
        groups[key].append(r)
    out: list[tuple[str, bool, list[Report]]] = []
    if own_rows:
        out.append(("您受理的", True, own_rows))
    own_keys = [k for k in order if k in mine]
    rest = [k for k in order if k not in mine and k != UNASSIGNED]
    for key in own_keys + rest:
        out.append((grid_label(grids.get(key)), key in mine, groups[key]))
    if UNASSIGNED in groups:
        out.append((UNASSIGNED, False, groups[UNASSIGNED]))
    return out
