"""The one DingTalk app client: dingtalk-sdk's ``AppKeyClient`` underneath, its gaps filled.

What dingtalk-sdk 1.3.8 does not do and this module does (PLATFORMS §4, §6.2):

- every call goes to ``api_base_url``, path prefix included: the SDK joins URLs with
  ``urljoin`` (``http://h/dt/`` + ``/gettoken`` → ``http://h/gettoken``), so
  :class:`bridges.dingtalk.sdk.AppKeySdk` joins them itself; its TOP gateway calls
  (``top_request``: work notifications, ``Tb*`` methods) are hard-wired to
  ``https://eco.taobao.com/router/rest`` and go to ``{api_base_url}/router/rest`` here instead;
- the access token lives in a token store (:mod:`bridges.tokens`, name ``dingtalk:<app_key>``;
  in production the database, shared by every process and thread);
- a rejected token (33001, 40001, 42001, 40014) is refreshed once and the call retried once:
  the SDK's own retry has no bound (a server that keeps answering 40001 makes it recurse
  until the stack runs out);
- each client has its own ``requests.Session``: the SDK's ``BaseClient._http`` is one session
  shared by every client of the class, and mounting adapters on it would change them all;
- one place (:func:`_translated` with :func:`classify`) turns SDK and ``requests`` failures
  into :mod:`bridges.errors`, each carrying the errcode.

It takes its settings as :class:`DingtalkAppSettings` and imports neither Flask nor
``miniapp_api``. The SDK itself is loaded by the first client made (:func:`load_sdk`), not at
import: it weighs about 10 MB per process.

Nothing here logs a secret or a token: only errcodes, operations and exception class names;
the SDK's own request logging (which prints both) is silenced.
"""
from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from types import ModuleType
from typing import Any

import requests

from bridges.errors import BridgeError
from bridges.errors import PermanentFailure
from bridges.errors import RateLimited
from bridges.errors import RetryLater
from bridges.errors import Unavailable
from bridges.tokens import SharedToken
from bridges.tokens import TokenStore

logger = logging.getLogger(__name__)


def _drop(record: logging.LogRecord) -> bool:
    return False


# dingtalk-sdk logs every failed request at ERROR with its full URL and parameters: the access
# token, and for gettoken the app secret. Its records are dropped; ours say what failed.
for _name in ("dingtalk.client", "dingtalk.client.base"):
    logging.getLogger(_name).addFilter(_drop)

#: errcodes that mean "this access token is no good": refresh it once, retry once.
TOKEN_ERRCODES = frozenset({33001, 40001, 42001, 40014})
#: ``user/list`` pages (the API's maximum page size is 100).
PAGE_SIZE = 100
#: A department larger than this many pages is a misbehaving server, not a county.
MAX_PAGES = 2000
#: The per-IP block lasts five minutes (PLATFORMS §4.4).
IP_BLOCK_SECONDS = 300.0
#: A picture larger than this is not downloaded to the end (photos are refused above 10 MB anyway).
MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class DingtalkAppSettings:
    """What the app client needs: the ``[dingtalk]`` config keys of the same names."""

    api_base_url: str
    app_key: str
    app_secret: str = field(repr=False)
    corp_id: str | None = None
    request_timeout_seconds: float = 5.0
    # The v1.0 APIs (``/v1.0/...``) live on api.dingtalk.com, beside oapi's; None: that host
    # when ``api_base_url`` is oapi.dingtalk.com, else ``api_base_url`` (a local fake serves both).
    openapi_base_url: str | None = None

    def v1_base_url(self) -> str:
        """Where the ``/v1.0/...`` APIs are called."""
        if self.openapi_base_url:
            return self.openapi_base_url.rstrip("/")
        base = self.api_base_url.rstrip("/")
        return "https://api.dingtalk.com" if base == "https://oapi.dingtalk.com" else base

    @classmethod
    def from_config(cls, section: Any) -> DingtalkAppSettings:
        """Copy these fields from the ``[dingtalk]`` settings section (attributes of the same names)."""
        return cls(**{f.name: getattr(section, f.name) for f in fields(cls)})


