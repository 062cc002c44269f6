"""HTTP client of the DingTalk custom robot and of ``sessionWebhook`` replies (PLATFORMS §1, §2.1).

It turns one payload into one POST and every failure into a ``bridges.errors`` exception;
it knows nothing of reports, deliveries or rate budgets (the worker owns those).
"""
from __future__ import annotations

import json
from typing import Any

import requests

from bridges.dingtalk import errcodes
from bridges.dingtalk.signing import signed_webhook_url
from bridges.errors import RateLimited
from bridges.errors import RetryLater
from bridges.errors import Unavailable

#: HTTP 302 is how DingTalk answers during its 10-minute block (PLATFORMS §1.5, UNCONFIRMED).
REDIRECT_BLOCK_SECONDS = errcodes.BLOCK_SECONDS


def _redact(url: str) -> str:
    """The URL without its query string: access tokens and signatures must not reach logs."""
    return url.split("?", 1)[0]


class RobotClient:
    """Sends robot messages. One instance can be shared by threads (``requests.Session`` is
    thread-safe enough for plain POSTs); pass ``session`` to reuse connections or to mount
    test adapters."""

    def __init__(self, timeout: float = 5.0, session: requests.Session | None = None):
        self.timeout = timeout
        self.session = session or requests.Session()

    def send(
        self,
        webhook: str,
        secret: str | None,
        payload: dict[str, Any],
        *,
        msg_uuid: str | None,
        now_ms: int,
    ) -> dict[str, Any]:
        """POST ``payload`` to a custom robot ``webhook`` (the full URL with ``access_token``).

        Signs the URL with ``secret`` at ``now_ms`` when a secret is given, and adds
        ``msgUuid`` to the body so that a retry after a timeout is not delivered twice.
        Returns the platform's JSON on ``errcode == 0``; raises ``Unavailable`` (timeout,
        connection error, 5xx), ``RateLimited`` (302 block, throttling errcodes),
        ``RetryLater`` or ``PermanentFailure`` (see ``errcodes``).
        """
        url = signed_webhook_url(webhook, secret, now_ms) if secret else webhook
        body = dict(payload)
        if msg_uuid:
            body["msgUuid"] = msg_uuid
        return self._post(url, body)

    def send_by_session(self, session_webhook: str, payload: dict[str, Any], *, now_ms: int) -> dict[str, Any]:
        """POST a reply to a callback's ``sessionWebhook`` (no token, no signature).

        ``now_ms`` is accepted for symmetry with ``send`` (the caller checks the session's
        expiry; the platform answers 300001 "session 不存在" after it). Same errors as ``send``.
        """
        del now_ms  # the URL itself is the credential; nothing to sign
        return self._post(session_webhook, dict(payload))

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        where = _redact(url)
        try:
            resp = self.session.post(
                url,
                data=data,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=self.timeout,
                # A 302 is the block signal, not somewhere to go.
                allow_redirects=False,
            )
        except requests.Timeout as exc:
            raise Unavailable(f"dingtalk timeout after {self.timeout}s: {where}") from exc
        except requests.ConnectionError as exc:
            raise Unavailable(f"dingtalk connection failed: {where}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise Unavailable(f"dingtalk request failed: {where}: {type(exc).__name__}") from exc

        status = resp.status_code
        if status >= 500:
            raise Unavailable(f"dingtalk HTTP {status}: {where}")
        if status in (301, 302, 303, 307, 308):
            raise RateLimited(f"dingtalk HTTP {status} (robot blocked): {where}", retry_after=REDIRECT_BLOCK_SECONDS)
        if status == 429:
            raise RateLimited(f"dingtalk HTTP 429: {where}", retry_after=60.0)
        if status != 200:
            raise RetryLater(f"dingtalk HTTP {status}: {where}")
        try:
            answer = resp.json()
        except ValueError:
            raise RetryLater(f"dingtalk answered HTTP 200 without JSON: {where}") from None
        if not isinstance(answer, dict) or "errcode" not in answer:
            raise RetryLater(f"dingtalk answered HTTP 200 without errcode: {where}")
        error = errcodes.classify(answer.get("errcode"), answer.get("errmsg"))
        if error is not None:
            raise error
        return answer
