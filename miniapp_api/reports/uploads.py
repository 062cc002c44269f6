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
  (a size the picture *is*, not a size of the upload, hence 422 rather than 413).

Stored files are served from ``/media/<key>`` (:mod:`miniapp_api.web.uploads`). Keys are
SHA-256 hashes of content, so a URL can only be known by someone who was given it.
"""
from __future__ import annotations

import hashlib
import secrets

from miniapp_api.reports import images
from miniapp_api.config import UploadsSettings
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.errors import PayloadTooLarge
from miniapp_api.errors import UnsupportedMediaType
from miniapp_api.models import Resident
from miniapp_api.models import Upload
from miniapp_api.models import utcnow
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


def _size_text(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def save_upload(storage: LocalStorage, settings: UploadsSettings, resident: Resident, data: bytes) -> Upload:
    """Check and clean ``data``, store the photo and its thumbnail, record the upload.

    :raises ApiError: 413 / 415 / 422 as listed in the module docstring.
    """
    if len(data) > settings.max_bytes:
        raise PayloadTooLarge(f"图片太大，不能超过 {_size_text(settings.max_bytes)}", code="file_too_large")
    try:
        image = images.process_image(data, max_pixels=settings.max_pixels, thumbnail_px=settings.thumbnail_px)
    except images.UnsupportedImage as err:
        raise UnsupportedMediaType(str(err), code="unsupported_media_type") from None
    except images.InvalidImage as err:
        raise ApiError(str(err), code="invalid_image", status=422) from None
    sha = hashlib.sha256(image.data).hexdigest()
    # Files first, row second: a crash in between leaves an unreferenced file (harmless,
    # and the next upload of the same picture reuses it), never a row without its file.
    storage.put(image.data, image_key(sha, image.ext))
    storage.put(image.thumb, thumb_key(sha))
    with write_tx():
        return Upload.create(id=secrets.token_urlsafe(16), resident=resident, sha256=sha,
                             content_type=image.content_type, width=image.width, height=image.height,
                             size=len(image.data), created_at=utcnow())
