"""Home place: lists to choose from, locating by boundary (WKT and GeoJSON) or by the nearest
centre, validation, and the boundary column of the roster import."""
from __future__ import annotations

import pytest

from miniapp_api.org import geo
from miniapp_api.org.geo import InvalidBoundary
from tests.community.conftest import COUNTY


def test_lists_to_choose_from(client, org):
    items = client.get("/api/v1/townships/yongsheng/communities").get_json()["items"]
    assert [c["name"] for c in items] == sorted(["东风社区", "西城社区"])
    grids = client.get(f"/api/v1/communities/{org['东风社区']}/grids").get_json()["items"]
    assert {g["name"] for g in grids} == {"东风一网格", "东风二网格"}
    centre = next(g for g in grids if g["name"] == "东风一网格")["center"]
    assert centre["lat"] == pytest.approx(43.345) and centre["lng"] == pytest.approx(125.305)  # the centroid
    assert client.get("/api/v1/townships/atlantis/communities").status_code == 404
    assert client.get("/api/v1/communities/99999/grids").get_json()["error"]["code"] == "community_not_found"


def test_home_from_lists(client, resident, org):
    h = resident["headers"]
    assert client.get("/api/v1/me/home", headers=h).get_json() == {"township": None, "community": None, "grid": None}
    body = client.put("/api/v1/me/home", json={"grid": org["东风二网格"]}, headers=h).get_json()
    assert body["township"]["code"] == "yongsheng" and body["community"]["name"] == "东风社区"
    assert body["grid"]["name"] == "东风二网格"
    only_unit = client.put("/api/v1/me/home", json={"township": "yongning"}, headers=h).get_json()
    assert only_unit == {"township": {"code": "yongning", "name": "永宁街道"}, "community": None, "grid": None}


