"""WeChat's message push (消息推送) as received at ``/callbacks/wechat`` (PLATFORMS §5.7).

WeChat signs every request with the push **Token** configured in the mini-program's console:
``signature = sha1(sorted([token, timestamp, nonce]) joined)``, in the query with
``timestamp`` and ``nonce``.

* **URL verification** (when the push URL is saved): ``GET ?signature&timestamp&nonce&echostr``;
  the answer is ``echostr`` itself, as the raw body (:func:`verify_url`).
* **Plaintext mode** (明文模式): ``POST`` with the JSON event as the body. The signature covers
  only the timestamp and the nonce, not the body: anyone who saw one signed query could send
  another body under it, so the caller keeps each (timestamp, nonce, signature) once.
* **Safe mode** (安全模式, the mode a county should choose): the query adds ``encrypt_type=aes``
  and ``msg_signature = sha1(sorted([token, timestamp, nonce, Encrypt]))``, and the body is
  ``{"ToUserName", "Encrypt"}``. ``Encrypt`` is WeChat's AES-256-CBC message format keyed by
  the **EncodingAESKey**, with the AppID as trailer: wechatpy's ``PrpCrypto`` decrypts it.

:func:`open_push` checks, in this order and before anything of the body is used: the query's
shape, the timestamp's window, the signature; then (safe mode) the message signature and the
decryption. With an EncodingAESKey configured only safe-mode pushes are accepted, so nobody
can fall back to the weaker plaintext form. Everything refused raises :class:`PushRejected`.

Imports neither Flask nor ``miniapp_api``: the web layer passes the query and the body in.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field

from wechatpy.crypto import PrpCrypto

#: A push older or newer than this (seconds, against our clock) is refused.
PUSH_WINDOW_SECONDS = 600
#: The largest push body read (a ``wxa_media_check`` event is well under 2 KB).
MAX_PUSH_BYTES = 64 * 1024
_MAX_PARAM = 128


class PushRejected(Exception):
    """A push refused before its content was used: ``status`` and ``code`` for the answer."""

    def __init__(self, status: int, code: str, message: str):
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} {code}")


@dataclass(frozen=True)
class PushSettings:
    """What checking a push needs: the ``[wechat]`` keys ``push_token``, ``push_aes_key``, ``appid``."""

    token: str = field(repr=False)
    aes_key: str | None = field(default=None, repr=False)
    appid: str = ""

    @classmethod
    def from_config(cls, section) -> PushSettings:
        """Copy the push keys from the ``[wechat]`` settings section."""
        return cls(token=section.push_token, aes_key=section.push_aes_key, appid=section.appid)


@dataclass(frozen=True)
class SignedQuery:
    """The signed part of a push's query, checked and in canonical form."""

    timestamp: str
    nonce: str
    signature: str


def sign(*parts: str) -> str:
    """WeChat's push signature: sha1 of the sorted parts joined (hex)."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(expected.encode("ascii"), given.encode("utf-8", "replace"))


def _param(args: Mapping[str, str], name: str) -> str:
    value = args.get(name) or ""
    if not value or len(value) > _MAX_PARAM or not value.isascii() or not value.isprintable():
        raise PushRejected(400, "bad_callback", "缺少签名参数")
    return value


def signed_query(settings: PushSettings, args: Mapping[str, str], now_seconds: float) -> SignedQuery:
    """Check ``signature``/``timestamp``/``nonce`` (shape, window, signature) or raise :class:`PushRejected`."""
    timestamp, nonce, signature = (_param(args, n) for n in ("timestamp", "nonce", "signature"))
    if not timestamp.isdigit() or len(timestamp) > 12 or not nonce.isalnum():
        raise PushRejected(401, "invalid_signature", "签名无效或已过期")
    if abs(now_seconds - int(timestamp)) > PUSH_WINDOW_SECONDS:
        raise PushRejected(401, "stale_timestamp", "签名无效或已过期")
    if not _same(sign(settings.token, timestamp, nonce), signature):
        raise PushRejected(401, "invalid_signature", "签名无效或已过期")
    return SignedQuery(timestamp, nonce, signature.lower())


def verify_url(settings: PushSettings, args: Mapping[str, str], now_seconds: float) -> str:
    """The GET with which WeChat checks the push URL: the ``echostr`` to answer, once the
    signature verifies (else :class:`PushRejected`)."""
    signed_query(settings, args, now_seconds)
    return _param(args, "echostr")


def open_push(settings: PushSettings, args: Mapping[str, str], read_body: Callable[[], bytes],
              now_seconds: float) -> tuple[SignedQuery, bytes, dict]:
    """Check one POSTed push; return its signed query, its raw body and its message (a JSON object).

    ``read_body`` returns the request body (at most ``MAX_PUSH_BYTES`` + 1 bytes); it is called
    only once the query's signature verified.
    """
    signed = signed_query(settings, args, now_seconds)
    body = read_body()
    if len(body) > MAX_PUSH_BYTES:
        raise PushRejected(413, "payload_too_large", "请求体太大")
    envelope = _json_object(body)
    if not settings.aes_key:
        if args.get("encrypt_type") == "aes" or "Encrypt" in envelope:
            raise PushRejected(400, "bad_callback", "未配置消息加解密密钥，只接受明文推送")
        return signed, body, envelope
    if args.get("encrypt_type") != "aes":
        raise PushRejected(400, "bad_callback", "只接受安全模式（加密）推送")
    msg_signature = _param(args, "msg_signature")
    encrypt = envelope.get("Encrypt")
    if not isinstance(encrypt, str) or not encrypt:
        raise PushRejected(400, "bad_callback", "推送无效")
    if not _same(sign(settings.token, signed.timestamp, signed.nonce, encrypt), msg_signature):
        raise PushRejected(401, "invalid_signature", "签名无效或已过期")
    try:
        key = base64.b64decode(settings.aes_key + "=")
        plain = PrpCrypto(key).decrypt(encrypt, settings.appid)
    except Exception as exc:  # noqa: BLE001 - bad base64, padding, AppID trailer: all refused alike
        raise PushRejected(400, "bad_ciphertext", "推送无法解密") from exc
    return signed, body, _json_object(plain.encode("utf-8") if isinstance(plain, str) else plain)


def _json_object(raw: bytes) -> dict:
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise PushRejected(400, "bad_callback", "推送无效") from None
    if not isinstance(value, dict):
        raise PushRejected(400, "bad_callback", "推送无效")
    return value


@dataclass(frozen=True)
class MediaVerdict:
    """A ``wxa_media_check`` event (v2): ``suggest`` is pass, review or risky; ``label`` 100 is normal."""

    trace_id: str
    suggest: str
    label: int


def media_verdict(message: dict) -> MediaVerdict | None:
    """The verdict a ``wxa_media_check`` push carries, or None for any other event, or for
    one that names no usable verdict (``errcode`` ≠ 0, a picture WeChat could not download)."""
    if message.get("MsgType") != "event" or message.get("Event") != "wxa_media_check":
        return None
    trace_id = message.get("trace_id")
    result = message.get("result")
    if not isinstance(trace_id, str) or not trace_id or len(trace_id) > 64 or not isinstance(result, dict):
        return None
    if message.get("errcode") not in (None, 0, "0"):
        return None
    suggest = result.get("suggest")
    if suggest not in ("pass", "review", "risky"):
        return None
    try:  # WeChat sends the label as a string in pushes ("100") and as a number elsewhere
        label = int(result.get("label", 0))
    except (TypeError, ValueError):
        label = 0
    return MediaVerdict(trace_id, suggest, label)
