"""Which grid a place belongs to: the one routing function of reports, ``GET /api/v1/locate``
and the home-place locator (CONTRACT §3, docs/grids.md).

For a point, in this order:

1. ``boundary`` — the grid whose boundary contains it (its edge included). A location inside
   another township's grid moves the report to that township: the location wins over the
   township the resident picked. On a shared edge, or where two grids overlap within the
   import's tolerance, a grid of the picked township wins, then the nearest centre, then the
   older grid.
2. ``nearest_centre`` — else the grid centre nearest to it within ``max_metres``, among the
   picked township's grids (among all grids when no township is given).
3. ``home`` — else the resident's home grid, if it lies in that township.
4. ``none`` — else no grid: the township handles it (待指派网格).

The grids live in a per-process index (:class:`GridIndex`: boundaries and centres filed by
the cells of a fixed lattice), one of the catalogue's values (:mod:`miniapp_api.catalogue`):
the triggers of migration v013 bump the catalogue's version on every change to its tables
(``grid``, ``community`` and ``township`` among them), whoever makes it, so the index is
rebuilt once after a change (boundaries unchanged since the last index are not parsed again),
and routing costs no statement while nothing changed: a submission has read the version
already, ``GET /locate`` reads it once. Routing a point then reads the few grids filed in its
cell, in plain Python (:class:`~miniapp_api.org.geo.Outline`): stored boundaries were checked
when they were stored, so the web workers that route reports never load shapely and numpy
(about 20 MiB a process); the import and the console's boundary check still use them.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from enum import StrEnum

from miniapp_api import catalogue
from miniapp_api.db import database
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Township
from miniapp_api.org import geo
from miniapp_api.prepared import Prepared


class Rule(StrEnum):
    """How a point's grid was decided."""

    BOUNDARY = "boundary"              # inside the grid's boundary
    NEAREST_CENTRE = "nearest_centre"  # the nearest grid centre within the configured distance
    HOME = "home"                      # the resident's home grid in that township
    NONE = "none"                      # no grid: the township handles it (待指派网格)


@dataclass(frozen=True, slots=True)
class Unit:
    """A township as routing names it."""

    id: int
    code: str
    name: str


@dataclass(frozen=True, slots=True)
class GridPlace:
    """A grid as routing sees it: its names, township and centre (``(lat, lng)`` or None)."""

    id: int
    name: str
    community: str
    township: Unit
    center: tuple[float, float] | None
    has_boundary: bool

    @property
    def label(self) -> str:
        """``东风社区 第1网格``."""
        return f"{self.community} {self.name}"


@dataclass(frozen=True)
class Route:
    """Where a point is routed: its township (None when unknown), grid (None: 待指派网格), the
    rule that decided it, the distance to the chosen centre, and the township picked."""

    rule: Rule
    township: Unit | None
    grid: GridPlace | None
    max_metres: float
    distance_m: float | None = None
    picked: Unit | None = None

    @property
    def moved(self) -> bool:
        """Whether the location moved the report away from the township the resident picked."""
        return self.picked is not None and self.township is not None and self.township.id != self.picked.id

    def note(self) -> str:
        """How the grid was decided, in the words the timeline and the resident read."""
        limit = f"{self.max_metres:g} 米"
        if self.rule == Rule.BOUNDARY:
            text = f"按位置分派：位于{self.grid.township.name} {self.grid.label}的边界内"
            if self.moved:
                text += (f"。上报时选择的是{self.picked.name}，但位置在{self.township.name}的网格内，"
                         f"以位置为准，改由{self.township.name}办理")
            return text
        if self.rule == Rule.NEAREST_CENTRE:
            return (f"按位置分派：不在任何网格边界内，离{self.grid.label}的中心点最近"
                    f"（约 {self.distance_m:.0f} 米，{limit}以内）")
        if self.rule == Rule.HOME:
            return (f"按居住地分派：位置不在任何网格内，{limit}内也没有本乡镇/街道的网格中心点，"
                    f"交由居民登记的居住网格{self.grid.label}")
        where = self.township.name if self.township else "乡镇/街道"
        return (f"待指派网格：位置不在任何网格内，{limit}内没有本乡镇/街道的网格中心点，居民也没有登记"
                f"本乡镇/街道的居住网格；由{where}办理，乡镇干部可用“指派 <编号> <网格名>”指派网格")

    def out(self) -> dict:
        """``{"township", "grid", "rule", "distance_m", "note"}`` as ``GET /api/v1/locate`` answers."""
        return {
            "township": {"code": self.township.code, "name": self.township.name} if self.township else None,
            "grid": {"name": self.grid.name, "community": self.grid.community} if self.grid else None,
            "rule": str(self.rule),
            "distance_m": round(self.distance_m, 1) if self.distance_m is not None else None,
            "note": self.note(),
        }


