"""The app side of the local fake DingTalk (PLATFORMS §3.1, §4, §7): a component of ``dingtalk``.

:class:`FakeApp` knows nothing of the robot side's module: it reaches the shared clock,
credentials, lock, groups and outages through the small :class:`AppHost` protocol, which
``bridges.fakes.dingtalk.FakeDingtalkState`` fulfils (it creates one ``FakeApp`` as ``.app``).

It serves, at root paths as dingtalk-sdk 1.3.8 calls them:

* ``GET /gettoken?appkey&appsecret`` — 40089 for a wrong key or secret; the same token while
  it is valid (7200 s), its life extended by each fetch, a new one after expiry;
* business calls take ``access_token``: unknown → 40001, expired → 42001. Each stale token
  is refused, a fresh one accepted, so an SDK's refresh-and-retry loop ends. Scripting can
  expire the token now or after N calls, or refuse the next N calls whatever the token (the
  unbounded-retry pitfall), and counts every ``gettoken``;
* ``GET /department/list`` (``id``, ``fetch_child`` spelled exactly ``true`` or ``false``,
  anything else — Python's ``True`` — is a parameter error; 60003 unknown department),
  ``GET /user/list`` (``department_id``, ``offset``, ``size`` ≤ 100; ``userlist`` +
  ``hasMore``), ``GET /user/get`` (60121 unknown user);
* ``POST /chat/send`` — ``{"chatid", "msgtype", <type>: {...}}`` in the snake_case
  work-notification format only (the robot's camelCase → 34014); unknown chat → 34013;
  content over 5,000 characters → 34016; more than ``app_qps`` calls a second → 90002.
  Returns ``messageId`` and shows the message in the group whose ``chat_id`` it is;
* the fake's outages (``/_fake/outage``: HTTP 500 or a slow answer) apply to these too;
* ``POST /router/rest`` — dingtalk-sdk's TOP gateway calls (``session`` = token), enough
  for ``dingtalk.oapi.message.corpconversation.asyncsend_v2`` (returns a ``task_id``).

And it plays DingTalk's event subscription: :meth:`FakeApp.push_event` encrypts and signs an
event with dingtalk-sdk's crypto (owner key = AppKey), POSTs it to Tongxin, and checks that
the answer decrypts to ``success`` with a valid signature within 1,500 ms. Variants exercise
the refusals: ``tampered``, ``bad_ciphertext``, ``wrong_signature``, ``wrong_owner``,
``stale``, ``replay`` (the previous push again, byte for byte). Adding, changing and removing
organisation members pushes ``user_add_org`` / ``user_modify_org`` / ``user_leave_org`` when
an events URL is configured; disbanding a chat pushes ``chat_disband``.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import html
import json
import os
import secrets
import threading
import time
import urllib.parse
from collections import Counter
from collections import deque
from typing import Any
from typing import Mapping
from typing import Protocol

import requests
from dingtalk.crypto import DingTalkCrypto
from flask import Flask
from flask import Response
from flask import jsonify
from flask import redirect
from flask import request

TOKEN_TTL = 7200
MAX_PAGE = 100
MAX_CONTENT_CHARS = 5000
REPLY_DEADLINE_MS = 1500

ERR_KEY = (40089, "不合法的appkey或appsecret")
ERR_TOKEN_UNKNOWN = (40001, "不合法的access_token")
ERR_TOKEN_EXPIRED = (42001, "access_token超时")
ERR_PARAM = (40035, "不合法的参数")
ERR_DEPT = (60003, "部门不存在")
ERR_USER = (60121, "找不到该用户")
ERR_CHAT = (34013, "会话不存在")
ERR_CHAT_JSON = (34014, "会话消息的json结构无效或不完整")
ERR_TOO_LONG = (34016, "消息内容超长")
ERR_QPS = (90002, "接口调用过于频繁，请稍后再试")

# chat.send bodies: required and optional keys per msgtype (dingtalk.model.message shapes).
_APP_SHAPES: dict[str, tuple[set[str], set[str]]] = {
    "text": ({"content"}, set()),
    "markdown": ({"title", "text"}, set()),
    "action_card": ({"title", "markdown"}, {"single_title", "single_url", "btn_orientation", "btn_json_list"}),
    "link": ({"messageUrl", "title", "text"}, {"picUrl"}),
    "image": ({"media_id"}, set()),
    "file": ({"media_id"}, set()),
    "voice": ({"media_id"}, {"duration"}),
    "oa": ({"message_url", "head", "body"}, {"pc_message_url"}),
}
TOKEN_ERRCODES = (33001, 40001, 42001, 40014)
_UNCHANGED = object()  # script_token: leave expire_after_calls as it is
EVENT_VARIANTS = ("valid", "tampered", "bad_ciphertext", "wrong_signature", "wrong_owner", "stale", "replay")


class AppHost(Protocol):
    """What the app side needs from the fake it is part of: clock, credentials, lock, groups, outages."""

    app_key: str
    app_secret: str
    lock: threading.RLock

    def now(self) -> float:
        """The fake's clock in seconds."""

    def now_ms(self) -> int:
        """The fake's clock in milliseconds."""

    def group_by_chat(self, chat_id: str) -> Any:
        """The group whose ``chat_id`` this is, or None."""

    def drop_chat(self, chat_id: str) -> None:
        """Forget a disbanded chat."""

    def record_app_message(self, group: Any, body: dict[str, Any], title: str, text: str,
                           message_id: str, now: float) -> None:
        """Show a chat/send message in ``group`` (called under the lock)."""

    def take_outage(self) -> tuple[str, float, threading.Event] | None:
        """Use up one scripted outage: (mode, seconds, wake event), or None."""


