"""What notice and campaign messages link to and how they name a unit.

The signed pages (``/o/notices/<number>``, ``/o/campaigns/<number>/checkin``) are served by
``miniapp_api.web.pages``; the links are signed as the report page's are
(:func:`miniapp_api.reports.links.sign`).
"""
from __future__ import annotations

from miniapp_api.config import Settings
from miniapp_api.reports.links import sign

#: The purposes signed into the two pages' links.
NOTICE_VIEW = "notice-view"
CAMPAIGN_CHECKIN = "campaign-checkin"


def signed_notice_url(settings: Settings, number: str) -> str:
    """The link to notice ``number``'s page (who has acknowledged it)."""
    sig = sign(settings.server.secret_key, NOTICE_VIEW, number)
    return f"{settings.server.public_base_url}/o/notices/{number}?sig={sig}"


def signed_checkin_url(settings: Settings, number: str) -> str:
    """The link to campaign ``number``'s check-in code page."""
    sig = sign(settings.server.secret_key, CAMPAIGN_CHECKIN, number)
    return f"{settings.server.public_base_url}/o/campaigns/{number}/checkin?sig={sig}"


def console_campaign_url(settings: Settings, number: str) -> str:
    """The console page where administrators change campaign ``number`` (login required)."""
    return f"{settings.server.public_base_url}/console/campaigns/{number}"


def target_label(level: str, township, community, grid) -> str:
    """Whom a notice or campaign is for: 全县, or the unit, community and grid names."""
    if level == "county":
        return "全县"
    parts = [x.name for x in (township, community, grid) if x is not None]
    return " ".join(parts)
