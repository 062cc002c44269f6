"""The DingTalk bridge's side of a group, for the console's test send and routing dry run.

Implements :class:`miniapp_api.groups.gateway.GroupGateway` with the worker's own code (the
robot client, the app's ``chat.send``, routing and the new-report card);
composition registers it with :func:`miniapp_api.groups.gateway.register`.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from bridges import routing
from bridges.dingtalk import render
from bridges.dingtalk.app_sender import send_test
from bridges.dingtalk.client import RobotClient
from bridges.dingtalk.deliver import report_card
from bridges.errors import BridgeError
from miniapp_api.config import Settings
from miniapp_api.groups.gateway import RoutePreview
from miniapp_api.groups.gateway import SendAnswer
from miniapp_api.models import GroupMapping
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report


def _failure(err: BridgeError) -> SendAnswer:
    """DingTalk's errcode and message out of a bridge error (errcode None: not reached)."""
    errcode = getattr(err, "errcode", None)
    message = str(err)
    if errcode is not None and ": " in message:
        message = message.split(": ", 1)[1]
    return SendAnswer(False, errcode, message)


class DingTalkGroupGateway:
    """A group's DingTalk side: robot and app test sends, and the new-report route preview."""

    def send_robot_text(self, webhook: str, secret: str, text: str, settings: Settings,
                        now: datetime) -> SendAnswer:
        """Post ``text`` through the custom robot and return DingTalk's answer."""
        client = RobotClient(timeout=settings.dingtalk.request_timeout_seconds)
        try:
            answer = client.send(webhook, secret, render.render_text_reply(text), msg_uuid=str(uuid.uuid4()),
                                 now_ms=int(now.timestamp() * 1000))
        except BridgeError as err:
            return _failure(err)
        return SendAnswer(True, answer.get("errcode", 0), answer.get("errmsg", "ok"))

    def send_app_text(self, chat_id: str, text: str, settings: Settings) -> SendAnswer:
        """Post ``text`` to the app group ``chat_id`` through ``chat.send``."""
        try:
            send_test(GroupMapping(chat_id=chat_id), text, settings)
        except BridgeError as err:
            return _failure(err)
        return SendAnswer(True, 0, "ok（应用发送 chat.send）")

    def preview_new_report(self, report: Report, settings: Settings) -> RoutePreview:
        """The DingTalk targets of a new report and the text of its card."""
        event = OutboxEvent(kind="report.created", payload={"number": report.number}, report=report)
        targets = [t.target for t in routing.targets_for(event, settings) if t.channel == "dingtalk"]
        card = report_card(report, settings)
        markdown = render.render_new_report(card)["markdown"]["text"]
        return RoutePreview(targets, markdown, tuple(card.mention_mobiles), card.level_label)
