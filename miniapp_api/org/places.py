"""A resident's home place (unit, community, grid), chosen from lists or located from
coordinates, and the scope rules every notice and campaign list follows.

Locating: a grid whose boundary contains the point wins; otherwise the grid with the nearest
centre point within ``campaigns.locate_max_km``. Boundaries are parsed once and cached; the
cache is refreshed whenever the set of boundaries changes (a cheap fingerprint query).
"""
from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass

from peewee import fn

from miniapp_api.db import write_tx
from miniapp_api.errors import NotFound
from miniapp_api.errors import ValidationFailed
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Resident
from miniapp_api.models import Township
from miniapp_api.org import geo

_CODE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")  # unit codes (config.py)


@dataclass(frozen=True)
class Located:
    """Where a point falls: its grid (or nearest) and how it was found."""

    grid: Grid
    method: str  # "boundary" or "nearest_center"
    distance_m: float | None = None


def township_by_code(code: str, field: str = "township") -> Township:
    """The township with ``code``; ValidationFailed (on ``field``) when there is none."""
    t = Township.get_or_none(Township.code == code)
    if t is None:
        raise ValidationFailed(f"{field}：没有这个乡镇/街道", field=field)
    return t


def communities_of(code: str) -> list[Community]:
    """The communities of a unit, by name."""
    township = Township.get_or_none(Township.code == code) if _CODE.match(code) else None
    if township is None:
        raise NotFound("没有这个乡镇/街道", code="township_not_found")
    return list(Community.select().where(Community.township == township).order_by(Community.name, Community.id))


def grids_of(community_id: int) -> list[Grid]:
    """The grids of a community, by name."""
    community = Community.get_or_none(Community.id == community_id)
    if community is None:
        raise NotFound("没有这个村/社区", code="community_not_found")
    return list(Grid.select().where(Grid.community == community).order_by(Grid.name, Grid.id))


def resolve_place(township_code: str | None, community_id: int | None, grid_id: int | None,
                  prefix: str = "") -> tuple[Township, Community | None, Grid | None]:
    """Check that the three belong together (a grid implies its community and unit)."""
    grid = community = None
    if grid_id is not None:
        grid = Grid.get_or_none(Grid.id == grid_id)
        if grid is None:
            raise ValidationFailed(f"{prefix}grid：没有这个网格", field=f"{prefix}grid")
        community = grid.community
        if community_id is not None and community_id != community.id:
            raise ValidationFailed(f"{prefix}grid：该网格不属于所选的村/社区", field=f"{prefix}grid")
    elif community_id is not None:
        community = Community.get_or_none(Community.id == community_id)
        if community is None:
            raise ValidationFailed(f"{prefix}community：没有这个村/社区", field=f"{prefix}community")
    if community is not None:
        township = community.township
        if township_code and township_code != township.code:
            raise ValidationFailed(f"{prefix}community：该村/社区不属于所选的乡镇/街道", field=f"{prefix}community")
        return township, community, grid
    if not township_code:
        raise ValidationFailed(f"{prefix}township：请选择乡镇/街道", field=f"{prefix}township")
    return township_by_code(township_code, f"{prefix}township"), None, None


def set_home(resident: Resident, township: Township, community: Community | None, grid: Grid | None) -> Resident:
    """Record the resident's home place; every notice and campaign list follows it."""
    with write_tx():
        (Resident.update(home_township=township, home_community=community, home_grid=grid)
         .where(Resident.id == resident.id).execute())
    return Resident.get_by_id(resident.id)


def home_out(resident: Resident) -> dict:
    """``{"township", "community", "grid"}`` (each null when not chosen)."""
    t = Township.get_or_none(Township.id == resident.home_township_id) if resident.home_township_id else None
    c = Community.get_or_none(Community.id == resident.home_community_id) if resident.home_community_id else None
    g = Grid.get_or_none(Grid.id == resident.home_grid_id) if resident.home_grid_id else None
    return {
        "township": {"code": t.code, "name": t.name} if t else None,
        "community": {"id": c.id, "name": c.name} if c else None,
        "grid": {"id": g.id, "name": g.name} if g else None,
    }


# --- locating -------------------------------------------------------------------------------

_cache_lock = threading.Lock()
_cache: dict = {"fingerprint": None, "items": []}


def _fingerprint() -> tuple:
    row = (Grid.select(fn.COUNT(Grid.id), fn.SUM(Grid.id), fn.SUM(fn.LENGTH(Grid.boundary)))
           .where(Grid.boundary.is_null(False)).tuples().first())
    return tuple(row or ())


def _boundaries() -> list[tuple[int, tuple[float, float, float, float], dict]]:
    """``(grid id, (min lng, min lat, max lng, max lat), geometry)`` of every grid with a boundary."""
    fp = _fingerprint()
    with _cache_lock:
        if _cache["fingerprint"] == fp:
            return _cache["items"]
    items = []
    for gid, text in Grid.select(Grid.id, Grid.boundary).where(Grid.boundary.is_null(False)).tuples():
        try:
            geometry = geo.parse_boundary(text)
        except geo.InvalidBoundary:
            continue  # stored before validation existed; ignored rather than fatal
        xs = [p[0] for poly in geo.polygons(geometry) for p in poly[0]]
        ys = [p[1] for poly in geo.polygons(geometry) for p in poly[0]]
        items.append((gid, (min(xs), min(ys), max(xs), max(ys)), geometry))
    with _cache_lock:
        _cache.update(fingerprint=fp, items=items)
    return items


def locate(lat: float, lng: float, max_km: float) -> Located | None:
    """The grid at ``(lat, lng)``: by boundary, else by the nearest centre within ``max_km``."""
    for gid, (x0, y0, x1, y1), geometry in _boundaries():
        if x0 <= lng <= x1 and y0 <= lat <= y1 and geo.contains(geometry, lat, lng):
            grid = Grid.get_or_none(Grid.id == gid)
            if grid is not None:
                return Located(grid, "boundary", None)
    dlat = max_km / 111.0
    dlng = max_km / (111.0 * max(0.01, math.cos(math.radians(lat))))
    best: tuple[float, int] | None = None
    rows = (Grid.select(Grid.id, Grid.center_lat, Grid.center_lng)
            .where(Grid.center_lat.between(lat - dlat, lat + dlat) & Grid.center_lng.between(lng - dlng, lng + dlng))
            .tuples())
    for gid, clat, clng in rows:
        d = geo.haversine_m(lat, lng, clat, clng)
        if d <= max_km * 1000 and (best is None or d < best[0]):
            best = (d, gid)
    if best is None:
        return None
    return Located(Grid.get_by_id(best[1]), "nearest_center", round(best[0], 1))


def set_grid_geometry(grid: Grid, boundary_text: str | None, center: tuple[float, float] | None) -> Grid:
    """Store a grid's boundary (WKT or GeoJSON, stored as GeoJSON) and centre point.

    Without a centre, a boundary's centroid becomes the centre. Raises ``InvalidBoundary``.
    """
    values: dict = {}
    if boundary_text is not None:
        if boundary_text.strip():
            geometry = geo.parse_boundary(boundary_text)
            values["boundary"] = geo.dumps(geometry)
            if center is None:
                center = geo.centroid(geometry)
        else:
            values["boundary"] = None
    if center is not None:
        values["center_lat"], values["center_lng"] = center
    if values:
        with write_tx():
            Grid.update(**values).where(Grid.id == grid.id).execute()
    return Grid.get_by_id(grid.id)
