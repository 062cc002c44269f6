"""The DingTalk channel of the worker: deliveries → rendered robot messages → the groups.

This is the glue between the database and the pure adapter modules (``render``, ``client``):
it renders report cards from the domain's plain view (``miniapp_api.cards``),
resolves a target to its robot at send time, and declares the per-robot rate limit.

Each outbox event kind has one payload builder in :data:`PAYLOADS`. The report kinds are this
module's own; features keep theirs in their table (``bridges.kinds.Kinds.dingtalk_payload``),
which composition installs with :func:`add_payloads`.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from datetime import datetime
from typing import Callable
from urllib.parse import urlsplit

from bridges.errors import PermanentFailure
from bridges.errors import RetryLater
from bridges.kinds import KindRegistry
from bridges.routing import Reroute
from bridges.routing import group_target
from miniapp_api.config import Settings
from miniapp_api.groups.policy import staging_robot
from miniapp_api.models import Delivery
from miniapp_api.models import GroupMapping
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api import cards
from miniapp_api.reports.lifecycle import ACTION_LABELS
from miniapp_api.reports.lifecycle import STATUS_LABELS
from miniapp_api.reports.links import signed_report_url

from bridges.dingtalk import render
from bridges.dingtalk.app_sender import AppSender
from bridges.dingtalk.app_sender import app_mapping
from bridges.dingtalk.app_client import AppClient
from bridges.dingtalk.client import RobotClient


def report_card(report: Report, settings: Settings) -> render.ReportCard:
    """What a group sees of ``report`` (``cards.group_card``), as the renderer takes it."""
    view = cards.group_card(report, settings)
    return render.ReportCard(**{**asdict(view), "photo_urls": list(view.photo_urls),
                                "mention_mobiles": list(view.mention_mobiles),
                                "completion_photo_urls": list(view.completion_photo_urls),
                                "inline_photo_urls": list(view.inline_photo_urls)})


PayloadFn = Callable[[OutboxEvent, Settings], dict]
PAYLOADS = KindRegistry("a DingTalk payload")


def add_payloads(table: Mapping[str, PayloadFn]) -> None:
    """Install a feature's group messages (``Kinds.dingtalk``); installing them again is a no-op."""
    PAYLOADS.add_all(table)