def outage_response(host: AppHost) -> Response | None:
    """The answer of a scripted outage for one platform call, or None to answer normally.

    ``error500`` answers HTTP 500 at once; ``timeout`` holds the request for the outage's
    seconds and then lets it go on, as a slow platform would. Both sides' routes use it.
    """
    taken = host.take_outage()
    if taken is None:
        return None
    mode, seconds, wake = taken
    if mode == "error500":
        return Response("<html><body>500 Internal Server Error</body></html>", status=500, mimetype="text/html")
    wake.wait(seconds)
    return None


def event_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    """DingTalk's event signature: SHA-1 of the four values sorted and joined (written here on
    purpose, not taken from the SDK Tongxin uses, so a shared mistake would show)."""
    parts = sorted(str(v).encode("utf-8") for v in (token, timestamp, nonce, encrypt))
    return hashlib.sha1(b"".join(parts)).hexdigest()


def _err(code_msg: tuple[int, str]) -> dict[str, Any]:
    return {"errcode": code_msg[0], "errmsg": code_msg[1]}


def app_display_text(body: dict[str, Any]) -> tuple[str, str]:
    """(title, visible text) of a chat.send body."""
    mt = body.get("msgtype")
    inner = body.get(mt) if isinstance(mt, str) else None
    if not isinstance(inner, dict):
        return "", ""
    if mt == "text":
        return "", str(inner.get("content", ""))
    if mt == "action_card":
        parts = [str(inner.get("markdown", ""))]
        if inner.get("single_title"):
            parts.append(f"[{inner['single_title']}]({inner.get('single_url', '')})")
        for b in inner.get("btn_json_list") or []:
            if isinstance(b, dict):
                parts.append(f"[{b.get('title', '')}]({b.get('action_url', '')})")
        return str(inner.get("title", "")), "\n".join(parts)
    return str(inner.get("title", "")), str(inner.get("text", inner.get("content", "")))


