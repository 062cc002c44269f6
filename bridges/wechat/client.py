"""The one WeChat client: wechatpy underneath, with the gaps PLATFORMS.md §6.1 lists filled.

What wechatpy does not do and this module does:

- every call (the token too) goes to ``settings.api_base_url``, so tests and ``make demo``
  reach the local fake exactly as production reaches WeChat;
- the access token is the *stable* one (``POST /cgi-bin/stable_token``, normal mode): other
  users of the same AppID (staging, a laptop, a tool) get the same token instead of retiring
  ours, and it is isolated from classic ``cgi-bin/token`` tokens; it lives in a token store
  (:mod:`bridges.tokens`; in production the database, shared by every process);
- login (``sns/jscode2session``) is called directly with appid, secret and the code: it needs
  no access token (wechatpy adds one, so a failing token endpoint broke every login);
- a rejected token is refreshed once and the call retried once (wechatpy's own retry has no
  bound, a server that keeps answering 40001 makes it recurse until the stack runs out);
- mediaCheckAsync v2 (wechatpy knows only v1): the image check whose verdict is pushed;
- msgSecCheck v2 (wechatpy knows only v1), posted on urllib3, requests' own engine, because
  it runs inside a resident's submission and a requests call cost three times its CPU;
- subscribe messages with ``miniprogram_state``/``lang``;
- one place turns wechatpy and ``requests`` failures into :mod:`bridges.errors`.

It takes its settings as :class:`WechatClientSettings` and imports neither Flask nor
``miniapp_api``.

Nothing here logs a secret, a token or a session_key: only errcodes and exception class names.
"""
from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from typing import Any

import certifi
import requests
import urllib3
from wechatpy import WeChatClient as SdkClient
from wechatpy.client.api.base import BaseWeChatAPI
from wechatpy.exceptions import WeChatClientException

from bridges.errors import PlatformError
from bridges.errors import Unavailable
from bridges.tokens import SharedToken
from bridges.tokens import TokenStore
from bridges.wechat.errcodes import TOKEN_ERRCODES

logger = logging.getLogger(__name__)

WECHAT_ORIGIN = "https://api.weixin.qq.com"


@dataclass(frozen=True)
class WechatClientSettings:
    """What the WeChat client needs: the ``[wechat]`` config keys of the same names."""

    appid: str
    secret: str = field(repr=False)
    api_base_url: str
    request_timeout_seconds: float = 5.0
    miniprogram_state: str = "formal"

    @classmethod
    def from_config(cls, section: Any) -> WechatClientSettings:
        """Copy these fields from the ``[wechat]`` settings section (attributes of the same names)."""
        return cls(**{f.name: getattr(section, f.name) for f in fields(cls)})


@dataclass(frozen=True)
class WechatSession:
    """What ``code2Session`` answers. ``session_key`` must never leave the server."""

    openid: str
    session_key: str
    unionid: str | None


@dataclass(frozen=True)
class Verdict:
    """A msgSecCheck v2 result: ``suggest`` is ``pass``, ``review`` or ``risky``."""

    suggest: str
    label: int
    trace_id: str


class _Sdk(SdkClient):
    """wechatpy's client, taking its token from a callable instead of its own memory cache."""

    def __init__(self, appid: str, secret: str, *, base_url: str, timeout: float,
                 token_getter: Callable[[], str]):
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self._token_getter = token_getter
        self._token_url = f"{base_url}/cgi-bin/stable_token"
        self._login_url = f"{base_url}/sns/jscode2session"
        # API groups read their base from an attribute; set it on each instance so all of
        # them (not only wxa) talk to our base URL, keeping any path after the origin.
        self.API_BASE_URL = f"{base_url}/cgi-bin/"
        # (vars(), not dir(): wechatpy's __new__ stores the groups on the instance, and
        # dir() + getattr would evaluate the access_token property, i.e. fetch a token.)
        for api in vars(self).values():
            if isinstance(api, BaseWeChatAPI):
                default = getattr(api, "API_BASE_URL", "") or ""
                if default.startswith(WECHAT_ORIGIN):
                    api.API_BASE_URL = base_url + default[len(WECHAT_ORIGIN):]
        # requests reads proxy and CA settings from the environment on every call, a scan of
        # os.environ that cost a third of a content check. Read them once, here.
        self._http.proxies.update(requests.utils.get_environ_proxies(base_url))
        ca_bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        if ca_bundle:
            self._http.verify = ca_bundle
        self._http.trust_env = False

    @property
    def access_token(self) -> str:
        # wechatpy reads this for every request it builds.
        return self._token_getter()

    def fetch_access_token(self) -> dict:
        """POST ``{base}/cgi-bin/stable_token`` in normal mode (``force_refresh`` false): the
        same token comes back while it is valid, whoever else asks. Raises like wechatpy."""
        res = self._http.post(
            self._token_url,
            json={"grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
                  "force_refresh": False},
            timeout=self.timeout,
        )
        res.raise_for_status()
        return self._handle_result(res)

    def jscode2session(self, js_code: str) -> dict:
        """GET ``{base}/sns/jscode2session`` with appid, secret, the code and grant_type, and
        no access token (the API needs none). Raises like wechatpy on errcodes."""
        res = self._http.get(
            self._login_url,
            params={"appid": self.appid, "secret": self.secret, "js_code": js_code,
                    "grant_type": "authorization_code"},
            timeout=self.timeout,
        )
        res.raise_for_status()
        return self._handle_result(res)


