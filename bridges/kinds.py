"""One registry shape for everything keyed by outbox event kind (routes, messages)."""
from __future__ import annotations

from typing import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)


class KindRegistry(dict):
    """``{event kind: function}``, filled by the decorator :meth:`register`.

    ``what`` names the thing registered, for the error when a kind is registered twice.
    """

    def __init__(self, what: str):
        super().__init__()
        self.what = what

    def register(self, *kinds: str) -> Callable[[F], F]:
        """Register the decorated function for each of ``kinds`` (each at most once)."""

        def decorator(fn: F) -> F:
            for kind in kinds:
                if kind in self:
                    raise ValueError(f"event kind {kind} already has {self.what}")
                self[kind] = fn
            return fn

        return decorator