def parse_app_message(raw: bytes) -> tuple[dict[str, Any], tuple[int, str] | None]:
    """(body, None) for a valid chat.send body, or ({}, (errcode, errmsg))."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}, ERR_CHAT_JSON
    if not isinstance(body, dict) or not isinstance(body.get("chatid"), str) or not body["chatid"]:
        return {}, (34001, "chatid 无效")
    mt = body.get("msgtype")
    if mt not in _APP_SHAPES or body.keys() - {"chatid", "msgtype", mt}:
        return {}, ERR_CHAT_JSON  # e.g. the robot's "actionCard", or "at"/"msgUuid" beside it
    inner = body.get(mt)
    required, optional = _APP_SHAPES[mt]
    if not isinstance(inner, dict) or required - inner.keys() or inner.keys() - required - optional:
        return {}, ERR_CHAT_JSON
    for k in required:
        if mt not in ("oa",) and (not isinstance(inner[k], str) or not inner[k]):
            return {}, ERR_CHAT_JSON
    if mt == "action_card":
        single = "single_title" in inner or "single_url" in inner
        if single and not (isinstance(inner.get("single_title"), str) and isinstance(inner.get("single_url"), str)):
            return {}, ERR_CHAT_JSON
        if not single:
            btns = inner.get("btn_json_list")
            if inner.get("btn_orientation") not in ("0", "1") or not isinstance(btns, list) or not btns:
                return {}, ERR_CHAT_JSON
            if any(not isinstance(b, dict) or set(b) != {"title", "action_url"} for b in btns):
                return {}, ERR_CHAT_JSON
    for key in ("content", "text", "markdown"):
        if isinstance(inner.get(key), str) and len(inner[key]) > MAX_CONTENT_CHARS:
            return {}, ERR_TOO_LONG
    return body, None


class FakeApp:
    """The app side's state and its public seeding API; every mutation happens under the host's ``lock``.

    Seed and inspect it with :meth:`add_department`, :meth:`add_user`, :meth:`change_user`,
    :meth:`remove_user`, :meth:`configure_events`, :meth:`script_token`, :meth:`push_event`,
    :meth:`push_change` and :meth:`stats`.
    """

    def __init__(self, state: AppHost, *, corp_id: str | None = None):
        self.state = state  # the host: the fake DingTalk this app side is part of
        self.corp_id = corp_id or "dingfakecorp" + os.urandom(4).hex()
        self.token_ttl = TOKEN_TTL
        self.app_qps = 20
        self.event_token: str | None = None
        self.event_aes_key: str | None = None
        self.events_url: str | None = None
        self.departments: dict[int, dict[str, Any]] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self._reset_org()
        self._reset_runtime()

    # -- lifecycle
    def _reset_org(self) -> None:
        self.departments = {1: {"id": 1, "name": "伊通满族自治县", "parentid": None}}
        self.users = {}
        self._next_dept = 2
        self._next_user = 1

    def _reset_runtime(self) -> None:
        self.token: str | None = None
        self.token_expires = 0.0
        self.retired_tokens: set[str] = set()
        self.gettoken_calls = 0
        self.calls: Counter = Counter()
        self.token_errors: Counter = Counter()
        self.chat_rejected: Counter = Counter()
        self.expire_after_calls: int | None = None
        self.reject_next: deque = deque()
        self.qps_window: deque = deque()
        self.events: list[dict[str, Any]] = []
        self.last_push: dict[str, Any] | None = None
        self.top_calls: list[dict[str, Any]] = []
        self._msg_seq = 0
        # Files people sent the robot (pictures): downloadCode → (bytes, content type), and the
        # temporary download links handed out for them.
        self.message_files: dict[str, tuple[bytes, str]] = {}
        self.file_links: dict[str, str] = {}

    def reset(self, full: bool) -> None:
        """Forget tokens, counters and pushed events; ``full`` also forgets the organisation and events URL."""
        with self.state.lock:
            self._reset_runtime()
            if full:
                self._reset_org()
                self.events_url = None

    # -- tokens
    def gettoken(self, args: Mapping[str, str]) -> dict[str, Any]:
        """``GET /gettoken``: the current token (its life extended) or a new one after expiry."""
        with self.state.lock:
            self.gettoken_calls += 1
            if args.get("appkey") != self.state.app_key or args.get("appsecret") != self.state.app_secret:
                return _err(ERR_KEY)
            now = self.state.now()
            if self.token is None or now >= self.token_expires:
                if self.token:
                    self.retired_tokens.add(self.token)
                self.token = "fakeapp" + secrets.token_hex(16)
            self.token_expires = now + self.token_ttl  # a fetch within validity extends it
            return {"errcode": 0, "errmsg": "ok", "access_token": self.token, "expires_in": self.token_ttl}

    def expire_now(self) -> None:
        """The current access token expires now (the next business call answers 42001)."""
        with self.state.lock:
            self.token_expires = self.state.now()

    def script_token(self, *, expire_now: bool = False, expire_after_calls: Any = _UNCHANGED,
                     reject_next: int | None = None, errcode: int = ERR_TOKEN_UNKNOWN[0],
                     ttl: int | None = None) -> None:
        """Script token trouble: expire now, expire after N business calls (None: never),
        refuse the next N calls with ``errcode`` whatever the token, or change the token's life."""
        if reject_next is not None and errcode not in TOKEN_ERRCODES:
            raise ValueError("errcode must be a token errcode")
        with self.state.lock:
            if expire_now:
                self.token_expires = self.state.now()
            if expire_after_calls is not _UNCHANGED:
                self.expire_after_calls = None if expire_after_calls is None else int(expire_after_calls)
            if reject_next is not None:
                self.reject_next = deque([int(errcode)] * int(reject_next))
            if ttl is not None:
                self.token_ttl = int(ttl)

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Set any of ``event_token``, ``event_aes_key``, ``events_url`` (falsy: None), ``app_qps``
        and ``corp_id``; returns the resulting configuration."""
        with self.state.lock:
            for key in ("event_token", "event_aes_key", "events_url"):
                if key in settings:
                    setattr(self, key, settings[key] or None)
            if "app_qps" in settings:
                self.app_qps = int(settings["app_qps"] or 0)
            if "corp_id" in settings:
                self.corp_id = str(settings["corp_id"])
            return {"events_url": self.events_url, "app_qps": self.app_qps, "corp_id": self.corp_id,
                    "event_configured": bool(self.event_token and self.event_aes_key)}

    def _check_token(self, token: str | None, path: str) -> dict[str, Any] | None:
        """None when the call may go on, else the errcode answer (counted)."""
        self.calls[path] += 1
        if self.reject_next:
            code = self.reject_next.popleft()
            self.token_errors[code] += 1
            return {"errcode": code, "errmsg": "scripted token error"}
        now = self.state.now()
        if self.expire_after_calls is not None:
            self.expire_after_calls -= 1
            if self.expire_after_calls < 0:
                self.expire_after_calls = None
                self.token_expires = now
        if not token or (token != self.token and token not in self.retired_tokens):
            self.token_errors[ERR_TOKEN_UNKNOWN[0]] += 1
            return _err(ERR_TOKEN_UNKNOWN)
        if token != self.token or now >= self.token_expires:
            self.token_errors[ERR_TOKEN_EXPIRED[0]] += 1
            return _err(ERR_TOKEN_EXPIRED)
        return None

    # -- files people send the robot (PLATFORMS §2.1: picture and richText messages)
    def add_message_file(self, data: bytes, content_type: str = "image/jpeg") -> str:
        """Keep a picture someone sent the robot; returns its ``downloadCode``."""
        with self.state.lock:
            code = base64.b64encode(os.urandom(48)).decode()
            self.message_files[code] = (bytes(data), content_type)
            return code

    def message_file_download(self, token: str | None, raw: bytes, base_url: str) -> tuple[int, dict[str, Any]]:
        """``POST /v1.0/robot/messageFiles/download``: ``{downloadCode, robotCode}`` with the
        ``x-acs-dingtalk-access-token`` header → ``{"downloadUrl"}`` (a temporary link).

        The v1.0 APIs answer errors as HTTP 4xx with ``{"code", "message"}``.
        """
        with self.state.lock:
            if self._check_token(token, "/v1.0/robot/messageFiles/download") is not None:
                return 401, {"code": "InvalidAuthentication", "message": "不合法的access_token"}
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                return 400, {"code": "InvalidParameter", "message": "body is not JSON"}
            if not isinstance(body, dict) or not body.get("downloadCode") or not body.get("robotCode"):
                return 400, {"code": "MissingParameter", "message": "downloadCode and robotCode are required"}
            if body["robotCode"] != self.state.app_key:
                return 400, {"code": "robot.notExist", "message": "机器人不存在"}
            if body["downloadCode"] not in self.message_files:
                return 400, {"code": "invalidParameter.downloadCode", "message": "下载码无效"}
            link = secrets.token_urlsafe(18)
            self.file_links[link] = body["downloadCode"]
            return 200, {"downloadUrl": f"{base_url.rstrip('/')}/_fake/files/{link}"}

    def linked_file(self, link: str) -> tuple[bytes, str] | None:
        """The file behind a temporary download link (None when unknown)."""
        with self.state.lock:
            code = self.file_links.get(link)
            return self.message_files.get(code) if code else None

    # -- organisation
    def add_department(self, name: str, parentid: int = 1, dept_id: int | None = None) -> dict[str, Any]:
        """Add a department under ``parentid`` (the root is 1); returns a copy of it."""
        with self.state.lock:
            if parentid not in self.departments:
                raise ValueError(f"unknown parent department {parentid}")
            if dept_id is None:
                dept_id = self._next_dept
            self._next_dept = max(self._next_dept, dept_id + 1)
            d = {"id": int(dept_id), "name": str(name)[:64], "parentid": int(parentid)}
            self.departments[d["id"]] = d
            return dict(d)

    def department_by_name(self, name: str) -> int | None:
        """The id of the department called ``name``, or None."""
        with self.state.lock:
            return next((d["id"] for d in self.departments.values() if d["name"] == name), None)

    def add_user(self, name: str, mobile: str, departments: list[int] | None = None,
                 userid: str | None = None) -> dict[str, Any]:
        """Add an organisation member (userid made up when None); returns a copy of it."""
        with self.state.lock:
            depts = [int(d) for d in (departments or [1])]
            for d in depts:
                if d not in self.departments:
                    raise ValueError(f"unknown department {d}")
            if userid is None:
                while f"u{self._next_user:05d}" in self.users:
                    self._next_user += 1
                userid = f"u{self._next_user:05d}"
                self._next_user += 1
            if not userid or userid in self.users:
                raise ValueError(f"userid {userid!r} already exists")
            u = {"userid": str(userid), "unionid": "union" + secrets.token_hex(6), "name": str(name)[:40],
                 "mobile": str(mobile or ""), "department": depts, "active": True, "position": ""}
            self.users[u["userid"]] = u
            return dict(u)

    def change_user(self, userid: str, **changes: Any) -> dict[str, Any]:
        """Change a member's ``name``, ``mobile`` or ``department`` list (KeyError when unknown)."""
        with self.state.lock:
            u = self.users.get(userid)
            if u is None:
                raise KeyError(userid)
            for key in ("name", "mobile"):
                if changes.get(key) is not None:
                    u[key] = str(changes[key])
            if changes.get("department") is not None:
                depts = [int(d) for d in changes["department"]]
                if any(d not in self.departments for d in depts):
                    raise ValueError("unknown department")
                u["department"] = depts
            return dict(u)

    def remove_user(self, userid: str) -> dict[str, Any]:
        """Remove a member from the organisation (KeyError when unknown); returns it."""
        with self.state.lock:
            u = self.users.pop(userid, None)
            if u is None:
                raise KeyError(userid)
            return u

    def org_call(self, path: str, args: Mapping[str, str]) -> dict[str, Any]:
        """The three organisation reads (after the token check)."""
        with self.state.lock:
            problem = self._check_token(args.get("access_token"), path)
            if problem:
                return problem
            if path == "/department/list":
                try:
                    parent = int(args.get("id", "1"))
                except ValueError:
                    return _err(ERR_PARAM)
                if parent not in self.departments:
                    return _err(ERR_DEPT)
                # Strict about the spelling: DingTalk documents the strings "true" and "false";
                # Python's True (sent as "True") is refused, not guessed at.
                fetch_child = args.get("fetch_child", "false")
                if fetch_child not in ("true", "false"):
                    return _err(ERR_PARAM)
                recursive = fetch_child == "true"
                out, frontier = [], [parent]
                while frontier:
                    pid = frontier.pop(0)
                    children = sorted((d for d in self.departments.values() if d["parentid"] == pid), key=lambda d: d["id"])
                    out += [dict(d, createDeptGroup=False, autoAddUser=False) for d in children]
                    if recursive:
                        frontier += [d["id"] for d in children]
                return {"errcode": 0, "errmsg": "ok", "department": out}
            if path == "/user/list":
                try:
                    dept = int(args["department_id"])
                    offset = int(args.get("offset", 0))
                    size = int(args.get("size", MAX_PAGE))
                except (KeyError, ValueError):
                    return _err(ERR_PARAM)
                if size < 1 or size > MAX_PAGE or offset < 0:
                    return _err(ERR_PARAM)
                if dept not in self.departments:
                    return _err(ERR_DEPT)
                members = [u for u in self.users.values() if dept in u["department"]]
                page = members[offset:offset + size]
                return {"errcode": 0, "errmsg": "ok", "hasMore": offset + size < len(members),
                        "userlist": [dict(u) for u in page]}
            if path == "/user/get":
                u = self.users.get(args.get("userid") or "")
                if u is None:
                    return _err(ERR_USER)
                return dict(u, errcode=0, errmsg="ok")
            return _err(ERR_PARAM)

    # -- group messages
    def chat_send(self, args: Mapping[str, str], raw: bytes) -> dict[str, Any]:
        """``POST /chat/send``: check token, rate and body, then show the message in its group."""
        with self.state.lock:
            problem = self._check_token(args.get("access_token"), "/chat/send")
            if problem:
                return problem
            now = self.state.now()
            while self.qps_window and self.qps_window[0] <= now - 1.0:
                self.qps_window.popleft()
            if self.app_qps and len(self.qps_window) >= self.app_qps:
                self.chat_rejected[str(ERR_QPS[0])] += 1
                return _err(ERR_QPS)
            self.qps_window.append(now)
            body, problem = parse_app_message(raw)
            if problem:
                self.chat_rejected[str(problem[0])] += 1
                return _err(problem)
            group = self.state.group_by_chat(body["chatid"])
            if group is None:
                self.chat_rejected[str(ERR_CHAT[0])] += 1
                return _err(ERR_CHAT)
            self._msg_seq += 1
            message_id = "msg" + base64.urlsafe_b64encode(os.urandom(12)).decode().rstrip("=")
            title, text = app_display_text(body)
            self.state.record_app_message(group, body, title, text, message_id, now)
            return {"errcode": 0, "errmsg": "ok", "messageId": message_id}

    def top(self, args: Mapping[str, str]) -> dict[str, Any]:
        """dingtalk-sdk's TOP gateway (``/router/rest``): token in ``session``."""
        with self.state.lock:
            method = str(args.get("method") or "")
            key = method.replace(".", "_") + "_response"
            problem = self._check_token(args.get("session"), "/router/rest")
            if problem:
                return problem
            self.top_calls.append({"method": method, "params": dict(args)})
            if method == "dingtalk.oapi.message.corpconversation.asyncsend_v2":
                return {key: {"result": {"success": True, "ding_open_errcode": 0, "task_id": len(self.top_calls)},
                              "request_id": secrets.token_hex(6)}}
            return {"error_response": {"code": 22, "msg": "Invalid method", "sub_msg": f"不合法ApiName，ApiName = {method}"}}

    # -- events
    def _crypto(self, owner: str | None = None) -> DingTalkCrypto:
        if not (self.event_token and self.event_aes_key):
            raise ValueError("event subscription not configured (event_token, event_aes_key)")
        return DingTalkCrypto(self.event_token, self.event_aes_key, owner or self.state.app_key)

    def build_push(self, event_type: str, data: dict[str, Any] | None = None, *, variant: str = "valid",
                   old_spelling: bool = False) -> tuple[dict[str, str], bytes, dict[str, Any]]:
        """(query, body, message) of one event push, in ``variant`` (see module doc)."""
        if variant not in EVENT_VARIANTS or variant == "replay":
            raise ValueError(f"variant must be one of {EVENT_VARIANTS[:-1]}")
        now_ms = self.state.now_ms()
        ts = now_ms - 2 * 3600 * 1000 if variant == "stale" else now_ms
        message = {"EventType": event_type, "TimeStamp": str(ts), "CorpId": self.corp_id, **(data or {})}
        owner = self.corp_id if variant == "wrong_owner" else None
        enc = self._crypto(owner).encrypt_message(json.dumps(message, ensure_ascii=False), timestamp=ts)
        encrypt, signature, nonce = enc["encrypt"], enc["msg_signature"], enc["nonce"]
        if variant == "tampered":  # changed in transit: the signature no longer matches
            encrypt = encrypt[:10] + ("A" if encrypt[10] != "A" else "B") + encrypt[11:]
        elif variant == "bad_ciphertext":  # someone with the token but not the key: signed garbage
            encrypt = base64.b64encode(os.urandom(48)).decode()
            signature = event_signature(self.event_token, str(ts), nonce, encrypt)
        elif variant == "wrong_signature":
            signature = event_signature(self.event_token + "-wrong", str(ts), nonce, encrypt)
        sig_key, ts_key = ("signature", "timeStamp") if old_spelling else ("msg_signature", "timestamp")
        query = {sig_key: signature, ts_key: str(ts), "nonce": nonce}
        return query, json.dumps({"encrypt": encrypt}).encode(), message

    def check_reply(self, resp: requests.Response, elapsed_ms: int) -> bool:
        """True when Tongxin answered like DingTalk requires: encrypted "success", signed, in time."""
        if resp.status_code != 200 or elapsed_ms > REPLY_DEADLINE_MS:
            return False
        try:
            reply = resp.json()
            sig = event_signature(self.event_token, reply["timeStamp"], reply["nonce"], reply["encrypt"])
            if sig != reply["msg_signature"]:
                return False
            return self._crypto().decrypt_encrypt_str(sig, reply["timeStamp"], reply["nonce"], reply["encrypt"]) == "success"
        except Exception:  # noqa: BLE001 - anything else is simply not the answer DingTalk wants
            return False

    def push_event(self, event_type: str, data: dict[str, Any] | None = None, *, target_url: str | None = None,
                   variant: str = "valid", old_spelling: bool = False, timeout: float = 10.0) -> dict[str, Any]:
        """Sign, encrypt and POST one event to Tongxin; report its answer. Never holds the lock
        during the POST."""
        with self.state.lock:
            url = target_url or self.events_url
            if not url:
                raise ValueError("target_url missing and no events_url configured")
            if variant == "replay":
                if self.last_push is None:
                    raise ValueError("nothing to replay yet")
                query, body, message = self.last_push["query"], self.last_push["body"], self.last_push["message"]
                url = target_url or self.last_push["url"]
            else:
                query, body, message = self.build_push(event_type, data, variant=variant, old_spelling=old_spelling)
                self.last_push = {"url": url, "query": query, "body": body, "message": message}
        full = url + ("&" if "?" in url else "?") + urllib.parse.urlencode(query)
        started = time.monotonic()
        resp = requests.post(full, data=body, headers={"Content-Type": "application/json"}, timeout=timeout)
        elapsed_ms = int((time.monotonic() - started) * 1000)
        acknowledged = self.check_reply(resp, elapsed_ms)
        result = {"type": message.get("EventType"), "variant": variant, "status": resp.status_code,
                  "elapsed_ms": elapsed_ms, "acknowledged": acknowledged, "body": resp.text[:2000]}
        with self.state.lock:
            self.events.append(dict(result, time=self.state.now()))
        return result

    def push_change(self, event_type: str, data: dict[str, Any], push: bool | None = None) -> dict[str, Any] | None:
        """Push a change event when an events URL and keys are configured (and ``push`` is not
        False); returns the push's report, or None when nothing was pushed."""
        if push is False or not (self.events_url and self.event_token and self.event_aes_key):
            return None
        try:
            return self.push_event(event_type, data)
        except requests.RequestException as exc:
            return {"type": event_type, "error": f"{type(exc).__name__}"}

    def stats(self) -> dict[str, Any]:
        """Counters: gettoken calls, calls per path, token errors, refusals, members, recent events."""
        with self.state.lock:
            return {"gettoken_calls": self.gettoken_calls, "calls": dict(self.calls),
                    "token_errors": {str(k): v for k, v in self.token_errors.items()},
                    "chat_rejected": dict(self.chat_rejected), "users": len(self.users),
                    "departments": len(self.departments), "token_valid": bool(self.token and self.state.now() < self.token_expires),
                    "events": [dict(e) for e in self.events[-50:]], "top_calls": len(self.top_calls)}


