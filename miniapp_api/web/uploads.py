"""Photo uploads: ``POST /api/v1/uploads`` and ``GET /media/<key>``.

The upload (multipart field ``file``) is checked, cleaned and stored by
:func:`miniapp_api.reports.uploads.save_upload`. Besides its refusals (413, 415, 422
``invalid_image``), a request without a ``file`` field is 422 ``validation_failed`` (field
``file``), and werkzeug answers 413 ``file_too_large`` by itself when the whole request exceeds
``MAX_CONTENT_LENGTH`` (set a little above ``uploads.max_bytes``).

Stored files are served from ``/media/<key>``, outside ``/api/v1`` and without a token: the
mini-program's ``<image src>`` cannot send headers.
"""
from __future__ import annotations

from flask import Blueprint
from flask import request
from flask import send_file
from pydantic import BaseModel
from pydantic import Field

from miniapp_api.errors import ApiError
from miniapp_api.errors import NotFound
from miniapp_api.errors import ValidationFailed
from miniapp_api.models import Resident
from miniapp_api.reports.storage import InvalidKey
from miniapp_api.reports.storage import check_key
from miniapp_api.reports.storage import content_type as key_content_type
from miniapp_api.reports.uploads import photo_out
from miniapp_api.reports.uploads import save_upload
from miniapp_api.reports.uploads import media_state
from miniapp_api.web import collaborators
from miniapp_api.web.api import ApiBlueprint

bp = ApiBlueprint("uploads")
media_bp = Blueprint("media", __name__)

# A stored file never changes (its name is its hash), so clients may keep it for a year.
MEDIA_MAX_AGE = 365 * 24 * 3600
#: How long a picture that WeChat's image check may still withdraw is cached.
MEDIA_OPEN_MAX_AGE = 300


class UploadOut(BaseModel):
    """An uploaded photo: its id for the report, and its URLs."""

    id: str = Field(description="照片 id，上报时放进 photos 列表")
    url: str = Field(description="照片地址（已去除 EXIF/GPS 信息）")
    thumbnail_url: str = Field(description="缩略图地址（JPEG）")


@bp.operation("/uploads", "POST", summary="上传一张照片（multipart 字段 file）", tag="uploads", multipart=True,
              response=UploadOut, status=201,
              errors={413: "file_too_large", 415: "unsupported_media_type", 422: "invalid_image / validation_failed",
                      429: "upload_limit_exceeded", 503: "uploads_busy"})
def create_upload(resident: Resident):
    """Store one photo of the resident's; its id goes into a report's ``photos``."""
    svc = collaborators.current()
    file = request.files.get("file")
    if file is None:
        raise ValidationFailed("file：请选择要上传的图片", field="file")
    # The stream, not its bytes: they are read inside a decode slot (at most one byte more
    # than allowed, enough to know), so uploads waiting for one stay in temporary files.
    upload = save_upload(svc.storage, svc.settings.uploads, resident, file.stream)
    body = {"id": upload.id, **photo_out(upload, svc.settings.server.public_base_url)}
    return body, 201


@media_bp.get("/media/<key>")
def media(key: str):
    """Serve a stored photo or thumbnail; unknown and malformed keys are a JSON 404, a photo
    WeChat's image check judged risky (withdrawn) a JSON 410."""
    try:
        check_key(key)
    except InvalidKey:
        raise NotFound("图片不存在", code="not_found") from None
    state = media_state(key[:64])
    if state == "withdrawn":
        raise ApiError("该图片未通过内容安全检测，已撤下", code="photo_withdrawn", status=410)
    try:
        path = collaborators.current().storage.open(key)
    except (InvalidKey, FileNotFoundError):
        raise NotFound("图片不存在", code="not_found") from None
    # A picture that may still be withdrawn is cached briefly, so that a risky verdict reaches
    # browsers and proxies within minutes; once it has passed, its name is its content for good.
    max_age = MEDIA_MAX_AGE if state == "final" else MEDIA_OPEN_MAX_AGE
    resp = send_file(path, mimetype=key_content_type(key), max_age=max_age, etag=key, conditional=True)
    resp.headers["Cache-Control"] = (f"public, max-age={MEDIA_MAX_AGE}, immutable" if state == "final"
                                     else f"public, max-age={MEDIA_OPEN_MAX_AGE}")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    # Opened directly in a browser, the file can run nothing and load nothing.
    resp.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; sandbox"
    return resp
