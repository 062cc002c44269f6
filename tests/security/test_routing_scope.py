"""A unit administrator sees only their own unit's grids in the routing dry run, whether or
not they run it (issue #14, security 6)."""
from __future__ import annotations

from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Township


def test_unit_admin_cannot_list_another_units_grids(console, db):
    yongsheng = Township.get(Township.code == "yongsheng")
    Grid.create(community=Community.create(township=yongsheng, name="秘密社区", kind="neighborhood"), name="永盛秘密网格")
    yongning = Township.get(Township.code == "yongning")
    Grid.create(community=Community.create(township=yongning, name="新华社区", kind="neighborhood"), name="永宁一网格")
    unit = console("yn_admin")
    for query in ("township=yongsheng", "township=yongsheng&run=1&category=sanitation"):
        resp = unit.get(f"/console/routing?{query}")
        assert resp.status_code == 403 and "永盛秘密网格" not in resp.get_data(as_text=True), query
    assert "永宁一网格" in unit.text("/console/routing?township=yongning")
    assert "永盛秘密网格" in console("county").text("/console/routing?township=yongsheng")
