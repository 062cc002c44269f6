"""Completion photos (办结照片): what an official shows of the finished work, kept apart from
the resident's own photos (上报照片).

They are :class:`~miniapp_api.models.ReportPhoto` rows at positions from
:data:`COMPLETION_PHOTO_POSITION` on, stored through the same checks as residents' photos
(:func:`miniapp_api.reports.uploads.save_upload`: format by content, pixel limit, re-encoding,
EXIF removed). They come from the console's 办结 form or from DingTalk: a picture sent to the
robot with a report number in the same message, or within
``[reports] completion_photo_window_minutes`` after the sender's ``办结 <编号>``.

A category marked ``needs_proof`` cannot be resolved without one (:func:`require_proof`).
Downloading a picture from DingTalk is the platform's business: composition registers how
with :func:`download_with`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from miniapp_api.config import Settings
from miniapp_api.errors import ApiError
from miniapp_api.models import Category
from miniapp_api.models import ReportPhoto
from miniapp_api.models import Report
from miniapp_api.models import Upload
from miniapp_api.reports import lifecycle
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.storage import LocalStorage
from miniapp_api.reports.photo_checks import ask_for_checks
from miniapp_api.reports.uploads import save_upload
from miniapp_api.reports.uploads import shown

log = logging.getLogger(__name__)

#: Completion photos are stored after the resident's own, from this position on.
COMPLETION_PHOTO_POSITION = 100
#: At most this many completion photos per report.
MAX_COMPLETION_PHOTOS = 9


class ProofMissing(Exception):
    """办结 of a ``needs_proof`` category without a completion photo; the message says so."""


def count(report: Report) -> int:
    """How many completion photos ``report`` has."""
    return (ReportPhoto.select().where((ReportPhoto.report == report.id)
                                       & (ReportPhoto.position >= COMPLETION_PHOTO_POSITION)).count())


def require_proof(report: Report, channel_hint: str, *, adding: int = 0) -> None:
    """Raise :class:`ProofMissing` when ``report``'s category needs a completion photo and it
    has none (``adding``: photos that come with this very 办结)."""
    category = Category.get_by_id(report.category_id)
    if category.needs_proof and not adding and count(report) == 0:
        raise ProofMissing(f"「{category.name}」类问题办结需要附办结照片，{channel_hint}")


#: The outbox event of completion photos that come after 办结: the resident (and everyone who
#: follows the report) is told in WeChat, as of a status change (``bridges.features.completion``).
LATE_PHOTOS_EVENT = "report.completion_photos"
#: Photos added in these statuses come after the resident was told of 办结.
_AFTER_RESOLVE = frozenset({lifecycle.Status.RESOLVED, lifecycle.Status.CLOSED})


def attach(report: Report, uploads: list[Upload], actor: Actor, now: datetime, *, step: bool = True) -> int:
    """Add ``uploads`` as completion photos of ``report`` (inside the caller's transaction);
    with ``step``, one timeline entry says so, and when the report is already resolved (or
    closed) its outbox event tells the resident and its followers. Returns how many were added."""
    have = count(report)
    room = max(0, MAX_COMPLETION_PHOTOS - have)
    added = 0
    for upload in uploads[:room]:
        if ReportPhoto.get_or_none((ReportPhoto.report == report.id) & (ReportPhoto.upload == upload.id)):
            continue  # the same picture twice is one photo
        ReportPhoto.create(report=report.id, upload=upload.id, position=COMPLETION_PHOTO_POSITION + have + added)
        ask_for_checks(report, [upload], now)  # WeChat's image check, by the worker
        added += 1
    if added and step:
        late = report.status in _AFTER_RESOLVE
        lifecycle.note_step(report, Action.PROOF, actor, now, note=f"附办结照片 {added} 张",
                            event_kind=LATE_PHOTOS_EVENT if late else None,
                            payload={"to": report.status, "added": added, "total": have + added})
    return added


def photos_by_report(report_ids: list[int]) -> tuple[dict[int, list[Upload]], dict[int, list[Upload]]]:
    """``(resident photos, completion photos)`` of some reports, in order, by report id (one query)."""
    own: dict[int, list[Upload]] = {rid: [] for rid in report_ids}
    done: dict[int, list[Upload]] = {rid: [] for rid in report_ids}
    if report_ids:
        rows = (ReportPhoto.select(ReportPhoto.report, ReportPhoto.position, Upload).join(Upload)
                .where(ReportPhoto.report.in_(report_ids) & shown())
                .order_by(ReportPhoto.report, ReportPhoto.position))
        for row in rows:
            (done if row.position >= COMPLETION_PHOTO_POSITION else own)[row.report_id].append(row.upload)
    return own, done


# --- pictures sent to the DingTalk robot -------------------------------------------------------

#: ``download(settings, download_code, robot_code) -> bytes``, registered by composition.
Download = Callable[[Settings, str, str], bytes]
_DOWNLOAD: list[Download] = []
_DOWNLOAD_ERRORS: list[type[Exception]] = []


def download_with(download: Download, errors: tuple[type[Exception], ...]) -> None:
    """Register how pictures sent to the robot are downloaded, and the errors that means failed."""
    _DOWNLOAD[:] = [download]
    _DOWNLOAD_ERRORS[:] = list(errors)


def fetch_pictures(settings: Settings, codes: tuple[str, ...], robot_code: str) -> tuple[list[Upload], str]:
    """Download, check and store the pictures of a message (outside any transaction).

    Returns the stored uploads and, when some could not be used, a Chinese sentence saying why.
    """
    if not _DOWNLOAD:
        return [], "平台未配置钉钉图片下载，无法接收图片。"
    storage = LocalStorage(settings.uploads.dir)
    uploads, problem = [], ""
    for code in codes[:MAX_COMPLETION_PHOTOS]:
        try:
            data = _DOWNLOAD[0](settings, code, robot_code or settings.dingtalk.app_key)
            uploads.append(save_upload(storage, settings.uploads, None, data))
        except tuple(_DOWNLOAD_ERRORS) as err:
            log.warning("could not download a picture sent to the robot: %s", type(err).__name__)
            problem = "图片下载失败，请稍后重新发送。"
        except ApiError as err:
            problem = f"图片无法使用：{err.message}"
    return uploads, problem
