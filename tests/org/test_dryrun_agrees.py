"""The console's routing dry run and a real submission route a place the same way: both call
``miniapp_api.org.routing.route`` (docs/grids.md). Every routing case without a home grid (the
dry run has no resident) is submitted through the API and asked of the dry run's page."""
from __future__ import annotations

import html
import re

import pytest

from tests.conftest import report_body
from tests.console.conftest import accounts  # noqa: F401  (fixtures of the console tests)
from tests.console.conftest import console  # noqa: F401
from tests.console.conftest import fast_hashes  # noqa: F401
from tests.org.test_routing import CASES

PLACES = [c for c in CASES if c[3] is None]  # (id, (lat, lng), picked, home, township, grid, rule, words)


def dry_run_page(c, picked: str, lat: float, lng: float) -> dict:
    """The dry run's answer as the page shows it: township code, grid (``community name``) and rule."""
    page = c.text(f"/console/routing?run=1&township={picked}&category=sanitation&lat={lat}&lng={lng}")
    township = re.search(r'<dd id="dry-run-township" data-code="([^"]+)">', page).group(1)
    rule, grid, note = re.search(r'<dd id="dry-run-grid" data-rule="([^"]*)">(.*?)（(.*)）</dd>', page).groups()
    return {"township": township, "grid": None if grid == "—" else html.unescape(grid).replace(" · ", " "),
            "rule": rule, "note": html.unescape(note)}


@pytest.mark.parametrize("case", PLACES, ids=[c[0] for c in PLACES])
def test_the_dry_run_routes_as_a_submission_does(client, resident, grids, console, case):  # noqa: F811
    _, (lat, lng), picked, _, township, grid, rule, _ = case
    created = client.post("/api/v1/reports", headers=resident["headers"],
                          json=report_body(township=picked, location={"lat": lat, "lng": lng, "address": "测试地址"}))
    assert created.status_code == 201, created.get_json()
    report = created.get_json()
    detail = client.get(f"/api/v1/reports/{report['number']}", headers=resident["headers"]).get_json()
    submitted = {"township": report["township"]["code"],
                 "grid": f"{report['grid']['community']} {report['grid']['name']}" if report["grid"] else None,
                 "note": detail["timeline"][0]["note"]}

    dry = dry_run_page(console("county"), picked, lat, lng)
    assert {k: dry[k] for k in submitted} == submitted
    # And both are what the routing table says.
    assert (dry["township"], dry["grid"] and dry["grid"].split(" ")[-1], dry["rule"]) == (township, grid, rule)


def test_a_unit_administrator_is_not_shown_another_units_people(grids, console):  # noqa: F811
    # 43.345, 125.325 lies in 伊通镇's 一组网格: picked 永盛街道, the location wins.
    c = console("ys_admin")
    resp = c.get("/console/routing?run=1&township=yongsheng&category=sanitation&lat=43.345&lng=125.325")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and "该位置在伊通镇的网格内" in body
    assert 'id="dry-run-result"' not in body and "一组网格" not in body
    # The county administrator sees where it goes.
    assert dry_run_page(console("county"), "yongsheng", 43.345, 125.325)["grid"] == "东尖山村 一组网格"
