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
from miniapp_api.prepared import Param
from miniapp_api.prepared import Prepared
from miniapp_api.prepared import loaded
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


def _box():
    """One category's open, shown reports inside a box and since a time (values as slots)."""
    return (Report.select(Report.id, Report.number, Report.status, Report.lat, Report.lng, Report.created_at,
                          Report.description)
            .where((Report.category == Param("category")) & Report.status.in_(sorted(str(s) for s in OPEN_STATUSES))
                   & Report.lat.between(Param("south"), Param("north"))
                   & Report.lng.between(Param("west"), Param("east"))
                   & (Report.created_at >= Param("since", Report.created_at))
                   & Report.moderation.in_(["pass", "review"])))


# Compiled once (``prepared``): building these with peewee on every submission cost more than
# running them. Rows come back as tuples, not models.
_IN_BOX = Prepared(_box)
_IN_BOX_EXCEPT = Prepared(lambda: _box().where(Report.id != Param("exclude")))
_UPLOAD_FIELDS = tuple(Upload._meta.sorted_fields)
# The first shown resident photo of up to n reports, one query per list length n
# (at most ``nearby_max_items`` of them).
_FIRST_PHOTOS: dict[int, Prepared] = {}


def _first_photos_query(n: int) -> Prepared:
    """The compiled photo query for ``n`` reports."""
    query = _FIRST_PHOTOS.get(n)
    if query is None:
        query = _FIRST_PHOTOS.setdefault(n, Prepared(lambda: (
            ReportPhoto.select(ReportPhoto.report, ReportPhoto.position, *_UPLOAD_FIELDS).join(Upload)
            .where(ReportPhoto.report.in_([Param(f"r{i}") for i in range(n)])
                   & (ReportPhoto.position < COMPLETION_PHOTO_POSITION) & shown())
            .order_by(ReportPhoto.report, ReportPhoto.position))))
    return query


def find(category: Category, lat: float, lng: float, settings: ReportsSettings, now: datetime, *,
         exclude_id: int | None = None) -> list[NearbyReport]:
    """Open reports of ``category`` within ``settings.nearby_radius_metres`` of the point and
    filed within ``settings.nearby_max_age_days``, nearest first (at most ``nearby_max_items``)."""
    radius = settings.nearby_radius_metres
    dlat = radius / _M_PER_DEGREE
    dlng = radius / (_M_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
    box = {"category": category.id, "south": lat - dlat, "north": lat + dlat, "west": lng - dlng,
           "east": lng + dlng, "since": now - timedelta(days=settings.nearby_max_age_days)}
    rows = (_IN_BOX.rows(**box) if exclude_id is None else _IN_BOX_EXCEPT.rows(**box, exclude=exclude_id))
    found = []
    for row in rows:  # (id, number, status, lat, lng, created_at, description)
        d = distance_m(lat, lng, row[3], row[4])
        if d <= radius:
            found.append((d, row))
    found.sort(key=lambda pair: (pair[0], pair[1][0]))
    found = found[:settings.nearby_max_items]
    thumbs = _first_photos([row[0] for _, row in found])
    return [NearbyReport(number, category.code, category.name, status, round(d), created_at,
                         summary(description), thumbs.get(rid))
            for d, (rid, number, status, _, _, created_at, description) in found]


def _first_photos(report_ids: list[int]) -> dict[int, Upload]:
    """The first resident photo of each report (one query)."""
    out: dict[int, Upload] = {}
    if not report_ids:
        return out
    rows = _first_photos_query(len(report_ids)).rows(**{f"r{i}": rid for i, rid in enumerate(report_ids)})
    for row in rows:  # (report, position, *the upload's columns)
        if row[0] not in out:
            out[row[0]] = loaded(Upload, {f.name: value for f, value in zip(_UPLOAD_FIELDS, row[2:])})
    return out
