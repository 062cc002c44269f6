"""The worker's own channel: work that must happen before anything is announced.

A ``system:<name>`` target names a task. ``system:content_check`` (a report's text) and
``system:photo_check`` (its photos, WeChat's image check) are this module's own;
features keep theirs in their table (``bridges.kinds.Kinds.system_task``), which composition
installs with :func:`add_tasks`. The checks see the WeChat client through :class:`Checks`,
which turns WeChat's refusal for a user who has not used the mini-program lately into the
domain's ``CannotCheck``.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Callable

from bridges.errors import PermanentFailure
from bridges.errors import PlatformError
from bridges.wechat.errcodes import INACTIVE_USER_ERRCODES
from bridges.kinds import TASK_DEPENDENCIES
from bridges.kinds import KindRegistry
from miniapp_api.models import Delivery
from miniapp_api.reports.moderation import CannotCheck
from miniapp_api.reports.moderation import finish_check
from miniapp_api.reports.photo_checks import run_checks

TaskFn = Callable[[Delivery, object, datetime], None]
TASKS = KindRegistry("a system task")
#: Tasks whose second argument is the settings rather than the WeChat client.
_TAKES_SETTINGS: set[str] = set()
#: This module's tasks that need both: they get the bridge itself.
_TAKES_BRIDGE = {"system:photo_check"}


def add_tasks(tasks: Mapping[str, TaskFn], takes: Mapping[str, str]) -> None:
    """Install a feature's tasks (``Kinds.system``) with what each takes (``Kinds.takes``)."""
    for target, fn in tasks.items():
        dependency = takes.get(target, "wechat")
        if dependency not in TASK_DEPENDENCIES:
            raise ValueError("takes must be 'wechat' or 'settings'")
        TASKS.add(target, fn)
        if dependency == "settings":
            _TAKES_SETTINGS.add(target)


class Checks:
    """The WeChat client as the content checks see it.

    WeChat checks content only for a user who used the mini-program in the last two hours or
    so, and answers errcode 61010 otherwise. The checks' retries cannot change that, so the
    refusal becomes :class:`~miniapp_api.reports.moderation.CannotCheck`, which they settle.
    Every other error passes through, and the worker retries or dead-letters it as before."""

    def __init__(self, wechat):
        self._wechat = wechat

    def msg_sec_check(self, **kwargs):
        """``msgSecCheck`` v2 (see the client)."""
        return self._refusal_is_final(self._wechat.msg_sec_check, kwargs)

    def media_check_async(self, **kwargs):
        """``mediaCheckAsync`` v2 (see the client)."""
        return self._refusal_is_final(self._wechat.media_check_async, kwargs)

    @staticmethod
    def _refusal_is_final(call, kwargs):
        try:
            return call(**kwargs)
        except PlatformError as err:
            if err.errcode in INACTIVE_USER_ERRCODES:
                raise CannotCheck(str(err)) from None
            raise


@TASKS.register("system:content_check")
def _content_check(delivery: Delivery, wechat, now: datetime) -> None:
    finish_check(delivery.event.report, Checks(wechat), now)


@TASKS.register("system:photo_check")
def _photo_check(delivery: Delivery, bridge: "SystemBridge", now: datetime) -> None:
    event = delivery.event
    run_checks(event.report, list(event.payload.get("uploads") or []), Checks(bridge.wechat),
               bridge.settings.server.public_base_url, now)


class SystemBridge:
    """The ``system`` channel: runs the task its target names, never rate-limited or merged."""

    channel = "system"

    def __init__(self, wechat, settings=None):
        self.wechat = wechat
        self.settings = settings

    def rate_limit(self, target: str) -> int | None:
        """No limit: the tasks run in this process."""
        return None

    def coalescible(self, delivery: Delivery) -> bool:
        """Never: each task runs on its own."""
        return False

    def deliver(self, delivery: Delivery, now: datetime) -> None:
        """Run the task named by the target (``system:content_check`` …)."""
        task = TASKS.get(delivery.target)
        if task is None:
            raise PermanentFailure(f"unknown system task {delivery.target}")
        if delivery.target in _TAKES_BRIDGE:
            return task(delivery, self, now)
        task(delivery, self.settings if delivery.target in _TAKES_SETTINGS else self.wechat, now)

    def deliver_digest(self, digest, members, now):  # pragma: no cover - never coalescible
        """Never called: system tasks are never coalesced."""
        raise PermanentFailure("system tasks are never coalesced")
