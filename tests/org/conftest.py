"""An organisation with grid boundaries for the routing tests (docs/grids.md).

Around the test location of ``report_body()`` (43.345, 125.305), west to east::

    湖滨网格 (西城社区, yongsheng): a MultiPolygon with an empty hole, and a second part
    东风 第1网格 | 东风 第2网格 (yongsheng) | 一组网格 (东尖山村, yitong)     (shared edges)
    北关网格 (yongsheng): a centre only, at (43.360, 125.330)
    南山网格 (yongning): far away, north-east
"""
from __future__ import annotations

import json

import pytest

from miniapp_api.db import database
from miniapp_api.models import Grid
from miniapp_api.org import grid_import
from miniapp_api.org import places
from tests.community.conftest import ADMIN_TOKEN


def box(west: float, south: float, east: float, north: float) -> list:
    """A rectangle's ring, counter-clockwise, closed."""
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


def feature(township: str, community: str, grid: str, geometry: dict) -> dict:
    """A GeoJSON feature naming a grid as the roster does."""
    return {"type": "Feature", "properties": {"township": township, "community": community, "grid": grid},
            "geometry": geometry}


def polygon(*rings: list) -> dict:
    return {"type": "Polygon", "coordinates": list(rings)}


HUBIN = {"type": "MultiPolygon", "coordinates": [
    [box(125.280, 43.340, 125.290, 43.350), box(125.283, 43.343, 125.287, 43.347)[::-1]],  # with a hole
    [box(125.270, 43.340, 125.275, 43.345)],
]}

FEATURES = [
    feature("yongsheng", "东风社区", "第1网格", polygon(box(125.300, 43.340, 125.310, 43.350))),
    feature("永盛街道", "东风社区", "第2网格", polygon(box(125.310, 43.340, 125.320, 43.350))),
    feature("yongsheng", "西城社区", "湖滨网格", HUBIN),
    feature("伊通镇", "东尖山村", "一组网格", polygon(box(125.320, 43.340, 125.330, 43.350))),
    feature("yongning", "南山社区", "南山网格", polygon(box(125.400, 43.400, 125.410, 43.410))),
]


def collection(features: list) -> str:
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)


@pytest.fixture
def settings_dict(settings_dict):
    """The test configuration, with the admin API's token (``tests.community.conftest.COUNTY``)."""
    settings_dict["admin"] = {"api_token": ADMIN_TOKEN}
    return settings_dict


@pytest.fixture
def grids(app) -> dict:
    """The grids above (imported with import-grids; 北关网格 has a centre only); ids by name."""
    database.connect(reuse_if_open=True)
    grid_import.import_grids(collection(FEATURES))
    beiguan = Grid.create(community=Grid.get(Grid.name == "第1网格").community, name="北关网格")
    places.set_grid_geometry(beiguan, None, (43.360, 125.330))
    return {g.name: g.id for g in Grid.select()}