class NotDelivered(Unavailable):
    """The request surely did not reach DingTalk (connection refused, connect timeout)."""


class MaybeDelivered(Unavailable):
    """No answer, but the request may have reached DingTalk (read timeout, connection cut)."""


# --- errcodes ---------------------------------------------------------------------------------

#: errcode → (kind, seconds): what each answer of the app APIs means for the caller.
_APP_ERRCODES: dict[int, tuple[str, float]] = {
    -1: ("retry", 0),            # 系统繁忙
    90002: ("rate", 10.0),       # the API's global limit was hit (PLATFORMS §4.4)
    90018: ("rate", 10.0),       # this app called the API too often (UNCONFIRMED code)
    90019: ("rate", 10.0),       # ISV: per app, per organisation, per API 40 qps
    90020: ("rate", 3600.0),     # the organisation's monthly API quota is used up
    34001: ("permanent", 0),     # invalid chatid
    34013: ("permanent", 0),     # the chat does not exist (disbanded, or not the app's)
    34014: ("permanent", 0),     # the message JSON is not valid for its msgtype
    34016: ("permanent", 0),     # a field is too long
    40035: ("permanent", 0),     # a parameter is missing or invalid
    40089: ("permanent", 0),     # invalid appkey or appsecret
    60003: ("permanent", 0),     # department not found
    60011: ("permanent", 0),     # the app may not read this part of the organisation
    60121: ("permanent", 0),     # user not found
}


def classify(errcode: int | None, errmsg: str, operation: str) -> BridgeError:
    """The ``bridges.errors`` exception for a non-zero app API answer (unknown: retry later)."""
    text = f"dingtalk {operation}: errcode {errcode} {errmsg}".strip()
    if errcode in TOKEN_ERRCODES:
        # Still rejected after one refresh: the platform's token service is having a moment.
        return RetryLater(text, delay=30.0, errcode=errcode)
    kind, seconds = _APP_ERRCODES.get(errcode, ("retry", 0)) if errcode is not None else ("retry", 0)
    if kind == "permanent":
        return PermanentFailure(text, errcode=errcode)
    if kind == "rate":
        return RateLimited(text, retry_after=seconds, errcode=errcode)
    return RetryLater(text, errcode=errcode)


# --- the SDK, pointed at our base URL ------------------------------------------------------------


def load_sdk() -> ModuleType:
    """dingtalk-sdk's parts (:mod:`bridges.dingtalk.sdk`), imported on the first call."""
    # Imported here, not at the top: the SDK costs each process about 10 MB, and most never
    # use it (see bridges/dingtalk/sdk.py).
    from bridges.dingtalk import sdk
    return sdk


def _sdk_raised(name: str):
    """The SDK module's exception class ``name`` once it is loaded. Before that nothing can
    raise it, and the empty tuple matches no exception."""
    module = sys.modules.get("bridges.dingtalk.sdk")
    return getattr(module, name) if module is not None else ()


# --- translating failures -------------------------------------------------------------------------


def _http_failure(operation: str, status: int | None) -> BridgeError:
    logger.warning("dingtalk %s failed: HTTP %s", operation, status)
    if status is None or status >= 500:
        return Unavailable(f"dingtalk {operation}: HTTP {status}")
    if status == 429:
        return RateLimited(f"dingtalk {operation}: HTTP 429", retry_after=60.0, errcode="http_429")
    return RetryLater(f"dingtalk {operation}: HTTP {status}", errcode=f"http_{status}")


def _request_failure(operation: str, exc: requests.RequestException) -> BridgeError:
    logger.warning("dingtalk %s failed: %s", operation, type(exc).__name__)
    text = f"dingtalk {operation}: {type(exc).__name__}"
    never_sent = isinstance(exc, (requests.ConnectTimeout, requests.exceptions.InvalidURL,
                                  requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema))
    if isinstance(exc, requests.ConnectionError) and any(
            s in str(exc) for s in ("Failed to establish a new connection", "NameResolutionError")):
        never_sent = True
    # Anything else (a read timeout, a connection cut or a body broken off mid-answer) may have
    # happened after DingTalk took the request.
    return NotDelivered(text) if never_sent else MaybeDelivered(text)


