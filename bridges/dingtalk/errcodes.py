"""DingTalk robot errcodes → the ``bridges.errors`` class the worker branches on (PLATFORMS §1.5, §1.6).

The table is built with the ``@rule(code, ...)`` decorator: each rule receives the errcode
and errmsg and returns the exception. Codes with no rule are treated as transient
(``RetryLater``): an errcode we have never seen is more likely a new throttling or outage
answer than proof that the message can never be delivered, and the worker's attempt budget
still ends in a dead letter if it keeps failing.
"""
from __future__ import annotations

from typing import Callable

from bridges.errors import BridgeError
from bridges.errors import PermanentFailure
from bridges.errors import RateLimited
from bridges.errors import RetryLater

#: After "send too fast" DingTalk blocks the robot for 10 minutes (PLATFORMS §1.5).
BLOCK_SECONDS = 600.0
#: 410100 "rate limited" (newer table, UNCONFIRMED): wait out one 60 s window.
SHORT_RATE_LIMIT_SECONDS = 60.0
#: 90030 "webhook over limit" is an org-level quota of unknown period: back off for an hour.
QUOTA_SECONDS = 3600.0
#: A skewed clock can heal (NTP); retry "invalid timestamp" after a short pause.
CLOCK_SKEW_RETRY_SECONDS = 60.0

Rule = Callable[[int, str], BridgeError]
_RULES: dict[int, Rule] = {}


def rule(*codes: int) -> Callable[[Rule], Rule]:
    """Register the decorated function as the classifier of ``codes``."""

    def register(fn: Rule) -> Rule:
        for code in codes:
            if code in _RULES:
                raise ValueError(f"errcode {code} already has a rule")
            _RULES[code] = fn
        return fn

    return register


@rule(130101)
def _send_too_fast(code: int, msg: str) -> BridgeError:
    return RateLimited(f"dingtalk {code}: {msg or 'send too fast'}", retry_after=BLOCK_SECONDS, errcode=code)


@rule(410100)
def _rate_limited(code: int, msg: str) -> BridgeError:
    return RateLimited(f"dingtalk {code}: {msg or 'rate limited'}", retry_after=SHORT_RATE_LIMIT_SECONDS, errcode=code)


@rule(90030)
def _quota(code: int, msg: str) -> BridgeError:
    return RateLimited(f"dingtalk {code}: {msg or 'webhook over limit'}", retry_after=QUOTA_SECONDS, errcode=code)


@rule(310000)
def _security(code: int, msg: str) -> BridgeError:
    # One code for every security-setting failure; the errmsg tells them apart.
    if "invalid timestamp" in (msg or "").lower():
        return RetryLater(f"dingtalk {code}: {msg}", delay=CLOCK_SKEW_RETRY_SECONDS, errcode=code)
    # sign not match / keywords not in content / ip not in whitelist: configuration, not luck.
    return PermanentFailure(f"dingtalk {code}: {msg or 'security check failed'}", errcode=code)


@rule(300001, 300005)
def _token_or_session(code: int, msg: str) -> BridgeError:
    # "token is not exist" (wrong webhook) and "session 不存在" (sessionWebhook expired, never
    # renewed server-side) both need a human or a new message, not a retry.
    return PermanentFailure(f"dingtalk {code}: {msg or 'token is not exist'}", errcode=code)


@rule(400013)
def _group_dissolved(code: int, msg: str) -> BridgeError:
    return PermanentFailure(f"dingtalk {code}: {msg or 'group dissolved'}", errcode=code)


@rule(40035)
def _bad_request(code: int, msg: str) -> BridgeError:
    # Malformed body / missing parameter: sending the same bytes again gets the same answer.
    return PermanentFailure(f"dingtalk {code}: {msg or 'invalid parameter'}", errcode=code)


def _to_int(errcode: int | str | None) -> int | None:
    try:
        return int(errcode)  # DingTalk sends ints; be lenient with "130101"
    except (TypeError, ValueError):
        return None


def classify(errcode: int | str | None, errmsg: str | None = "") -> BridgeError | None:
    """The exception for a robot answer ``{"errcode": errcode, "errmsg": errmsg}``.

    Returns ``None`` for errcode 0 (success). Unknown or non-numeric errcodes give
    ``RetryLater``.
    """
    code = _to_int(errcode)
    msg = str(errmsg or "")
    if code == 0:
        return None
    fn = _RULES.get(code) if code is not None else None
    if fn is None:
        return RetryLater(f"dingtalk unknown errcode {errcode!r}: {msg}", errcode=errcode)
    return fn(code, msg)


def known_errcodes() -> frozenset[int]:
    """Every errcode with an explicit rule (for tests and docs)."""
    return frozenset(_RULES)
