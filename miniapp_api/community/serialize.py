"""What notices and campaigns share in the API's shape: loading a page's places at once and
naming whom a notice or campaign is for. Their own shapes: ``notices.serialize`` and
``campaigns.serialize``."""
from __future__ import annotations

from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Report
from miniapp_api.models import Township


def prime(rows: list) -> list:
    """Load the unit, community, grid (and report) of a page of notices or campaigns with one
    query per kind instead of one per row."""
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


def target_out(level: str, township, community, grid) -> dict:
    """Whom a notice or campaign is for (``TargetOut``)."""
    return {
        "level": level,
        "township": {"code": township.code, "name": township.name} if township else None,
        "community": {"id": community.id, "name": community.name} if community else None,
        "grid": {"id": grid.id, "name": grid.name} if grid else None,
    }
