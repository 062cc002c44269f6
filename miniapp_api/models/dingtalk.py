"""Models of the DingTalk app (issue 7): app-sent group messages and roster sync runs.

* :class:`AppSend` — one row per message the app channel puts on the wire (``chat.send``),
  keyed by the delivery's ``msg_uuid``. ``chat.send`` has no idempotency key (unlike the robot
  webhook's ``msgUuid``), so the row is written *before* the request: a later attempt that
  finds it still ``in_flight`` (the worker was killed mid-send) or ``unknown`` (the request
  timed out) knows the group may already show the message, and marks the resend as such.
  ``message_id`` is DingTalk's answer (its read list can be asked for with it).
* :class:`OrgSyncRun` — each roster sync (command line, console, or an event's follow-up):
  when, by whom, dry run or not, and its counts, for the console's roster page.
"""
from __future__ import annotations

from peewee import BooleanField
from peewee import CharField
from peewee import IntegerField

from miniapp_api.models.core import BaseModel
from miniapp_api.models.core import JSONField
from miniapp_api.models.core import UtcDateTimeField
from miniapp_api.models.core import utcnow


class AppSend(BaseModel):
    """One app-channel message. ``state``: in_flight → sent | not_sent | unknown."""

    msg_uuid = CharField(max_length=64, primary_key=True)
    chat_id = CharField(max_length=64)
    state = CharField(max_length=12, default="in_flight")
    attempts = IntegerField(default=0)
    in_doubt_resends = IntegerField(default=0)
    message_id = CharField(max_length=128, null=True)
    started_at = UtcDateTimeField(default=utcnow, index=True)  # the app-wide minute counts these
    finished_at = UtcDateTimeField(null=True)


class OrgSyncRun(BaseModel):
    """One roster sync from DingTalk and what it found (``summary``: counts and samples)."""

    started_at = UtcDateTimeField(default=utcnow, index=True)
    finished_at = UtcDateTimeField(null=True)
    source = CharField(max_length=16)  # cli | console
    actor = CharField(max_length=40, default="")
    dry_run = BooleanField(default=False)
    applied = BooleanField(default=False)
    summary = JSONField(null=True)


DINGTALK_MODELS = [AppSend, OrgSyncRun]

__all__ = [m.__name__ for m in DINGTALK_MODELS] + ["DINGTALK_MODELS"]
