"""The rotating check-in code of a campaign and its QR.

The code is six digits: an HMAC (server secret) of the campaign number and the current time
slot of ``campaigns.checkin_code_seconds``. The code of the previous slot is accepted too,
so a code read at the very end of its slot still works. A code of an older slot is told
apart ("expired") from one that never was valid ("wrong"). The QR carries
``TXC:<campaign number>:<code>``; the resident's mini-program scans it and submits it as is.

A printed poster cannot rotate: its QR carries a ten-digit **print code** instead, an HMAC of
the campaign number and its start time. It is valid for the whole check-in window (the time
window and the radius still apply) and changes when the start time changes, so a poster
printed before a change of time no longer works.
"""
from __future__ import annotations

import hashlib
import hmac
import io
import re
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import segno

QR_PREFIX = "TXC"
#: How far back an old code is recognised as "expired" rather than "wrong".
EXPIRED_LOOKBACK = timedelta(hours=24)
_DIGITS = re.compile(r"^[0-9]{6}$")
_PRINT_DIGITS = re.compile(r"^[0-9]{10}$")


def slot_of(now: datetime, period: int) -> int:
    """The number of the ``period``-second time slot ``now`` falls in."""
    return int(now.timestamp()) // period


def code_for(secret_key: str, number: str, slot: int) -> str:
    """The six-digit code of ``number`` in time slot ``slot``."""
    mac = hmac.new(secret_key.encode(), f"checkin:{number}:{slot}".encode(), hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:8], 'big') % 1_000_000:06d}"


def current_code(secret_key: str, number: str, now: datetime, period: int) -> tuple[str, datetime]:
    """The code to show now and the moment the next one replaces it."""
    slot = slot_of(now, period)
    return code_for(secret_key, number, slot), datetime.fromtimestamp((slot + 1) * period, timezone.utc)


def qr_text(number: str, code: str) -> str:
    """The text a campaign's check-in QR code carries (its number and current code)."""
    return f"{QR_PREFIX}:{number}:{code}"


def parse_submitted(text: str) -> tuple[str | None, str | None]:
    """``(campaign number or None, six digits)`` from a typed code or a scanned QR text;
    ``(None, None)`` when it is neither."""
    text = (text or "").strip()
    if _DIGITS.match(text):
        return None, text
    parts = text.split(":")
    if len(parts) == 3 and parts[0] == QR_PREFIX and (_DIGITS.match(parts[2]) or _PRINT_DIGITS.match(parts[2])):
        return parts[1], parts[2]
    return None, None


def print_code(secret_key: str, number: str, starts_at: datetime) -> str:
    """The ten-digit code of campaign ``number``'s printed poster (valid while its start time stays)."""
    mac = hmac.new(secret_key.encode(), f"checkin-print:{number}:{int(starts_at.timestamp())}".encode(),
                   hashlib.sha256).digest()
    return f"{int.from_bytes(mac[:8], 'big') % 10_000_000_000:010d}"


def verify(secret_key: str, number: str, code: str, now: datetime, period: int) -> str:
    """``ok`` (this slot or the previous one), ``expired`` (an older slot) or ``invalid``."""
    slot = slot_of(now, period)
    for s in (slot, slot - 1):
        if hmac.compare_digest(code, code_for(secret_key, number, s)):
            return "ok"
    for k in range(2, int(EXPIRED_LOOKBACK.total_seconds() // period) + 1):
        if hmac.compare_digest(code, code_for(secret_key, number, slot - k)):
            return "expired"
    return "invalid"


def qr_svg(text: str, scale: int = 8) -> str:
    """An SVG document of the QR of ``text``."""
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buf, kind="svg", scale=scale, border=2, xmldecl=False)
    return buf.getvalue().decode()


def qr_png(text: str, scale: int = 8) -> bytes:
    """``text`` as a QR code PNG."""
    buf = io.BytesIO()
    segno.make(text, error="m", micro=False).save(buf, kind="png", scale=scale, border=2)
    return buf.getvalue()