def unit_of(township: Township) -> Unit:
    """The routing view of a township row."""
    return Unit(township.id, township.code, township.name)


#: The side of the index's cells, in degrees (about 1.1 km north–south): a point looks at one
#: cell of boundaries, and a nearest-centre search at the few cells its reach spans.
CELL_DEGREES = 0.01


def _cell(lat: float, lng: float) -> tuple[int, int]:
    return math.floor(lat / CELL_DEGREES), math.floor(lng / CELL_DEGREES)


class GridIndex:
    """Every grid of the county in memory: boundaries and centres filed by the cells of a
    fixed lattice they touch, so routing a point reads a handful of candidates (plain Python,
    no shapely: boundaries were checked when they were stored)."""

    def __init__(self, rows, previous: GridIndex | None = None):
        """Build from ``(id, name, community, township id, code, name, lat, lng, boundary)`` rows;
        boundaries ``previous`` (the index this one replaces) parsed are not parsed again."""
        self.grids: dict[int, GridPlace] = {}
        known = previous._parsed if previous is not None else {}
        # Boundary text -> its outline, or None when it no longer parses.
        self._parsed: dict[str, geo.Outline | None] = {}
        self._outlines: dict[int, geo.Outline] = {}
        self._shape_cells: dict[tuple[int, int], list[int]] = {}
        self._centre_cells: dict[tuple[int, int], list[int]] = {}
        units: dict[int, Unit] = {}
        self.invalid: list[int] = []  # grids whose stored boundary no longer parses (ignored)
        for gid, name, community, tid, tcode, tname, lat, lng, boundary in rows:
            unit = units.setdefault(tid, Unit(tid, tcode, tname))
            outline = None
            if boundary:
                if boundary not in self._parsed:
                    self._parsed[boundary] = known[boundary] if boundary in known else _parse(boundary)
                outline = self._parsed[boundary]
                if outline is None:
                    self.invalid.append(gid)
            center = (lat, lng) if lat is not None and lng is not None else None
            if center is None and outline is not None:
                center = _centre(boundary)
            self.grids[gid] = GridPlace(gid, name, community, unit, center, outline is not None)
            if outline is not None:
                self._outlines[gid] = outline
                x0, y0, x1, y1 = outline.bbox
                (r0, c0), (r1, c1) = _cell(y0, x0), _cell(y1, x1)
                for r in range(r0, r1 + 1):
                    for c in range(c0, c1 + 1):
                        self._shape_cells.setdefault((r, c), []).append(gid)
            if center is not None:
                self._centre_cells.setdefault(_cell(*center), []).append(gid)
        # The townships that have a grid centre: a point picked in another one skips that search.
        self._centred = {self.grids[gid].township.id for ids in self._centre_cells.values() for gid in ids}

    def __len__(self) -> int:
        return len(self.grids)

    def covering(self, lat: float, lng: float) -> list[GridPlace]:
        """The grids whose boundary contains the point (edge included), oldest first."""
        candidates = self._shape_cells.get(_cell(lat, lng))
        if not candidates:
            return []
        return [self.grids[gid] for gid in candidates if self._outlines[gid].covers(lat, lng)]

    def nearest_centre(self, lat: float, lng: float, max_metres: float,
                       township_id: int | None = None) -> tuple[GridPlace, float] | None:
        """The grid (of ``township_id``, or any) whose centre is nearest, within ``max_metres``."""
        if not self._centre_cells or (township_id is not None and township_id not in self._centred):
            return None
        my, mx = geo.metres_per_degree(lat)
        dy, dx = max_metres / my * 1.01, max_metres / mx * 1.01
        (r0, c0), (r1, c1) = _cell(lat - dy, lng - dx), _cell(lat + dy, lng + dx)
        best: tuple[float, int] | None = None
        for r in range(r0, r1 + 1):
            for c in range(c0, c1 + 1):
                for gid in self._centre_cells.get((r, c), ()):
                    grid = self.grids[gid]
                    if township_id is not None and grid.township.id != township_id:
                        continue
                    d = geo.haversine_m(lat, lng, *grid.center)
                    if d <= max_metres and (best is None or (d, grid.id) < best):
                        best = (d, grid.id)
        return (self.grids[best[1]], best[0]) if best else None

    def route(self, lat: float, lng: float, *, township: Unit | None = None, home_grid_id: int | None = None,
              max_metres: float) -> Route:
        """Where a report at ``(lat, lng)`` goes (see the module's docstring for the order)."""
        hits = self.covering(lat, lng)
        if hits:
            def preference(g: GridPlace):
                near = geo.haversine_m(lat, lng, *g.center) if g.center else math.inf
                return (township is None or g.township.id != township.id, near, g.id)
            grid = min(hits, key=preference) if len(hits) > 1 else hits[0]
            return Route(Rule.BOUNDARY, grid.township, grid, max_metres, None, township)
        found = self.nearest_centre(lat, lng, max_metres, township.id if township else None)
        if found:
            grid, d = found
            return Route(Rule.NEAREST_CENTRE, grid.township, grid, max_metres, d, township)
        home = self.grids.get(home_grid_id) if home_grid_id else None
        if home is not None and (township is None or home.township.id == township.id):
            return Route(Rule.HOME, home.township, home, max_metres, None, township)
        return Route(Rule.NONE, township, None, max_metres, None, township)


