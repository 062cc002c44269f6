"""Photo uploads: ``POST /api/v1/uploads`` and ``GET /media/<key>``.

A resident uploads each photo on its own (multipart field ``file``) and then names the
returned ids in ``POST /api/v1/reports``. The photo is checked and cleaned by
:mod:`.images` (format judged by content, pixel limit, EXIF/GPS removed), stored by content
in :mod:`.storage`, and recorded as an :class:`~.models.Upload` row owned by the resident.

Answers (CONTRACT §3), all in the contract's error shape:

* 413 ``file_too_large`` — more than ``uploads.max_bytes`` (werkzeug answers the same code
  when the whole request exceeds ``MAX_CONTENT_LENGTH``, set a little above it);
* 415 ``unsupported_media_type`` — not a JPEG, PNG or WebP by content, or an empty file;
* 422 ``invalid_image`` — truncated or corrupt, or more pixels than ``uploads.max_pixels``
  (a size the picture *is*, not a size of the upload, hence 422 rather than 413);
* 422 ``validation_failed`` (field ``file``) — no ``file`` field in the request.

Stored files are served from ``/media/<key>``, outside ``/api/v1`` and without a token:
the mini-program's ``<image src>`` cannot send headers. Keys are SHA-256 hashes of content,
so a URL can only be known by someone who was given it.
"""
from __future__ import annotations

import hashlib
import secrets

from flask import Blueprint
from flask import Flask
from flask import request
from flask import send_file
from pydantic import BaseModel
from pydantic import Field

from miniapp_api.reports import images
from miniapp_api.web import context as services
from miniapp_api.web.api import route
from miniapp_api.config import UploadsSettings
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.errors import NotFound
from miniapp_api.errors import PayloadTooLarge
from miniapp_api.errors import UnsupportedMediaType
from miniapp_api.errors import ValidationFailed
from miniapp_api.models import Resident
from miniapp_api.models import Upload
from miniapp_api.models import utcnow
from miniapp_api.reports.storage import InvalidKey
from miniapp_api.reports.storage import LocalStorage
from miniapp_api.reports.storage import content_type as key_content_type
from miniapp_api.reports.storage import image_key
from miniapp_api.reports.storage import thumb_key

# A stored file never changes (its name is its hash), so clients may keep it for a year.
MEDIA_MAX_AGE = 365 * 24 * 3600

_EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


class UploadOut(BaseModel):
    id: str = Field(description="照片 id，上报时放进 photos 列表")
    url: str = Field(description="照片地址（已去除 EXIF/GPS 信息）")
    thumbnail_url: str = Field(description="缩略图地址（JPEG）")


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


@route("/uploads", "POST", summary="上传一张照片（multipart 字段 file）", tag="uploads", multipart=True,
       response=UploadOut, status=201,
       errors={413: "file_too_large", 415: "unsupported_media_type", 422: "invalid_image / validation_failed"})
def create_upload(resident: Resident):
    svc = services.get()
    file = request.files.get("file")
    if file is None:
        raise ValidationFailed("file：请选择要上传的图片", field="file")
    limit = svc.settings.uploads.max_bytes
    data = file.stream.read(limit + 1)  # one byte more than allowed is enough to know
    upload = save_upload(svc.storage, svc.settings.uploads, resident, data)
    body = {"id": upload.id, **photo_out(upload, svc.settings.server.public_base_url)}
    return body, 201


media_bp = Blueprint("media", __name__)


@media_bp.get("/media/<key>")
def media(key: str):
    """Serve a stored photo or thumbnail; unknown and malformed keys are a JSON 404."""
    try:
        path = services.get().storage.open(key)
    except (InvalidKey, FileNotFoundError):
        raise NotFound("图片不存在", code="not_found") from None
    resp = send_file(path, mimetype=key_content_type(key), max_age=MEDIA_MAX_AGE, etag=key,
                     conditional=True)
    resp.headers["Cache-Control"] = f"public, max-age={MEDIA_MAX_AGE}, immutable"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    # Opened directly in a browser, the file can run nothing and load nothing.
    resp.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return resp


def init_app(app: Flask) -> None:
    """Serve ``/media``; the upload route was declared on the api blueprint at import."""
    app.register_blueprint(media_bp)
