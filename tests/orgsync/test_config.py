"""Configuration of the DingTalk app and of app-sent groups (chat_id instead of a webhook)."""
from __future__ import annotations

import copy

import pytest

from miniapp_api.config import ConfigError
from miniapp_api.config import parse_settings
from tests.conftest import make_settings_dict


@pytest.fixture
def good(tmp_path):
    return make_settings_dict("sqlite:///x.db", tmp_path, "http://127.0.0.1:1", "http://127.0.0.1:2")


def problems(data) -> list[str]:
    try:
        parse_settings(data)
    except ConfigError as err:
        return err.problems
    return []


def test_app_keys_and_defaults(good):
    s = parse_settings(good).dingtalk
    assert (s.event_token, s.event_aes_key, s.app_rate_limit_per_minute, s.app_chat_rate_limit_per_minute) == \
        (None, None, 1200, 60)
    good["dingtalk"].update(event_token="t", event_aes_key="a" * 43, corp_id="dingcorp", agent_id="42")
    assert parse_settings(good).dingtalk.event_aes_key == "a" * 43
    bad = copy.deepcopy(good)
    bad["dingtalk"]["event_aes_key"] = "short"
    assert any(p.startswith("dingtalk.event_aes_key") for p in problems(bad))
    bad = copy.deepcopy(good)
    del bad["dingtalk"]["event_aes_key"]
    assert any("event_token and event_aes_key go together" in p for p in problems(bad))


def test_a_group_may_name_a_chat_id_instead_of_a_robot(good):
    good["townships"][0]["dingtalk"] = {"conversation_id": "cid-x", "chat_id": "chat123"}
    g = parse_settings(good).townships[0].dingtalk
    assert (g.webhook, g.secret, g.chat_id) == (None, None, "chat123")
    half = copy.deepcopy(good)
    half["townships"][0]["dingtalk"]["webhook"] = "https://oapi.dingtalk.com/robot/send?access_token=abc"
    assert any("webhook and secret go together" in p for p in problems(half))
    twice = copy.deepcopy(good)
    twice["townships"][1]["dingtalk"] = {"conversation_id": "cid-y", "chat_id": "chat123"}
    assert any("townships[1].dingtalk.chat_id: the same app group is mapped twice" in p for p in problems(twice))


def test_a_robot_group_still_needs_webhook_and_secret_with_the_usual_messages(good):
    del good["townships"][0]["dingtalk"]["webhook"]
    del good["townships"][1]["dingtalk"]["secret"]
    assert problems(good) == ["townships[0].dingtalk.webhook: required key is missing",
                              "townships[1].dingtalk.secret: required key is missing"]
    good["townships"][2]["dingtalk"]["secret"] = "CHANGE-ME"
    assert any(p.startswith("townships[2].dingtalk.secret") and "placeholder" in p for p in problems(good))
