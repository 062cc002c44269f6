"""Flask's JSON answers, encoded by orjson.

The standard library's encoder took a tenth of a "my reports" request. orjson writes the same
bytes for what the API answers (UTF-8 text, no spaces, keys in insertion order) in a tenth
of the time. Anything orjson leaves to us (datetimes, dataclasses, integers wider than 64
bits…) goes through Flask's own rules, so no answer changes shape.
"""
from __future__ import annotations

import json
from typing import Any

import orjson
from flask.json.provider import DefaultJSONProvider

_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
_COMPACT = {"separators": (",", ":")}


class OrjsonProvider(DefaultJSONProvider):
    """``app.json``: orjson for compact output, Flask's encoder for everything else."""

    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        """Compact answers through orjson; anything else through Flask's encoder."""
        if kwargs == _COMPACT:  # what ``response()`` asks for outside debug mode
            try:
                return orjson.dumps(obj, default=self.default, option=_OPTIONS).decode()
            except (orjson.JSONEncodeError, TypeError):
                pass  # e.g. an integer beyond 64 bits: the standard encoder writes it
        kwargs.setdefault("default", self.default)
        kwargs.setdefault("ensure_ascii", self.ensure_ascii)
        kwargs.setdefault("sort_keys", self.sort_keys)
        return json.dumps(obj, **kwargs)
