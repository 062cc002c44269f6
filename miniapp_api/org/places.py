"""A resident's home place (unit, community, grid), chosen from lists or located from
coordinates, and the scope rules every notice and campaign list follows.

Locating: a grid whose boundary contains the point wins; otherwise the grid with the nearest
centre point within ``campaigns.locate_max_km``: the routing function of reports
(``miniapp_api.org.routing``), without a township or a home grid.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from miniapp_api.db import write_tx
from miniapp_api.errors import NotFound
from miniapp_api.errors import ValidationFailed
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Resident
from miniapp_api.models import Township
from miniapp_api.org import geo
from miniapp_api.org import routing

_CODE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")  # unit codes (config.py)


@dataclass(frozen=True)
class Located:
    """Where a point falls: its grid (or nearest) and how it was found."""

    grid: Grid
    method: str  # "boundary" or "nearest_centre" (routing.Rule)
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


def locate(lat: float, lng: float, max_km: float) -> Located | None:
    """The grid at ``(lat, lng)``: by boundary, else by the nearest centre within ``max_km``
    (in any township). The same routing function as reports (``miniapp_api.org.routing``)."""
    found = routing.route(lat, lng, max_metres=max_km * 1000)
    if found.grid is None:
        return None
    distance = round(found.distance_m, 1) if found.distance_m is not None else None
    return Located(Grid.get_by_id(found.grid.id), str(found.rule), distance)


def geometry_values(grid: Grid, geometry: dict | None, center: tuple[float, float] | None) -> dict:
    """The column values that give ``grid`` the parsed boundary ``geometry`` (None: leave it)
    and ``center``; only what differs from the row.

    Without a centre, a new boundary keeps the grid's centre if it lies inside it, else the
    boundary's own centre (its centroid, or a point inside it) becomes the centre.
    """
    values: dict = {}
    if geometry is not None:
        text = geo.dumps(geometry)
        if text != grid.boundary:
            values["boundary"] = text
        if center is None:
            has = grid.center_lat is not None and grid.center_lng is not None
            if not (has and geo.contains(geometry, grid.center_lat, grid.center_lng)):
                center = geo.centroid(geometry)
    if center is not None and (grid.center_lat, grid.center_lng) != tuple(center):
        values["center_lat"], values["center_lng"] = center
    return values


def set_grid_geometry(grid: Grid, boundary_text: str | None, center: tuple[float, float] | None) -> Grid:
    """Store a grid's boundary (WKT or GeoJSON, stored as GeoJSON; empty text removes it) and
    centre point (see :func:`geometry_values`). Raises ``InvalidBoundary``.

    It checks the boundary alone; ``grid_import.save_geometry`` also checks it against the
    other grids (overlaps, distance from its township), as the console does.
    """
    if boundary_text is not None and not boundary_text.strip():
        values = {"boundary": None} if grid.boundary is not None else {}
        if center is not None:
            values.update(center_lat=center[0], center_lng=center[1])
    else:
        geometry = geo.parse_boundary(boundary_text) if boundary_text is not None else None
        values = geometry_values(grid, geometry, center)
    if values:
        with write_tx():
            Grid.update(**values).where(Grid.id == grid.id).execute()
    return Grid.get_by_id(grid.id)
