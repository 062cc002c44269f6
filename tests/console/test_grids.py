"""The console's 人员 page over more than one page, the roster import (failed dry run, failed
import, successful import), the 网格 page, 指派 from the console, the 网格地图 and the routing
dry run naming who is mentioned at each level (issue 13)."""
from __future__ import annotations

import io
import json
import re

import pytest

from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.models import OutboxEvent
from miniapp_api.models.console import AuditEntry
from miniapp_api.org.roster_import import HEADER
from miniapp_api.org.roster_import import import_org
from tests.factories import make_report

HEAD = ",".join(HEADER) + ",boundary"
SQUARE = '"POLYGON ((125.30 43.34, 125.31 43.34, 125.31 43.35, 125.30 43.35, 125.30 43.34))"'


def big_roster(n: int = 130) -> str:
    """``n`` grid workers over ``n // 2`` grids of 人民社区, one grid with a boundary, plus the
    other levels."""
    lines = [HEAD, f"yongsheng,人民社区,第0网格,,,,,,{SQUARE}"]
    for i in range(n):
        lines.append(f"yongsheng,人民社区,第{i // 2}网格,员工{i:03d},grid_worker,{'AB'[i % 2]},w{i},"
                     f"138{i:08d},")
    lines += ["yongsheng,人民社区,,社区书记,community_leader,A,c-a,13811110000,",
              "yongsheng,,,王永盛,township_staff,A,ys-a,13900000001,",
              "chengguan,,,孙城管,department_staff,A,cg-a,13900000005,",
              "county,,,周指挥,county_staff,A,county-a,13700000001,"]
    return "\n".join(lines) + "\n"


def upload(c, text: str, mode: str = "preview"):
    return c.post("/console/roster/import", {"mode": mode, "file": (io.BytesIO(text.encode("utf-8")), "roster.csv")},
                  content_type="multipart/form-data")


def test_roster_over_several_pages_and_every_import_outcome(console, db):
    c = console("county")
    text = big_roster()
    # A failed dry run: the error by line, nothing written.
    bad = text + "nosuch,,,某人,department_staff,A,,,\n"
    resp = upload(c, bad)
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "导入失败，没有做任何修改" in body and "第 137 行" in body and "department_staff" in body
    assert Official.select().count() == 0
    # A failed import, the same.
    resp = upload(c, bad, "apply")
    assert resp.status_code == 422 and Official.select().count() == 0
    # A successful dry run, then the import itself.
    resp = upload(c, text)
    assert resp.status_code == 200 and "预览（试运行，未写入）：135 行" in resp.get_data(as_text=True)
    assert Official.select().count() == 0
    resp = upload(c, text, "apply")
    assert resp.status_code == 302
    page1 = c.text("/console/roster")
    assert "导入完成：135 行" in page1 and "服务器内部错误" not in page1
    assert "人员（134）" in page1 and "第 1 / 2 页" in page1 and "下一页" in page1
    page2 = c.text("/console/roster?page=2")
    assert "第 2 / 2 页" in page2 and "上一页" in page2
    names = set(re.findall(r"<td>(员工\d{3}|社区书记|王永盛|孙城管|周指挥)</td>", page1 + page2))
    assert len(names) == 134  # every official on exactly one of the two pages
    assert "村（社区）网格长" in page1 + page2 and "城管局" in page1 + page2 and "县指挥中心" in page1 + page2
    assert AuditEntry.select().where(AuditEntry.action == "roster.import").count() == 1
    # A page past the end, and rubbish, are not errors.
    assert c.get("/console/roster?page=99").status_code == 200
    assert c.get("/console/roster?page=abc").status_code == 200


@pytest.fixture
def org(db):
    import_org(big_roster(8))
    return {g.name: g for g in Grid.select()}


def test_grid_page_lists_grids_officials_boundary_and_reports(console, org):
    Grid.update(center_lat=43.3, center_lng=125.3).where(Grid.name == "第1网格").execute()
    on_grid = make_report(grid=org["第2网格"])
    loose = make_report()
    c = console("county")
    page = c.text("/console/grids?township=yongsheng")
    assert "共 4 个网格：有边界 1，仅中心点 1，缺失 2" in page
    assert "村（社区）网格长：A岗 社区书记" in page and "乡镇/街道值班：A岗 王永盛" in page
    row = re.search(r'<tr data-grid="第2网格">.*?</tr>', page, re.S).group(0)
    assert "A岗 员工004、B岗 员工005" in row and on_grid.number in row
    assert re.search(r'id="unassigned".*?' + loose.number, page, re.S)
    # Another unit's administrator sees only their own unit.
    assert console("yn_admin").get("/console/grids?township=yongsheng").status_code == 404