# --------------------------------------------------------------------------- routes


def install_app_routes(app: Flask, fa: FakeApp) -> None:
    """The app side's OpenAPI and its /_fake/ scripting endpoints, on the fake's Flask app."""
    state = fa.state

    def outage() -> Response | None:
        return outage_response(state)

    @app.get("/gettoken")
    def gettoken():
        return outage() or jsonify(fa.gettoken(request.args))

    @app.get("/department/list")
    def department_list():
        return outage() or jsonify(fa.org_call("/department/list", request.args))

    @app.get("/user/list")
    def user_list():
        return outage() or jsonify(fa.org_call("/user/list", request.args))

    @app.get("/user/get")
    def user_get():
        return outage() or jsonify(fa.org_call("/user/get", request.args))

    @app.post("/chat/send")
    def chat_send():
        raw = request.get_data(cache=False)
        failure = outage()
        if failure is not None:
            return failure
        return jsonify(fa.chat_send(request.args, raw))

    @app.post("/router/rest")
    def top_gateway():
        return jsonify(fa.top(request.args))

    @app.post("/v1.0/robot/messageFiles/download")
    def message_file_download():
        def answer():
            base = (getattr(state, "public_base_url", None) or request.host_url).rstrip("/")
            token = request.headers.get("x-acs-dingtalk-access-token")
            status, body = fa.message_file_download(token, request.get_data(cache=False), base)
            return jsonify(body), status

        return outage() or answer()  # an outage answers before the call is looked at

    @app.get("/_fake/files/<link>")
    def message_file(link: str):
        found = fa.linked_file(link)
        if found is None:
            return Response("not found", status=404, mimetype="text/plain")
        return Response(found[0], mimetype=found[1])

    # -- scripting
    @app.post("/_fake/app/token")
    def script_token():
        data = request.get_json(silent=True) or {}
        try:
            fa.script_token(
                expire_now=bool(data.get("expire_now")),
                expire_after_calls=data["expire_after_calls"] if "expire_after_calls" in data else _UNCHANGED,
                reject_next=int(data["reject_next"]) if "reject_next" in data else None,
                errcode=int(data.get("errcode", ERR_TOKEN_UNKNOWN[0])) if "reject_next" in data else ERR_TOKEN_UNKNOWN[0],
                ttl=int(data["ttl"]) if "ttl" in data else None,
            )
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"ok": True})

    @app.get("/_fake/app/stats")
    def app_stats():
        return jsonify(fa.stats())

    @app.post("/_fake/app/config")
    def app_config():
        data = request.get_json(silent=True) or {}
        keys = ("event_token", "event_aes_key", "events_url", "app_qps", "corp_id")
        return jsonify(fa.configure(**{k: data[k] for k in keys if k in data}))

    @app.get("/_fake/org/users")
    def org_users():
        with state.lock:
            return jsonify({"items": [dict(u) for u in fa.users.values()],
                            "departments": [dict(d) for d in fa.departments.values()]})

    @app.post("/_fake/org/departments")
    def org_add_department():
        data = request.get_json(silent=True) or {}
        try:
            d = fa.add_department(str(data.get("name", "")), int(data.get("parentid", 1)), data.get("id"))
        except (ValueError, TypeError) as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify(d), 201

    @app.post("/_fake/org/users")
    def org_add_user():
        data = request.get_json(silent=True) or {}
        try:
            u = fa.add_user(str(data.get("name", "")), str(data.get("mobile", "")), data.get("department"),
                            data.get("userid"))
        except (ValueError, TypeError) as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"user": u, "event": fa.push_change("user_add_org", {"UserId": [u["userid"]]},
                                                            data.get("push"))}), 201

    @app.post("/_fake/org/bulk")
    def org_bulk():
        data = request.get_json(silent=True) or {}
        try:
            for d in data.get("departments") or []:
                fa.add_department(str(d["name"]), int(d.get("parentid", 1)), d.get("id"))
            for u in data.get("users") or []:
                fa.add_user(str(u["name"]), str(u.get("mobile", "")), u.get("department"), u.get("userid"))
        except (ValueError, TypeError, KeyError) as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"users": len(fa.users), "departments": len(fa.departments)})

    @app.post("/_fake/org/users/<userid>")
    def org_change_user(userid: str):
        data = request.get_json(silent=True) or {}
        try:
            u = fa.change_user(userid, name=data.get("name"), mobile=data.get("mobile"), department=data.get("department"))
        except KeyError:
            return jsonify({"error": "unknown user"}), 404
        except (ValueError, TypeError) as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"user": u, "event": fa.push_change("user_modify_org", {"UserId": [userid]}, data.get("push"))})

    @app.delete("/_fake/org/users/<userid>")
    def org_remove_user(userid: str):
        data = request.get_json(silent=True) or {}
        try:
            fa.remove_user(userid)
        except KeyError:
            return jsonify({"error": "unknown user"}), 404
        return jsonify({"ok": True, "event": fa.push_change("user_leave_org", {"UserId": [userid]}, data.get("push"))})

    @app.post("/_fake/chats/<chat_id>/disband")
    def chat_disband(chat_id: str):
        data = request.get_json(silent=True) or {}
        with state.lock:
            group = state.group_by_chat(chat_id)
            if group is None:
                return jsonify({"error": "unknown chat"}), 404
            state.drop_chat(chat_id)
        return jsonify({"ok": True, "event": fa.push_change("chat_disband", {"ChatId": chat_id}, data.get("push"))})

    @app.post("/_fake/events/push")
    def events_push():
        data = request.get_json(silent=True) or {}
        try:
            result = fa.push_event(str(data.get("type") or "check_url"), data.get("data") or {},
                                   target_url=data.get("target_url"), variant=str(data.get("variant") or "valid"),
                                   old_spelling=bool(data.get("old_spelling")))
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        except requests.RequestException as exc:
            return jsonify({"error": f"event POST failed: {type(exc).__name__}"}), 502
        return jsonify(result)

    # -- the page's forms
    def back(msg: str):
        return redirect("/?result=" + urllib.parse.quote(msg) + "#org", code=303)

    @app.post("/_fake/ui/org")
    def ui_org():
        f = request.form
        op = f.get("op")
        try:
            if op == "events_url":
                fa.configure(events_url=(f.get("events_url") or "").strip())
                return back("已保存事件回调地址")
            if op == "check_url":
                r = fa.push_event("check_url")
                return back(f"check_url：同心返回 HTTP {r['status']}，{'已确认' if r['acknowledged'] else '未按要求应答'}")
            if op == "expire_token":
                fa.expire_now()
                return back("访问令牌已过期")
            dept_name = (f.get("dept") or "").strip()
            dept = fa.department_by_name(dept_name) if dept_name else 1
            if dept_name and dept is None:
                dept = fa.add_department(dept_name)["id"]
            if op == "add":
                u = fa.add_user((f.get("name") or "").strip(), (f.get("mobile") or "").strip(), [dept],
                                (f.get("userid") or "").strip() or None)
                ev = fa.push_change("user_add_org", {"UserId": [u["userid"]]}, None)
                return back(f"已添加 {u['name']}（{u['userid']}）" + ("，已推送 user_add_org" if ev else ""))
            if op == "change":
                uid = f.get("userid") or ""
                fa.change_user(uid, name=(f.get("name") or "").strip() or None,
                               mobile=(f.get("mobile") or "").strip() or None,
                               department=[dept] if dept_name else None)
                ev = fa.push_change("user_modify_org", {"UserId": [uid]}, None)
                return back(f"已修改 {uid}" + ("，已推送 user_modify_org" if ev else ""))
            if op == "remove":
                uid = f.get("userid") or ""
                fa.remove_user(uid)
                ev = fa.push_change("user_leave_org", {"UserId": [uid]}, None)
                return back(f"已移除 {uid}" + ("，已推送 user_leave_org" if ev else ""))
        except KeyError:
            return back("没有这个成员")
        except (ValueError, requests.RequestException) as exc:
            return back(f"失败：{exc}")
        return back("未知操作")


