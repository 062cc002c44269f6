"""合并 (merge): a duplicate report goes on as another, the main one.

``合并 <编号> <主编号>`` (a group command) and the console's merge form both call :func:`merge`.
In one transaction: the duplicate becomes ``merged`` (``merged_into`` names the main report;
its timeline and its outbox event say so, which tells its reporter and followers in WeChat and
the group); its reporter and followers follow the main report; reports merged into the
duplicate earlier now point at the main one (a chain is flattened), and the main report's
timeline records the merge.

Refused: merging a report into itself, into a closed, rejected or resolved report, and across
units (both reports must belong to the same township or department).
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from miniapp_api.db import write_tx
from miniapp_api.models import Report
from miniapp_api.models import ReportSupport
from miniapp_api.reports import lifecycle
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import OPEN_STATUSES
from miniapp_api.reports.lifecycle import STATUS_LABELS
from miniapp_api.reports.lifecycle import Status
from miniapp_api.reports.support import follow

#: A chain longer than this is a broken database, not a county's duplicates.
MAX_CHAIN = 50


class MergeRefused(Exception):
    """The merge cannot be done; the message is the Chinese reason."""


def chain_end(report: Report) -> Report:
    """The report ``report`` finally goes on as: itself unless merged (merge chains followed)."""
    seen = 0
    while report.status == Status.MERGED and report.merged_into_id and seen < MAX_CHAIN:
        report = Report.get_by_id(report.merged_into_id)
        seen += 1
    return report


def merge(duplicate: Report, main: Report, actor: Actor, now: datetime, *,
          same_unit: Callable[[Report, Report], bool]) -> tuple[Report, Report]:
    """Merge ``duplicate`` into ``main`` (or into the report ``main`` was merged into);
    returns ``(duplicate, main)`` as the merge left them.

    ``same_unit(a, b)`` says whether the caller's unit holds both (a group: its township or
    department; the console: the report's township).
    """
    target = chain_end(main)
    if target.id == duplicate.id:
        raise MergeRefused(f"不能把 {duplicate.number} 合并到它自己。")
    if target.status not in OPEN_STATUSES:
        label = STATUS_LABELS.get(target.status, target.status)
        raise MergeRefused(f"主编号 {target.number} {label}，不能合并到已办结或已关闭的上报。")
    if duplicate.status not in OPEN_STATUSES:
        label = STATUS_LABELS.get(duplicate.status, duplicate.status)
        raise MergeRefused(f"{duplicate.number} {label}，只能合并未办结的上报。")
    if duplicate.township_id != target.township_id or not same_unit(duplicate, target):
        raise MergeRefused(f"{duplicate.number} 与 {target.number} 不属于同一单位，不能跨单位合并。")
    with write_tx():
        movers = [duplicate.resident_id] + [s.resident_id for s in ReportSupport.select(ReportSupport.resident)
                                            .where(ReportSupport.report == duplicate.id)]
        merged = lifecycle.apply(duplicate, Action.MERGE, actor, now,
                                 note=f"与 {target.number} 是同一问题，已合并，进展请看 {target.number}",
                                 changes={"merged_into": target.id})
        # Earlier duplicates of this one go on as the main report too (a chain is flattened).
        earlier = list(Report.select(Report.id, Report.resident).where(Report.merged_into == duplicate.id))
        Report.update(merged_into=target.id).where(Report.merged_into == duplicate.id).execute()
        movers += [r.resident_id for r in earlier]
        added = follow(target, movers, now)
        lifecycle.note_step(target, Action.MERGE, actor, now,
                            note=f"{duplicate.number} 已合并至此" + (f"，{added} 位居民随之关注" if added else ""))
        return merged, Report.get_by_id(target.id)