def _parse(boundary: str) -> geo.Outline | None:
    """The outline of a stored boundary, or None if it no longer parses. Stored boundaries are
    GeoJSON checked when they were stored; any other text goes through the full check."""
    try:
        if boundary.lstrip().startswith("{"):
            return geo.Outline(geo.geometry_from_geojson(json.loads(boundary)))
        return geo.Outline(geo.parse_boundary(boundary))
    except (geo.InvalidBoundary, ValueError, TypeError, KeyError):
        return None


def _centre(boundary: str) -> tuple[float, float] | None:
    """The centre of a grid stored with a boundary but no centre (the import stores one, so
    only older rows need this, and only they make a process load shapely)."""
    try:
        return geo.centroid(geo.parse_boundary(boundary))
    except geo.InvalidBoundary:
        return None


# --- the per-process index --------------------------------------------------------------------

_ROWS = Prepared(lambda: Grid.select(Grid.id, Grid.name, Community.name, Township.id, Township.code, Township.name,
                                     Grid.center_lat, Grid.center_lng, Grid.boundary)
                 .join(Community).join(Township).order_by(Grid.id))
#: The index's name among the catalogue's values (:mod:`miniapp_api.catalogue`).
CATALOGUE_NAME = "org.routing.index"

_lock = threading.Lock()
# The last index built in this process, and on which database (tests and the CLI rebind):
# the next one reuses its parsed boundaries.
_last: tuple[object, GridIndex] | None = None


def grid_rows() -> list[tuple]:
    """Every grid as :class:`GridIndex` is built from (one query)."""
    return _ROWS.rows()


def _load_index() -> GridIndex:
    """A fresh index of the grids as they are now, reusing the boundaries the last one parsed."""
    global _last
    db = database.obj
    with _lock:
        previous = _last[1] if _last is not None and _last[0] is db else None
        index = GridIndex(grid_rows(), previous)
        _last = (db, index)
    return index


def current_index() -> GridIndex:
    """This process's index of the grids, as of the catalogue's version (the one in force, or
    the one read now): rebuilt once after any change to the grids, their communities or
    townships, whoever made it, and costing no statement while nothing changed."""
    return catalogue.current().get(CATALOGUE_NAME, _load_index)


def route(lat: float, lng: float, *, township: Township | Unit | None = None, home_grid_id: int | None = None,
          max_metres: float) -> Route:
    """Where a report at ``(lat, lng)`` goes, for the township the resident picked (if any)
    and their home grid (if any): the one routing function (see the module's docstring)."""
    if isinstance(township, Township):
        township = unit_of(township)
    return current_index().route(lat, lng, township=township, home_grid_id=home_grid_id, max_metres=max_metres)
