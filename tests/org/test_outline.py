"""Routing's plain-Python containment (``geo.Outline``) answers as shapely's ``covers`` does,
for the shapes grids have: rectangles and slanted shapes, concave ones, holes and several
parts, at random points, at their vertices and on their edges."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from miniapp_api.org import geo

SHAPES = {
    "rectangle": {"type": "Polygon", "coordinates": [[[125.30, 43.34], [125.31, 43.34], [125.31, 43.35],
                                                      [125.30, 43.35], [125.30, 43.34]]]},
    "slanted": {"type": "Polygon", "coordinates": [[[125.300, 43.340], [125.312, 43.343], [125.309, 43.352],
                                                    [125.298, 43.349], [125.300, 43.340]]]},
    "L-shape": {"type": "Polygon", "coordinates": [[[125.30, 43.34], [125.32, 43.34], [125.32, 43.345],
                                                    [125.305, 43.345], [125.305, 43.36], [125.30, 43.36],
                                                    [125.30, 43.34]]]},
    "with a hole": {"type": "Polygon", "coordinates": [
        [[125.28, 43.34], [125.29, 43.34], [125.29, 43.35], [125.28, 43.35], [125.28, 43.34]],
        [[125.283, 43.343], [125.287, 43.343], [125.287, 43.347], [125.283, 43.347], [125.283, 43.343]]]},
    "two parts": {"type": "MultiPolygon", "coordinates": [
        [[[125.27, 43.34], [125.275, 43.34], [125.275, 43.345], [125.27, 43.345], [125.27, 43.34]]],
        [[[125.28, 43.34], [125.285, 43.34], [125.285, 43.345], [125.28, 43.345], [125.28, 43.34]]]]},
}


def shapely_covers(geometry: dict, lat: float, lng: float) -> bool:
    return geo.contains(geometry, lat, lng)


@pytest.mark.parametrize("name", SHAPES)
@hsettings(max_examples=300, deadline=None, derandomize=True)
@given(lat=st.floats(43.335, 43.365), lng=st.floats(125.265, 125.325))
def test_random_points_agree_with_shapely(name, lat, lng):
    geometry = SHAPES[name]
    assert geo.Outline(geometry).covers(lat, lng) == shapely_covers(geometry, lat, lng)


@pytest.mark.parametrize("name", SHAPES)
def test_vertices_and_axis_aligned_edges_count_as_inside(name):
    geometry = SHAPES[name]
    outline = geo.Outline(geometry)
    for poly in geo.polygons(geometry):
        for ring in poly:
            for (x0, y0), (x1, y1) in zip(ring, ring[1:]):
                points = [(y0, x0)]
                if x0 == x1 or y0 == y1:  # exactly representable midpoints of straight edges
                    points.append(((y0 + y1) / 2, (x0 + x1) / 2))
                for lat, lng in points:
                    assert outline.covers(lat, lng) == shapely_covers(geometry, lat, lng) is True, (lat, lng)


def test_a_stored_boundary_reads_the_same_as_its_geometry():
    geometry = SHAPES["with a hole"]
    stored = geo.Outline(geo.geometry_from_geojson(json.loads(geo.dumps(geometry))))
    assert stored.bbox == (125.28, 43.34, 125.29, 43.35)
    assert stored.covers(43.341, 125.281) and not stored.covers(43.345, 125.285)


ROUTE_WITHOUT_SHAPELY = """
import json, sys
from miniapp_api.org import geo
from miniapp_api.org.routing import GridIndex
boundary = json.dumps(json.loads(sys.argv[1]))
index = GridIndex([(1, "第1网格", "人民社区", 7, "yongsheng", "永盛街道", 43.345, 125.305, boundary)])
route = index.route(43.341, 125.301, max_metres=500)
print(route.rule, route.grid.name, "shapely" in sys.modules)
"""


def test_routing_loads_no_shapely(tmp_path):
    """A web worker routes every report; shapely and numpy (about 20 MiB) stay out of it."""
    done = subprocess.run([sys.executable, "-c", ROUTE_WITHOUT_SHAPELY, json.dumps(SHAPES["rectangle"])],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["boundary", "第1网格", "False"], done.stdout
