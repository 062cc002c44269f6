"""Inbound platform callbacks: ``POST /callbacks/dingtalk`` (officials' @robot commands).

The signature headers are verified before the body is read or parsed: a forged or stale
callback is answered 401 and changes nothing.
"""
from __future__ import annotations

import hashlib
import logging

from flask import Blueprint
from flask import jsonify
from flask import request

from bridges.dingtalk.inbound import CallbackRejected
from bridges.dingtalk.inbound import CallbackRequest
from bridges.dingtalk.inbound import parse_callback
from bridges.dingtalk.inbound import signed_headers
from bridges.dingtalk.signing import verify_callback

from miniapp_api.reports import commands as official_commands
from miniapp_api.web import collaborators
from miniapp_api.errors import ApiError
from miniapp_api.web.errors import error_response
from miniapp_api.models import utcnow

log = logging.getLogger(__name__)
bp = Blueprint("callbacks", __name__, url_prefix="/callbacks")

MAX_CALLBACK_BYTES = 256 * 1024


@bp.post("/dingtalk")
def dingtalk():
    """An official @-mentioned the robot in a group."""
    settings = collaborators.current().settings
    now = utcnow()
    now_ms = int(now.timestamp() * 1000)
    app_secret = settings.dingtalk.app_secret
    try:  # one canonical spelling of the pair, verified here and remembered below
        timestamp, sign = signed_headers(request.headers)
    except CallbackRejected:
        return error_response(ApiError("签名无效或已过期", code="invalid_signature", status=401))
    if not verify_callback(app_secret, timestamp, sign, now_ms):
        return error_response(ApiError("签名无效或已过期", code="invalid_signature", status=401))
    if (request.content_length or 0) > MAX_CALLBACK_BYTES:
        return error_response(ApiError("请求体太大", code="payload_too_large", status=413))
    try:
        msg = parse_callback(CallbackRequest(dict(request.headers), request.get_data()), app_secret, now_ms)
    except CallbackRejected as err:
        code = "invalid_signature" if err.status == 401 else "bad_callback"
        return error_response(ApiError("回调无效", code=code, status=err.status))
    signature = hashlib.sha256(f"{timestamp}\n{sign}".encode()).hexdigest()
    fresh = abs(now_ms - int(timestamp)) <= official_commands.TWIN_WINDOW_MS
    try:
        reply = official_commands.handle(msg, now, signature, settings=settings, fresh=fresh)
    except official_commands.ReplayedSignature:
        log.warning("refused a replayed callback signature")
        return error_response(ApiError("签名已被使用", code="replayed_signature", status=401))
    return jsonify({"ok": True, "duplicate": reply is None})
