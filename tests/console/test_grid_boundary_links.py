"""The 网格 page links each grid to its 网格边界 editor, and the editor links back: an
administrator adds a missing boundary by following the links, as in the browser."""
from __future__ import annotations

import html
import re

from miniapp_api.db import database
from miniapp_api.models import Grid
from miniapp_api.org.roster_import import import_org
from tests.console.test_grids import big_roster

NEW_BOUNDARY = "POLYGON ((125.32 43.34, 125.33 43.34, 125.33 43.35, 125.32 43.35, 125.32 43.34))"


def boundary_links(page: str) -> dict[str, tuple[str, str]]:
    """Each grid row's boundary link: ``{grid name: (href, text)}``."""
    rows = re.findall(r'<tr data-grid="([^"]+)">(.*?)</tr>', page, re.S)
    found = {}
    for name, row in rows:
        m = re.search(r'<a class="boundary-link" href="([^"]+)">([^<]+)</a>', row)
        if m:
            found[name] = (html.unescape(m.group(1)), m.group(2))
    return found


def test_every_grid_links_to_its_boundary_editor_and_back(console, db):
    import_org(big_roster(6))  # 第0网格 has a boundary; 第1网格, 第2网格 have none
    grids = {g.name: g.id for g in Grid.select()}
    database.close()
    c = console("ys_admin")
    links = boundary_links(c.text("/console/grids?township=yongsheng"))
    assert links == {
        "第0网格": (f"/console/grids/{grids['第0网格']}/boundary", "编辑边界"),
        "第1网格": (f"/console/grids/{grids['第1网格']}/boundary", "添加边界"),
        "第2网格": (f"/console/grids/{grids['第2网格']}/boundary", "添加边界"),
    }
    href, _ = links["第2网格"]
    editor = c.text(href)
    assert "人民社区 第2网格 · 边界" in editor
    assert re.search(r'id="grids-link" href="/console/grids\?township=yongsheng"', editor)
    resp = c.post(href, {"boundary": NEW_BOUNDARY})
    assert resp.status_code == 303
    # Back on the grid page, the grid now has a boundary, and its link says so.
    page = c.text("/console/grids?township=yongsheng")
    assert boundary_links(page)["第2网格"][1] == "编辑边界"
    assert "有边界 2" in page


def test_a_read_only_account_is_offered_only_to_look(console, db):
    import_org(big_roster(4))  # 第0网格 and 第1网格
    database.close()
    c = console("auditor")
    links = boundary_links(c.text("/console/grids?township=yongsheng"))
    assert {text for _, text in links.values()} == {"查看边界"} and len(links) == 2
    assert "第0网格" in c.text(links["第0网格"][0])
