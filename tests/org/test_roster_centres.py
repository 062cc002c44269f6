"""The roster CSV's optional ``boundary``, ``lat`` and ``lng`` columns, recognised by their
header name in any order (CONTRACT §1): a grid with a centre and no boundary is routed to by
distance."""
from __future__ import annotations

import pytest

from miniapp_api.db import database
from miniapp_api.models import Grid
from miniapp_api.org.roster_import import HEADER
from miniapp_api.org.roster_import import ImportFailed
from miniapp_api.org.roster_import import export_org
from miniapp_api.org.roster_import import import_org

HEAD = ",".join(HEADER)
SQUARE = '"POLYGON ((125.50 43.50, 125.51 43.50, 125.51 43.51, 125.50 43.51, 125.50 43.50))"'


@pytest.fixture
def db(app):
    database.connect(reuse_if_open=True)


def test_centre_columns_in_any_order(db, client, resident):
    text = "\n".join([
        HEAD + ",lng,boundary,lat",
        "yongsheng,北关社区,北关一网格,刘网格,grid_leader,A,,,125.33,,43.36",
        "yongsheng,北关社区,北关一网格,陈网格,grid_worker,B,,,,,",  # the same grid: may leave them empty
        f"yongsheng,北关社区,北关二网格,,,,,,,{SQUARE},",
    ]) + "\n"
    result = import_org(text)
    assert result.grids_created == 2 and result.grids_geometry_updated == 2
    g1 = Grid.get(Grid.name == "北关一网格")
    assert (g1.center_lat, g1.center_lng, g1.boundary) == (43.36, 125.33, None)
    found = client.get("/api/v1/locate?lat=43.3605&lng=125.3305&township=yongsheng", headers=resident["headers"]).get_json()
    assert (found["grid"]["name"], found["rule"]) == ("北关一网格", "nearest_centre")

    exported = export_org()
    assert exported.splitlines()[0] == HEAD + ",boundary,lat,lng"
    again = import_org(exported)
    assert (again.grids_created, again.grids_geometry_updated, again.officials_created) == (0, 0, 0)
    assert import_org(text).grids_geometry_updated == 0  # the same file again changes nothing


@pytest.mark.parametrize("header,row,message", [
    (",lat", "yongsheng,北关社区,北关一网格,,,,,,43.3", "表头"),
    (",lat,lng,lat", "yongsheng,北关社区,北关一网格,,,,,,43.3,125.3,43.3", "表头"),
    (",height", "yongsheng,北关社区,北关一网格,,,,,,1", "表头"),
    (",lat,lng", "yongsheng,北关社区,北关一网格,,,,,,43.3,", "lat 和 lng 要一起填写"),
    (",lat,lng", "yongsheng,北关社区,北关一网格,,,,,,北纬43,125.3", "数字"),
    (",lat,lng", "yongsheng,北关社区,北关一网格,,,,,,125.3,43.3e9", "超出范围"),
    (",lat,lng", "yongsheng,,,王干部,township_staff,,,,43.3,125.3", "只能填在写明了 grid 的行"),
])
def test_bad_centre_columns(db, header, row, message):
    with pytest.raises(ImportFailed) as err:
        import_org(HEAD + header + "\n" + row + "\n")
    assert message in str(err.value)
    assert Grid.select().count() == 0


def test_one_grid_one_centre(db):
    text = "\n".join([
        HEAD + ",lat,lng",
        "yongsheng,北关社区,北关一网格,刘网格,grid_leader,A,,,43.36,125.33",
        "yongsheng,北关社区,北关一网格,陈网格,grid_worker,B,,,43.37,125.33",
    ]) + "\n"
    with pytest.raises(ImportFailed) as err:
        import_org(text)
    assert [(e.line, "与第 2 行不同" in e.message) for e in err.value.errors] == [(3, True)]
