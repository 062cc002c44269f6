"""API errors in the contract's shape: the domain raises them, the web renders them.

::

    ApiError (status, code, message[, field])
     ├── BadRequest 400            ├── NotFound 404
     ├── Unauthorized 401          ├── Conflict 409 (invalid_transition, idempotency_key_reused)
     ├── Forbidden 403             ├── PayloadTooLarge 413, UnsupportedMediaType 415
     ├── ValidationFailed 422      ├── TooManyRequests 429
     └── ServiceUnavailable 503

Every error renders as ``{"error": {"code", "message"[, "field"]}}`` with a Chinese message
(:meth:`ApiError.to_dict`). The Flask handlers that do the rendering, for these and for
werkzeug's own errors, live in :mod:`miniapp_api.web.errors`: this module imports no Flask.
"""
from __future__ import annotations


class ApiError(Exception):
    """An error the API answers with ``status`` and ``{"error": {code, message[, field]}}``."""

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
        """The contract's error body."""
        body = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        return {"error": body}


class BadRequest(ApiError):
    """The request is malformed (400)."""

    status, code, message = 400, "bad_request", "请求格式有误"


class Unauthorized(ApiError):
    """No valid login (401)."""

    status, code, message = 401, "unauthorized", "请先登录"


class Forbidden(ApiError):
    """Logged in, but not allowed to do this (403)."""

    status, code, message = 403, "forbidden", "没有权限执行此操作"


class NotFound(ApiError):
    """No such thing, or not yours to see (404)."""

    status, code, message = 404, "not_found", "找不到该内容"


class Conflict(ApiError):
    """The request conflicts with the current state (409)."""

    status, code, message = 409, "conflict", "操作与当前状态冲突"


class PayloadTooLarge(ApiError):
    """The file is too large (413)."""

    status, code, message = 413, "file_too_large", "文件太大"


class UnsupportedMediaType(ApiError):
    """The content type is not accepted (415)."""

    status, code, message = 415, "unsupported_media_type", "不支持的文件类型"


class ValidationFailed(ApiError):
    """The input is incomplete or malformed (422)."""

    status, code, message = 422, "validation_failed", "提交的内容不完整或格式不对"


class TooManyRequests(ApiError):
    """Too many requests; try again later (429)."""

    status, code, message = 429, "too_many_requests", "操作太频繁，请稍后再试"


class ServiceUnavailable(ApiError):
    """A service we depend on is unavailable (503)."""

    status, code, message = 503, "service_unavailable", "服务暂时不可用，请稍后再试"
