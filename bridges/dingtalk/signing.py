"""Signatures of the DingTalk custom robot (加签) and of @robot callbacks (PLATFORMS §1.2, §2.1).

Both use the same construction, ``Base64(HMAC-SHA256(key=secret, msg=f"{ts}\\n{secret}"))``
with ``ts`` in milliseconds. The webhook flavour URL-encodes it with ``quote_plus`` (as the
official Python sample does) and is keyed with the robot's ``SEC...`` secret; the callback
flavour is not URL-encoded and is keyed with the app's AppSecret.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import urllib.parse

#: DingTalk accepts a timestamp within one hour of its own clock, both ways.
WINDOW_MS = 3_600_000


def _b64_hmac(secret: str, timestamp: int | str) -> str:
    # The timestamp enters the HMAC as its decimal text, exactly as sent on the wire.
    string_to_sign = f"{timestamp}\n{secret}"
    digest = hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def webhook_sign(secret: str, timestamp_ms: int) -> str:
    """The ``sign`` query value for a signed robot webhook: URL-encoded (``quote_plus``)."""
    return urllib.parse.quote_plus(_b64_hmac(secret, int(timestamp_ms)))


def signed_webhook_url(webhook: str, secret: str, timestamp_ms: int) -> str:
    """``webhook`` with ``&timestamp=<ms>&sign=<sig>`` appended (``?`` if it has no query yet)."""
    sep = "&" if "?" in webhook else "?"
    return f"{webhook}{sep}timestamp={int(timestamp_ms)}&sign={webhook_sign(secret, timestamp_ms)}"


def callback_sign(app_secret: str, timestamp_ms: int) -> str:
    """The ``sign`` header DingTalk puts on an @robot callback: plain Base64, not URL-encoded."""
    return _b64_hmac(app_secret, int(timestamp_ms))


def verify_callback(
    app_secret: str,
    timestamp_header: str | None,
    sign_header: str | None,
    now_ms: int,
    window_ms: int = WINDOW_MS,
) -> bool:
    """True when ``sign_header`` is the callback signature of ``timestamp_header`` and the
    timestamp (milliseconds, digits only) lies within ``window_ms`` of ``now_ms``.

    Missing or non-numeric headers are simply False; the comparison is constant-time.
    """
    if not timestamp_header or not sign_header:
        return False
    ts = timestamp_header.strip()
    # Only plain ASCII digits: int() would also accept "+1", " 1", "1_000" or other scripts' digits.
    if not (ts.isascii() and ts.isdigit()) or len(ts) > 16:
        return False
    if abs(int(now_ms) - int(ts)) > window_ms:
        return False
    # Sign the header text itself, not int(ts): "0123" and "123" are different messages.
    expected = _b64_hmac(app_secret, ts)
    return hmac.compare_digest(expected.encode("ascii"), sign_header.strip().encode("utf-8", "replace"))
