"""WeChat's image check of report photos (mediaCheckAsync v2), from request to verdict.

1. **Asked for through the outbox.** When photos are attached to a report (the resident's own at
   submission, an official's 办结照片 later), :func:`ask_for_checks` records a
   ``report.photo_check`` event in the same transaction. The worker runs it
   (``system:photo_check``, :func:`run_checks`): never inside a request.
2. **Requested.** For each photo still ``unchecked`` the worker calls ``mediaCheckAsync`` with
   the photo's public ``/media/<key>`` URL and the openid of the resident it comes from (for a
   completion photo: the report's resident, who will see it), and stores ``pending`` with the
   ``trace_id``. A picture already judged (the same content, uploaded again) takes that
   verdict without asking again; one already pending waits for the same verdict. WeChat
   checks only for a user who used the mini-program in the last two hours or so; a photo it
   refuses to check for that reason (:class:`~miniapp_api.reports.moderation.CannotCheck`,
   often an official's completion photo days after the report) is settled as ``review``: it
   stays, and group cards show it as a link, as when WeChat is unsure.
3. **Judged.** WeChat pushes the verdict to ``/callbacks/wechat`` within 30 minutes;
   :func:`record_verdict` applies it once per trace_id, to every upload of that content.
   ``pass`` and ``review`` keep the photo; ``risky`` withdraws it: hidden from every view
   (:func:`miniapp_api.reports.uploads.shown`, and ``/media`` answers 410), its files deleted,
   and for each report that showed it one timeline step 撤下照片 with a ``report.photo_withdrawn``
   event, which tells the groups that saw the report and (for the resident's own photo) the
   resident, by subscribe message when they hold a consent; the timeline tells them anyway.

The WeChat client is passed in by the worker (``media_check_async(media_url=, openid=, scene=)``
returning a trace_id); this module imports no platform.
"""
from __future__ import annotations

import logging
from datetime import datetime

from miniapp_api import outbox
from miniapp_api.db import write_tx
from miniapp_api.models import Report
from miniapp_api.models import ReportPhoto
from miniapp_api.models import Upload
from miniapp_api.reports import lifecycle
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.moderation import CannotCheck
from miniapp_api.reports.storage import LocalStorage
from miniapp_api.reports.uploads import media_keys
from miniapp_api.reports.uploads import photo_out

log = logging.getLogger(__name__)

#: The outbox event that asks the worker to request checks, and the one a withdrawal makes.
CHECK_EVENT = "report.photo_check"
WITHDRAWN_EVENT = "report.photo_withdrawn"
#: The scene WeChat judges report photos in (3: 论坛, as for a report's text).
SCENE = 3
#: States a verdict may still change.
OPEN_STATES = ("unchecked", "pending")
VERDICTS = ("pass", "review", "risky")
CHECKER = "内容安全检测"


def ask_for_checks(report: Report, uploads: list[Upload], now: datetime) -> None:
    """Ask the worker to have ``uploads`` (just attached to ``report``) checked: one outbox
    event, inside the caller's transaction. Nothing is recorded for no uploads."""
    ids = [u.id for u in uploads if u.moderation in OPEN_STATES]
    if ids:
        outbox.record(CHECK_EVENT, {"number": report.number, "uploads": ids}, report=report, now=now)


def ask_for_unchecked(now: datetime, *, dry_run: bool = False) -> tuple[int, int]:
    """Ask for the check of every report photo still ``unchecked``: those stored before the
    checks existed (migration v010) were never asked for. One event per report, each in its
    own transaction; returns ``(reports, photos)``. Asking twice is harmless: the worker
    requests only photos still ``unchecked`` (:func:`run_checks`). ``dry_run`` only counts."""
    rows = (ReportPhoto.select(ReportPhoto.report, ReportPhoto.upload)
            .join(Upload).where(Upload.moderation == "unchecked")
            .order_by(ReportPhoto.report, ReportPhoto.position).tuples())
    by_report: dict[int, list[str]] = {}
    for report_id, upload_id in rows:
        by_report.setdefault(report_id, []).append(upload_id)
    if not dry_run:
        for report_id, upload_ids in by_report.items():
            with write_tx():
                report = Report.get_by_id(report_id)
                outbox.record(CHECK_EVENT, {"number": report.number, "uploads": upload_ids}, report=report, now=now)
    return len(by_report), sum(len(ids) for ids in by_report.values())


