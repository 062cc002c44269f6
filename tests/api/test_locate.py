"""``GET /api/v1/locate``: where a report at a point would go, before it is submitted (CONTRACT §3)."""
from __future__ import annotations

import pytest

from miniapp_api.db import database
from miniapp_api.models import Grid
from miniapp_api.org import grid_import
from tests.org.conftest import FEATURES
from tests.org.conftest import collection


@pytest.fixture
def grids(app) -> dict:
    """The routing tests' grids (tests/org/conftest.py), ids by name."""
    database.connect(reuse_if_open=True)
    grid_import.import_grids(collection(FEATURES))
    return {g.name: g.id for g in Grid.select()}


def test_the_answer_has_the_contract_shape(client, resident, grids):
    body = client.get("/api/v1/locate?lat=43.345&lng=125.305", headers=resident["headers"]).get_json()
    assert {k: body[k] for k in ("township", "grid", "rule")} == {
        "township": {"code": "yongsheng", "name": "永盛街道"},
        "grid": {"name": "第1网格", "community": "东风社区"},
        "rule": "boundary",
    }
    assert body["distance_m"] is None and "第1网格的边界内" in body["note"]


def test_without_a_township_the_nearest_centre_of_any_township(client, resident, grids):
    # Just east of 一组网格 (yitong), the easternmost grid: 445 m from its centre.
    body = client.get("/api/v1/locate?lat=43.345&lng=125.3305", headers=resident["headers"]).get_json()
    assert (body["township"]["code"], body["grid"]["name"], body["rule"]) == ("yitong", "一组网格", "nearest_centre")
    assert body["distance_m"] == pytest.approx(445, abs=5)


def test_nowhere_and_no_home(client, resident, grids):
    body = client.get("/api/v1/locate?lat=40.0&lng=116.0", headers=resident["headers"]).get_json()
    assert (body["township"], body["grid"], body["rule"]) == (None, None, "none")
    picked = client.get("/api/v1/locate?lat=40.0&lng=116.0&township=yongning", headers=resident["headers"]).get_json()
    assert (picked["township"]["code"], picked["grid"], picked["rule"]) == ("yongning", None, "none")


def test_the_home_grid_when_nothing_else(client, resident, grids):
    h = resident["headers"]
    assert client.put("/api/v1/me/home", json={"grid": grids["南山网格"]}, headers=h).status_code == 200
    body = client.get("/api/v1/locate?lat=40.0&lng=116.0", headers=h).get_json()
    assert (body["township"]["code"], body["grid"]["name"], body["rule"]) == ("yongning", "南山网格", "home")


def test_with_no_grids_at_all(client, resident):
    body = client.get("/api/v1/locate?lat=43.345&lng=125.305&township=yitong", headers=resident["headers"]).get_json()
    assert (body["township"]["code"], body["grid"], body["rule"]) == ("yitong", None, "none")


@pytest.mark.parametrize("query,field", [
    ("lat=91&lng=125", "lat"),
    ("lat=43&lng=-181", "lng"),
    ("lng=125", "lat"),
    ("lat=43", "lng"),
    ("lat=nan&lng=125", "lat"),
    ("lat=abc&lng=125", "lat"),
    ("lat=43&lng=125&township=atlantis", "township"),
    ("lat=43&lng=125&township=Bad%20Code", "township"),
])
def test_bad_input_is_422(client, resident, query, field):
    resp = client.get(f"/api/v1/locate?{query}", headers=resident["headers"])
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()["error"]
    assert err["code"] == "validation_failed" and err.get("field") == field


def test_it_needs_a_resident(client):
    assert client.get("/api/v1/locate?lat=43.345&lng=125.305").status_code == 401


def test_it_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "get" in paths["/api/v1/locate"]