def _pool_for(base_url: str, http: requests.Session):
    """Where the content check is posted, with the proxy and CA bundle ``requests`` would use
    for ``base_url``: ``(pool, url prefix)``.

    Without a proxy it is the host's own connection pool, asked for paths: a pool manager
    would parse the URL and look the pool up again on every call, in every submission.
    Through a proxy it is urllib3's proxy manager, asked for whole URLs."""
    options = {"maxsize": 16, "retries": False, "block": False}
    verify = http.verify
    options["ca_certs"] = verify if isinstance(verify, str) else certifi.where()
    url = urllib3.util.parse_url(base_url)
    proxy = http.proxies.get(url.scheme or "https")
    if proxy:
        return urllib3.ProxyManager(proxy, **options), base_url
    return urllib3.PoolManager(**options).connection_from_url(base_url), url.path or ""


def _http_failure(operation: str, status: int | None) -> Exception:
    logger.warning("wechat %s failed: HTTP %s", operation, status)
    if status is None or status >= 500:
        return Unavailable(f"wechat {operation}: HTTP {status}")
    # A 4xx means a wrong URL or request, not an outage: let the caller see it as an error.
    return PlatformError(None, f"HTTP {status}")


@contextlib.contextmanager
def _translated(operation: str) -> Iterator[None]:
    """Turn wechatpy / requests failures into bridges.errors (the one place that does it).

    ``from None`` on purpose: requests' messages and the chained exceptions carry URLs with
    the secret or the access token in them, and tracebacks end up in logs.
    """
    try:
        yield
    except WeChatClientException as exc:
        if exc.errcode is None:  # wechatpy's wrapper around raise_for_status()
            raise _http_failure(operation, getattr(exc.response, "status_code", None)) from None
        errcode = int(exc.errcode)
        if errcode == -1:
            logger.warning("wechat %s failed: errcode -1 (system busy)", operation)
            raise Unavailable(f"wechat {operation}: system busy (errcode -1)") from None
        # An errcode is an answer, often about the user (used code, no consent): info, not warning.
        logger.info("wechat %s answered errcode %s", operation, errcode)
        raise PlatformError(errcode, str(exc.errmsg or "")) from None
    except requests.HTTPError as exc:
        raise _http_failure(operation, getattr(exc.response, "status_code", None)) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:  # timeouts, refused connections…
        logger.warning("wechat %s failed: %s", operation, type(exc).__name__)
        raise Unavailable(f"wechat {operation}: {type(exc).__name__}") from None


def _as_dict(result: Any, operation: str) -> dict:
    # wechatpy hands back the raw Response when the body is not JSON (an HTML error page…).
    if not isinstance(result, dict):
        logger.warning("wechat %s failed: answer is not JSON", operation)
        raise Unavailable(f"wechat {operation}: answer is not JSON")
    return result


