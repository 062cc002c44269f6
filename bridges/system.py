"""The worker's own channel: work that must happen before anything is announced."""
from __future__ import annotations

from datetime import datetime

from bridges.errors import PermanentFailure
from miniapp_api.models import Delivery
from miniapp_api.moderation import finish_check


class SystemBridge:
    channel = "system"

    def __init__(self, wechat):
        self.wechat = wechat

    def rate_limit(self, target: str) -> int | None:
        return None

    def coalescible(self, delivery: Delivery) -> bool:
        return False

    def deliver(self, delivery: Delivery, now: datetime) -> None:
        """Run the task named by the target (``system:content_check``)."""
        if delivery.target == "system:content_check":
            finish_check(delivery.event.report, self.wechat, now)
            return
        raise PermanentFailure(f"unknown system task {delivery.target}")

    def deliver_digest(self, digest, members, now):  # pragma: no cover - never coalescible
        raise PermanentFailure("system tasks are never coalesced")
