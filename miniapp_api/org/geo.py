"""Small, pure geometry: distances and grid boundaries (WKT or GeoJSON), on shapely.

shapely is imported on first use (:func:`shapely_module`): importing this module costs nothing
heavy, so only processes that check or convert a boundary load shapely and numpy. Routing a
point (:class:`Outline`) is plain Python on stored boundaries, which were checked when stored:
a web worker routes reports without carrying shapely's 20 MiB.

Boundaries are stored as GeoJSON text (``Polygon`` or ``MultiPolygon``, positions as
``[lng, lat]``), whichever form they were imported in, and must be valid polygons (no
self-intersecting ring, holes inside their shell). Grids are small (hundreds of metres), so
planar geometry on degrees is exact enough for containment; distances use the haversine
formula and areas a local scale. Every coordinate is WGS-84 (docs/grids.md says how GCJ-02
data is converted before it reaches Tongxin).
"""
from __future__ import annotations

import json
import math
from array import array

EARTH_RADIUS_M = 6_371_008.8
MAX_BOUNDARY_CHARS = 200_000
MAX_VERTICES = 20_000


def shapely_module():
    """The shapely module, imported on first use."""
    # shapely (with numpy, about 20 MiB a process) is needed only where a boundary is read,
    # checked or indexed: a worker that never meets one is spared it. Not called per point.
    import shapely.errors  # noqa: F401 (its exceptions, below)
    # the same heavy dependency: the submodule that turns GeoJSON into shapes
    import shapely.geometry
    return shapely


class InvalidBoundary(ValueError):
    """The text is neither a WKT nor a GeoJSON (multi)polygon; the message says why (Chinese)."""


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def _position(p) -> list[float]:
    if not isinstance(p, (list, tuple)) or len(p) < 2:
        raise InvalidBoundary("坐标应为 [经度, 纬度]")
    try:
        lng, lat = float(p[0]), float(p[1])
    except (TypeError, ValueError):
        raise InvalidBoundary("坐标应为数字") from None
    if not (math.isfinite(lng) and math.isfinite(lat)) or not (-180 <= lng <= 180 and -90 <= lat <= 90):
        raise InvalidBoundary("坐标超出范围（经度 -180–180，纬度 -90–90；顺序为经度在前）")
    return [lng, lat]


def _ring(points) -> list[list[float]]:
    if not isinstance(points, (list, tuple)):
        raise InvalidBoundary("多边形的环应为坐标列表")
    ring = [_position(p) for p in points]
    if ring and ring[0] != ring[-1]:
        ring.append(list(ring[0]))
    if len(ring) < 4:
        raise InvalidBoundary("多边形至少需要 3 个不同的顶点")
    return ring


def _polygon(rings) -> list[list[list[float]]]:
    if not isinstance(rings, (list, tuple)) or not rings:
        raise InvalidBoundary("多边形不能为空")
    return [_ring(r) for r in rings]


def geometry_from_geojson(data) -> dict:
    """A GeoJSON geometry dict (Polygon/MultiPolygon, or a Feature holding one), checked for
    shape, coordinate ranges and size but not validity (:func:`check_valid`)."""
    geometry = _from_geojson(data)
    if sum(len(r) for p in polygons(geometry) for r in p) > MAX_VERTICES:
        raise InvalidBoundary("边界顶点太多")
    return geometry


def _from_geojson(data) -> dict:
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict):
        raise InvalidBoundary("GeoJSON 应为 Polygon 或 MultiPolygon")
    kind, coords = data.get("type"), data.get("coordinates")
    if kind == "Polygon":
        return {"type": "Polygon", "coordinates": _polygon(coords)}
    if kind == "MultiPolygon":
        if not isinstance(coords, (list, tuple)) or not coords:
            raise InvalidBoundary("MultiPolygon 不能为空")
        return {"type": "MultiPolygon", "coordinates": [_polygon(p) for p in coords]}
    raise InvalidBoundary("GeoJSON 的 type 应为 Polygon 或 MultiPolygon")


def _from_wkt(text: str) -> dict:
    shapely = shapely_module()
    try:
        shp = shapely.from_wkt(text)
    except (shapely.errors.GEOSException, ValueError, TypeError):
        raise InvalidBoundary("无法识别的边界：应为 WKT（POLYGON/MULTIPOLYGON，括号和数字要完整）或 GeoJSON") from None
    if shp is None or shp.geom_type not in ("Polygon", "MultiPolygon"):
        raise InvalidBoundary("边界应为 POLYGON 或 MULTIPOLYGON")
    return shapely.geometry.mapping(shp)


def parse_boundary(text: str) -> dict:
    """A valid GeoJSON geometry dict from WKT or GeoJSON text; raises :class:`InvalidBoundary`."""
    text = (text or "").strip()
    if not text:
        raise InvalidBoundary("边界为空")
    if len(text) > MAX_BOUNDARY_CHARS:
        raise InvalidBoundary("边界数据太大")
    if text.startswith("{"):
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidBoundary("GeoJSON 不是有效的 JSON") from None
        geometry = geometry_from_geojson(data)
    else:
        geometry = geometry_from_geojson(_from_wkt(text))
    check_valid(geometry)
    return geometry


def dumps(geometry: dict) -> str:
    """Canonical text of a geometry (what is stored in ``Grid.boundary``)."""
    return json.dumps(geometry, separators=(",", ":"))


