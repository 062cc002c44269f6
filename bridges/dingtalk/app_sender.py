"""The app channel: group messages sent as the county's DingTalk app (``chat.send``).

A unit's mapping that names a ``chat_id`` (a group the app created) is served here instead of
by the custom-robot webhook. The worker does not know the difference: the same outbox,
claiming, retries, dead letters and digests apply; :class:`~bridges.dingtalk.deliver.DingtalkBridge`
asks :meth:`AppSender.chat_for` which way a target goes.

What differs from the webhook (PLATFORMS §4.2, §4.4):

* **Body format.** ``chat.send`` takes the snake_case work-notification bodies of the SDK's
  ``dingtalk.model.message`` (``action_card.single_title``…), not the robot's camelCase ones;
  :func:`to_app_body` converts our rendered robot payloads with those classes. There are no
  ``at`` mentions: ``@<mobile>`` in the text becomes ``@<name>`` (or a masked number).
* **Rate limits** are the app's own: ``app_chat_rate_limit_per_minute`` per group (the
  worker's rolling-minute budget, as for robots) and ``app_rate_limit_per_minute`` for all
  app-sent groups together (checked here, against :class:`~miniapp_api.models.dingtalk.AppSend`).
* **No idempotency key.** A robot webhook drops a resend with the same ``msgUuid``;
  ``chat.send`` has nothing of the kind. So each send is recorded (``AppSend``) *before* it
  goes out: a send already answered is never repeated, and a resend of one whose outcome is
  unknown (the worker was killed mid-request, or the request timed out) is marked as such in
  the group (``（补发）``) so nobody acts on it twice. That window — DingTalk accepted the
  message but the answer never reached us — cannot be closed from our side; it is the one
  case where a group may see a message twice, and then it says so.
"""
from __future__ import annotations

import logging
import random
import re
import uuid
from datetime import datetime
from datetime import timedelta
from typing import Any

from peewee import fn

from bridges.errors import PermanentFailure
from bridges.errors import RateLimited
from bridges.errors import RetryLater
from miniapp_api.config import Settings
from miniapp_api.db import write_tx
from miniapp_api.groups.broken import mark_broken
from miniapp_api.groups.policy import staging_robot
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models.dingtalk import AppSend
from miniapp_api.tokens import DbTokenStore

from bridges.dingtalk.app_client import AppClient
from bridges.dingtalk.app_client import DingtalkAppSettings
from bridges.dingtalk.app_client import MaybeDelivered
from bridges.dingtalk.app_client import load_sdk

log = logging.getLogger(__name__)

#: The app-wide window (DingTalk counts per second and per minute; we keep a minute).
APP_WINDOW_SECONDS = 60.0
RESEND_NOTE = "（补发：上一次发送结果未知，如已收到请忽略）"
#: AppSend rows are kept this long (their messageId, and "already answered" for retries).
KEEP_DAYS = 30
_MOBILE_MENTION = re.compile(r"@(1[3-9]\d{9})")


# --- body conversion ---------------------------------------------------------------------------


def _mask(mobile: str) -> str:
    """A mobile number as ``138****0001``."""
    return f"{mobile[:3]}****{mobile[-4:]}"


