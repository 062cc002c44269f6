"""WeChat errcodes: what each means and what the delivery worker should do about it.

The client raises ``PlatformError(errcode, errmsg)``; :func:`classify` turns that into the
decision the worker acts on (facts in PLATFORMS.md §5):

- ``RetryLater``: transient, try again after the usual backoff (or ``delay``);
- ``RateLimited``: a quota said "not now"; waiting does not use up the attempt budget;
- ``PermanentFailure``: retrying the same request cannot help (dead-letter it).

Unknown codes are treated as transient: the worker's attempt limit still bounds them, and
dropping a notification on a code we have never seen would be worse than a few retries.
"""
from __future__ import annotations

from typing import Literal
from typing import NamedTuple

from bridges.errors import BridgeError
from bridges.errors import PermanentFailure
from bridges.errors import RateLimited
from bridges.errors import RetryLater

Kind = Literal["retry", "token", "rate_limited", "permanent"]


class Errcode(NamedTuple):
    """What one WeChat errcode means and what the caller does about it."""

    meaning: str
    kind: Kind
    # Seconds to wait before the next try (retry / rate_limited only); None = worker backoff.
    wait: float | None = None


# Handled inside the client (invalidate the shared token, refresh once, retry once).
TOKEN_ERRCODES = frozenset({40001, 40014, 42001})

#: The content checks (msgSecCheck, mediaCheckAsync) refuse a user who has not used the
#: mini-program lately: asking again for the same user cannot help until they come back.
INACTIVE_USER_ERRCODES = frozenset({61010})

ERRCODES: dict[int, Errcode] = {
    -1: Errcode("system busy", "retry", 5),
    40001: Errcode("invalid credential: bad AppSecret, or access_token invalid / not latest", "token"),
    40014: Errcode("invalid access_token", "token"),
    42001: Errcode("access_token expired", "token"),
    41001: Errcode("access_token missing", "token"),
    40002: Errcode("invalid grant_type", "permanent"),
    40013: Errcode("invalid appid", "permanent"),
    40125: Errcode("invalid appsecret", "permanent"),
    43002: Errcode("HTTP method not allowed (must POST)", "permanent"),
    40003: Errcode("invalid openid (touser unknown to this mini-program)", "permanent"),
    40029: Errcode("invalid or expired login code", "permanent"),
    40163: Errcode("login code already used", "permanent"),
    40226: Errcode("high-risk user blocked", "permanent"),
    40037: Errcode("invalid template_id", "permanent"),
    40129: Errcode("invalid scene", "permanent"),
    41030: Errcode("invalid page", "permanent"),
    43101: Errcode("user has not subscribed (no unused one-time consent for this template)", "permanent"),
    43104: Errcode("appid and openid do not match (user not recently active)", "permanent"),
    43302: Errcode("HTTP method not allowed (must POST)", "permanent"),
    61010: Errcode("user access record expired (the openid has not used the mini-program lately, "
                   "about two hours)", "permanent"),
    44002: Errcode("empty post data", "permanent"),
    47001: Errcode("data format error", "permanent"),
    47003: Errcode("argument invalid (a template data value breaks its keyword rule)", "permanent"),
    87014: Errcode("risky content (v1 content check)", "permanent"),
    45009: Errcode("daily API quota reached", "rate_limited", 3600),
    45011: Errcode("API minute quota reached", "rate_limited", 60),
}


def meaning(errcode: int | None) -> str:
    """A short English description of ``errcode`` (``"unknown errcode"`` when not listed)."""
    entry = ERRCODES.get(errcode) if errcode is not None else None
    return entry.meaning if entry else "unknown errcode"


def classify(errcode: int | None, errmsg: str = "") -> BridgeError:
    """The worker's decision for a WeChat errcode, as an exception instance to raise or inspect.

    Token errors that reach here already survived the client's one refresh, so they are
    transient for the worker (the next attempt fetches again).
    """
    entry = ERRCODES.get(errcode) if errcode is not None else None
    reason = f"wechat errcode {errcode}: {entry.meaning if entry else errmsg or 'unknown errcode'}"
    if entry is None or entry.kind in ("retry", "token"):
        return RetryLater(reason, delay=entry.wait if entry else None, errcode=errcode)
    if entry.kind == "rate_limited":
        return RateLimited(reason, retry_after=entry.wait, errcode=errcode)
    return PermanentFailure(reason, errcode=errcode)
