"""Registries keyed by outbox event kind, and a feature's own table of them.

Two shapes, one module:

* :class:`KindRegistry` — ``{event kind: function}``; each channel keeps one (the routes in
  ``bridges.routing``, the group messages in ``bridges.dingtalk.deliver``, the subscribe
  messages in ``bridges.wechat.deliver``, the tasks in ``bridges.system``).
* :class:`Kinds` — one feature's table: its fan-out rules and what each channel shows.
  Filling it (with its decorators, in the feature's own module) registers nothing anywhere
  else; composition installs it into the channels' registries, one line per feature
  (``bridges.registry.FEATURES``).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

#: What a system task takes as its second argument (see ``bridges.system``).
TASK_DEPENDENCIES = ("wechat", "settings")


class KindRegistry(dict):
    """``{event kind: function}``, each kind with at most one function.

    ``what`` names the thing registered, for the error when a kind is given two.
    """

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def add(self, kind: str, fn: Callable) -> None:
        """Register ``fn`` for ``kind``; the same function again is a no-op, another one an error."""
        if self.get(kind, fn) is not fn:
            raise ValueError(f"event kind {kind} already has {self.what}")
        self[kind] = fn

    def add_all(self, table: Mapping[str, Callable]) -> None:
        """Register every entry of ``table`` (see :meth:`add`)."""
        for kind, fn in table.items():
            self.add(kind, fn)

    def register(self, *kinds: str) -> Callable[[F], F]:
        """Register the decorated function for each of ``kinds`` (each at most once)."""

        def decorator(fn: F) -> F:
            for kind in kinds:
                self.add(kind, fn)
            return fn

        return decorator


class Kinds:
    """One feature's event kinds: fan-out rules, group messages, subscribe messages, tasks.

    A feature module fills its own table with the decorators below; composition installs it
    (``bridges.registry.install``). Importing the module registers nothing.
    """

    def __init__(self, name: str):
        self.name = name
        self.routes = KindRegistry("a route")
        self.dingtalk = KindRegistry("a DingTalk payload")
        self.wechat = KindRegistry("a WeChat message")
        #: ``{system target: task}`` and what each task takes (``TASK_DEPENDENCIES``).
        self.system = KindRegistry("a system task")
        self.takes: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Kinds({self.name!r}: {sorted(self.routes)})"

    def route(self, *kinds: str) -> Callable[[F], F]:
        """The decorated function is the fan-out rule of ``kinds`` (``bridges.routing``)."""
        return self.routes.register(*kinds)

    def dingtalk_payload(self, *kinds: str) -> Callable[[F], F]:
        """The decorated function builds the DingTalk group message of ``kinds``."""
        return self.dingtalk.register(*kinds)

    def wechat_message(self, *kinds: str) -> Callable[[F], F]:
        """The decorated function builds the WeChat subscribe message of ``kinds``."""
        return self.wechat.register(*kinds)

    def system_task(self, target: str, *, takes: str = "wechat") -> Callable[[F], F]:
        """The decorated function runs the worker's own target ``system:<name>``.

        It is called ``fn(delivery, dependency, now)``; ``takes`` names the dependency:
        ``"wechat"`` (the WeChat client, the default) or ``"settings"`` (tasks that build their
        own platform client, such as the DingTalk roster events).
        """
        if takes not in TASK_DEPENDENCIES:
            raise ValueError("takes must be 'wechat' or 'settings'")

        def decorator(fn: F) -> F:
            self.system.add(target, fn)
            self.takes[target] = takes
            return fn

        return decorator