def polygons(geometry: dict) -> list:
    """The polygons of a Polygon or MultiPolygon, each a list of rings."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    return list(geometry["coordinates"])


def shape_of(geometry: dict):
    """The shapely geometry of a parsed boundary (x = longitude, y = latitude)."""
    return shapely_module().geometry.shape(geometry)


# GEOS's reasons for an invalid polygon, in the words an administrator reads.
_REASONS = {
    "Self-intersection": "边界自相交（边与边交叉，或多个部分相互重叠）",
    "Ring Self-intersection": "边界的环自相交",
    "Hole lies outside shell": "内环（洞）不在外环之内",
    "Nested holes": "内环（洞）相互嵌套",
    "Interior is disconnected": "内环把多边形分成了互不相连的几块",
    "Nested shells": "多边形的几个部分相互嵌套",
    "Duplicate Rings": "有重复的环",
    "Too few points": "顶点太少",
    "Invalid Coordinate": "坐标无效",
}


def check_valid(geometry: dict):
    """The shapely geometry of ``geometry`` if it is a valid (multi)polygon with an area;
    raises :class:`InvalidBoundary` naming the problem and where it is."""
    shp = shape_of(geometry)
    reason = shapely_module().is_valid_reason(shp)
    if reason != "Valid Geometry":
        key, _, where = reason.partition("[")
        text = _REASONS.get(key.strip(), f"边界无效（{key.strip()}）")
        if where:
            x, _, y = where.rstrip("]").partition(" ")
            text += f"，约在 经度 {float(x):.6f}、纬度 {float(y):.6f} 处"
        raise InvalidBoundary(text)
    if shp.is_empty or shp.area <= 0:
        raise InvalidBoundary("多边形面积为零（顶点重合或共线）")
    return shp


def contains(geometry: dict, lat: float, lng: float) -> bool:
    """Whether the point lies in the geometry: inside or on its boundary, not in a hole."""
    return shape_of(geometry).covers(shapely_module().Point(lng, lat))


def centre_of(shp) -> tuple[float, float]:
    """``(lat, lng)`` of a (multi)polygon's centre: the centroid of its largest part, or a
    point surely inside that part when the centroid falls outside it (a crescent, an L)."""
    parts = list(shp.geoms) if hasattr(shp, "geoms") else [shp]
    largest = max(parts, key=lambda p: p.area)
    c = largest.centroid
    if not largest.covers(c):
        c = largest.point_on_surface()
    return c.y, c.x


def centroid(geometry: dict) -> tuple[float, float]:
    """``(lat, lng)`` of a parsed boundary's centre (see :func:`centre_of`)."""
    return centre_of(shape_of(geometry))


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of latitude and of longitude near ``lat`` (for small areas)."""
    m = math.pi * EARTH_RADIUS_M / 180
    return m, m * max(0.01, math.cos(math.radians(lat)))


def area_m2(shp) -> float:
    """The approximate area of a small shapely geometry given in degrees, in square metres."""
    if shp.is_empty:
        return 0.0
    my, mx = metres_per_degree(shp.centroid.y)
    return shp.area * mx * my


class Outline:
    """A stored (multi)polygon as routing reads it: each ring a flat array of ``x, y`` pairs
    (longitude, latitude; 16 bytes a vertex), and the bounding box.

    :meth:`covers` answers what shapely's ``covers`` answers for a valid polygon: inside, or
    on the boundary (a hole's edge included), but not inside a hole. Boundaries are checked
    for validity when they are stored (:func:`check_valid`), so the even-odd rule is exact
    here; a point within floating-point noise of a slanted edge may fall on either side,
    as it may in any planar test.
    """

    __slots__ = ("parts", "bbox")

    def __init__(self, geometry: dict):
        self.parts = [[array("d", [c for pos in ring for c in (float(pos[0]), float(pos[1]))]) for ring in poly]
                      for poly in polygons(geometry)]
        xs = [r[i] for p in self.parts for r in p[:1] for i in range(0, len(r), 2)]
        ys = [r[i] for p in self.parts for r in p[:1] for i in range(1, len(r), 2)]
        self.bbox = (min(xs), min(ys), max(xs), max(ys))

    def covers(self, lat: float, lng: float) -> bool:
        """Whether the point lies inside the outline or on its boundary."""
        x, y = lng, lat
        x0, y0, x1, y1 = self.bbox
        if x < x0 or x > x1 or y < y0 or y > y1:
            return False
        for shell, *holes in self.parts:
            where = _ring_position(shell, x, y)
            if where == _EDGE:
                return True
            if where == _OUT:
                continue
            for hole in holes:
                inner = _ring_position(hole, x, y)
                if inner == _EDGE:
                    return True  # a hole's edge belongs to the polygon
                if inner == _IN:
                    break
            else:
                return True
        return False


_OUT, _IN, _EDGE = 0, 1, 2


def _ring_position(ring: array, x: float, y: float) -> int:
    """Where the point lies against a closed ring: outside, inside or on an edge."""
    inside = False
    ax, ay = ring[0], ring[1]
    for i in range(2, len(ring), 2):
        bx, by = ring[i], ring[i + 1]
        if (min(ax, bx) <= x <= max(ax, bx) and min(ay, by) <= y <= max(ay, by)
                and (bx - ax) * (y - ay) == (by - ay) * (x - ax)):
            return _EDGE
        if (ay > y) != (by > y) and x < ax + (y - ay) * (bx - ax) / (by - ay):
            inside = not inside
        ax, ay = bx, by
    return _IN if inside else _OUT
