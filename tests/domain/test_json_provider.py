"""Answers encoded by orjson read exactly as Flask's own encoder would have written them."""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from datetime import timezone

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from miniapp_api.web.json_provider import OrjsonProvider

APP = Flask(__name__)
FAST = OrjsonProvider(APP)
STDLIB = DefaultJSONProvider(APP)
STDLIB.ensure_ascii = False
STDLIB.sort_keys = False
COMPACT = {"separators": (",", ":")}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_json_value_reads_back_the_same(value):
    fast = FAST.dumps(value, **COMPACT)
    assert json.loads(fast) == json.loads(STDLIB.dumps(value, **COMPACT)) == value


def test_text_is_utf8_not_escaped_and_keys_keep_their_order():
    assert FAST.dumps({"b": "垃圾堆积", "a": 1}, **COMPACT) == '{"b":"垃圾堆积","a":1}'


def test_what_orjson_leaves_follows_flasks_rules():
    @dataclasses.dataclass
    class Point:
        lat: float

    when = datetime(2026, 11, 27, 9, 30, tzinfo=timezone.utc)
    value = {"at": when, "p": Point(43.3), "big": 2**70}
    assert json.loads(FAST.dumps(value, **COMPACT)) == json.loads(STDLIB.dumps(value, **COMPACT))
    assert json.loads(FAST.dumps(value, **COMPACT))["at"] == "Fri, 27 Nov 2026 09:30:00 GMT"


def test_other_options_go_to_the_standard_encoder():
    assert FAST.dumps({"a": [1, 2]}, indent=2) == json.dumps({"a": [1, 2]}, indent=2)
