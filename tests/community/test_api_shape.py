"""The notice, campaign and home-place operations are in the OpenAPI document, and no input
makes them answer 500: every error has the contract's shape and a Chinese message."""
from __future__ import annotations

import re

import pytest

from miniapp_api.web.api import operations
from tests.community.conftest import COUNTY

OURS = ("/notices", "/campaigns", "/me/home", "/me/signups", "/me/volunteer-hours", "/admin/notices",
        "/admin/campaigns", "/admin/grids", "/townships/<code>/communities", "/communities/")


def ours(app) -> list:
    return [op for op in operations(app) if op.rule.startswith(OURS)]


def test_every_operation_is_documented(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    for op in ours(client.application):
        path = "/api/v1" + re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", op.rule)
        assert op.method.lower() in doc["paths"][path], path
    assert len(ours(client.application)) >= 30
    assert "NoticeIn" in doc["components"]["schemas"] and "CampaignIn" in doc["components"]["schemas"]


PATH_VALUES = ["N0001", "V0001", "x" * 40, "%00", "中文", "99999999999999999999"]
BODIES = [None, b"{nope", b"[1]", b'{"title": "\\u0000"}', {"title": 1}, {"target": {"level": "grid", "grid": 2**40}},
          {"code": "1" * 64, "lat": 1e308}, {"starts_at": "9999-12-31T23:59:59", "ends_at": "0001-01-01T00:00:00"},
          {"report": "R" * 33}, {"scope": {"level": "grid", "grid": -1}}, {"capacity": 10**12},
          {"grid": 2**40}, {"lat": "NaN", "lng": 1}, {"name": "\u202e" * 30, "phone": "1" * 30}]


@pytest.mark.parametrize("headers_kind", ["resident", "admin"])
def test_no_input_answers_500(client, resident, org, headers_kind):
    headers = {"resident": resident["headers"], "admin": COUNTY}[headers_kind]
    client.post("/api/v1/admin/notices", json={"title": "t", "target": {"level": "county"}}, headers=COUNTY)
    for op in ours(client.application):
        for value in PATH_VALUES:
            path = "/api/v1" + re.sub(r"<[^>]+>", value, op.rule)
            for body in BODIES if op.method in ("POST", "PUT", "PATCH") else [None]:
                kwargs = {"headers": dict(headers)}
                if isinstance(body, bytes):
                    kwargs["data"] = body
                    kwargs["headers"]["Content-Type"] = "application/json"
                elif body is not None:
                    kwargs["json"] = body
                resp = client.open(path, method=op.method, **kwargs)
                assert resp.status_code < 500, (op.method, path, body, resp.get_data(as_text=True)[:300])
                if resp.status_code >= 400:
                    err = resp.get_json()["error"]
                    assert re.fullmatch(r"[a-z_]+", err["code"]) and re.search(r"[\u4e00-\u9fff]", err["message"])
