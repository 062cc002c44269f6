"""``/callbacks/wechat``: WeChat's message push (消息推送), for the verdicts of image checks.

* ``GET`` — the URL check WeChat makes when the push URL is saved in the mini-program's
  console: the signature verifies, the answer is ``echostr`` as plain text.
* ``POST`` — a pushed event. Checked by :func:`bridges.wechat.push.open_push` before anything of
  the body is used: signature (and timestamp window) first, then, with ``[wechat]
  push_aes_key`` set, the message signature and the decryption (safe mode only). Refused: the
  contract's JSON error, 400/401/413, nothing changes.

An accepted push is recorded once: the (timestamp, nonce, signature) of a push and the push
itself are receipts. The same push again (WeChat retries a push whose answer it did not get)
is answered ``success`` and does nothing; another body under a pair already used is 401
``replayed_signature`` — in plaintext mode the signature does not cover the body. A
``wxa_media_check`` verdict is applied once per trace_id
(:func:`miniapp_api.reports.photo_checks.record_verdict`); an unknown trace_id, and every other
event, is acknowledged and ignored. The answer WeChat waits for is ``success``.
"""
from __future__ import annotations

import hashlib
import logging
import random
from datetime import timedelta

from flask import Blueprint
from flask import Response
from flask import request
from peewee import IntegrityError

from bridges.wechat.push import MAX_PUSH_BYTES
from bridges.wechat.push import PUSH_WINDOW_SECONDS
from bridges.wechat.push import PushRejected
from bridges.wechat.push import PushSettings
from bridges.wechat.push import media_verdict
from bridges.wechat.push import open_push
from bridges.wechat.push import verify_url
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.models import CallbackReceipt
from miniapp_api.models import utcnow
from miniapp_api.reports import photo_checks
from miniapp_api.web import collaborators
from miniapp_api.web.errors import error_response

log = logging.getLogger(__name__)
bp = Blueprint("wechat_push", __name__, url_prefix="/callbacks")

PAIR_SOURCE = "wx-push-pair"
PUSH_SOURCE = "wx-push"


class _Duplicate(Exception):
    pass


class _Replayed(Exception):
    pass


def _refuse(err: PushRejected) -> Response:
    return error_response(ApiError(err.message, code=err.code, status=err.status))


def _success() -> Response:
    return Response("success", mimetype="text/plain")


@bp.get("/wechat")
def verify():
    """WeChat's check of the push URL: echo ``echostr`` once the signature verifies."""
    settings = PushSettings.from_config(collaborators.current().settings.wechat)
    try:
        echostr = verify_url(settings, request.args, utcnow().timestamp())
    except PushRejected as err:
        return _refuse(err)
    return Response(echostr, mimetype="text/plain")


def _read_body() -> bytes:
    if (request.content_length or 0) > MAX_PUSH_BYTES:
        return b"x" * (MAX_PUSH_BYTES + 1)  # refused by size: never read
    return request.stream.read(MAX_PUSH_BYTES + 1)


@bp.post("/wechat")
def push():
    """One pushed event: verified, recorded once, a photo verdict applied; answered ``success``."""
    svc = collaborators.current()
    now = utcnow()
    try:
        signed, body, message = open_push(PushSettings.from_config(svc.settings.wechat), request.args, _read_body,
                                          now.timestamp())
    except PushRejected as err:
        log.warning("wechat push refused: %s", err.code)
        return _refuse(err)
    pair = hashlib.sha256(f"{signed.timestamp}\n{signed.nonce}\n{signed.signature}".encode()).hexdigest()
    whole = hashlib.sha256(pair.encode() + b"\n" + body).hexdigest()
    verdict = media_verdict(message)
    outcome = "ignored"
    try:
        with write_tx():
            if CallbackReceipt.get_or_none((CallbackReceipt.source == PUSH_SOURCE) & (CallbackReceipt.external_id == whole)):
                raise _Duplicate
            if CallbackReceipt.get_or_none((CallbackReceipt.source == PAIR_SOURCE) & (CallbackReceipt.external_id == pair)):
                raise _Replayed
            CallbackReceipt.create(source=PAIR_SOURCE, external_id=pair, received_at=now)
            CallbackReceipt.create(source=PUSH_SOURCE, external_id=whole, received_at=now)
            if verdict is not None:
                outcome = photo_checks.record_verdict(verdict.trace_id, verdict.suggest, now)
            if random.random() < 0.02:  # receipts older than twice the window can go
                cutoff = now - timedelta(seconds=2 * PUSH_WINDOW_SECONDS)
                (CallbackReceipt.delete().where(CallbackReceipt.source.in_((PAIR_SOURCE, PUSH_SOURCE))
                                                & (CallbackReceipt.received_at < cutoff)).execute())
    except (_Duplicate, IntegrityError):
        log.info("wechat push: duplicate acknowledged")
        return _success()
    except _Replayed:
        log.warning("wechat push refused: another body under a signature already used")
        return error_response(ApiError("签名已被使用", code="replayed_signature", status=401))
    if verdict is not None:
        log.info("wechat push: media check verdict %s, %s", verdict.suggest, outcome)
        if outcome == "recorded" and verdict.suggest == "risky":
            photo_checks.remove_files(verdict.trace_id, svc.storage)
    else:
        log.info("wechat push: event %s acknowledged and ignored", str(message.get("Event") or "")[:40])
    return _success()