@PAYLOADS.register("report.created")
def _new_report(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_new_report(report_card(event.report, settings))


def _is_transfer(event: OutboxEvent) -> bool:
    """Whether ``event`` is a whistle (转办) of a report: its groups get the 转办 card."""
    p = event.payload
    return event.kind == "report.status_changed" and p.get("to") == "transferred" \
        and p.get("action") == "transfer" and event.report_id is not None


def _transfer(event: OutboxEvent, settings: Settings, *, department_copy: bool) -> dict:
    """The 转办 card: the department sees the report here first, so it carries it in full. The
    department's copy @-mentions its post on duty (or the county standing in, said plainly:
    ``cards.transfer_duty``); the township's copy mentions nobody of the department."""
    p, report = event.payload, event.report
    extra: dict = {"department": report.department.name if report.department_id else ""}
    if department_copy:
        duty = cards.transfer_duty(report)
        extra.update(duty=duty.who, mention_mobiles=list(duty.mention_mobiles))
    return render.render_transfer(report_card(report, settings), STATUS_LABELS.get(p["to"], p["to"]),
                                  p.get("actor_name", ""), p.get("note"), **extra)


def _township_copy(target: str) -> bool:
    """Whether ``target`` is a township's (unit's) group: there a 转办 card mentions no department
    official. Every other group — the department's, or the one staging group standing for all —
    gets the department's copy."""
    return target.startswith("dingtalk:township:")


@PAYLOADS.register("report.status_changed")
def _status_change(event: OutboxEvent, settings: Settings) -> dict:
    p = event.payload
    if _is_transfer(event):  # without a target (no delivery to ask): the copy that mentions nobody
        return _transfer(event, settings, department_copy=False)
    extra = {}
    if p["to"] == "resolved" and event.report_id:  # the resolved card: 上报照片 and 办结照片 apart
        card = cards.group_card(event.report, settings)
        extra = dict(photo_urls=list(card.photo_urls), completion_photo_urls=list(card.completion_photo_urls),
                     supporters=card.supporters, inline_photo_urls=list(card.inline_photo_urls))
    return render.render_status_change(
        p["number"], STATUS_LABELS.get(p["to"], p["to"]), ACTION_LABELS.get(p["action"], p["action"]),
        p.get("actor_name", ""), p.get("note"), signed_report_url(settings, p["number"]), **extra)


@PAYLOADS.register("report.photo_withdrawn")
def _photo_withdrawn(event: OutboxEvent, settings: Settings) -> dict:
    p = event.payload
    return render.render_photo_withdrawn(p["number"], p.get("note") or "照片未通过内容安全检测，已撤下",
                                         signed_report_url(settings, p["number"]))


class DingtalkBridge:
    """Sends group messages (custom robot webhooks) and command replies (sessionWebhook)."""

    channel = "dingtalk"

    def __init__(self, settings: Settings, client: RobotClient | None = None, app_client: AppClient | None = None):
        self.settings = settings
        self.client = client or RobotClient(timeout=settings.dingtalk.request_timeout_seconds)
        self.app = AppSender(settings, app_client)  # groups the county's app created (chat_id)

    def rate_limit(self, target: str) -> int | None:
        """Messages per rolling minute this target's robot (or app group) may take."""
        if app_mapping(target) is not None:
            return self.app.rate_limit(target)
        return self.settings.dingtalk.rate_limit_per_minute

    def coalescible(self, delivery: Delivery) -> bool:
        """New-report cards may be merged into digests; updates and replies are not."""
        return delivery.event_id is not None and delivery.event.kind == "report.created" \
            and not delivery.target.startswith("dingtalk:reply:")

    def _robot(self, target: str) -> tuple[str, str]:
        """``(webhook, secret)`` of the robot serving ``target`` now (staging, else its mapping)."""
        if target == "dingtalk:staging":
            return self.settings.dingtalk.staging_webhook, self.settings.dingtalk.staging_secret
        _, owner_kind, code = target.split(":", 2)
        staging = staging_robot(owner_kind, code)  # the console's per-group staging switch
        if staging:
            return staging
        mapping = GroupMapping.get_or_none((GroupMapping.owner_kind == owner_kind) & (GroupMapping.owner_code == code))
        if mapping is None or not mapping.enabled:
            # The console may still map it: wait rather than dead-letter at once.
            raise RetryLater(f"no DingTalk group mapped for {target}", delay=300)
        return mapping.webhook, mapping.secret

    def _send(self, target: str, payload: dict, msg_uuid: str | None, now: datetime) -> None:
        mapping = app_mapping(target)
        if mapping is not None:  # an app-sent group: chat.send, same outbox and retries
            self.app.send(mapping, payload, msg_uuid, now)
            return
        webhook, secret = self._robot(target)
        self.client.send(webhook, secret, payload, msg_uuid=msg_uuid, now_ms=int(now.timestamp() * 1000))

    def _payload(self, delivery: Delivery) -> dict:
        """The group message of the delivery's event kind (:data:`PAYLOADS`)."""
        event = delivery.event
        if _is_transfer(event):  # the 转办 card differs by group: only the department's mentions
            return _transfer(event, self.settings, department_copy=not _township_copy(delivery.target))
        build = PAYLOADS.get(event.kind)
        if build is None:
            raise PermanentFailure(f"dingtalk cannot render event kind {event.kind}")
        return build(event, self.settings)

    def deliver(self, delivery: Delivery, now: datetime) -> None:
        """Send one delivery; raises a ``bridges.errors`` exception on failure."""
        if delivery.event_id is not None and delivery.event.kind == "dingtalk.reply":
            return self._reply(delivery, now)  # also once rerouted to the group's robot
        self._send(delivery.target, self._payload(delivery), delivery.msg_uuid, now)

    def _reply(self, delivery: Delivery, now: datetime) -> None:
        p = delivery.event.payload
        payload = render.render_text_reply(p["text"], p.get("at_user_id"))
        now_ms = int(now.timestamp() * 1000)
        if not delivery.target.startswith("dingtalk:reply:"):
            # Rerouted (below): the group's robot, under its rate limit, same msgUuid.
            return self._send(delivery.target, payload, delivery.msg_uuid, now)
        if self._trusted_session(p.get("session_webhook")) and p.get("session_expires_ms", 0) > now_ms + 5000:
            try:
                self.client.send_by_session(p["session_webhook"], payload, now_ms=now_ms)
                return
            except PermanentFailure:
                pass  # the session expired: fall back to the group's own robot below
        mapping = GroupMapping.get_or_none(GroupMapping.conversation_id == p["conversation_id"])
        if mapping is None:
            raise PermanentFailure("reply session expired and the group has no robot mapped")
        # The robot may already carry a full minute of cards: queue the reply under its limit
        # (it goes first, being urgent) instead of sending it beside it into a 130101 block.
        raise Reroute(group_target(mapping.owner_kind, mapping.owner_code, self.settings).target,
                      "reply session expired: through the group's robot")

    def _trusted_session(self, url: str | None) -> bool:
        """Only DingTalk's own host (``dingtalk.api_base_url``) may receive a reply.

        A callback's signature covers only its timestamp, so the ``sessionWebhook`` in its body
        is not vouched for: never POST to a host the platform does not own.
        """
        if not url:
            return False
        ours = urlsplit(self.settings.dingtalk.api_base_url)
        theirs = urlsplit(url)
        return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)

    def digest_chunks(self, deliveries: list[Delivery]) -> list[list[Delivery]]:
        """Split coalescible deliveries into groups that each fit one digest message."""
        cards = {d.id: report_card(d.event.report, self.settings) for d in deliveries}
        by_card = {id(c): d for d, c in ((d, cards[d.id]) for d in deliveries)}
        chunks = render.chunk_for_digest(list(cards.values()))
        return [[by_card[id(c)] for c in chunk] for chunk in chunks]

    def deliver_digest(self, digest: Delivery, members: list[Delivery], now: datetime) -> None:
        """Send one digest message listing every member report."""
        cards = [report_card(d.event.report, self.settings) for d in members]
        payload = render.render_digest(cards, "新上报汇总")  # the title chunk_for_digest measured
        self._send(digest.target, payload, digest.msg_uuid, now)
