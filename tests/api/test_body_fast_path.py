"""A request body is read by one strict validation of its bytes when that succeeds (issue 17),
and by the full path (parse, depth and NUL checks, strict then lax validation) otherwise.

The shortcut is only sound if every body it accepts reads exactly as the full path reads it.
These tests generate bodies around every body model of the API (right and wrong types, extra
and missing fields, padding, NUL characters, deep nesting) and check just that; and, over
HTTP, that the bodies the shortcut must leave alone still get the contract's errors."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from pydantic import ValidationError

from miniapp_api import create_app
from miniapp_api.config import parse_settings
from miniapp_api.errors import ApiError
from miniapp_api.web.api import _strict_first
from miniapp_api.web.api import operations
from miniapp_api.web.api import parse_body_fully
from tests.conftest import make_settings_dict
from tests.conftest import report_body


def _body_models() -> list:
    tmp = Path(tempfile.mkdtemp())
    app = create_app(parse_settings(make_settings_dict(f"sqlite:///{tmp / 'doc.db'}", tmp, "http://127.0.0.1:9")))
    return sorted({op.body for op in operations(app) if op.body is not None}, key=lambda m: m.__name__)


MODELS = _body_models()

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=12), st.sampled_from([" t01 ", "sanitation", "2026-12-06T09:00:00+08:00",
                                                          "a\x00b", "", "true", "5"]))
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                       st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                      max_leaves=8)


def _near(model) -> st.SearchStrategy:
    """Bodies made of the model's own field names (and a stranger), with any values."""
    names = list(model.model_fields) + ["extra"]
    location = st.fixed_dictionaries({}, optional={"lat": values, "lng": values, "address": values})
    return st.dictionaries(st.sampled_from(names), st.one_of(values, location), max_size=len(names))


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_every_body_model_takes_the_shortcut(model):
    """Each model's values have a bounded shape, so none silently loses the shortcut."""
    assert _strict_first(model)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@hsettings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(data=st.data())
def test_what_the_shortcut_accepts_reads_the_same_in_full(model, data):
    body = data.draw(_near(model))
    raw = json.dumps(body, ensure_ascii=data.draw(st.booleans())).encode()
    try:
        fast = model.model_validate_json(raw, strict=True)
    except ValidationError:
        return  # the full path answers these bodies, as it always did
    if b"\\u0000" in raw:
        return  # the shortcut never looks at a body with an escaped NUL
    try:
        full = parse_body_fully(model, raw, True)
    except ApiError as err:
        pytest.fail(f"the shortcut accepted {raw!r}, which the full path refuses: {err}")
    assert fast.model_dump() == full.model_dump()


def test_the_report_body_read_both_ways_is_the_same_report():
    model = next(m for m in MODELS if m.__name__ == "ReportIn")
    raw = json.dumps({"category": " sanitation ", "township": "t01", "description": "路灯坏了",
                      "location": {"lat": 43, "lng": 125.3, "address": "人民大街"}, "anonymous": True},
                     ensure_ascii=False).encode()
    fast = model.model_validate_json(raw, strict=True)
    assert fast.model_dump() == parse_body_fully(model, raw, True).model_dump()
    assert fast.category == "sanitation" and fast.location.lat == 43.0


def _raw(**overrides) -> bytes:
    return json.dumps(report_body(**overrides), ensure_ascii=False).encode()


@pytest.mark.parametrize("raw, status, code, field", [
    (_raw(description="a\x00b"), 422, "validation_failed", "description"),
    (_raw()[:-1] + b', "x": ' + b"[" * 40 + b"]" * 40 + b"}", 400, "invalid_json", None),
    (_raw(location={"lat": True, "lng": 125.3}), 422, "validation_failed", "location.lat"),
    (_raw(anonymous="true"), 422, "validation_failed", "anonymous"),
    (b"[1, 2]", 422, "validation_failed", None),
    (b"{not json", 400, "invalid_json", None),
])
def test_bodies_the_shortcut_refuses_get_the_contract_errors(client, resident, raw, status, code, field):
    """Each of these would be stored if the shortcut took it; the full path refuses it."""
    assert client.post("/api/v1/reports", json=report_body(), headers=resident["headers"]).status_code == 201
    headers = {**resident["headers"], "Content-Type": "application/json"}
    resp = client.post("/api/v1/reports", data=raw, headers=headers)
    assert resp.status_code == status, resp.get_data(as_text=True)
    error = resp.get_json()["error"]
    assert error["code"] == code and error.get("field") == field, error
    assert len(client.get("/api/v1/reports?mine=true", headers=resident["headers"]).get_json()["items"]) == 1
