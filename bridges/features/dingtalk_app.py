"""The DingTalk app's organisation events: where they go and who runs them.

=====================  ===================================================================
event kind             targets
=====================  ===================================================================
dingtalk.org_event     ``system:dingtalk_org``: the worker runs it with the app client
                       (a user joined, changed or left; a group was disbanded), with the
                       worker's retries and dead letters
=====================  ===================================================================

The callback ``POST /callbacks/dingtalk/events`` only verifies, decrypts and queues: DingTalk
wants its answer within 1.5 s, and the roster work calls DingTalk back.

Everything here is kept in :data:`KINDS`; composition installs it (``bridges.registry``).
"""
from __future__ import annotations

from datetime import datetime

from bridges.dingtalk.app_sender import app_client_for
from bridges.kinds import Kinds
from bridges.routing import Target
from miniapp_api.config import Settings
from miniapp_api.models import Delivery
from miniapp_api.models import OutboxEvent
from miniapp_api.org.sync import handle_org_event

#: The DingTalk organisation events: their route and the task that runs them.
KINDS = Kinds("DingTalk organisation events")


@KINDS.route("dingtalk.org_event")
def _org_event_route(event: OutboxEvent, settings: Settings) -> list[Target]:
    return [Target("system", "system:dingtalk_org")]


@KINDS.system_task("system:dingtalk_org", takes="settings")
def _org_event(delivery: Delivery, settings: Settings, now: datetime) -> None:
    """Run one organisation event with the app client (a user joined, changed or left …)."""
    with app_client_for(settings) as client:
        handle_org_event(delivery.event.payload, client, now)