def render_app_section(fa: FakeApp, query: str = "") -> str:
    """The page's organisation section: members (searchable), forms, token and events."""
    e = html.escape
    state = fa.state
    with state.lock:
        users = list(fa.users.values())
        depts = {d["id"]: d["name"] for d in fa.departments.values()}
        q = query.strip()
        shown = [u for u in users if not q or q in u["name"] or q in u["mobile"] or q in u["userid"]][:100]
        out = ['<section id="org"><h2>通讯录（应用）</h2>',
               f'<p class="meta">{len(users)} 名成员、{len(depts)} 个部门 · gettoken 调用 {fa.gettoken_calls} 次 · '
               f'令牌{"有效" if fa.token and state.now() < fa.token_expires else "无/已过期"}</p>',
               '<form method="post" action="/_fake/ui/org">事件回调地址：<input type="hidden" name="op" value="events_url">'
               f'<input type="text" name="events_url" value="{e(fa.events_url or "")}" '
               'placeholder="http://127.0.0.1:8000/callbacks/dingtalk/events"> <button>保存</button></form>',
               '<form method="post" action="/_fake/ui/org" class="inline"><input type="hidden" name="op" value="check_url">'
               '<button>推送 check_url</button></form> '
               '<form method="post" action="/_fake/ui/org" class="inline"><input type="hidden" name="op" value="expire_token">'
               '<button>令牌立即过期</button></form>',
               '<h3>添加成员</h3><form method="post" action="/_fake/ui/org"><input type="hidden" name="op" value="add">'
               '姓名 <input name="name" required> 手机 <input name="mobile" required> 部门 <input name="dept" placeholder="部门名称">'
               ' userid <input name="userid" placeholder="可留空"> <button>添加</button></form>',
               '<form method="get" action="/#org">查找 <input name="q" value="' + e(q) + '"> <button>查找</button></form>',
               "<table><tr><th>userid</th><th>姓名</th><th>手机</th><th>部门</th><th>修改</th><th></th></tr>"]
        for u in shown:
            uid = e(u["userid"])
            out.append(
                f"<tr><td>{uid}</td><td>{e(u['name'])}</td><td>{e(u['mobile'])}</td>"
                f"<td>{e('、'.join(depts.get(d, str(d)) for d in u['department']))}</td>"
                '<td><form method="post" action="/_fake/ui/org"><input type="hidden" name="op" value="change">'
                f'<input type="hidden" name="userid" value="{uid}"><input name="name" placeholder="新姓名" size="6">'
                '<input name="mobile" placeholder="新手机" size="11"><input name="dept" placeholder="新部门" size="8">'
                "<button>修改</button></form></td>"
                '<td><form method="post" action="/_fake/ui/org"><input type="hidden" name="op" value="remove">'
                f'<input type="hidden" name="userid" value="{uid}"><button>移除</button></form></td></tr>')
        out.append("</table>")
        if len(shown) < len(users):
            out.append(f'<p class="meta">只显示前 {len(shown)} 名；用“查找”缩小范围。</p>')
        if fa.events:
            out.append("<h3>最近推送的事件</h3><ol reversed>")
            for ev in reversed(fa.events[-20:]):
                out.append(f"<li>{e(str(ev.get('type')))} · {e(str(ev.get('variant')))} · HTTP {ev.get('status')} · "
                           f"{ev.get('elapsed_ms')} 毫秒 · {'已确认' if ev.get('acknowledged') else '未确认'}</li>")
            out.append("</ol>")
        out.append("</section>")
    return "".join(out)


def org_from_roster(fa: FakeApp, path: str) -> int:
    """Members from an import-org CSV: each named official with a mobile, in a department per
    township (the demo's organisation). Returns how many members were added."""
    added = 0
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            name = (row.get("official_name") or "").strip()
            mobile = (row.get("mobile") or "").strip()
            if not name or not mobile:
                continue
            dept_name = (row.get("township") or "").strip() or "未分组"
            dept = fa.department_by_name(dept_name) or fa.add_department(dept_name)["id"]
            uid = (row.get("dingtalk_user_id") or "").strip() or None
            if uid and uid in fa.users:
                continue
            fa.add_user(name, mobile, [dept], uid)
            added += 1
    return added
