"""The roster import and the 网格 pages in headless Chromium (see test_browser.py): more than
one page of officials, a failed dry run, a successful import, and the map drawn by Leaflet
served from Tongxin with no tile server."""
from __future__ import annotations

from miniapp_api.db import database
from miniapp_api.models import Grid
from miniapp_api.models import Official
from tests.console.test_browser import browser  # noqa: F401  (fixtures)
from tests.console.test_browser import db_url  # noqa: F401
from tests.console.test_browser import login
from tests.console.test_browser import page  # noqa: F401
from tests.console.test_browser import pytestmark  # noqa: F401
from tests.console.test_browser import server  # noqa: F401
from tests.console.test_browser import settings_dict  # noqa: F401
from tests.console.test_browser import shot
from tests.console.test_grids import big_roster
from tests.factories import make_report


def test_import_a_roster_of_several_pages_in_the_browser(page, tmp_path):  # noqa: F811
    login(page)
    bad, good = tmp_path / "bad.csv", tmp_path / "good.csv"
    good.write_text(big_roster(), encoding="utf-8-sig")
    bad.write_text(big_roster() + "yongsheng,,,某人,mayor,A,,,\n", encoding="utf-8")
    page.goto("/console/roster")
    page.set_input_files("input[name=file]", str(bad))
    page.click("button[value=preview]")
    assert "导入失败，没有做任何修改" in page.inner_text("#import-errors") and "第 137 行" in page.inner_text("#import-errors")
    page.set_input_files("input[name=file]", str(good))
    page.click("button[value=preview]")
    assert "预览（试运行，未写入）：135 行" in page.inner_text("#import-preview")
    page.click("#confirm-import")
    page.wait_for_url("**/console/roster")
    assert "导入完成：135 行" in page.inner_text("main") and "服务器内部错误" not in page.inner_text("main")
    shot(page, "20-roster-imported")
    page.click("text=下一页")
    assert "第 2 / 2 页" in page.inner_text("main")
    assert page.console_errors == []


def test_grid_page_and_map(page):  # noqa: F811
    database.connect(reuse_if_open=True)
    from miniapp_api.org.roster_import import import_org

    import_org(big_roster(8))
    grid = Grid.get(Grid.name == "第0网格")
    make_report(grid=grid)
    make_report()
    database.close()
    login(page)
    page.goto("/console/grids?township=yongsheng")
    assert "共 4 个网格" in page.inner_text("#grid-summary")
    shot(page, "21-grids")
    page.select_option("#unassigned select[name=grid]", label="人民社区 第1网格")
    page.click("#unassigned button[type=submit]")
    assert "已将" in page.inner_text("main") and "员工002" in page.inner_text("main")
    page.click("#map-link")
    page.wait_for_selector("#grid-map[data-drawn]")
    assert page.get_attribute("#grid-map", "data-drawn") == "3"  # one boundary (the others have none) + 2 reports
    assert page.locator("#grid-map path.leaflet-interactive").count() >= 1
    assert page.locator("#grid-map .leaflet-tile").count() == 0  # no tile server contacted
    assert page.console_errors == []
    shot(page, "22-grid-map")
    database.connect(reuse_if_open=True)
    assert Official.select().count() == 12
    database.close()