def test_assign_from_the_console(console, org):
    report = make_report()
    c = console("ys_admin")
    c.text("/console/grids?township=yongsheng")
    resp = c.post("/console/grids/assign", {"township": "yongsheng", "number": report.number,
                                            "grid": str(org["第3网格"].id)})
    assert resp.status_code == 302
    assert Report.get_by_id(report.id).grid_id == org["第3网格"].id
    entry = TimelineEntry.get((TimelineEntry.report == report.id) & (TimelineEntry.action == "assign"))
    assert entry.channel == "console" and "员工006" in entry.note
    [event] = OutboxEvent.select().where((OutboxEvent.report == report.id) & (OutboxEvent.kind == "report.assigned"))
    assert event.payload["mobiles"] == ["13800000006"]
    # Bad input changes nothing and is no error page.
    resp = c.post("/console/grids/assign", {"township": "yongsheng", "number": "NOPE", "grid": "abc"})
    assert resp.status_code == 303
    assert console("auditor").post("/console/grids/assign", {"township": "yongsheng", "number": report.number,
                                                            "grid": str(org["第1网格"].id)}).status_code == 403
    assert Report.get_by_id(report.id).grid_id == org["第3网格"].id


def map_data(html: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" id="map-data">(.*?)</script>', html, re.S).group(1))


def test_the_map_needs_no_tile_server(console, org):
    make_report(grid=org["第0网格"])
    c = console("county")
    resp = c.get("/console/grids/map?township=yongsheng")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "vendor/leaflet/leaflet.js" in html and "unpkg" not in html and "cdn" not in html.lower()
    data = map_data(html)
    assert data["tiles"] is None
    assert [g["label"] for g in data["grids"] if g["boundary"]] == ["人民社区 第0网格"]
    assert data["grids"][0]["boundary"]["type"] == "Polygon"
    [point] = data["reports"]
    assert point["state"] == "on_time" and point["grid"] == "人民社区 第0网格"
    assert "img-src 'self' data:;" in resp.headers["Content-Security-Policy"]
    assert c.get("/console/static/vendor/leaflet/leaflet.js").status_code == 200


@pytest.fixture
def settings_dict(settings_dict, request):
    if "tiles" in request.fixturenames:
        settings_dict["console"] = {"map_tile_url": "https://{s}.tiles.example.gov.cn/{z}/{x}/{y}.png",
                                    "map_tile_attribution": "© 县自然资源局"}
    return settings_dict


@pytest.fixture
def tiles():
    return True


def test_a_configured_tile_server_is_used_and_allowed(tiles, console, org):
    resp = console("county").get("/console/grids/map?township=yongsheng")
    assert map_data(resp.get_data(as_text=True))["tiles"]["url"].startswith("https://{s}.tiles.example.gov.cn/")
    assert "img-src 'self' data: https://*.tiles.example.gov.cn;" in resp.headers["Content-Security-Policy"]


def test_routing_dry_run_names_the_grid_the_rule_and_the_people_at_each_level(console, org):
    Official.delete().where(Official.grid == org["第0网格"].id).execute()
    c = console("county")
    page = c.text("/console/routing?run=1&township=yongsheng&category=sanitation&lat=43.345&lng=125.305")
    assert "位于永盛街道 人民社区 第0网格的边界内" in page
    table = re.search(r'<table id="ladder-people">.*?</table>', page, re.S).group(0)
    assert "网格未登记A/B岗，由村/社区（社区书记）处理" in table  # 第0网格 has nobody
    assert "<td>乡镇/街道</td><td>王永盛</td>" in table and "<td>县指挥中心</td><td>周指挥</td>" in table
    page = c.text("/console/routing?run=1&township=yongsheng&category=sanitation&lat=10&lng=10")
    assert "待指派网格" in page and "待指派网格，由乡镇/街道（王永盛）处理" in page
