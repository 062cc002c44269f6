"""The WeChat channel of the worker: report status changes (and withdrawn photos) → subscribe messages.

A subscribe message needs a one-time consent the resident granted in the mini-program
(``POST /api/v1/me/subscriptions``); each message uses one. No consent is not a failure:
the delivery is skipped (the resident still sees the change in the mini-program).

Each outbox event kind that reaches residents has one message builder in :data:`MESSAGES`.
The report kind is this module's own; features keep theirs in their table
(``bridges.kinds.Kinds.wechat_message``), which composition installs with :func:`add_messages`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from bridges.errors import PermanentFailure
from bridges.errors import PlatformError
from bridges.errors import Skipped
from bridges.kinds import KindRegistry
from miniapp_api.config import Settings
from miniapp_api.db import write_tx
from miniapp_api.reports.lifecycle import STATUS_LABELS
from miniapp_api.models import Delivery
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Resident
from miniapp_api.models import SubscriptionConsent
from miniapp_api.time import LOCAL_TZ

from bridges.wechat import errcodes
from bridges.wechat.client import WechatClient

# phrase fields take at most 5 Chinese characters (PLATFORMS §5.5).


def thing(text: str, fallback: str = "进度已更新") -> str:
    """A ``thing`` value: at most 20 characters, never empty (``fallback`` stands in)."""
    text = " ".join((text or "").split()) or fallback
    return text if len(text) <= 20 else text[:19] + "…"


def status_message_data(payload: dict, now: datetime, fields: dict[str, str]) -> dict[str, str]:
    """The template data of a status change, each value within WeChat's per-type limits."""
    status = payload["to"]
    note = payload.get("note") or STATUS_LABELS.get(status, status)
    return {
        fields["number"]: payload["number"][:32],
        fields["status"]: STATUS_LABELS.get(status, "已更新"),
        fields["note"]: thing(note),
        fields["time"]: now.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M"),
    }


@dataclass(frozen=True)
class SubscribeMessage:
    """What one subscribe message says: template (id from config), data and the page it opens."""

    template_id: str
    data: dict[str, str]
    page: str | None = None


MessageFn = Callable[[OutboxEvent, Settings], SubscribeMessage]
MESSAGES = KindRegistry("a WeChat message")


def add_messages(table: Mapping[str, MessageFn]) -> None:
    """Install a feature's subscribe messages (``Kinds.wechat``); installing them again is a no-op."""
    MESSAGES.add_all(table)


@MESSAGES.register("report.status_changed")
def report_status_message(event: OutboxEvent, settings: Settings) -> SubscribeMessage:
    """The report-status message of an event about one report (its payload's ``number``,
    ``to`` and ``note``); features whose report events read like a status change reuse it."""
    template = settings.wechat.templates
    return SubscribeMessage(
        template.report_status,
        status_message_data(event.payload, event.created_at, template.report_status_fields),
        f"pages/report/detail?number={event.payload['number']}")


@MESSAGES.register("report.photo_withdrawn")
def _photo_withdrawn(event: OutboxEvent, settings: Settings) -> SubscribeMessage:
    """The resident's photo failed WeChat's image check: the report's status stays, the note says why."""
    template = settings.wechat.templates
    payload = {"number": event.payload["number"], "to": event.report.status,
               "note": "照片未通过内容安全检测已撤下"}
    return SubscribeMessage(
        template.report_status,
        status_message_data(payload, event.created_at, template.report_status_fields),
        f"pages/report/detail?number={event.payload['number']}")


class WechatBridge:
    """The ``wechat`` channel: subscribe messages to residents, one consent each."""

    channel = "wechat"

    def __init__(self, settings: Settings, client: WechatClient):
        self.settings = settings
        self.client = client

    def rate_limit(self, target: str) -> int | None:
        """No limit: WeChat's quotas are per day."""
        return None  # WeChat's subscribe-message quotas are per day and far above our volume

    def coalescible(self, delivery: Delivery) -> bool:
        """Never: each message is one resident's."""
        return False

    def deliver(self, delivery: Delivery, now: datetime) -> None:
        """Send the resident a subscribe message, using up one consent."""
        resident_id = int(delivery.target.rsplit(":", 1)[1])
        resident = Resident.get_or_none(Resident.id == resident_id)
        if resident is None:
            raise Skipped("resident no longer exists")
        build = MESSAGES.get(delivery.event.kind)
        if build is None:
            raise PermanentFailure(f"no WeChat message for event kind {delivery.event.kind}")
        message = build(delivery.event, self.settings)
        consent = SubscriptionConsent.get_or_none((SubscriptionConsent.resident == resident)
                                                  & (SubscriptionConsent.template_id == message.template_id))
        if consent is None or consent.remaining < 1:
            raise Skipped("no subscribe-message consent left")
        try:
            self.client.send_subscribe_message(openid=resident.openid, template_id=message.template_id,
                                               data=message.data, page=message.page)
        except PlatformError as err:
            if err.errcode == 43101:
                # WeChat says there is no consent: our count was wrong, forget it.
                SubscriptionConsent.update(remaining=0).where(SubscriptionConsent.id == consent.id).execute()
                raise Skipped("43101: the resident holds no consent") from None
            raise errcodes.classify(err.errcode, err.errmsg) from None
        with write_tx():
            (SubscriptionConsent.update(remaining=SubscriptionConsent.remaining - 1)
             .where((SubscriptionConsent.id == consent.id) & (SubscriptionConsent.remaining > 0)).execute())

    def deliver_digest(self, digest, members, now):  # pragma: no cover - never coalescible
        """Never called: WeChat deliveries are never coalesced."""
        raise PermanentFailure("wechat deliveries are never coalesced")
