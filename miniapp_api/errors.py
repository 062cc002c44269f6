"""API errors in the contract's shape, and the handlers that guarantee no HTML and no 500 page.

::

    ApiError (status, code, message[, field])
     ├── BadRequest 400            ├── NotFound 404
     ├── Unauthorized 401          ├── Conflict 409 (invalid_transition, idempotency_key_reused)
     ├── Forbidden 403             ├── PayloadTooLarge 413, UnsupportedMediaType 415
     ├── ValidationFailed 422      ├── TooManyRequests 429
     └── ServiceUnavailable 503

Every error renders as ``{"error": {"code", "message"[, "field"]}}`` with a Chinese message.
Werkzeug's own HTTP errors (404 for an unknown path, 405, …) get the same shape, and an
unexpected exception is logged and answered 500 in the same shape, never with a trace.
"""
from __future__ import annotations

import logging

from flask import Flask
from flask import jsonify
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ApiError(Exception):
    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None, field: str | None = None,
                 status: int | None = None, headers: dict | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.field = field
        self.status = status or self.status
        self.headers = headers or {}

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return {"error": body}


class BadRequest(ApiError):
    status, code, message = 400, "bad_request", "请求格式有误"


class Unauthorized(ApiError):
    status, code, message = 401, "unauthorized", "请先登录"


class Forbidden(ApiError):
    status, code, message = 403, "forbidden", "没有权限执行此操作"


class NotFound(ApiError):
    status, code, message = 404, "not_found", "找不到该内容"


class Conflict(ApiError):
    status, code, message = 409, "conflict", "操作与当前状态冲突"


class PayloadTooLarge(ApiError):
    status, code, message = 413, "file_too_large", "文件太大"


class UnsupportedMediaType(ApiError):
    status, code, message = 415, "unsupported_media_type", "不支持的文件类型"


class ValidationFailed(ApiError):
    status, code, message = 422, "validation_failed", "提交的内容不完整或格式不对"


class TooManyRequests(ApiError):
    status, code, message = 429, "too_many_requests", "操作太频繁，请稍后再试"


class ServiceUnavailable(ApiError):
    status, code, message = 503, "service_unavailable", "服务暂时不可用，请稍后再试"


# Chinese messages for werkzeug's own errors (routing, method, size).
_HTTP_MESSAGES = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "找不到该内容"),
    405: ("method_not_allowed", "不支持该请求方法"),
    406: ("not_acceptable", "无法提供所需的格式"),
    413: ("file_too_large", "文件太大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    429: ("too_many_requests", "操作太频繁，请稍后再试"),
}


def error_response(err: ApiError):
    resp = jsonify(err.to_dict())
    resp.status_code = err.status
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp


def register_error_handlers(app: Flask) -> None:
    """Render every error, ours or werkzeug's or unexpected, in the contract's JSON shape."""

    @app.errorhandler(ApiError)
    def _api_error(err: ApiError):
        return error_response(err)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        status = err.code or 500
        code, message = _HTTP_MESSAGES.get(status, ("http_error", "请求无法处理"))
        return error_response(ApiError(message, code=code, status=status))

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        log.exception("unhandled error")
        return error_response(ApiError("服务器内部错误，请稍后再试", code="internal_error", status=500))