@pytest.mark.parametrize("body,field", [
    ({}, "township"),
    ({"township": "atlantis"}, "township"),
    ({"grid": 99999}, "grid"),
    ({"township": "yongning", "community": "__dongfeng__"}, "community"),
    ({"community": "__dongfeng__", "grid": "__nanshan1__"}, "grid"),
    ({"lat": 43.3}, "lng"),
    ({"lat": 43.3, "lng": 125.3, "township": "yongsheng"}, "lat"),
    ({"grid": "x"}, "grid"),
])
def test_bad_home_is_422(client, resident, org, body, field):
    ids = {"__dongfeng__": org["东风社区"], "__nanshan1__": org["南山一网格"]}
    body = {k: ids.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    resp = client.put("/api/v1/me/home", json=body, headers=resident["headers"])
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()["error"]
    assert err["code"] == "validation_failed" and err["field"] == field


@pytest.mark.parametrize("lat,lng,grid,method", [
    (43.345, 125.305, "东风一网格", "boundary"),      # inside the WKT square
    (43.349, 125.281, "西城一网格", "boundary"),      # inside the GeoJSON square
    (43.361, 125.331, "东风二网格", "nearest_centre"),  # no boundary here, but a centre 140 m away
])
def test_locate_by_coordinates(client, resident, org, lat, lng, grid, method):
    found = client.get(f"/api/v1/me/home/locate?lat={lat}&lng={lng}", headers=resident["headers"]).get_json()
    assert found["grid"]["name"] == grid and found["method"] == method
    assert client.get("/api/v1/me/home", headers=resident["headers"]).get_json()["grid"] is None  # not saved
    saved = client.put("/api/v1/me/home", json={"lat": lat, "lng": lng}, headers=resident["headers"]).get_json()
    assert saved["grid"]["name"] == grid


def test_nowhere_is_404(client, resident, org):
    resp = client.get("/api/v1/me/home/locate?lat=40.0&lng=116.0", headers=resident["headers"])
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "no_grid_here"
    assert client.get("/api/v1/me/home/locate?lat=91&lng=1", headers=resident["headers"]).status_code == 422


def test_admin_sets_a_boundary(client, resident, org):
    poly = "MULTIPOLYGON (((125.40 43.40, 125.41 43.40, 125.41 43.41, 125.40 43.40)))"
    resp = client.put(f"/api/v1/admin/grids/{org['南山一网格']}/geometry", json={"boundary": poly}, headers=COUNTY)
    assert resp.status_code == 200, resp.get_json()
    found = client.get("/api/v1/me/home/locate?lat=43.401&lng=125.408", headers=resident["headers"]).get_json()
    assert found["grid"]["name"] == "南山一网格" and found["method"] == "boundary"
    bad = client.put(f"/api/v1/admin/grids/{org['南山一网格']}/geometry", json={"boundary": "POLYGON ((1 2, 3"},
                     headers=COUNTY)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "invalid_boundary"
    assert client.put(f"/api/v1/admin/grids/{org['南山一网格']}/geometry", json={"boundary": poly}).status_code == 401


def test_boundary_parsing():
    square = geo.parse_boundary("POLYGON((0 0, 10 0, 10 10, 0 10, 0 0), (4 4, 6 4, 6 6, 4 6, 4 4))")
    assert geo.contains(square, 2, 2) and not geo.contains(square, 5, 5) and not geo.contains(square, 11, 5)
    assert geo.parse_boundary('{"type": "Feature", "geometry": {"type": "Polygon", "coordinates": '
                              '[[[0, 0], [1, 0], [1, 1]]]}}')["coordinates"][0][-1] == [0.0, 0.0]  # closed
    for bad in ("", "POINT (1 2)", "POLYGON ((1 2, 3 4))", '{"type": "Polygon"}', "{nope", "POLYGON ((200 0, 1 1, 2 2, 200 0))",
                "POLYGON ((1 2, 3 4, 5 6, 1 2)"):
        with pytest.raises(InvalidBoundary):
            geo.parse_boundary(bad)
    assert geo.haversine_m(43.0, 125.0, 43.0, 125.0) == 0
    assert 110_000 < geo.haversine_m(43.0, 125.0, 44.0, 125.0) < 112_000


def test_roster_import_takes_an_optional_boundary_column(app, client, resident):
    import csv
    import io

    from miniapp_api.db import database
    from miniapp_api.models import Grid
    from miniapp_api.org.roster_import import ImportFailed
    from miniapp_api.org.roster_import import export_org
    from miniapp_api.org.roster_import import import_org

    geojson = '{"type":"Polygon","coordinates":[[[125.5,43.5],[125.51,43.5],[125.51,43.51],[125.5,43.51]]]}'
    rows = [
        ["township", "community", "grid", "official_name", "role", "duty_post", "dingtalk_user_id", "mobile", "boundary"],
        ["yongsheng", "北关社区", "北关一网格", "刘网格", "grid_leader", "A", "", "", geojson],
        ["yongsheng", "北关社区", "北关一网格", "陈网格", "grid_worker", "B", "", "", ""],
        ["yongsheng", "北关社区", "北关二网格", "", "", "", "", "",
         "POLYGON ((125.52 43.5, 125.53 43.5, 125.53 43.51, 125.52 43.5))"],
    ]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    database.connect(reuse_if_open=True)
    result = import_org(out.getvalue())
    assert result.grids_created == 2 and result.grids_geometry_updated == 2
    g1 = Grid.get(Grid.name == "北关一网格")
    assert g1.boundary.startswith('{"type":"Polygon"') and g1.center_lat == pytest.approx(43.505)
    found = client.get("/api/v1/me/home/locate?lat=43.501&lng=125.528", headers=resident["headers"]).get_json()
    assert found["grid"]["name"] == "北关二网格" and found["method"] == "boundary"
    exported = export_org()
    assert exported.splitlines()[0].endswith(",boundary,lat,lng")  # centres are exported too
    database.connect(reuse_if_open=True)
    again = import_org(exported)
    assert (again.grids_created, again.grids_geometry_updated, again.officials_created, again.officials_updated) == (0, 0, 0, 0)
    bad = rows[:1] + [["yongsheng", "北关社区", "北关三网格", "", "", "", "", "", "POLYGON ((1 2, 3 4))"],
                      ["yongsheng", "", "", "王干部", "township_staff", "", "", "", "POLYGON ((1 1, 2 1, 2 2, 1 1))"]]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(bad)
    with pytest.raises(ImportFailed) as err:
        import_org(out.getvalue())
    assert [(e.line, e.message.split("：")[0]) for e in err.value.errors] == [
        (2, "boundary 无效"), (3, "boundary 只能填在写明了 grid 的行")]
