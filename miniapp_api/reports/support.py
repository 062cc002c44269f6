"""我也遇到 (support): a resident follows a report that is not their own.

A follower gets the report's WeChat notifications (``bridges.routing`` sends its status changes
to every follower too) and finds it in ``GET /reports?mine=true`` with ``relation: following``.
Pressing twice counts once: one :class:`~miniapp_api.models.ReportSupport` row per resident and
report (a unique index), and ``report.supporters`` moves with the row in the same transaction.
How supporters raise a report's priority is written in docs/reports.md.
"""
from __future__ import annotations

from datetime import datetime

from peewee import IntegrityError

from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.errors import NotFound
from miniapp_api.models import Report
from miniapp_api.models import ReportSupport
from miniapp_api.models import Resident
from miniapp_api.reports.lifecycle import InvalidTransition
from miniapp_api.reports.lifecycle import STATUS_LABELS
from miniapp_api.reports.lifecycle import Status
from miniapp_api.reports.service import get_own_report

#: A report in one of these can no longer be supported.
UNSUPPORTABLE = frozenset({Status.CLOSED, Status.REJECTED, Status.MERGED})


def visible(number: str) -> Report | None:
    """Report ``number`` if residents may see it at all (it passed the content check)."""
    return Report.get_or_none((Report.number == number) & Report.moderation.in_(["pass", "review"]))


def follow(report: Report, resident_ids: list[int], now: datetime) -> int:
    """Make residents follow ``report`` (inside the caller's transaction), skipping its own
    reporter and those who already do; returns how many new followers it got."""
    added = 0
    for rid in dict.fromkeys(resident_ids):
        if rid == report.resident_id:
            continue
        try:
            with database.atomic():  # a savepoint: a duplicate row rolls back alone
                ReportSupport.create(report=report.id, resident=rid, created_at=now)
            added += 1
        except IntegrityError:
            continue
    if added:
        Report.update(supporters=Report.supporters + added).where(Report.id == report.id).execute()
    return added


def support(resident: Resident, number: str, now: datetime) -> Report:
    """The resident presses 我也遇到 on report ``number``; returns the report with its count.

    Idempotent per resident; the reporter's own press changes nothing. 404 for an unknown
    number, :class:`InvalidTransition` for a closed, rejected or merged report.
    """
    report = visible(number)
    if report is None:
        raise NotFound("找不到这条上报", code="report_not_found")
    with write_tx():
        report = Report.get_by_id(report.id)  # the status as of now, inside the lock
        if report.status in UNSUPPORTABLE:
            label = STATUS_LABELS.get(report.status, report.status)
            hint = f"，请关注 {Report.get_by_id(report.merged_into_id).number}" if report.merged_into_id else ""
            raise InvalidTransition(f"该问题{label}，不能再点“我也遇到”{hint}")
        follow(report, [resident.id], now)
        return Report.get_by_id(report.id)


def following_ids(resident_id: int) -> set[int]:
    """The ids of the reports a resident follows."""
    return {r.report_id for r in ReportSupport.select(ReportSupport.report).where(ReportSupport.resident == resident_id)}


def followers(report_id: int) -> list[int]:
    """The residents following a report (not its reporter), in the order they pressed."""
    return [r.resident_id for r in ReportSupport.select(ReportSupport.resident)
            .where(ReportSupport.report == report_id).order_by(ReportSupport.id)]


def own_or_followed(resident: Resident, number: str) -> Report:
    """Report ``number`` if it is the resident's own or one they follow; 404 otherwise, with no
    hint that it exists."""
    try:
        return get_own_report(resident, number)
    except NotFound:
        report = visible(number)
        if report is None or not ReportSupport.select().where(
                (ReportSupport.report == report.id) & (ReportSupport.resident == resident.id)).exists():
            raise
        return report
