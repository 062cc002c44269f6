"""Photo uploads: check, clean and store a photo, and the public URLs of a stored one.

A resident uploads each photo on its own (``POST /api/v1/uploads``, see
:mod:`miniapp_api.web.uploads`) and then names the returned ids in ``POST /api/v1/reports``.
The photo is checked and cleaned by :mod:`.images` (format judged by content, pixel limit,
EXIF/GPS removed), stored by content in :mod:`.storage`, and recorded as an
:class:`~miniapp_api.models.Upload` row owned by the resident.

Refusals (CONTRACT §3), raised as :class:`~miniapp_api.errors.ApiError`:

* 413 ``file_too_large`` — more than ``uploads.max_bytes``;
* 415 ``unsupported_media_type`` — not a JPEG, PNG or WebP by content, or an empty file;
* 422 ``invalid_image`` — truncated or corrupt, or more pixels than ``uploads.max_pixels``
  (a size the picture *is*, not a size of the upload, hence 422 rather than 413);
* 429 ``upload_limit_exceeded`` — the resident already uploaded ``uploads.daily_limit_per_resident``
  photos today (Beijing time);
* 503 ``uploads_busy`` — no decode slot of this process came free within
  ``uploads.decode_wait_seconds`` (see :func:`miniapp_api.reports.images.run_decode`).

Uploads no report uses (a resident who gave up half-way) are removed by
:func:`remove_orphans` once older than ``uploads.orphan_max_age_hours``; the worker runs it.

Stored files are served from ``/media/<key>`` (:mod:`miniapp_api.web.uploads`). Keys are
SHA-256 hashes of content, so a URL can only be known by someone who was given it.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from datetime import datetime
from datetime import timedelta
from typing import BinaryIO

from miniapp_api.reports import images
from miniapp_api.config import UploadsSettings
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.errors import PayloadTooLarge
from miniapp_api.errors import ServiceUnavailable
from miniapp_api.errors import TooManyRequests
from miniapp_api.errors import UnsupportedMediaType
from miniapp_api.models import Notice
from miniapp_api.models import ReportPhoto
from miniapp_api.models import Resident
from miniapp_api.models import Upload
from miniapp_api.models import utcnow
from miniapp_api.time import LOCAL_TZ
from miniapp_api.reports.storage import LocalStorage
from miniapp_api.reports.storage import image_key
from miniapp_api.reports.storage import thumb_key

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def photo_out(upload: Upload, base_url: str) -> dict:
    """The public URLs of an uploaded photo and its thumbnail."""
    sha = upload.sha256
    return {
        "url": f"{base_url}{LocalStorage.url_path(image_key(sha, _EXTENSIONS[upload.content_type]))}",
        "thumbnail_url": f"{base_url}{LocalStorage.url_path(thumb_key(sha))}",
    }


def media_keys(upload: Upload) -> tuple[str, str]:
    """The storage keys of an upload's photo and its thumbnail."""
    return image_key(upload.sha256, _EXTENSIONS[upload.content_type]), thumb_key(upload.sha256)


def shown():
    """The condition every view of photos adds: a photo WeChat's image check judged risky
    (withdrawn, :mod:`miniapp_api.reports.photo_checks`) is never shown."""
    return Upload.moderation != "risky"


def media_state(sha256: str) -> str:
    """What ``/media`` may promise about the picture with this content: ``withdrawn`` (judged
    risky: 410), ``final`` (every upload of it passed WeChat's image check, so it stays as it
    is and may be cached for good) or ``open`` (not checked yet, waiting for a verdict or a
    person's review, or a picture from before the checks: it may still be withdrawn)."""
    verdicts = {m for (m,) in Upload.select(Upload.moderation).where(Upload.sha256 == sha256).distinct().tuples()}
    if "risky" in verdicts:
        return "withdrawn"
    return "final" if verdicts == {"pass"} else "open"


