"""Schema-driven fuzzing of the whole API (schemathesis, from our own OpenAPI document),
over real HTTP: no input — valid, invalid or absurd — may produce a 5xx, and every error
keeps the contract's shape."""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hsettings

from bridges.fakes.serve import serve_in_thread
from miniapp_api import create_app
from miniapp_api.config import parse_settings
from tests.conftest import make_settings_dict


def _document() -> dict:
    """The OpenAPI document, as the app serves it (no database needed to build it)."""
    tmp = Path(tempfile.mkdtemp())
    app = create_app(parse_settings(make_settings_dict(f"sqlite:///{tmp / 'doc.db'}", tmp, "http://127.0.0.1:9")))
    return app.test_client().get("/api/v1/openapi.json").get_json()


schema = schemathesis.openapi.from_dict(_document())
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
    response = case.call(base_url=served.base_url, headers={"Authorization": f"Bearer {resident['token']}"})
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"error"}
        assert {"code", "message"} <= set(body["error"])


@schema.parametrize()
@hsettings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_without_a_token_nothing_breaks(case, served):
    response = case.call(base_url=served.base_url)
    assert response.status_code < 500, response.text[:500]
    if response.status_code >= 400:
        assert "error" in response.json()
