"""``POST /callbacks/dingtalk/events``: DingTalk's event subscription (事件订阅, PLATFORMS §3.1).

DingTalk posts ``{"encrypt": "..."}`` with ``msg_signature``, ``timestamp`` and ``nonce`` in
the query (older documents: ``signature`` and ``timeStamp``; both spellings are accepted).
Before anything is read:

1. the timestamp must be digits within ``dingtalk.event_window_seconds`` of our clock (401);
2. ``msg_signature`` must equal sha1(sorted(token, timestamp, nonce, encrypt)) (401),
   compared in constant time;
3. the ciphertext must decrypt (AES-256-CBC, dingtalk-sdk's ``DingTalkCrypto``) with the
   **AppKey** as owner key — not the CorpId the SDK's clients use (PLATFORMS §3.1) — into a
   JSON object (400);
4. the same (timestamp, nonce, encrypt) seen before is a duplicate: DingTalk retries a push
   whose answer missed its 1.5 s deadline, and waits for the encrypted ``success``. A
   duplicate is answered exactly that, and does nothing more (its receipt stops the work
   being queued twice). Only a request that passed steps 1–3 gets this far, so a replay
   can do no harm either: it is the same, already handled, event.

A refused request changes nothing. An accepted one records its receipt and queues the work
(an outbox event ``dingtalk.org_event``, run by the worker) in one transaction, then answers
the encrypted ``success`` JSON that DingTalk wants within 1.5 s — for ``check_url`` (the
handshake when the URL is saved) and every event alike.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
from datetime import timedelta

from flask import Blueprint
from flask import jsonify
from flask import request
from peewee import IntegrityError

from bridges.dingtalk.app_client import load_sdk
from miniapp_api.web import collaborators
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.web.errors import error_response
from miniapp_api.models import CallbackReceipt
from miniapp_api.models import OutboxEvent
from miniapp_api.models import utcnow
from miniapp_api.org.sync import HANDLED_EVENTS

log = logging.getLogger(__name__)
bp = Blueprint("dingtalk_push", __name__, url_prefix="/callbacks/dingtalk")

MAX_EVENT_BYTES = 64 * 1024
RECEIPT_SOURCE = "dt-event"


class _Duplicate(Exception):
    pass


def _refuse(message: str, code: str, status: int):
    return error_response(ApiError(message, code=code, status=status))


def crypto_for(settings):
    """The event crypto of the app (dingtalk-sdk's ``DingTalkCrypto``): its Token,
    EncodingAESKey, and the AppKey as owner key."""
    return load_sdk().DingTalkCrypto(settings.event_token, settings.event_aes_key, settings.app_key)


@bp.post("/events")
def events():
    """Receive one DingTalk event (encrypted), record it once, answer the encrypted ``success``."""
    settings = collaborators.current().settings.dingtalk
    if not (settings.event_token and settings.event_aes_key):
        return _refuse("未配置钉钉事件订阅", "not_configured", 404)
    now = utcnow()
    args = request.args
    signature = args.get("msg_signature") or args.get("signature") or ""
    timestamp = args.get("timestamp") or args.get("timeStamp") or ""
    nonce = args.get("nonce") or ""
    if not (signature and timestamp and nonce) or len(nonce) > 64 or len(signature) > 64:
        return _refuse("缺少签名参数", "bad_callback", 400)
    if (request.content_length or 0) > MAX_EVENT_BYTES:
        return _refuse("请求体太大", "payload_too_large", 413)
    if not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 16:
        return _refuse("签名无效或已过期", "invalid_signature", 401)
    if abs(int(now.timestamp() * 1000) - int(timestamp)) > settings.event_window_seconds * 1000:
        return _refuse("签名无效或已过期", "stale_timestamp", 401)
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # nested too deep for the parser: not an event of DingTalk's
        body = None
    encrypt = body.get("encrypt") if isinstance(body, dict) else None
    if not isinstance(encrypt, str) or not encrypt or len(encrypt) > MAX_EVENT_BYTES:
        return _refuse("回调无效", "bad_callback", 400)
    expected = load_sdk().event_signature(settings.event_token, timestamp, nonce, encrypt)
    if not hmac.compare_digest(expected.encode("ascii"), signature.encode("utf-8", "replace")):
        return _refuse("签名无效或已过期", "invalid_signature", 401)
    crypto = crypto_for(settings)
    try:
        plain = crypto.decrypt_encrypt_str(signature, timestamp, nonce, encrypt)
        message = json.loads(plain)
        if not isinstance(message, dict):
            raise ValueError("not an object")
    except Exception as exc:  # noqa: BLE001 - bad base64, padding, owner key, JSON: all refused alike
        log.warning("dingtalk event refused: cannot decrypt (%s)", type(exc).__name__)
        return _refuse("回调无法解密", "bad_ciphertext", 400)

    kind = str(message.get("EventType") or "")
    key = hashlib.sha256(f"{timestamp}\n{nonce}\n{encrypt}".encode()).hexdigest()
    try:
        with write_tx():
            if CallbackReceipt.get_or_none((CallbackReceipt.source == RECEIPT_SOURCE)
                                           & (CallbackReceipt.external_id == key)):
                raise _Duplicate
            CallbackReceipt.create(source=RECEIPT_SOURCE, external_id=key, received_at=now)
            if kind in HANDLED_EVENTS:
                OutboxEvent.create(kind="dingtalk.org_event", payload=_payload(kind, message, now), created_at=now)
            if random.random() < 0.02:  # receipts older than twice the window can go
                cutoff = now - timedelta(seconds=2 * settings.event_window_seconds)
                (CallbackReceipt.delete()
                 .where((CallbackReceipt.source == RECEIPT_SOURCE) & (CallbackReceipt.received_at < cutoff)).execute())
    except (_Duplicate, IntegrityError):
        # DingTalk's retry of an event we already recorded: acknowledge, do nothing again.
        log.info("dingtalk event %s: duplicate acknowledged", kind[:40] or "(no type)")
        return jsonify(crypto.encrypt_message("success"))
    if kind not in HANDLED_EVENTS and kind != "check_url":
        log.info("dingtalk event %s acknowledged and ignored", kind[:40])
    return jsonify(crypto.encrypt_message("success"))


def _payload(kind: str, message: dict, now) -> dict:
    """What the worker needs of an event (never the whole message)."""
    out: dict = {"type": kind, "received_at": now.isoformat()}
    if kind == "chat_disband":
        out["chat_id"] = str(message.get("ChatId") or message.get("chatId") or "")[:64]
        return out
    users = message.get("UserId") or message.get("UserIds") or message.get("userId") or []
    if isinstance(users, str):
        users = [users]
    out["user_ids"] = [str(u)[:64] for u in users if isinstance(u, (str, int))][:1000]
    return out
