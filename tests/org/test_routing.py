"""Which grid a report goes to (CONTRACT §3, docs/grids.md), table-driven: each case is
submitted through the API and asked of ``GET /api/v1/locate`` beforehand, and both must agree."""
from __future__ import annotations

import pytest

from tests.conftest import report_body

FAR = (43.300, 125.200)  # outside every boundary, more than 500 m from every centre

CASES = [
    # id, (lat, lng), township picked, home grid, → township, grid, rule, words in the timeline
    ("inside", (43.345, 125.305), "yongsheng", None, "yongsheng", "第1网格", "boundary", ["东风社区 第1网格的边界内"]),
    ("on its outer edge", (43.350, 125.305), "yongsheng", None, "yongsheng", "第1网格", "boundary", ["边界内"]),
    ("on a shared edge, picked township's grid", (43.345, 125.320), "yongsheng", None,
     "yongsheng", "第2网格", "boundary", ["第2网格"]),
    ("on a shared edge, the other side", (43.345, 125.320), "yitong", None, "yitong", "一组网格", "boundary", ["一组网格"]),
    ("in the hole of a MultiPolygon: not inside, its centre is near", (43.345, 125.285), "yongsheng", None,
     "yongsheng", "湖滨网格", "nearest_centre", ["不在任何网格边界内", "约 283 米"]),
    ("in the hole, picked another township: nothing near", (43.345, 125.285), "yitong", None,
     "yitong", None, "none", ["待指派网格"]),
    ("in the second part of a MultiPolygon", (43.3425, 125.2725), "yongsheng", None,
     "yongsheng", "湖滨网格", "boundary", ["湖滨网格的边界内"]),
    ("outside all boundaries but near a centre", (43.3605, 125.3305), "yongsheng", None,
     "yongsheng", "北关网格", "nearest_centre", ["约 69 米", "500 米以内"]),
    ("near a centre of another township only", (43.3605, 125.3305), "yitong", None, "yitong", None, "none", ["待指派网格"]),
    ("the home grid", FAR, "yongsheng", "第2网格", "yongsheng", "第2网格", "home", ["居住网格东风社区 第2网格"]),
    ("a home grid in another township is not used", FAR, "yongning", "第2网格", "yongning", None, "none", ["待指派网格"]),
    ("none", FAR, "yongsheng", None, "yongsheng", None, "none", ["待指派网格", "指派 <编号> <网格名>"]),
    ("inside another township's grid: the location wins", (43.345, 125.325), "yongsheng", None,
     "yitong", "一组网格", "boundary", ["上报时选择的是永盛街道", "以位置为准，改由伊通镇办理"]),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_routing(client, resident, grids, case):
    _, (lat, lng), picked, home, township, grid, rule, words = case
    h = resident["headers"]
    if home:
        assert client.put("/api/v1/me/home", json={"grid": grids[home]}, headers=h).status_code == 200

    located = client.get(f"/api/v1/locate?lat={lat}&lng={lng}&township={picked}", headers=h)
    assert located.status_code == 200, located.get_json()
    loc = located.get_json()
    assert (loc["township"]["code"], loc["grid"] and loc["grid"]["name"], loc["rule"]) == (township, grid, rule)

    body = report_body(township=picked, location={"lat": lat, "lng": lng, "address": "测试地址"})
    created = client.post("/api/v1/reports", json=body, headers=h)
    assert created.status_code == 201, created.get_json()
    report = created.get_json()
    assert report["township"]["code"] == township
    assert (report["grid"] and report["grid"]["name"]) == grid
    if grid:
        assert set(report["grid"]) == {"name", "community"}  # names only, never an official
    detail = client.get(f"/api/v1/reports/{report['number']}", headers=h).get_json()
    assert detail["grid"] == report["grid"]
    note = detail["timeline"][0]["note"]
    assert detail["timeline"][0]["action"] == "submit" and note == loc["note"]
    for w in words:
        assert w in note, note
    listed = client.get("/api/v1/reports?mine=true", headers=h).get_json()["items"][0]
    assert listed["number"] == report["number"] and listed["grid"] == report["grid"]


@pytest.fixture
def short_reach(settings_dict):
    settings_dict["routing"] = {"nearest_grid_max_metres": 50}
    return settings_dict


def test_a_shorter_reach_leaves_the_centre_out(short_reach, client, resident, grids):
    """Beyond ``[routing] nearest_grid_max_metres`` a centre is not chosen."""
    loc = client.get("/api/v1/locate?lat=43.3605&lng=125.3305&township=yongsheng", headers=resident["headers"]).get_json()
    assert (loc["grid"], loc["rule"]) == (None, "none") and "50 米" in loc["note"]
    near = client.get("/api/v1/locate?lat=43.3602&lng=125.3302&township=yongsheng", headers=resident["headers"]).get_json()
    assert (near["grid"]["name"], near["rule"]) == ("北关网格", "nearest_centre")


def test_a_new_boundary_is_used_at_once(client, resident, grids):
    """Changing a grid's boundary rebuilds the routing index on the next call."""
    from miniapp_api.db import database
    from miniapp_api.models import Grid
    from miniapp_api.org import grid_import

    h = resident["headers"]
    before = client.get("/api/v1/locate?lat=43.3605&lng=125.3305", headers=h).get_json()
    assert before["rule"] == "nearest_centre"
    database.connect(reuse_if_open=True)
    grid_import.save_geometry(Grid.get_by_id(grids["北关网格"]),
                              "POLYGON ((125.329 43.359, 125.332 43.359, 125.332 43.362, 125.329 43.362, 125.329 43.359))")
    after = client.get("/api/v1/locate?lat=43.3605&lng=125.3305", headers=h).get_json()
    assert (after["grid"]["name"], after["rule"]) == ("北关网格", "boundary")
