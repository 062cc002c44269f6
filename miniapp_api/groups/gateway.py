"""What a group needs from the DingTalk bridge, as a protocol the domain owns.

The console's test send and routing dry run must speak DingTalk (a robot webhook, the app's
``chat.send``, the worker's own routing and card) but the domain never imports the bridges.
So the bridge implements :class:`GroupGateway` and composition (``create_app``) registers
it with :func:`register`; :func:`current` is what the group services call.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from miniapp_api.config import Settings
from miniapp_api.models import Report


@dataclass(frozen=True)
class SendAnswer:
    """DingTalk's answer to a test message; ``errcode`` None when DingTalk was not reached."""

    ok: bool
    errcode: int | str | None
    errmsg: str


@dataclass(frozen=True)
class RoutePreview:
    """Where the worker would send a new report's card, the card's text, whom it @-mentions
    and how it names the report's level."""

    targets: list[str]
    markdown: str
    mention_mobiles: tuple[str, ...] = ()
    level_label: str = ""


class GroupGateway(Protocol):
    """The DingTalk side of a group, implemented by the bridge."""

    def send_robot_text(self, webhook: str, secret: str, text: str, settings: Settings,
                        now: datetime) -> SendAnswer:
        """Post ``text`` through a custom robot (webhook and signing secret)."""

    def send_app_text(self, chat_id: str, text: str, settings: Settings) -> SendAnswer:
        """Post ``text`` to an app group through the app's ``chat.send``."""

    def preview_new_report(self, report: Report, settings: Settings) -> RoutePreview:
        """What the worker would do with an (unsaved) new report, without sending."""


_channel: GroupGateway | None = None


def register(channel: GroupGateway) -> None:
    """Install the bridge's channel (composition calls this once at start-up)."""
    global _channel
    _channel = channel


def current() -> GroupGateway:
    """The registered channel; composition must have registered one."""
    if _channel is None:
        raise RuntimeError("no group channel registered: create_app registers the DingTalk bridge's")
    return _channel
