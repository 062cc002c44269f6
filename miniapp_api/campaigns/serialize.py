"""Campaigns in the API's shape (see ``campaigns.schemas``)."""
from __future__ import annotations

from miniapp_api.campaigns import service as campaign_service
from miniapp_api.community.serialize import target_out
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Signup
from miniapp_api.time import iso


def my_signup_out(s: Signup | None) -> dict | None:
    """The resident's own sign-up (``MySignupOut``), None without one."""
    if s is None:
        return None
    return {"status": s.status, "position": campaign_service.position(s), "signed_up_at": iso(s.signed_up_at),
            "checked_in_at": iso(s.checked_in_at)}


def campaign_out(c: Campaign, waitlisted: int, mine: Signup | None = None) -> dict:
    """A campaign (``CampaignOut``), with the resident's own sign-up when given."""
    return {
        "number": c.number,
        "title": c.title,
        "description": c.description,
        "status": c.status,
        "place": {"name": c.place_name, "lat": c.lat, "lng": c.lng, "radius_m": c.radius_m},
        "starts_at": iso(c.starts_at),
        "ends_at": iso(c.ends_at),
        "capacity": c.capacity,
        "taken": c.taken,
        "waitlisted": waitlisted,
        "scope": target_out(c.level, c.township, c.community, c.grid),
        "skills": list(c.skills or []),
        "hours": c.hours,
        "report": c.report.number if c.report_id else None,
        "my_signup": my_signup_out(mine),
    }
