"""Notices and campaigns in the API's shape (see ``schemas``)."""
from __future__ import annotations

from miniapp_api.models import Upload
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Notice
from miniapp_api.models.community import Signup
from miniapp_api.reports.schemas import iso
from miniapp_api.reports.uploads import photo_out
from miniapp_api.campaigns import service as campaign_service
from miniapp_api.notices.service import SUMMARY_CHARS


def prime(rows: list) -> list:
    """Load the unit, community, grid (and report) of a page of notices or campaigns with one
    query per kind instead of one per row."""
    from miniapp_api.models import Community
    from miniapp_api.models import Grid
    from miniapp_api.models import Report
    from miniapp_api.models import Township

    for attr, model in (("township", Township), ("community", Community), ("grid", Grid), ("report", Report)):
        ids = {getattr(r, f"{attr}_id", None) for r in rows} - {None}
        if not ids:
            continue
        found = {o.id: o for o in model.select().where(model.id.in_(list(ids)))}
        for r in rows:
            rid = getattr(r, f"{attr}_id", None)
            if rid in found:
                setattr(r, attr, found[rid])
    return rows


def _target(level: str, township, community, grid) -> dict:
    return {
        "level": level,
        "township": {"code": township.code, "name": township.name} if township else None,
        "community": {"id": community.id, "name": community.name} if community else None,
        "grid": {"id": grid.id, "name": grid.name} if grid else None,
    }


def _summary(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_CHARS else flat[:SUMMARY_CHARS - 1] + "…"


def notice_out(n: Notice, read: bool = False) -> dict:
    withdrawn = n.status == "withdrawn"
    return {
        "number": n.number,
        "title": n.title,
        "status": n.status,
        "pinned": n.pinned,
        "summary": "" if withdrawn else _summary(n.body_text),
        "target": _target(n.level, n.township, n.community, n.grid),
        "publisher": n.township.name if n.township else "县级",
        "published_at": iso(n.published_at),
        "expires_at": iso(n.expires_at),
        "withdrawn_at": iso(n.withdrawn_at),
        "read": read,
    }


def notice_detail_out(n: Notice, base_url: str, read: bool = False) -> dict:
    body = notice_out(n, read)
    withdrawn = n.status == "withdrawn"
    ids = [] if withdrawn else list(n.images or [])
    uploads = {u.id: u for u in Upload.select().where(Upload.id.in_(ids))} if ids else {}
    body.update(body_html="" if withdrawn else n.body_html,
                images=[photo_out(uploads[i], base_url) for i in ids if i in uploads],
                withdraw_reason=n.withdraw_reason if withdrawn else "")
    return body


def my_signup_out(s: Signup | None) -> dict | None:
    if s is None:
        return None
    return {"status": s.status, "position": campaign_service.position(s), "signed_up_at": iso(s.signed_up_at),
            "checked_in_at": iso(s.checked_in_at)}


def campaign_out(c: Campaign, waitlisted: int, mine: Signup | None = None) -> dict:
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
        "scope": _target(c.level, c.township, c.community, c.grid),
        "skills": list(c.skills or []),
        "hours": c.hours,
        "report": c.report.number if c.report_id else None,
        "my_signup": my_signup_out(mine),
    }
