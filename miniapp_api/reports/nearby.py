"""Open reports near a point (我也遇到): what ``GET /api/v1/reports/nearby`` and a new
submission's answer list.

The search is a bounding box on one category's open reports, a range of the index
``report (category_id, status, lat, lng)`` (v012), then exact distances for the few rows
inside it: never a scan of the table. Only reports that passed the content check are listed,
and nothing that identifies a reporter (no resident, no address).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from miniapp_api.config import ReportsSettings
from miniapp_api.models import Category
from miniapp_api.models import Report
from miniapp_api.models import ReportPhoto
from miniapp_api.models import Upload
from miniapp_api.reports.lifecycle import OPEN_STATUSES
from miniapp_api.reports.completion_photos import COMPLETION_PHOTO_POSITION
from miniapp_api.reports.uploads import shown

EARTH_RADIUS_M = 6_371_008.8
_M_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180
#: A summary is the description's first line, cut to this many characters.
SUMMARY_CHARS = 40


@dataclass(frozen=True)
class NearbyReport:
    """One open report near the point, as residents may see it."""

    number: str
    category_code: str
    category_name: str
    status: str
    distance_m: int
    created_at: datetime
    summary: str
    thumbnail: Upload | None


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """The great-circle distance between two WGS-84 points, in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def summary(description: str) -> str:
    """A description cut to its first line and :data:`SUMMARY_CHARS` characters."""
    line = (description or "").strip().splitlines()[0].strip() if (description or "").strip() else ""
    return line if len(line) <= SUMMARY_CHARS else line[:SUMMARY_CHARS - 1] + "…"


def find(category: Category, lat: float, lng: float, settings: ReportsSettings, now: datetime, *,
         exclude_id: int | None = None) -> list[NearbyReport]:
    """Open reports of ``category`` within ``settings.nearby_radius_metres`` of the point and
    filed within ``settings.nearby_max_age_days``, nearest first (at most ``nearby_max_items``)."""
    radius = settings.nearby_radius_metres
    dlat = radius / _M_PER_DEGREE
    dlng = radius / (_M_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    since = now - timedelta(days=settings.nearby_max_age_days)
    query = (Report.select(Report.id, Report.number, Report.status, Report.lat, Report.lng, Report.created_at,
                           Report.description)
             .where((Report.category == category.id) & Report.status.in_([str(s) for s in OPEN_STATUSES])
                    & Report.lat.between(lat - dlat, lat + dlat) & Report.lng.between(lng - dlng, lng + dlng)
                    & (Report.created_at >= since) & Report.moderation.in_(["pass", "review"])))
    if exclude_id is not None:
        query = query.where(Report.id != exclude_id)
    found = []
    for row in query:
        d = distance_m(lat, lng, row.lat, row.lng)
        if d <= radius:
            found.append((d, row))
    found.sort(key=lambda pair: (pair[0], pair[1].id))
    found = found[:settings.nearby_max_items]
    thumbs = _first_photos([row.id for _, row in found])
    return [NearbyReport(row.number, category.code, category.name, row.status, round(d), row.created_at,
                         summary(row.description), thumbs.get(row.id)) for d, row in found]


def _first_photos(report_ids: list[int]) -> dict[int, Upload]:
    """The first resident photo of each report (one query)."""
    out: dict[int, Upload] = {}
    if not report_ids:
        return out
    rows = (ReportPhoto.select(ReportPhoto.report, ReportPhoto.position, Upload).join(Upload)
            .where(ReportPhoto.report.in_(report_ids) & (ReportPhoto.position < COMPLETION_PHOTO_POSITION) & shown())
            .order_by(ReportPhoto.report, ReportPhoto.position))
    for row in rows:
        out.setdefault(row.report_id, row.upload)
    return out