class WechatClient:
    """WeChat mini-program server APIs for one appid, its access token kept in ``tokens``.

    Thread-safe enough for Flask's threads and the worker: the only per-call state (which
    token this thread just used) is thread-local. Call :meth:`close` when done.
    """

    def __init__(self, settings: WechatClientSettings, tokens: TokenStore):
        self._settings = settings
        self._token = SharedToken(tokens, f"wechat:{settings.appid}", self._fetch_token, platform="wechat",
                                  rejection=WeChatClientException, errcodes=TOKEN_ERRCODES)
        base_url = settings.api_base_url.rstrip("/")
        self._sdk = _Sdk(
            settings.appid,
            settings.secret,
            base_url=base_url,
            timeout=settings.request_timeout_seconds,
            token_getter=self.access_token,
        )
        self._pool, prefix = _pool_for(base_url, self._sdk._http)
        self._check_url = f"{prefix}/wxa/msg_sec_check"

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self._sdk._http.close()
        # A proxy manager clears its pools; the host's own pool closes.
        (self._pool.clear if hasattr(self._pool, "clear") else self._pool.close)()

    def __enter__(self) -> WechatClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- token ------------------------------------------------------------------------------

    def access_token(self) -> str:
        """The shared access token, fetched from ``{api_base_url}/cgi-bin/stable_token`` when stale."""
        return self._token.get()

    def _fetch_token(self) -> tuple[str, int]:
        # Translated here, so a 40001 from the token endpoint itself (wrong secret) is a plain
        # PlatformError and never mistaken for "this token went stale, refresh and retry".
        with _translated("token"):
            result = _as_dict(self._sdk.fetch_access_token(), "token")
        token = result.get("access_token")
        if not token:
            raise Unavailable("wechat token: answer has no access_token")
        return str(token), int(result.get("expires_in", 7200))

    def _call(self, operation: str, request: Callable[[], Any]) -> dict:
        """Run one API request with the bounded token retry and error translation."""
        with _translated(operation):
            return _as_dict(self._token.call(operation, request), operation)

    def _post_json(self, url: str, body: bytes, timeout: float) -> dict:
        """POST a JSON body with the current access token; raise like wechatpy on errcodes."""
        res = self._pool.urlopen(
            "POST", f"{url}?access_token={self.access_token()}", body=body,
            headers={"Content-Type": "application/json"}, timeout=urllib3.Timeout(connect=timeout, read=timeout),
            redirect=False,
        )
        if res.status >= 400:
            raise _http_failure("msg_sec_check", res.status)
        try:
            result = json.loads(res.data)
        except ValueError:
            return res.data  # not JSON: _as_dict reports it
        if isinstance(result, dict) and result.get("errcode", 0) not in (0, None):
            raise WeChatClientException(result["errcode"], result.get("errmsg", ""))
        return result

    # --- APIs ---------------------------------------------------------------------------------

    def code_to_session(self, code: str) -> WechatSession:
        """Exchange a ``wx.login`` code for the user's openid (auth.code2Session).

        Needs no access token: a failing token endpoint does not stop logins.
        Raises PlatformError 40029 (invalid/expired), 40163 (used), 45011 (rate limited),
        40226 (risky user), 40125 (wrong secret); Unavailable when WeChat does not answer properly.
        """
        with _translated("code2session"):
            result = _as_dict(self._sdk.jscode2session(code), "code2session")
        if not result.get("openid") or not result.get("session_key"):
            raise Unavailable("wechat code2session: answer has no openid/session_key")
        return WechatSession(
            openid=str(result["openid"]),
            session_key=str(result["session_key"]),
            unionid=result.get("unionid") or None,
        )

    def msg_sec_check(self, *, openid: str, content: str, scene: int = 3,
                      timeout: float | None = None) -> Verdict:
        """Check text with msgSecCheck v2; the verdict is in ``suggest``, not in errcode.

        ``timeout`` (seconds) bounds this request; the default is the configured request
        timeout. The openid must have used the mini-program within the last two hours.
        """
        body = json.dumps({"version": 2, "openid": openid, "scene": scene, "content": content},
                          ensure_ascii=False).encode()
        seconds = timeout or self._settings.request_timeout_seconds
        result = self._call("msg_sec_check", lambda: self._post_json(self._check_url, body, seconds))
        verdict = result.get("result")
        if not isinstance(verdict, dict) or verdict.get("suggest") not in ("pass", "review", "risky"):
            raise Unavailable("wechat msg_sec_check: answer has no result.suggest")
        return Verdict(
            suggest=verdict["suggest"],
            label=int(verdict.get("label", 0)),
            trace_id=str(result.get("trace_id", "")),
        )

    def media_check_async(self, *, media_url: str, openid: str, scene: int = 3) -> str:
        """Ask for WeChat's image check (mediaCheckAsync v2, ``media_type`` 2); returns the
        ``trace_id`` its verdict will be pushed with (within 30 minutes, to the message push
        URL: ``/callbacks/wechat``).

        ``media_url`` must be downloadable by WeChat (our public ``/media/<key>``); ``openid``
        is the user the picture comes from, who used the mini-program in the last two hours.
        Raises PlatformError on an errcode, Unavailable when WeChat does not answer properly.
        """
        body = {"media_url": media_url, "media_type": 2, "version": 2, "openid": openid, "scene": scene}
        result = self._call("media_check_async", lambda: self._sdk.wxa._post("wxa/media_check_async", data=body))
        trace_id = result.get("trace_id")
        if not isinstance(trace_id, str) or not trace_id:
            raise Unavailable("wechat media_check_async: answer has no trace_id")
        return trace_id

    def send_subscribe_message(self, *, openid: str, template_id: str, data: dict[str, str],
                               page: str | None = None) -> None:
        """Send one subscribe message (uses up one of the user's one-time consents).

        ``data`` maps template keys to plain strings (``{"thing2": "路灯不亮"}``); they are
        wrapped as ``{"thing2": {"value": ...}}``. Raises PlatformError 43101 (no consent),
        47003 (a value breaks its keyword rule), 40037 (unknown template), 40003 (openid).
        """
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
            "miniprogram_state": self._settings.miniprogram_state,
            "lang": "zh_CN",
        }
        if page:
            body["page"] = page
        # wechatpy's send_subscribe_message has no miniprogram_state/lang, so post directly.
        self._call("subscribe_send", lambda: self._sdk.wxa._post(
            "cgi-bin/message/subscribe/send", data=body))
