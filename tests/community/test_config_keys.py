"""The configuration keys of notices and campaigns: defaults, validation with the key named."""
from __future__ import annotations

from pathlib import Path

import pytest

from miniapp_api.config import ConfigError
from miniapp_api.config import parse_settings
from tests.conftest import make_settings_dict


def _settings(**sections):
    data = make_settings_dict("sqlite:///unused.db", Path("/tmp"), "http://127.0.0.1:9")
    for key, value in sections.items():
        if key == "templates":
            data["wechat"]["templates"].update(value)
        else:
            data[key] = value
    return parse_settings(data)


def test_defaults():
    s = _settings()
    assert s.wechat.templates.notice is None and s.wechat.templates.campaign is None
    assert (s.notices.ack_hours, s.notices.escalate_hours, s.notices.county_group) == (24, 48, None)
    assert (s.campaigns.checkin_code_seconds, s.campaigns.checkin_radius_m, s.campaigns.default_capacity) == (60, 500, 10)


@pytest.mark.parametrize("sections,key", [
    ({"notices": {"ack_hours": 48, "escalate_hours": 24}}, "notices"),
    ({"notices": {"county_group": "nowhere"}}, "notices.county_group"),
    ({"templates": {"notice": "CHANGE-ME"}}, "wechat.templates.notice"),
    ({"templates": {"campaign_fields": {"title": "thing1"}}}, "wechat.templates.campaign_fields"),
    ({"campaigns": {"checkin_code_seconds": 5}}, "campaigns.checkin_code_seconds"),
    ({"campaigns": {"surprise": 1}}, "campaigns.surprise"),
])
def test_bad_values_name_the_key(sections, key):
    with pytest.raises(ConfigError) as err:
        _settings(**sections)
    assert key in str(err.value)


def test_example_file_documents_every_key():
    text = (Path(__file__).parents[2] / "config.example.toml").read_text(encoding="utf-8")
    s = _settings()
    for section in ("notices", "campaigns"):
        assert f"[{section}]" in text
        for name in type(getattr(s, section)).model_fields:
            assert f"{name} =" in text, (section, name)
    for name in ("notice", "notice_fields", "campaign", "campaign_fields"):
        assert f"# {name} =" in text
