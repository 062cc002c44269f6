"""网格边界 in the console: a grid's boundary added or edited as GeoJSON, with the import's
checks, audited, and scoped to the administrator's unit."""
from __future__ import annotations

import json

import pytest

from miniapp_api.db import database
from miniapp_api.models import Grid
from miniapp_api.models.console import AuditEntry
from tests.console.conftest import accounts  # noqa: F401  (fixtures of the console tests)
from tests.console.conftest import console  # noqa: F401
from tests.console.conftest import fast_hashes  # noqa: F401

NORTH = json.dumps({"type": "Polygon", "coordinates": [[[125.300, 43.350], [125.310, 43.350], [125.310, 43.356],
                                                         [125.300, 43.356], [125.300, 43.350]]]})
OVER_FIRST = "POLYGON ((125.300 43.345, 125.310 43.345, 125.310 43.356, 125.300 43.356, 125.300 43.345))"


@pytest.fixture
def beiguan(grids) -> int:
    return grids["北关网格"]


def boundary_of(grid_id: int) -> str | None:
    database.connect(reuse_if_open=True)  # each console request closes the connection it used
    return Grid.get_by_id(grid_id).boundary


def test_a_county_administrator_sets_a_boundary(console, beiguan, client, resident):
    c = console("county")
    page = c.text(f"/console/grids/{beiguan}/boundary")
    assert "北关网格" in page and "WGS-84" in page
    resp = c.post(f"/console/grids/{beiguan}/boundary", {"boundary": OVER_FIRST})
    assert resp.status_code == 422
    assert "重叠" in resp.get_data(as_text=True) and "第1网格" in resp.get_data(as_text=True)
    assert boundary_of(beiguan) is None

    resp = c.post(f"/console/grids/{beiguan}/boundary", {"boundary": NORTH})
    assert resp.status_code == 303
    assert json.loads(boundary_of(beiguan))["coordinates"][0][2] == [125.31, 43.356]
    database.connect(reuse_if_open=True)
    assert AuditEntry.get(AuditEntry.action == "grid.boundary").target == f"grid:{beiguan}"
    found = client.get("/api/v1/locate?lat=43.353&lng=125.305", headers=resident["headers"]).get_json()
    assert (found["grid"]["name"], found["rule"]) == ("北关网格", "boundary")


def test_scope_and_rights(console, beiguan, grids):
    other = console("yn_admin")
    assert other.get(f"/console/grids/{beiguan}/boundary").status_code == 404
    auditor = console("auditor")
    assert auditor.get(f"/console/grids/{beiguan}/boundary").status_code == 200
    assert auditor.post(f"/console/grids/{beiguan}/boundary", {"boundary": NORTH}).status_code == 403
    assert console("county").post(f"/console/grids/{beiguan}/boundary", {"boundary": NORTH}, csrf=False).status_code == 400
    assert boundary_of(beiguan) is None
    assert console("county").get("/console/grids/99999999999/boundary").status_code == 404