@contextlib.contextmanager
def _translated(operation: str) -> Iterator[None]:
    """Turn dingtalk-sdk / requests failures into bridges.errors: the one place that does it.

    ``from None`` on purpose: the SDK's messages and chained exceptions carry URLs with the
    access token (or the app secret, for ``gettoken``) in them, and tracebacks reach logs.
    """
    try:
        yield
    except BridgeError:
        raise  # already translated (the token fetch inside a business call)
    except _sdk_raised("DingTalkClientException") as exc:
        if exc.errcode is None:  # the SDK's wrapper around raise_for_status()
            raise _http_failure(operation, getattr(exc.response, "status_code", None)) from None
        try:
            errcode = int(exc.errcode)
        except (TypeError, ValueError):
            errcode = None
        logger.info("dingtalk %s answered errcode %s", operation, exc.errcode)
        raise classify(errcode, str(exc.errmsg or ""), operation) from None
    except _sdk_raised("Blocked") as exc:
        seconds = exc.wait_minutes * 60 if exc.wait_minutes else IP_BLOCK_SECONDS
        logger.warning("dingtalk %s: blocked (per-IP limit) for %ss", operation, seconds)
        raise RateLimited(f"dingtalk {operation}: IP blocked", retry_after=seconds, errcode="ip_blocked") from None
    except _sdk_raised("NotJson"):
        raise Unavailable(f"dingtalk {operation}: answer is not JSON") from None
    except requests.HTTPError as exc:
        raise _http_failure(operation, getattr(exc.response, "status_code", None)) from None
    except requests.RequestException as exc:
        raise _request_failure(operation, exc) from None
    except (KeyError, TypeError, ValueError) as exc:  # an answer without the field we need
        logger.warning("dingtalk %s: unexpected answer (%s)", operation, type(exc).__name__)
        raise Unavailable(f"dingtalk {operation}: unexpected answer") from None


# --- the client ---------------------------------------------------------------------------------


