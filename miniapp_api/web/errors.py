"""The Flask error handlers: every error, ours or werkzeug's or unexpected, in the contract's
JSON shape (``{"error": {"code", "message"[, "field"]}}``), never an HTML page or a trace.

A request line longer than :data:`MAX_URL_CHARS` is answered 414 ``uri_too_long`` here, in
JSON. gunicorn refuses longer lines itself, with an HTML page, above its
``--limit-request-line`` (4094 by default): the README's command raises it to its maximum,
8190, so that every URL from 4 KB to 8 KB gets this answer."""
from __future__ import annotations

import logging

from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.exceptions import RequestURITooLarge

from miniapp_api.errors import ApiError

log = logging.getLogger(__name__)

# The longest path and query string answered (bytes, percent-encoded as sent).
MAX_URL_CHARS = 4096

# Chinese messages for werkzeug's own errors (routing, method, size).
_HTTP_MESSAGES = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "找不到该内容"),
    405: ("method_not_allowed", "不支持该请求方法"),
    406: ("not_acceptable", "无法提供所需的格式"),
    413: ("file_too_large", "文件太大"),
    414: ("uri_too_long", "请求地址太长"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    429: ("too_many_requests", "操作太频繁，请稍后再试"),
}


def error_response(err: ApiError) -> Response:
    """``err`` as a JSON response with its status and headers."""
    resp = jsonify(err.to_dict())
    resp.status_code = err.status
    for k, v in err.headers.items():
        resp.headers[k] = v
    return resp


def register_error_handlers(app: Flask) -> None:
    """Render every error, ours or werkzeug's or unexpected, in the contract's JSON shape, and
    refuse over-long URLs (414) before any view runs."""

    @app.before_request
    def _refuse_long_urls():
        raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
        if len(raw) > MAX_URL_CHARS:
            raise RequestURITooLarge()

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
