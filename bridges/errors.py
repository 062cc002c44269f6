"""What can go wrong talking to a platform, as exceptions the callers branch on.

::

    BridgeError
     ├── PlatformError(errcode, errmsg)      the platform answered with an error code
     │    └── (classified by each platform's errcodes table into one of the three below)
     ├── RetryLater(delay, reason)           transient: try again after ``delay`` seconds
     ├── RateLimited(retry_after, reason)    the platform or our own limiter said "not now";
     │                                       does not use up the delivery's attempt budget
     ├── PermanentFailure(reason)            retrying cannot help: dead-letter it
     ├── Unavailable(reason)                 no answer in time (timeout, refused, 5xx)
     └── Skipped(reason)                     nothing to send by rule (no consent): not a failure

The worker's single ``try/except`` ladder maps these to delivery row updates; the API maps
them to its own errors (``wechat_unavailable`` …).
"""
from __future__ import annotations


class BridgeError(Exception):
    """Base of every platform-side failure."""


class PlatformError(BridgeError):
    """The platform answered with a non-zero ``errcode``."""

    def __init__(self, errcode: int | str | None, errmsg: str = ""):
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"errcode={errcode} errmsg={errmsg}")


class RetryLater(BridgeError):
    """A transient failure: try again, after ``delay`` seconds when given (else the worker's backoff)."""

    def __init__(self, reason: str, delay: float | None = None, errcode=None):
        self.delay = delay
        self.errcode = errcode
        super().__init__(reason)


class RateLimited(BridgeError):
    """The platform or our own limiter said "not now": wait ``retry_after`` seconds; no attempt is used up."""

    def __init__(self, reason: str, retry_after: float, errcode=None):
        self.retry_after = retry_after
        self.errcode = errcode
        super().__init__(reason)


class PermanentFailure(BridgeError):
    """Retrying cannot help (bad target, invalid message): dead-letter it."""

    def __init__(self, reason: str, errcode=None):
        self.errcode = errcode
        super().__init__(reason)


class Unavailable(BridgeError):
    """The platform did not answer in time, refused the connection or answered 5xx."""


class Skipped(BridgeError):
    """Nothing to send, by rule rather than failure (e.g. the resident gave no consent)."""
