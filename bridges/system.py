"""The worker's own channel: work that must happen before anything is announced."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from bridges.errors import PermanentFailure
from miniapp_api.models import Delivery
from miniapp_api.moderation import finish_check


TaskFn = Callable[[Delivery, object, datetime], None]
TASKS: dict[str, TaskFn] = {}


def system_task(target: str) -> Callable[[TaskFn], TaskFn]:
    """Register the decorated function as the handler of ``system:<name>`` target ``target``."""

    def register(fn: TaskFn) -> TaskFn:
        TASKS[target] = fn
        return fn

    return register


@system_task("system:content_check")
def _content_check(delivery: Delivery, wechat, now: datetime) -> None:
    finish_check(delivery.event.report, wechat, now)


class SystemBridge:
    channel = "system"

    def __init__(self, wechat):
        self.wechat = wechat

    def rate_limit(self, target: str) -> int | None:
        return None

    def coalescible(self, delivery: Delivery) -> bool:
        return False

    def deliver(self, delivery: Delivery, now: datetime) -> None:
        """Run the task named by the target (``system:content_check`` …)."""
        task = TASKS.get(delivery.target)
        if task is None:
            raise PermanentFailure(f"unknown system task {delivery.target}")
        task(delivery, self.wechat, now)

    def deliver_digest(self, digest, members, now):  # pragma: no cover - never coalescible
        raise PermanentFailure("system tasks are never coalesced")
