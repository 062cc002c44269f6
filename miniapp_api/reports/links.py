"""Signed links to the read-only pages officials open from group messages, without logging in.

The link itself is the credential: an HMAC of the page's purpose and the number with the
server secret. The web pages check it (``miniapp_api.web.officialview``, ``web.pages``); the
group messages carry it.
"""
from __future__ import annotations

import hashlib
import hmac

from miniapp_api.config import Settings

#: The purpose signed into the link of ``/o/reports/<number>``.
REPORT_VIEW = "report-view"


def sign(secret_key: str, purpose: str, number: str) -> str:
    """The signature of ``number`` for one page (``purpose``), as put in its ``sig`` parameter."""
    return hmac.new(secret_key.encode(), f"{purpose}:{number}".encode(), hashlib.sha256).hexdigest()[:32]


def signed_report_url(settings: Settings, number: str) -> str:
    """The link put in group messages for report ``number`` (``/o/reports/<number>?sig=…``)."""
    sig = sign(settings.server.secret_key, REPORT_VIEW, number)
    return f"{settings.server.public_base_url}/o/reports/{number}?sig={sig}"
