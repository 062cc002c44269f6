"""Fixtures for the DingTalk app: event subscription keys, a fake organisation, app groups."""
from __future__ import annotations

import pytest

from tests.conftest import GROUP_MEMBERS

EVENT_TOKEN = "tongxin-event-token"
EVENT_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters
assert len(EVENT_AES_KEY) == 43


@pytest.fixture
def settings_dict(settings_dict, fake_dingtalk):
    """The shared settings plus the event subscription keys (the fake knows them too)."""
    settings_dict["dingtalk"].update(event_token=EVENT_TOKEN, event_aes_key=EVENT_AES_KEY, corp_id="dingtestcorp")
    fake_dingtalk.state.app.configure(event_token=EVENT_TOKEN, event_aes_key=EVENT_AES_KEY)
    return settings_dict


@pytest.fixture
def fake_app(fake_dingtalk):
    """The app side of the fake DingTalk (tokens, organisation, chat/send, event pushes)."""
    return fake_dingtalk.state.app


def app_stats(fake_dingtalk) -> dict:
    return fake_dingtalk.state.app.stats()


def members_as_users(fake_app) -> None:
    """The conftest groups' members become organisation members (one department per unit)."""
    for code, members in GROUP_MEMBERS.items():
        dept = fake_app.add_department(f"{code}部门")["id"]
        for m in members:
            fake_app.add_user(m["name"], m["mobile"], [dept], m["staff_id"])


from tests.bridges.conftest import run  # noqa: E402,F401  (worker passes on the test clock)
from tests.bridges.conftest import tongxin  # noqa: E402,F401  (Tongxin served over real HTTP)
from tests.bridges.conftest import worker  # noqa: E402,F401


@pytest.fixture
def events_url(tongxin, fake_app) -> str:  # noqa: F811
    """Tongxin's event subscription URL; the fake pushes member changes there."""
    url = f"{tongxin.base_url}/callbacks/dingtalk/events"
    fake_app.configure(events_url=url)
    return url