def run_checks(report: Report, upload_ids: list[str], wechat, base_url: str, now: datetime) -> int:
    """The worker's task: request WeChat's check of each photo still ``unchecked``; returns
    how many were requested. A failure (``bridges.errors``) propagates, so the worker retries;
    photos already requested are not requested again."""
    requested = 0
    for upload in Upload.select().where(Upload.id.in_(upload_ids)):
        if upload.moderation != "unchecked":
            continue
        if _follow_same_content(upload, now):
            continue
        openid = (upload.resident.openid if upload.resident_id else Report.get_by_id(report.id).resident.openid)
        try:
            trace_id = wechat.media_check_async(media_url=photo_out(upload, base_url)["url"], openid=openid,
                                                scene=SCENE)
        except CannotCheck:
            # Asking again for the same user cannot help until they come back; never leave the
            # photo waiting for good. Only this upload: another of the same picture may still
            # get WeChat's own verdict.
            with write_tx():
                (Upload.update(moderation="review")
                 .where((Upload.id == upload.id) & (Upload.moderation == "unchecked")).execute())
            log.warning("photo check of upload %s refused (user not active lately): settled as review", upload.id)
            continue
        with write_tx():
            (Upload.update(moderation="pending", moderation_trace_id=trace_id)
             .where((Upload.id == upload.id) & (Upload.moderation == "unchecked")).execute())
        requested += 1
    return requested


def _follow_same_content(upload: Upload, now: datetime) -> bool:
    """Give ``upload`` the verdict of the same picture uploaded before (or wait for its pending
    one); returns whether no request of its own is needed."""
    twin = (Upload.select(Upload.moderation).where((Upload.sha256 == upload.sha256) & (Upload.id != upload.id)
                                                   & (Upload.moderation.in_(("pending",) + VERDICTS)))
            .order_by(Upload.moderation.desc()).first())  # risky, review, pending, pass: the strictest first
    if twin is None:
        return False
    if twin.moderation == "pending":
        with write_tx():
            (Upload.update(moderation="pending")
             .where((Upload.id == upload.id) & (Upload.moderation == "unchecked")).execute())
        return True
    _apply(upload.sha256, twin.moderation, now)
    return True


def record_verdict(trace_id: str, suggest: str, now: datetime) -> str:
    """Apply a pushed verdict (in one transaction, nested in the caller's if any); returns
    ``recorded``, ``duplicate`` (this trace_id was judged already: nothing changes) or
    ``unknown`` (no photo waits for it: ignored). After a risky one is committed, call
    :func:`remove_files`."""
    if suggest not in VERDICTS:
        raise ValueError(f"unknown verdict {suggest!r}")
    upload = Upload.get_or_none(Upload.moderation_trace_id == trace_id)
    if upload is None:
        return "unknown"
    if upload.moderation != "pending" or not _apply(upload.sha256, suggest, now, trace_id=trace_id):
        return "duplicate"
    return "recorded"


def remove_files(trace_id: str, storage: LocalStorage) -> int:
    """Delete the stored files of the picture a risky verdict (for ``trace_id``) withdrew;
    returns how many files were removed (none unless it was judged risky)."""
    upload = Upload.get_or_none((Upload.moderation_trace_id == trace_id) & (Upload.moderation == "risky"))
    if upload is None:
        return 0
    keys = media_keys(upload)
    for key in keys:
        storage.delete(key)
    return len(keys)


def _apply(sha256: str, suggest: str, now: datetime, *, trace_id: str | None = None) -> bool:
    """Set the verdict on every upload of this content still open, and withdraw a risky one from
    the reports that show it, in one transaction; returns whether anything changed."""
    with write_tx():
        match = (Upload.sha256 == sha256) & (Upload.moderation.in_(OPEN_STATES))
        if trace_id is not None:  # the push's own upload must still be waiting: one effect per trace_id
            if not Upload.select().where((Upload.moderation_trace_id == trace_id)
                                         & (Upload.moderation == "pending")).exists():
                return False
        ids = [u.id for u in Upload.select(Upload.id).where(match)]
        if not ids:
            return False
        Upload.update(moderation=suggest).where(Upload.id.in_(ids) & Upload.moderation.in_(OPEN_STATES)).execute()
        if suggest == "risky":
            _withdraw(ids, now)
    log.info("photo check: %d upload(s) judged %s", len(ids), suggest)
    return True


def _withdraw(upload_ids: list[str], now: datetime) -> None:
    """One 撤下照片 step (timeline entry and outbox event) per report showing these uploads."""
    rows = (ReportPhoto.select(ReportPhoto.report, Upload.resident).join(Upload)
            .where(ReportPhoto.upload.in_(upload_ids)))
    by_report: dict[int, list[bool]] = {}
    for row in rows:
        by_report.setdefault(row.report_id, []).append(row.upload.resident_id is not None)
    for report_id, owners in by_report.items():
        report = Report.get_by_id(report_id)
        own = any(owners)
        whose = "上报" if own else "办结"
        note = f"{len(owners)} 张{whose}照片未通过微信内容安全检测，已撤下"
        lifecycle.note_step(report, Action.WITHDRAW_PHOTO, Actor.system(CHECKER), now, note=note,
                            event_kind=WITHDRAWN_EVENT, payload={"count": len(owners), "own": own})
