"""How 我也遇到, 合并 and 办结照片 show in the residents' API: the report's extra fields, the
nearby list, and "my reports" with the reports the resident follows."""
from __future__ import annotations

from miniapp_api.models import Report
from miniapp_api.models import Resident
from miniapp_api.paging import encode_cursor
from miniapp_api.reports import service
from miniapp_api.reports.completion_photos import COMPLETION_PHOTO_POSITION
from miniapp_api.reports.completion_photos import photos_by_report
from miniapp_api.reports.nearby import NearbyReport
from miniapp_api.reports.uploads import photo_out
from miniapp_api.time import iso


def extra_out(report, photos: list, base_url: str, *, completion: list | None, relation: str | None) -> dict:
    """The fields a report carries for 我也遇到, 合并 and 办结照片 (CONTRACT §3)."""
    if completion is None:
        completion = [u for u in photos if getattr(u, "position", 0) >= COMPLETION_PHOTO_POSITION]
    merged_id = getattr(report, "merged_into_id", None)
    out = {
        "completion_photos": [photo_out(u, base_url) for u in completion],
        "supporters": report.supporters or 0,
        "merged_into": (Report.select(Report.number).where(Report.id == merged_id).scalar()
                        if merged_id else None),
    }
    if relation:
        out["relation"] = relation
    return out


def nearby_out(item: NearbyReport, base_url: str) -> dict:
    """One nearby report in the contract's shape (never its reporter)."""
    return {
        "number": item.number,
        "category": {"code": item.category_code, "name": item.category_name},
        "status": item.status,
        "distance_m": item.distance_m,
        "created_at": iso(item.created_at),
        "summary": item.summary,
        "thumbnail_url": photo_out(item.thumbnail, base_url)["thumbnail_url"] if item.thumbnail else None,
    }


def my_reports(resident: Resident, cursor: str | None, limit: int, base_url: str,
               report_out) -> dict:
    """One page of "my reports": the resident's own (``relation: own``) and those they follow
    (``relation: following``), newest first, one cursor for both."""
    own, own_next = service.list_own_reports(resident, cursor, limit)
    # ``follows`` came with the bearer token's row, counted by the database (migration v015):
    # most residents follow nothing, and their list is spared that query.
    followed = service.list_followed_reports(resident, cursor, limit) if resident.follows else []
    if followed:
        items = [(r, "own") for r in own] + [(r, "following") for r in followed]
        items.sort(key=lambda pair: pair[0].id, reverse=True)
    else:  # the common case: nothing followed, the own page is the page
        items = [(r, "own") for r in own]
    more = own_next is not None or len(followed) > limit or len(items) > limit
    items = items[:limit]
    own_photos = service.photos_of(resident.id, [r.id for r, rel in items if rel == "own"])
    theirs, done = photos_by_report([r.id for r, rel in items if rel == "following"])
    out = []
    for r, rel in items:
        if rel == "own":
            out.append(report_out(r, own_photos[r.id], base_url, relation=rel))
        else:
            out.append(report_out(r, theirs[r.id], base_url, completion=done[r.id], relation=rel))
    return {"items": out, "next_cursor": encode_cursor("r", items[-1][0].id) if more and items else None}
