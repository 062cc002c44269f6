"""The worker's own channel: work that must happen before anything is announced."""
from __future__ import annotations

from datetime import datetime
from typing import Callable

from bridges.errors import PermanentFailure
from miniapp_api.models import Delivery
from miniapp_api.reports.moderation import finish_check


TaskFn = Callable[[Delivery, object, datetime], None]
TASKS: dict[str, TaskFn] = {}
#: Tasks whose second argument is the settings rather than the WeChat client.
_TAKES_SETTINGS: set[str] = set()


def system_task(target: str, *, takes: str = "wechat") -> Callable[[TaskFn], TaskFn]:
    """Register the decorated function as the handler of ``system:<name>`` target ``target``.

    The task is called ``fn(delivery, dependency, now)``; ``takes`` names the dependency:
    ``"wechat"`` (the WeChat client, the default) or ``"settings"`` (tasks that build their
    own platform client, such as the DingTalk roster events).
    """
    if takes not in ("wechat", "settings"):
        raise ValueError("takes must be 'wechat' or 'settings'")

    def register(fn: TaskFn) -> TaskFn:
        TASKS[target] = fn
        if takes == "settings":
            _TAKES_SETTINGS.add(target)
        return fn

    return register


@system_task("system:content_check")
def _content_check(delivery: Delivery, wechat, now: datetime) -> None:
    finish_check(delivery.event.report, wechat, now)


class SystemBridge:
    channel = "system"

    def __init__(self, wechat, settings=None):
        self.wechat = wechat
        self.settings = settings

    def rate_limit(self, target: str) -> int | None:
        return None

    def coalescible(self, delivery: Delivery) -> bool:
        return False

    def deliver(self, delivery: Delivery, now: datetime) -> None:
        """Run the task named by the target (``system:content_check`` …)."""
        task = TASKS.get(delivery.target)
        if task is None:
            raise PermanentFailure(f"unknown system task {delivery.target}")
        task(delivery, self.settings if delivery.target in _TAKES_SETTINGS else self.wechat, now)

    def deliver_digest(self, digest, members, now):  # pragma: no cover - never coalescible
        raise PermanentFailure("system tasks are never coalesced")
