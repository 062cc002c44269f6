"""Schema-driven fuzzing of the whole API (schemathesis, from our own OpenAPI document),
over real HTTP: no input — valid, invalid or absurd — may produce a 5xx, and every error
keeps the contract's shape; and every answer conforms to the document (status code, content
type, body schema)."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hsettings
from schemathesis.checks import content_type_conformance
from schemathesis.checks import not_a_server_error
from schemathesis.checks import response_schema_conformance
from schemathesis.checks import status_code_conformance

import requests

from bridges.dingtalk.signing import callback_sign
from bridges.fakes.serve import serve_in_thread
from miniapp_api import create_app
from miniapp_api.config import parse_settings
from miniapp_api.models import utcnow
from tests.conftest import DT_APP_SECRET
from tests.conftest import make_settings_dict


def _document() -> dict:
    """The OpenAPI document, as the app serves it (no database needed to build it)."""
    tmp = Path(tempfile.mkdtemp())
    app = create_app(parse_settings(make_settings_dict(f"sqlite:///{tmp / 'doc.db'}", tmp, "http://127.0.0.1:9")))
    return app.test_client().get("/api/v1/openapi.json").get_json()


schema = schemathesis.openapi.from_dict(_document())
# Besides "no 5xx": every answer's status code, content type and body are the documented ones.
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# Valid requests and deliberately invalid ones (wrong types, missing fields, broken bounds).
schema.config.generation.update(modes=list(schemathesis.GenerationMode))


@pytest.fixture
def served(app):
    server = serve_in_thread(app)
    yield server
    server.shutdown()


@schema.parametrize()
@hsettings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_no_input_breaks_the_api(case, served, resident):
    response = case.call_and_validate(base_url=served.base_url, checks=CONFORMANCE,
                                      headers={"Authorization": f"Bearer {resident['token']}"})
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}
        assert {"code", "message"} <= set(body["error"])


@schema.parametrize()
@hsettings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_without_a_token_nothing_breaks(case, served):
    response = case.call_and_validate(base_url=served.base_url, checks=CONFORMANCE)
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert "error" in response.json()


# --- regression seeds: inputs that once answered 500 (issue #14) ---------------------------

ADMIN_TOKEN = "fuzz-admin-token-0123456789abcdef"
# Deeper than the parser's recursion allows, and deep enough for any check that walks a body.
DEEPEST = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 900 + b"1" + b"}" * 900


def _signed() -> dict:
    """Headers of a correctly signed DingTalk callback, now."""
    ts = int(utcnow().timestamp() * 1000)
    return {"timestamp": str(ts), "sign": callback_sign(DT_APP_SECRET, ts)}


# (name, method, path, who: resident | admin | signed | nobody, extra headers, body). Full-width
# digits in a check-in code need a campaign the resident signed up for: see
# tests/security/test_malformed_input.py.
SEEDS = [
    ("latin-1 bearer token", "GET", "/api/v1/reports?mine=true", "nobody", {"Authorization": b"Bearer abc.\xe9\xff"}, None),
    ("utf-8 bearer token", "GET", "/api/v1/me", "nobody", {"Authorization": "Bearer 中文.签名".encode()}, None),
    ("non-ASCII sig", "GET", "/o/reports/R261206-0001?sig=%C3%A9%E4%B8%AD", "nobody", {}, None),
    ("non-ASCII notice sig", "GET", "/o/notices/N0001?sig=%C3%A9", "nobody", {}, None),
    ("deepest JSON, API", "POST", "/api/v1/reports", "resident", {}, DEEPEST),
    ("deep JSON object, API", "POST", "/api/v1/reports", "resident", {}, DEEP_OBJECT),
    ("deepest JSON, admin API", "POST", "/api/v1/admin/emergency", "admin", {}, DEEPEST),
    ("deep JSON object, admin API", "POST", "/api/v1/admin/emergency", "admin", {}, DEEP_OBJECT),
    ("deepest JSON, DingTalk callback", "POST", "/callbacks/dingtalk", "signed", {}, DEEPEST),
    ("deep JSON object, DingTalk callback", "POST", "/callbacks/dingtalk", "signed", {}, DEEP_OBJECT),
]


@pytest.fixture
def served_with_admin(settings_dict, request):
    settings_dict["admin"] = {"api_token": ADMIN_TOKEN}
    yield request.getfixturevalue("served")


@pytest.mark.parametrize("seed", SEEDS, ids=[s[0] for s in SEEDS])
def test_regression_seeds_are_clean_4xx(seed, served_with_admin, resident):
    _, method, path, who, extra, body = seed
    headers = {"Content-Type": "application/json",
               **{"resident": {"Authorization": f"Bearer {resident['token']}"},
                  "admin": {"Authorization": f"Bearer {ADMIN_TOKEN}"}, "signed": _signed(), "nobody": {}}[who],
               **extra}
    response = requests.request(method, served_with_admin.base_url + path, headers=headers, data=body, timeout=30)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert {"code", "message"} <= set(error)
