"""dingtalk-sdk, in one place, imported when first used.

Importing any part of the SDK runs its package's ``__init__``, which imports every API it
wraps: about 10 MB in each process. A web worker needs the SDK only for the county's
enterprise app (the console's test send and directory sync) and DingTalk's event pushes, the
delivery worker only for app sends. So nothing imports this module at start:
:func:`bridges.dingtalk.app_client.load_sdk` does, at the first such call, and only this
module imports ``dingtalk``.

It holds what we take from the SDK (the app client, the message bodies, the event crypto,
its exception) and :class:`AppKeySdk`, the SDK's app client pointed at our base URL.
"""
from __future__ import annotations

from collections.abc import Callable

import requests
from dingtalk import AppKeyClient
from dingtalk.core.exceptions import DingTalkClientException
from dingtalk.crypto import DingTalkCrypto
from dingtalk.crypto import _get_signature
from dingtalk.model.message import BtnActionCardBody
from dingtalk.model.message import LinkBody
from dingtalk.model.message import MarkdownBody
from dingtalk.model.message import SingleActionCardBody
from dingtalk.model.message import TextBody

__all__ = ["AppKeySdk", "Blocked", "NotJson", "DingTalkClientException", "DingTalkCrypto", "event_signature",
           "BtnActionCardBody", "LinkBody", "MarkdownBody", "SingleActionCardBody", "TextBody"]


def event_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """The signature DingTalk puts on an event push (the SDK's own function, under our name)."""
    return _get_signature(token, timestamp, nonce, encrypt)


class Blocked(Exception):
    """HTTP 200 without an errcode: the per-IP block page (``{"status": 1111, "wait": 5}``)."""

    def __init__(self, wait_minutes: float | None):
        self.wait_minutes = wait_minutes
        super().__init__("blocked")


class NotJson(Exception):
    """HTTP 200 whose body is not JSON."""


class AppKeySdk(AppKeyClient):
    """dingtalk-sdk's app client with our base URL, our token and its own HTTP session."""

    def __init__(self, settings, *, token_getter: Callable[[], str],
                 session: requests.Session | None = None):
        super().__init__(settings.corp_id or settings.app_key, settings.app_key, settings.app_secret,
                         timeout=settings.request_timeout_seconds, auto_retry=False)
        self._base = settings.api_base_url.rstrip("/")
        self._token_getter = token_getter
        # An instance attribute: BaseClient._http is one session shared by the whole class.
        self._http = session or requests.Session()

    @property
    def access_token(self) -> str:
        # DingTalkClient._handle_pre_request and _handle_pre_top_request read this per request.
        return self._token_getter()

    def _url(self, endpoint: str) -> str:
        return f"{self._base}/{endpoint.lstrip('/')}"

    def _request(self, method, url_or_endpoint, **kwargs):
        # The SDK would urljoin() the endpoint onto API_BASE_URL and lose any path prefix.
        if not url_or_endpoint.startswith(("http://", "https://")):
            kwargs.pop("api_base_url", None)
            url_or_endpoint = self._url(url_or_endpoint)
        return super()._request(method, url_or_endpoint, **kwargs)

    def _handle_pre_top_request(self, params, uri):
        # DingTalkClient adds the token as ``session``; BaseClient would then send the call to
        # https://eco.taobao.com whatever API_BASE_URL says. Ours goes to {base}/router/rest.
        if "session=" in uri or "session" in params:
            raise ValueError("session must not be given by the caller")
        params["session"] = self.access_token
        if not uri.startswith(("http://", "https://")):
            uri = self._url(uri)
        return params, uri

    def _handle_result(self, res, method=None, url=None, result_processor=None, top_response_key=None, **kwargs):
        if not isinstance(res, dict):
            decoded = self._decode_result(res)
            if not isinstance(decoded, dict):
                raise NotJson()
            if "errcode" not in decoded and "error_response" not in decoded and not top_response_key:
                # DingTalk's per-IP block answers 200 with {"status": 1111, "wait": 5} (minutes).
                if "status" in decoded:
                    wait = decoded.get("wait")
                    raise Blocked(float(wait) if isinstance(wait, (int, float)) else None)
        return super()._handle_result(res, method, url, result_processor, top_response_key, **kwargs)