def _names_for(mobiles: list[str], user_ids: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Officials' names by mobile and by DingTalk user id (for readable, non-notifying @s)."""
    by_mobile: dict[str, str] = {}
    by_user: dict[str, str] = {}
    if mobiles:
        for o in Official.select(Official.mobile, Official.name).where(Official.mobile.in_(mobiles) & Official.active):
            by_mobile.setdefault(o.mobile, o.name)
    if user_ids:
        for o in (Official.select(Official.dingtalk_user_id, Official.name)
                  .where(Official.dingtalk_user_id.in_(user_ids) & Official.active)):
            by_user.setdefault(o.dingtalk_user_id, o.name)
    return by_mobile, by_user


def _mentions(text: str, by_mobile: dict[str, str]) -> str:
    # chat.send has no @-mentions: show whom the robot would have called, never a full number.
    return _MOBILE_MENTION.sub(lambda m: "@" + by_mobile.get(m.group(1), _mask(m.group(1))), text)


def to_app_body(payload: dict[str, Any], *, resend: bool = False) -> dict[str, Any]:
    """Our robot payload (``render``) as a ``chat.send`` body, built with the SDK's body classes.

    markdown → ``markdown``; text → ``text``; actionCard → ``action_card`` (``single_title``/
    ``single_url``, or ``btn_orientation``/``btn_json_list``); link → ``link``; feedCard →
    ``markdown`` (a list of links). ``resend`` appends :data:`RESEND_NOTE`.
    """
    sdk = load_sdk()  # the SDK's body classes
    mt = payload.get("msgtype")
    inner = payload.get(mt) or {}
    at = payload.get("at") or {}
    by_mobile, by_user = _names_for(list(at.get("atMobiles") or []), list(at.get("atUserIds") or []))
    prefix = "".join(f"@{by_user[u]} " for u in at.get("atUserIds") or [] if u in by_user)
    note = f"\n\n{RESEND_NOTE}" if resend else ""
    if mt == "text":
        content = _mentions(str(inner.get("content", "")), by_mobile)
        return sdk.TextBody(prefix + content + (f"\n{RESEND_NOTE}" if resend else "")).get_dict()
    if mt == "markdown":
        text = _mentions(str(inner.get("text", "")), by_mobile)
        return sdk.MarkdownBody(str(inner.get("title", "")), (prefix + text) + note).get_dict()
    if mt == "actionCard":
        title = str(inner.get("title", ""))
        text = _mentions(str(inner.get("text", "")), by_mobile) + note
        if inner.get("singleTitle"):
            return sdk.SingleActionCardBody(title, text, str(inner["singleTitle"]), str(inner.get("singleURL", ""))).get_dict()
        card = sdk.BtnActionCardBody(title, text, str(inner.get("btnOrientation", "0")))
        for b in inner.get("btns") or []:
            card.add_btn(str(b.get("title", "")), str(b.get("actionURL", "")))
        return card.get_dict()
    if mt == "link":
        body = sdk.LinkBody(str(inner.get("messageUrl", "")), inner.get("picUrl"), str(inner.get("title", "")),
                        str(inner.get("text", "")) + (f" {RESEND_NOTE}" if resend else "")).get_dict()
        return body
    if mt == "feedCard":
        lines = [f"- [{x.get('title', '')}]({x.get('messageURL', '')})" for x in inner.get("links") or []]
        title = str((inner.get("links") or [{}])[0].get("title", "同心"))
        return sdk.MarkdownBody(title, "\n".join(lines) + note).get_dict()
    raise PermanentFailure(f"the app channel cannot send msgtype {mt!r}")


# --- the channel ---------------------------------------------------------------------------------


def _owner(target: str) -> tuple[str, str] | None:
    parts = target.split(":", 2)
    if len(parts) != 3 or parts[0] != "dingtalk" or parts[1] in ("reply", "org"):
        return None
    return parts[1], parts[2]


def app_mapping(target: str) -> GroupMapping | None:
    """The enabled mapping of ``target`` when it is an app-sent group (and no staging applies)."""
    owner = _owner(target)
    if owner is None:
        return None
    if staging_robot(*owner):  # the staging group is always a robot
        return None
    m = GroupMapping.get_or_none((GroupMapping.owner_kind == owner[0]) & (GroupMapping.owner_code == owner[1]))
    if m is None or not m.chat_id or not m.enabled:
        return None
    return m


def app_client_for(settings: Settings) -> AppClient:
    """The county app's client for ``settings``, its access token kept in the database."""
    return AppClient(DingtalkAppSettings.from_config(settings.dingtalk), DbTokenStore())


class AppSender:
    """Sends group messages through the app's ``chat.send``; one per DingTalk bridge."""

    def __init__(self, settings: Settings, client: AppClient | None = None):
        self.settings = settings
        self._client = client

    @property
    def client(self) -> AppClient:
        """The app client, built on first use."""
        if self._client is None:  # built on first use: most deployments never need it
            self._client = app_client_for(self.settings)
        return self._client

    def rate_limit(self, target: str) -> int:
        """Messages per rolling minute one app-sent group may take."""
        return self.settings.dingtalk.app_chat_rate_limit_per_minute

    def _app_budget(self, now: datetime) -> None:
        """Raise RateLimited while the app as a whole has used up its minute, or its second
        (DingTalk counts queries per second: ``app_rate_limit_per_minute / 60`` of them)."""
        limit = self.settings.dingtalk.app_rate_limit_per_minute
        per_second = max(1, -(-limit // 60))
        for window, allowed in ((APP_WINDOW_SECONDS, limit), (1.0, per_second)):
            since = now - timedelta(seconds=window)
            recent = AppSend.select(fn.COUNT(AppSend.msg_uuid)).where(AppSend.started_at > since).scalar()
            if recent >= allowed:
                oldest = AppSend.select(fn.MIN(AppSend.started_at)).where(AppSend.started_at > since).scalar()
                oldest = AppSend.started_at.python_value(oldest) if oldest is not None else now
                wait = max(0.2, (oldest + timedelta(seconds=window) - now).total_seconds())
                raise RateLimited(f"dingtalk app: {recent} messages in the last {window:.0f}s (limit {allowed})",
                                  retry_after=wait, errcode="app_rate_limit")

    def send(self, mapping: GroupMapping, payload: dict[str, Any], msg_uuid: str | None, now: datetime) -> str:
        """Send one rendered robot payload to the mapping's app group; DingTalk's messageId.

        Raises ``bridges.errors`` like the robot client. A message already answered under
        ``msg_uuid`` is not sent again (its messageId is returned).
        """
        chat_id = mapping.chat_id
        key = msg_uuid or f"adhoc-{uuid.uuid4()}"
        self._app_budget(now)
        with write_tx():
            row = AppSend.get_or_none(AppSend.msg_uuid == key)
            if row is not None and row.state == "sent" and row.chat_id == chat_id:
                return row.message_id or ""  # answered before; only our bookkeeping was lost
            in_doubt = row is not None and row.state in ("in_flight", "unknown") and row.chat_id == chat_id
            if row is None:
                AppSend.create(msg_uuid=key, chat_id=chat_id, state="in_flight", attempts=1, started_at=now)
            else:
                (AppSend.update(chat_id=chat_id, state="in_flight", attempts=AppSend.attempts + 1, started_at=now,
                                finished_at=None, in_doubt_resends=AppSend.in_doubt_resends + int(in_doubt))
                 .where(AppSend.msg_uuid == key).execute())
        try:
            message_id = self.client.chat_send(chat_id, to_app_body(payload, resend=in_doubt))
        except MaybeDelivered:
            self._settle(key, "unknown", now)
            raise
        except PermanentFailure as err:
            self._settle(key, "not_sent", now)
            if err.errcode in (34013, 34001):
                # The group is gone (disbanded, or no longer the app's): stop and tell the
                # console; the message waits for a new mapping instead of being dropped.
                mark_broken(chat_id, f"钉钉返回 {err.errcode}：群不存在或已解散", now)
                raise RetryLater(f"{err} (mapping marked broken)", delay=300, errcode=err.errcode) from None
            raise
        except Exception:
            self._settle(key, "not_sent", now)
            raise
        with write_tx():
            (AppSend.update(state="sent", message_id=message_id[:128], finished_at=now)
             .where(AppSend.msg_uuid == key).execute())
            if random.random() < 0.01:  # a delivery is never retried this late: forget old sends
                AppSend.delete().where(AppSend.started_at < now - timedelta(days=KEEP_DAYS)).execute()
        return message_id

    @staticmethod
    def _settle(key: str, state: str, now: datetime) -> None:
        with write_tx():
            AppSend.update(state=state, finished_at=now).where(AppSend.msg_uuid == key).execute()


def send_test(mapping: GroupMapping, text: str, settings: Settings, *, client: AppClient | None = None) -> str:
    """A test message to an app group (the console's 测试发送); DingTalk's messageId.

    An administrator's single click: not counted against the app's minute, not recorded as
    an AppSend. Raises ``bridges.errors`` (the console shows DingTalk's errcode).
    """
    if not mapping.chat_id:
        raise PermanentFailure("this mapping has no chat_id")
    own = client is None
    client = client or app_client_for(settings)
    try:
        return client.chat_send(mapping.chat_id, load_sdk().TextBody(text).get_dict())
    finally:
        if own:
            client.close()