class AppClient:
    """DingTalk OpenAPI calls of the county's app, its access token kept in ``tokens``.

    Thread-safe enough for Flask's threads and the worker: the only per-call state (which
    token this thread just used) is thread-local. Call :meth:`close` when done.
    """

    def __init__(self, settings: DingtalkAppSettings, tokens: TokenStore, *,
                 session: requests.Session | None = None):
        self.settings = settings
        sdk = load_sdk()
        self._token = SharedToken(tokens, f"dingtalk:{settings.app_key}", self._fetch_token, platform="dingtalk",
                                  rejection=sdk.DingTalkClientException, errcodes=TOKEN_ERRCODES)
        self.token_name = self._token.name
        self.sdk = sdk.AppKeySdk(settings, token_getter=self.access_token, session=session)

    def close(self) -> None:
        """Close the client's HTTP session."""
        self.sdk._http.close()

    def __enter__(self) -> AppClient:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- token ------------------------------------------------------------------------------

    def access_token(self) -> str:
        """The shared access token, fetched from ``{api_base_url}/gettoken`` when stale."""
        return self._token.get()

    def _fetch_token(self) -> tuple[str, int]:
        # Translated here, so an error of gettoken itself (wrong secret) is never mistaken for
        # "this token went stale, refresh and retry".
        with _translated("gettoken"):
            result = self.sdk.get_access_token()
            if not isinstance(result, dict) or not result.get("access_token"):
                raise Unavailable("dingtalk gettoken: answer has no access_token")
            return str(result["access_token"]), int(result.get("expires_in", 7200))

    def call(self, operation: str, request: Callable[[], Any]) -> Any:
        """Run one SDK request with the bounded token retry and the error translation."""
        with _translated(operation):
            return self._token.call(operation, request)

    # --- organisation -----------------------------------------------------------------------------

    def departments(self) -> list[dict]:
        """Every department (``department/list`` with ``fetch_child``), the root included."""
        # The string "true", as DingTalk documents it: the SDK would send Python's bool as
        # "True", and a platform that only honours "true" would then list the top level only,
        # and every member of a deeper department would look as if they had left.
        depts = self.call("department.list", lambda: self.sdk.department.list(1, fetch_child="true"))
        out = {1: {"id": 1, "name": "", "parentid": None}}
        for d in depts or []:
            if isinstance(d, dict) and "id" in d:
                out[int(d["id"])] = d
        return list(out.values())

    def users_in_department(self, department_id: int) -> Iterator[dict]:
        """The department's members, page by page (the SDK's ``user.listbypage``: ``user/list``)."""
        offset = 0
        for _ in range(MAX_PAGES):
            page = self.call("user.list", lambda o=offset: self.sdk.user.listbypage(department_id, offset=o,
                                                                                      size=PAGE_SIZE))
            users = page.get("userlist") or []
            yield from (u for u in users if isinstance(u, dict))
            if not page.get("hasMore") or not users:
                return
            offset += len(users)
        raise Unavailable(f"dingtalk user.list: department {department_id} has more than {MAX_PAGES} pages")

    def user(self, user_id: str) -> dict | None:
        """One member (``user/get``), or None when they are not in the organisation (60121)."""
        try:
            return self.call("user.get", lambda: self.sdk.user.get(user_id))
        except PermanentFailure as err:
            if err.errcode == 60121:
                return None
            raise

    # --- group messages ---------------------------------------------------------------------------

    def chat_send(self, chat_id: str, body: dict) -> str:
        """Send ``body`` (chat/work-notification format) to an app group; DingTalk's messageId."""
        return str(self.call("chat.send", lambda: self.sdk.chat.send(chat_id, dict(body))))

    # --- files people sent the robot --------------------------------------------------------------

    def download_message_file(self, download_code: str, robot_code: str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
        """The bytes of a picture sent to the robot: ``POST /v1.0/robot/messageFiles/download``
        (``{downloadCode, robotCode}``, header ``x-acs-dingtalk-access-token``) gives a
        temporary ``downloadUrl``, which is then read (at most ``max_bytes``).

        The v1.0 APIs answer failures with HTTP 4xx/5xx and ``{"code", "message"}``: an
        invalid code or robot is a :class:`PermanentFailure`, a rejected token is refreshed once.
        """
        url = f"{self.settings.v1_base_url()}/v1.0/robot/messageFiles/download"
        timeout = self.settings.request_timeout_seconds
        http = self.sdk._http

        def ask(token: str) -> requests.Response:
            return http.post(url, json={"downloadCode": download_code, "robotCode": robot_code},
                             headers={"x-acs-dingtalk-access-token": token}, timeout=timeout)

        with _translated("robot.messageFiles.download"):
            token = self.access_token()
            resp = ask(token)
            if resp.status_code == 401:  # the token went stale: refresh it once, ask once more
                logger.warning("dingtalk robot.messageFiles.download: token rejected, refreshing once")
                self._token.store.invalidate(self._token.name, token)
                resp = ask(self.access_token())
            if resp.status_code >= 500 or resp.status_code == 429:
                raise _http_failure("robot.messageFiles.download", resp.status_code)
            answer = resp.json()
            if resp.status_code != 200 or not isinstance(answer, dict) or not answer.get("downloadUrl"):
                code = answer.get("code") if isinstance(answer, dict) else None
                logger.info("dingtalk robot.messageFiles.download answered HTTP %s %s", resp.status_code, code)
                raise PermanentFailure(f"dingtalk robot.messageFiles.download: HTTP {resp.status_code} {code}",
                                       errcode=str(code or resp.status_code))
            with http.get(str(answer["downloadUrl"]), timeout=timeout, stream=True) as got:
                got.raise_for_status()
                data = bytearray()
                for chunk in got.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > max_bytes:
                        raise PermanentFailure("dingtalk message file: larger than allowed", errcode="too_large")
                return bytes(data)
