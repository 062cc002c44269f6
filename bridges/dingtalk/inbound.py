"""@robot callbacks (HTTP mode, PLATFORMS §2.1): verify the signature, then parse the message.

The ``timestamp``/``sign`` headers are checked before a single byte of the body is parsed
(DESIGN: "must be verified before anything is read"). Framework-free: the Flask view wraps
its request into a ``CallbackRequest`` and maps ``CallbackRejected.status`` to the response.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Mapping

from bridges.dingtalk.signing import WINDOW_MS
from bridges.dingtalk.signing import verify_callback

#: Real callbacks are a few kilobytes; refuse to parse anything absurdly large.
MAX_BODY_BYTES = 256 * 1024
#: The two signed headers, in the only form accepted: milliseconds in ASCII digits, and the
#: standard base64 of an HMAC-SHA256 (43 characters and one ``=``).
_TIMESTAMP = re.compile(r"[0-9]{1,16}")
_SIGN = re.compile(r"[A-Za-z0-9+/]{43}=")
#: More pictures than this in one message are not looked at.
MAX_PICTURES = 9


@dataclass
class CallbackRequest:
    """The parts of an HTTP request a callback needs. Header names are matched case-insensitively."""

    headers: Mapping[str, str]
    body: bytes


class CallbackRejected(Exception):
    """The callback must be refused: ``status`` is 401 (signature/timestamp) or 400 (body)."""

    def __init__(self, status: int, reason: str):
        self.status = status
        self.reason = reason
        super().__init__(f"{status}: {reason}")


@dataclass
class InboundMessage:
    """One verified @robot message."""

    msg_id: str
    conversation_id: str
    conversation_type: str          # "1" single chat, "2" group
    sender_staff_id: str | None     # absent for users outside the organisation
    sender_nick: str
    text: str                       # stripped (DingTalk keeps a leading space after the @)
    session_webhook: str
    session_webhook_expires_ms: int
    create_at_ms: int
    msgtype: str = "text"
    conversation_title: str = ""
    sender_id: str = ""
    # Pictures in the message (``picture``, or ``richText`` with text and pictures): their
    # ``downloadCode``s, for the robot message-file download; and the robot that received them.
    picture_codes: tuple[str, ...] = ()
    robot_code: str = ""
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        lname = name.lower()
        for key, val in headers.items():
            if key.lower() == lname:
                return val
    return value


def signed_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    """The ``timestamp`` and ``sign`` headers in their one canonical form, which is both
    verified and remembered against replay: HTTP's optional spaces and tabs around them
    removed, and nothing else accepted. Any other character (``\\xa0``, ``\\x85``, a second
    value joined with a comma) raises ``CallbackRejected(401)``, so one captured pair cannot
    be presented in two spellings."""
    ts = _header(headers, "timestamp")
    sign = _header(headers, "sign")
    if not ts or not sign:
        raise CallbackRejected(401, "missing timestamp or sign header")
    ts, sign = ts.strip(" \t"), sign.strip(" \t")
    if not _TIMESTAMP.fullmatch(ts) or not _SIGN.fullmatch(sign):
        raise CallbackRejected(401, "malformed timestamp or sign header")
    return ts, sign


def _int_field(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    # bool is an int subclass; a boolean timestamp is malformed.
    if isinstance(value, bool) or value is None:
        raise CallbackRejected(400, f"missing or invalid field {key}")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise CallbackRejected(400, f"missing or invalid field {key}") from None


def _str_field(body: dict[str, Any], key: str, required: bool = True) -> str:
    value = body.get(key)
    if value is None or value == "":
        if required:
            raise CallbackRejected(400, f"missing field {key}")
        return ""
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        raise CallbackRejected(400, f"invalid field {key}")
    return str(value)


def parse_callback(req: CallbackRequest, app_secret: str, now_ms: int, window_ms: int = WINDOW_MS) -> InboundMessage:
    """Verify ``req`` (headers ``timestamp`` in ms and ``sign``, keyed with the AppSecret,
    within ``window_ms`` of ``now_ms``) and parse its JSON body.

    Raises ``CallbackRejected(401)`` for a missing, wrong or stale signature — before the
    body is looked at — and ``CallbackRejected(400)`` for a body that is not a JSON object
    with the fields of an @robot message.
    """
    ts, sign = signed_headers(req.headers)
    if not verify_callback(app_secret, ts, sign, now_ms, window_ms):
        raise CallbackRejected(401, "signature does not verify or timestamp outside the window")

    if len(req.body) > MAX_BODY_BYTES:
        raise CallbackRejected(400, "body too large")
    try:
        body = json.loads(req.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deep
        raise CallbackRejected(400, "body is not UTF-8 JSON") from None
    if not isinstance(body, dict):
        raise CallbackRejected(400, "body is not a JSON object")

    msgtype = _str_field(body, "msgtype", required=False) or "text"
    text = ""
    if msgtype == "text":
        content = body.get("text")
        if not isinstance(content, dict) or not isinstance(content.get("content"), str):
            raise CallbackRejected(400, "missing field text.content")
        text = content["content"].strip()  # str.strip also removes the full-width space
    # Pictures without a usable downloadCode are left out (the message is still read, as for
    # any other type we do not act on).
    pictures: list[str] = []
    if msgtype == "picture":
        pictures.append(_download_code(body.get("content")))
    elif msgtype == "richText":
        content = body.get("content")
        parts = content.get("richText") if isinstance(content, dict) else None
        texts = []
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                texts.append(part["text"])
            elif isinstance(part, dict) and part.get("type") == "picture":
                pictures.append(_download_code(part))
        text = " ".join(t.strip() for t in texts if t.strip())
    pictures = [p for p in pictures if p]

    session_webhook = _str_field(body, "sessionWebhook")
    if not session_webhook.startswith(("https://", "http://")):
        raise CallbackRejected(400, "invalid field sessionWebhook")

    return InboundMessage(
        msg_id=_str_field(body, "msgId"),
        conversation_id=_str_field(body, "conversationId"),
        conversation_type=_str_field(body, "conversationType", required=False) or "2",
        sender_staff_id=_str_field(body, "senderStaffId", required=False) or None,
        sender_nick=_str_field(body, "senderNick", required=False),
        text=text,
        session_webhook=session_webhook,
        session_webhook_expires_ms=_int_field(body, "sessionWebhookExpiredTime"),
        create_at_ms=_int_field(body, "createAt"),
        msgtype=msgtype,
        conversation_title=_str_field(body, "conversationTitle", required=False),
        sender_id=_str_field(body, "senderId", required=False),
        picture_codes=tuple(pictures[:MAX_PICTURES]),
        robot_code=_str_field(body, "robotCode", required=False),
        raw=body,
    )


def _download_code(part: Any) -> str:
    """The ``downloadCode`` of a picture (``pictureDownloadCode`` when only that is given), or
    "" when it has no usable one."""
    code = part.get("downloadCode") or part.get("pictureDownloadCode") if isinstance(part, dict) else None
    return code if isinstance(code, str) and 0 < len(code) <= 4096 else ""
