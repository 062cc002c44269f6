"""Small, pure geometry: distances, grid boundaries (WKT or GeoJSON) and point-in-polygon.

Boundaries are stored as GeoJSON text (``Polygon`` or ``MultiPolygon``, positions as
``[lng, lat]``), whichever form they were imported in. Grids are small (hundreds of metres),
so planar ray casting on degrees is exact enough; distances use the haversine formula.
Coordinates are compared as given: the mini-program's ``wx.getLocation`` (GCJ-02) and the
roster's boundaries must use the same datum.
"""
from __future__ import annotations

import json
import math
import re

EARTH_RADIUS_M = 6_371_008.8
MAX_BOUNDARY_CHARS = 200_000
MAX_VERTICES = 20_000


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


_WKT = re.compile(r"^\s*(MULTIPOLYGON|POLYGON)\s*(?:Z\s*|M\s*|ZM\s*)?(\(.*\))\s*$", re.I | re.S)


def _parse_wkt_parens(text: str):
    """``((1 2, 3 4), (…))`` → nested lists of positions."""
    stack: list[list] = [[]]
    token = ""
    for ch in text:
        if ch == "(":
            stack.append([])
        elif ch in ",)":
            if token.strip():
                stack[-1].append([float(x) for x in token.split()])
            token = ""
            if ch == ")":
                if len(stack) < 2:
                    raise ValueError("unbalanced")
                done = stack.pop()
                stack[-1].append(done)
        else:
            token += ch
    if len(stack) != 1 or token.strip() or len(stack[0]) != 1:
        raise ValueError("unbalanced")
    return stack[0][0]


def _from_wkt(text: str) -> dict:
    m = _WKT.match(text)
    if not m:
        raise InvalidBoundary("无法识别的边界：应为 WKT（POLYGON/MULTIPOLYGON）或 GeoJSON")
    try:
        body = _parse_wkt_parens(m.group(2))
    except ValueError:
        raise InvalidBoundary("WKT 格式不正确（括号或数字有误）") from None
    if m.group(1).upper() == "POLYGON":
        return {"type": "Polygon", "coordinates": _polygon(body)}
    if not isinstance(body, list) or not body:
        raise InvalidBoundary("MULTIPOLYGON 不能为空")
    return {"type": "MultiPolygon", "coordinates": [_polygon(p) for p in body]}


def parse_boundary(text: str) -> dict:
    """A GeoJSON geometry dict from WKT or GeoJSON text; raises :class:`InvalidBoundary`."""
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
        geometry = _from_geojson(data)
    else:
        geometry = _from_wkt(text)
    if sum(len(r) for p in polygons(geometry) for r in p) > MAX_VERTICES:
        raise InvalidBoundary("边界顶点太多")
    return geometry


def dumps(geometry: dict) -> str:
    """Canonical text of a geometry (what is stored in ``Grid.boundary``)."""
    return json.dumps(geometry, separators=(",", ":"))


def polygons(geometry: dict) -> list:
    """The polygons of a Polygon or MultiPolygon, each a list of rings."""
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"]]
    return list(geometry["coordinates"])


def _in_ring(lng: float, lat: float, ring: list) -> bool:
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i][0], ring[i][1]
        xj, yj = ring[j][0], ring[j][1]
        if (yi > lat) != (yj > lat) and lng < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def contains(geometry: dict, lat: float, lng: float) -> bool:
    """Whether the point lies inside the geometry (inside an outer ring, outside its holes)."""
    for rings in polygons(geometry):
        if _in_ring(lng, lat, rings[0]) and not any(_in_ring(lng, lat, hole) for hole in rings[1:]):
            return True
    return False


def centroid(geometry: dict) -> tuple[float, float]:
    """``(lat, lng)`` of the area centroid of the largest polygon's outer ring."""
    best = None
    for rings in polygons(geometry):
        ring = rings[0]
        a = cx = cy = 0.0
        for (x0, y0), (x1, y1) in zip((p[:2] for p in ring[:-1]), (p[:2] for p in ring[1:]), strict=True):
            cross = x0 * y1 - x1 * y0
            a += cross
            cx += (x0 + x1) * cross
            cy += (y0 + y1) * cross
        if a == 0:  # degenerate: the mean of the vertices
            xs, ys = [p[0] for p in ring[:-1]], [p[1] for p in ring[:-1]]
            c = (sum(ys) / len(ys), sum(xs) / len(xs))
        else:
            c = (cy / (3 * a), cx / (3 * a))
        if best is None or abs(a) > best[0]:
            best = (abs(a), c)
    return best[1]