def _size_text(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


log = logging.getLogger(__name__)


def _check_daily_quota(resident: Resident, limit: int, now: datetime) -> None:
    midnight = now.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    count = Upload.select().where((Upload.resident == resident) & (Upload.created_at >= midnight)).count()
    if count >= limit:
        raise TooManyRequests(f"今天已上传 {count} 张照片，已达每日上限，请明天再传", code="upload_limit_exceeded")


def _process(settings: UploadsSettings, data: bytes) -> images.ProcessedImage:
    if len(data) > settings.max_bytes:
        raise PayloadTooLarge(f"图片太大，不能超过 {_size_text(settings.max_bytes)}", code="file_too_large")
    try:
        return images.process_image(data, max_pixels=settings.max_pixels, thumbnail_px=settings.thumbnail_px)
    except images.UnsupportedImage as err:
        raise UnsupportedMediaType(str(err), code="unsupported_media_type") from None
    except images.InvalidImage as err:
        raise ApiError(str(err), code="invalid_image", status=422) from None


def save_upload(storage: LocalStorage, settings: UploadsSettings, resident: Resident | None,
                data: bytes | BinaryIO) -> Upload:
    """Check and clean ``data`` (bytes, or a stream read inside the decode slot), store the
    photo and its thumbnail, record the upload. A resident's uploads count against their
    daily quota; ``resident`` None is an official's or an administrator's picture.

    :raises ApiError: 413 / 415 / 422 / 429 / 503 as listed in the module docstring.
    """
    if resident is not None:
        _check_daily_quota(resident, settings.daily_limit_per_resident, utcnow())
    def decode() -> images.ProcessedImage:
        return _process(settings, data if isinstance(data, bytes) else data.read(settings.max_bytes + 1))

    try:
        image = images.run_decode(decode, concurrency=settings.concurrent_decodes,
                                  wait_seconds=settings.decode_wait_seconds)
    except images.Busy:
        raise ServiceUnavailable("上传的照片太多，请稍后再试", code="uploads_busy") from None
    sha = hashlib.sha256(image.data).hexdigest()
    # Files first, row second: a crash in between leaves an unreferenced file (harmless,
    # and the next upload of the same picture reuses it), never a row without its file.
    storage.put(image.data, image_key(sha, image.ext))
    storage.put(image.thumb, thumb_key(sha))
    with write_tx():
        return Upload.create(id=secrets.token_urlsafe(16), resident=resident, sha256=sha,
                             content_type=image.content_type, width=image.width, height=image.height,
                             size=len(image.data), created_at=utcnow())


def remove_orphans(storage: LocalStorage, settings: UploadsSettings, now: datetime) -> int:
    """Remove residents' uploads older than ``orphan_max_age_hours`` that no report uses (and
    no notice names), and their files when no other upload shares them; returns how many.

    Officials' and administrators' pictures (no resident) are left alone.
    """
    cutoff = now - timedelta(hours=settings.orphan_max_age_hours)
    used = ReportPhoto.select(ReportPhoto.upload)
    candidates = list(Upload.select().where((Upload.resident.is_null(False)) & (Upload.created_at < cutoff)
                                            & (Upload.id.not_in(used))).limit(1000))
    if not candidates:
        return 0
    in_notices = {str(i) for n in Notice.select(Notice.images) for i in (n.images or [])}
    doomed = [u for u in candidates if u.id not in in_notices]
    with write_tx():
        # Re-checked in the delete itself: a report may have taken one meanwhile.
        removed = (Upload.delete().where((Upload.id.in_([u.id for u in doomed])) & (Upload.id.not_in(used)))
                   .execute()) if doomed else 0
    for u in doomed:
        if not Upload.select().where(Upload.sha256 == u.sha256).exists():
            storage.delete(image_key(u.sha256, _EXTENSIONS[u.content_type]))
            storage.delete(thumb_key(u.sha256))
    if removed:
        log.info("removed %d unused uploads", removed)
    return removed


class _OrphanPass:
    """When this process last removed orphans, per uploads directory: the worker calls the
    pass on every round, and it works at most once an hour."""

    last_run: dict[str, datetime] = {}


ORPHAN_PASS_INTERVAL = timedelta(hours=1)


def orphan_pass(now: datetime, *, settings) -> int:
    """The worker's periodic pass: :func:`remove_orphans`, at most once an hour per process."""
    last = _OrphanPass.last_run.get(settings.uploads.dir)
    if last is not None and timedelta(0) <= now - last < ORPHAN_PASS_INTERVAL:
        return 0
    _OrphanPass.last_run[settings.uploads.dir] = now
    return remove_orphans(LocalStorage(settings.uploads.dir), settings.uploads, now)
