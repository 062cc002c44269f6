"""A faithful local fake of DingTalk's robot side, served over real HTTP (PLATFORMS §7).

It enforces what shapes our design: unknown tokens (300001), 加签 with a ±1 h window
(310000 invalid timestamp / sign not match), optional keywords (310000), exact camelCase
message bodies (40035 otherwise), 20 messages per sliding minute per robot then a 10-minute
block (130101, optionally HTTP 302), ``msgUuid`` idempotency, and ``sessionWebhook`` replies
that expire after 90 minutes (300001 "session 不存在"). It also plays the other direction:
``POST /_fake/callback`` signs an @robot message with the AppSecret and POSTs it to Tongxin.

Scripting endpoints live under ``/_fake/`` (groups, outage, clock, stats, callback, config,
reset); ``GET /`` is a Chinese HTML page showing what each group received, with a form per
group to send a command as one of its members. Tests and ``make demo`` both use it:
``python -m bridges.fakes.dingtalk --port 9102 --tongxin-config tongxin.toml``.

The app side (:mod:`bridges.fakes.dingtalk_app`: ``gettoken``, the organisation's departments
and members, ``chat/send`` into groups that have a ``chat_id``, signed and encrypted event
pushes, and a page section to add, change and remove members) is a component of this state
(``state.app``) and served by the same server.

Public seeding and inspection API (the demo and tests use only this): on
:class:`FakeDingtalkState` — ``add_group`` / ``add_groups``, ``messages``, ``stats``,
``set_outage`` / ``current_outage``, ``advance``, ``configure``, ``build_callback`` /
``deliver_callback``, ``reset``; on ``state.app`` see :class:`~bridges.fakes.dingtalk_app.FakeApp`;
and the loaders ``groups_from_file``, ``groups_from_tongxin_config``, ``add_roster_members``.
"""
from __future__ import annotations

import argparse
import base64
import bisect
import csv
import hashlib
import hmac
import html
import json
import os
import secrets
import threading
import time
import tomllib
import urllib.parse
from collections import Counter
from collections import deque
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Any
from typing import Callable
from typing import Mapping
from zoneinfo import ZoneInfo

import requests
from flask import Flask
from flask import Response
from flask import jsonify
from flask import redirect
from flask import request
from markdown_it import MarkdownIt

from bridges.fakes.dingtalk_app import FakeApp
from bridges.fakes.dingtalk_app import install_app_routes
from bridges.fakes.dingtalk_app import org_from_roster
from bridges.fakes.dingtalk_app import outage_response
from bridges.fakes.dingtalk_app import render_app_section
from bridges.fakes.serve import serve_standalone

#: DingTalk accepts a signed timestamp within one hour of its own clock, both ways (PLATFORMS §1.2).
WINDOW_MS = 3_600_000
#: Robot rate limit: N messages in any 60 s, then blocked (PLATFORMS §1.5).
WINDOW_SECONDS = 60.0
BLOCK_SECONDS = 600.0
#: sessionWebhookExpiredTime − createAt in the official example (≈ 90 minutes).
SESSION_TTL_MS = 5_400_000
#: Bodies this large are refused (the real limit is UNCONFIRMED; legacy markdown failed above 5000 chars).
MAX_CONTENT_CHARS = 5000

ERR_TOKEN = (300001, "token is not exist")
ERR_SESSION = (300001, "session 不存在")
ERR_TIMESTAMP = (310000, "invalid timestamp")
ERR_SIGN = (310000, "sign not match")
ERR_KEYWORDS = (310000, "keywords not in content")
ERR_TOO_FAST = (130101, "send too fast, exceed 20 times per minute")
ERR_PARAM = 40035

# Exact keys of each webhook message type: required and optional (PLATFORMS §1.3).
_SHAPES: dict[str, tuple[set[str], set[str]]] = {
    "text": ({"content"}, set()),
    "link": ({"title", "text", "messageUrl"}, {"picUrl"}),
    "markdown": ({"title", "text"}, set()),
    "actionCard": ({"title", "text"}, {"singleTitle", "singleURL", "btnOrientation", "hideAvatar", "btns"}),
    "feedCard": (set(), {"links"}),  # a list, checked below
}
_AT_KEYS = {"atMobiles", "atUserIds", "isAtAll", "atDingtalkIds"}


# --------------------------------------------------------------------------- state


def platform_sign(secret: str, timestamp_ms: int | str) -> str:
    """DingTalk's 加签: Base64(HMAC-SHA256(key=secret, msg=f"{ts}\\n{secret}")), not URL-encoded.

    Written here from the platform's documentation rather than imported from our client, so
    that a mistake in the client's signing fails against the fake instead of being mirrored.
    """
    message = f"{timestamp_ms}\n{secret}".encode("utf-8")
    return base64.b64encode(hmac.new(secret.encode("utf-8"), message, hashlib.sha256).digest()).decode("ascii")


@dataclass
class _Limiter:
    """Sliding-window counter with a block, one per robot (and one per session)."""

    limit: int
    window: deque = field(default_factory=deque)
    blocked_until: float | None = None

    def admit(self, now: float, block_seconds: float) -> str:
        """'ok', 'tripped' (this request crossed the limit) or 'blocked'."""
        if self.blocked_until is not None:
            if now < self.blocked_until:
                return "blocked"
            self.blocked_until = None
            self.window.clear()
        while self.window and self.window[0] <= now - WINDOW_SECONDS:
            self.window.popleft()
        if len(self.window) >= self.limit:
            self.blocked_until = now + block_seconds
            return "tripped"
        self.window.append(now)
        return "ok"


@dataclass
class FakeGroup:
    """A DingTalk group: its custom robot (token, 加签 secret, keywords), members and what it received."""

    conversation_id: str
    title: str
    access_token: str
    secret: str | None
    members: list[dict[str, str]]
    keywords: list[str]
    limiter: _Limiter
    messages: list[dict[str, Any]] = field(default_factory=list)
    uuids: set[str] = field(default_factory=set)
    accepted_times: list[float] = field(default_factory=list)
    accepted: int = 0
    via_session: int = 0
    deduplicated: int = 0
    rejected: Counter = field(default_factory=Counter)
    max_in_60s: int = 0
    # A group the app created: chat.send reaches it by this id (fake_app).
    chat_id: str | None = None
    app_accepted: int = 0
    app_times: list[float] = field(default_factory=list)
    app_max_in_60s: int = 0

    def member(self, staff_id: str | None) -> dict[str, str] | None:
        """The member with this staff id, or None."""
        return next((m for m in self.members if m.get("staff_id") == staff_id), None)


@dataclass
class RobotSession:
    """A ``sessionWebhook`` opened by an @robot callback: where replies go until it expires."""

    session_id: str
    conversation_id: str
    staff_id: str | None
    expires_ms: int
    limiter: _Limiter


class FakeDingtalkState:
    """Everything the fake knows; every mutation happens under ``lock``."""

    def __init__(
        self,
        *,
        app_key: str,
        app_secret: str,
        clock: Callable[[], float] = time.time,
        rate_limit_per_minute: int = 20,
        block_seconds: float = BLOCK_SECONDS,
        block_http_302: bool = False,
        callback_url: str | None = None,
    ):
        self.app_key = app_key
        self.app_secret = app_secret
        self.clock = clock
        self.rate_limit_per_minute = rate_limit_per_minute
        self.block_seconds = block_seconds
        self.block_http_302 = block_http_302
        self.callback_url = callback_url
        # Where Tongxin reaches this fake (for sessionWebhook URLs); default: the request's host.
        self.public_base_url: str | None = None
        self.lock = threading.RLock()
        self.offset_seconds = 0.0
        self.groups: dict[str, FakeGroup] = {}
        self._by_token: dict[str, str] = {}
        self.sessions: dict[str, RobotSession] = {}
        self.unknown_token = 0
        self._seq = 0
        self._last_create_at = 0
        self._outage: dict[str, Any] | None = None
        self._outage_wake = threading.Event()
        self._by_chat: dict[str, str] = {}
        self.app = FakeApp(self)  # the app side: gettoken, the organisation, chat/send, event pushes

    # -- time
    def now(self) -> float:
        """The fake's clock in seconds: the injected clock plus every /_fake/clock advance."""
        return self.clock() + self.offset_seconds

    def now_ms(self) -> int:
        """The fake's clock in milliseconds."""
        return int(self.now() * 1000)

    def advance(self, seconds: float) -> float:
        """Move the fake's clock forward by ``seconds``; returns the new time."""
        with self.lock:
            self.offset_seconds += float(seconds)
            return self.now()

    # -- groups
    def add_group(
        self,
        conversation_id: str,
        title: str,
        access_token: str,
        secret: str | None,
        members: list[dict[str, str]] | None = None,
        keywords: list[str] | None = None,
        chat_id: str | None = None,
    ) -> FakeGroup:
        """Register a group and its custom robot (sign mode when ``secret`` is set).

        A group the app created names its ``chat_id`` (``chat/send`` reaches it); it may then
        have no robot at all (``access_token`` empty).
        """
        if not conversation_id or not (access_token or chat_id):
            raise ValueError("conversation_id and access_token are required")
        if access_token and not secret and not keywords:
            raise ValueError("a robot needs a security setting: secret (加签) or keywords")
        clean = [
            {"staff_id": str(m["staff_id"]), "name": str(m.get("name") or m["staff_id"]), "mobile": str(m.get("mobile") or "")}
            for m in (members or [])
        ]
        with self.lock:
            other = self._by_token.get(access_token) if access_token else None
            if other is not None and other != conversation_id:
                raise ValueError(f"access_token already used by group {other}")
            other = self._by_chat.get(chat_id) if chat_id else None
            if other is not None and other != conversation_id:
                raise ValueError(f"chat_id already used by group {other}")
            old = self.groups.get(conversation_id)
            if old is not None:
                self._by_token.pop(old.access_token, None)
                if old.chat_id:
                    self._by_chat.pop(old.chat_id, None)
            group = FakeGroup(
                conversation_id, title, access_token, secret or None, clean, list(keywords or []),
                _Limiter(self.rate_limit_per_minute), chat_id=chat_id or None,
            )
            if old is not None:  # re-registering keeps what the group already received
                group.messages, group.uuids = old.messages, old.uuids
            self.groups[conversation_id] = group
            if access_token:
                self._by_token[access_token] = conversation_id
            if chat_id:
                self._by_chat[chat_id] = conversation_id
            return group

    def add_groups(self, specs: list[dict[str, Any]], *, title_suffix: str = "") -> int:
        """Add the groups of :func:`groups_from_file` / :func:`groups_from_tongxin_config`
        (``title_suffix`` appended to each title); returns how many."""
        for g in specs:
            self.add_group(g["conversation_id"], g.get("title", "") + title_suffix, g.get("access_token", ""),
                           g.get("secret"), g.get("members") or [], g.get("keywords"), g.get("chat_id"))
        return len(specs)

    def group_by_chat(self, chat_id: str) -> FakeGroup | None:
        """The group the app created with this ``chat_id``, or None."""
        with self.lock:
            cid = self._by_chat.get(chat_id)
            return self.groups.get(cid) if cid else None

    def drop_chat(self, chat_id: str) -> None:
        """The app's group was disbanded: chat/send to it answers 34013 from now on."""
        with self.lock:
            cid = self._by_chat.pop(chat_id, None)
            if cid and cid in self.groups:
                self.groups[cid].chat_id = None

    def record_app_message(self, group: FakeGroup, body: dict[str, Any], title: str, text: str,
                           message_id: str, now: float) -> None:
        """A chat/send message shown in ``group`` (called by fake_app under the lock)."""
        self._seq += 1
        group.messages.append({
            "id": self._seq, "conversation_id": group.conversation_id, "via": "app", "time": now,
            "msgtype": body["msgtype"], "title": title, "text": text, "payload": body, "msg_uuid": None,
            "message_id": message_id, "at_mobiles": [], "at_user_ids": [], "is_at_all": False,
            "rendered_mentions": [], "reply_to_staff_id": None,
        })
        group.app_accepted += 1
        group.app_times.append(now)
        lo = bisect.bisect_right(group.app_times, now - WINDOW_SECONDS)
        group.app_max_in_60s = max(group.app_max_in_60s, len(group.app_times) - lo)

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        """A copy of what the group received, oldest first."""
        with self.lock:
            return [dict(m) for m in self.groups[conversation_id].messages]

    def reset(self, *, full: bool = False) -> None:
        """Forget messages, stats, blocks, sessions and outages; keep groups, clock and config.

        ``full`` also forgets the groups, the clock advances and the /_fake/config settings
        (a test server shared by many tests starts each test from this).
        """
        with self.lock:
            self.app.reset(full)
            if full:
                self.groups.clear()
                self._by_token.clear()
                self._by_chat.clear()
                self.offset_seconds = 0.0
                self.callback_url = None
                self.public_base_url = None
                self.block_http_302 = False
            for g in self.groups.values():
                g.messages.clear()
                g.uuids.clear()
                g.accepted_times.clear()
                g.accepted = g.via_session = g.deduplicated = g.max_in_60s = 0
                g.app_accepted = g.app_max_in_60s = 0
                g.app_times.clear()
                g.rejected.clear()
                g.limiter = _Limiter(self.rate_limit_per_minute)
            self.sessions.clear()
            self.unknown_token = 0
            self.set_outage("off")

    # -- outages
    def set_outage(self, mode: str, count: int | None = None, seconds: float | None = None) -> None:
        """``error500`` / ``timeout`` for the next ``count`` sends (all until ``off`` when None).

        ``timeout`` holds each request ``seconds`` (default 3) and then processes it normally,
        as a slow platform would: the message may arrive although the client gave up.
        """
        if mode not in ("error500", "timeout", "off"):
            raise ValueError("mode must be error500, timeout or off")
        with self.lock:
            self._outage_wake.set()  # release requests held by a previous timeout outage
            self._outage_wake = threading.Event()
            self._outage = None if mode == "off" else {"mode": mode, "count": count, "seconds": 3.0 if seconds is None else float(seconds)}

    def take_outage(self) -> tuple[str, float, threading.Event] | None:
        """Use up one scripted outage for a platform call: (mode, seconds, wake event), or None."""
        with self.lock:
            o = self._outage
            if o is None:
                return None
            if o["count"] is not None:
                o["count"] -= 1
                if o["count"] <= 0:
                    self._outage = None
            return o["mode"], o["seconds"], self._outage_wake

    def current_outage(self) -> dict[str, Any] | None:
        """The scripted outage still in force (``mode``, ``count`` left or None, ``seconds``), or None."""
        with self.lock:
            return None if self._outage is None else dict(self._outage)

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Set any of ``callback_url``, ``public_base_url`` (falsy: None) and ``block_http_302``;
        returns the resulting configuration."""
        with self.lock:
            if "callback_url" in settings:
                self.callback_url = settings["callback_url"] or None
            if "public_base_url" in settings:
                self.public_base_url = settings["public_base_url"] or None
            if "block_http_302" in settings:
                self.block_http_302 = bool(settings["block_http_302"])
            return {"callback_url": self.callback_url, "public_base_url": self.public_base_url,
                    "block_http_302": self.block_http_302}

    # -- stats
    def stats(self) -> dict[str, Any]:
        """Per robot: accepted, replies, duplicates, refusals by errcode, peak per minute, block."""
        with self.lock:
            return {
                "now": self.now(),
                "unknown_token": self.unknown_token,
                "robots": {
                    cid: {
                        "title": g.title,
                        "accepted": g.accepted,
                        "via_session": g.via_session,
                        "deduplicated": g.deduplicated,
                        "rejected": {str(k): v for k, v in sorted(g.rejected.items(), key=lambda kv: str(kv[0]))},
                        "max_in_60s": g.max_in_60s,
                        "app_accepted": g.app_accepted,
                        "app_max_in_60s": g.app_max_in_60s,
                        "blocked_until": g.limiter.blocked_until if g.limiter.blocked_until and g.limiter.blocked_until > self.now() else None,
                    }
                    for cid, g in self.groups.items()
                },
            }

    # -- the robot API
    def robot_send(self, args: Mapping[str, str], raw_body: bytes) -> tuple[int, dict[str, Any]]:
        """Handle POST /robot/send; returns (HTTP status, JSON answer)."""
        with self.lock:
            cid = self._by_token.get(args.get("access_token") or "")
            if cid is None:
                self.unknown_token += 1
                return 200, _err(*ERR_TOKEN)
            group = self.groups[cid]
            now = self.now()
            if group.secret:
                problem = self._check_sign(group.secret, args.get("timestamp"), args.get("sign"))
                if problem:
                    return self._reject(group, problem)
            verdict = group.limiter.admit(now, self.block_seconds)
            if verdict == "blocked":
                group.rejected["130101" if not self.block_http_302 else "http_302"] += 1
                if self.block_http_302:
                    return 302, {}
                return 200, _err(*ERR_TOO_FAST)
            if verdict == "tripped":
                return self._reject(group, ERR_TOO_FAST)
            body, problem = parse_robot_message(raw_body)
            if problem:
                return self._reject(group, (ERR_PARAM, problem))
            if group.keywords and not any(k in _display_text(body) for k in group.keywords):
                return self._reject(group, ERR_KEYWORDS)
            uuid = body.get("msgUuid")
            if uuid:
                if uuid in group.uuids:
                    group.deduplicated += 1
                    return 200, {"errcode": 0, "errmsg": "ok"}
                group.uuids.add(uuid)
            self._record(group, body, via="robot", now=now)
            group.accepted += 1
            group.accepted_times.append(now)
            lo = bisect.bisect_right(group.accepted_times, now - WINDOW_SECONDS)
            group.max_in_60s = max(group.max_in_60s, len(group.accepted_times) - lo)
            return 200, {"errcode": 0, "errmsg": "ok"}

    def session_send(self, session_id: str | None, raw_body: bytes) -> tuple[int, dict[str, Any]]:
        """Handle POST /robot/sendBySession?session=…; returns (HTTP status, JSON answer)."""
        with self.lock:
            sess = self.sessions.get(session_id or "")
            if sess is None or self.now_ms() > sess.expires_ms:
                return 200, _err(*ERR_SESSION)
            group = self.groups[sess.conversation_id]
            # The 20/min limit for sessionWebhook is UNCONFIRMED; applied per session to be safe.
            verdict = sess.limiter.admit(self.now(), self.block_seconds)
            if verdict != "ok":
                group.rejected["session_130101"] += 1
                return 200, _err(*ERR_TOO_FAST)
            body, problem = parse_robot_message(raw_body)
            if problem:
                group.rejected[f"session_{ERR_PARAM}"] += 1
                return 200, _err(ERR_PARAM, problem)
            self._record(group, body, via="session", now=self.now(), reply_to=sess.staff_id)
            group.via_session += 1
            return 200, {"errcode": 0, "errmsg": "ok"}

    def _check_sign(self, secret: str, timestamp: str | None, sign: str | None) -> tuple[int, str] | None:
        if not timestamp or not (timestamp.isascii() and timestamp.isdigit()):
            return ERR_TIMESTAMP
        if abs(self.now_ms() - int(timestamp)) > WINDOW_MS:
            return ERR_TIMESTAMP
        # Flask has already URL-decoded ``sign``; what remains must be the raw Base64 value.
        expected = platform_sign(secret, int(timestamp))
        if not sign or not secrets.compare_digest(expected.encode(), sign.encode("utf-8", "replace")):
            return ERR_SIGN
        return None

    def _reject(self, group: FakeGroup, err: tuple[int, str]) -> tuple[int, dict[str, Any]]:
        group.rejected[str(err[0])] += 1
        return 200, _err(*err)

    def _record(self, group: FakeGroup, body: dict[str, Any], *, via: str, now: float, reply_to: str | None = None) -> None:
        self._seq += 1
        at = body.get("at") or {}
        text = _display_text(body)
        mobiles = list(at.get("atMobiles") or [])
        group.messages.append(
            {
                "id": self._seq,
                "conversation_id": group.conversation_id,
                "via": via,
                "time": now,
                "msgtype": body["msgtype"],
                "title": (body.get(body["msgtype"]) or {}).get("title", ""),
                "text": text,
                "payload": body,
                "msg_uuid": body.get("msgUuid"),
                "at_mobiles": mobiles,
                "at_user_ids": list(at.get("atUserIds") or []),
                "is_at_all": bool(at.get("isAtAll")),
                # Mentions DingTalk would highlight: listed in atMobiles AND written as @mobile.
                "rendered_mentions": [m for m in mobiles if f"@{m}" in text],
                "reply_to_staff_id": reply_to,
            }
        )

    # -- the callback direction
    def open_session(self, conversation_id: str, staff_id: str | None, create_at_ms: int) -> RobotSession:
        """Open a sessionWebhook for a reply to ``staff_id`` in the group (90 minutes from ``create_at_ms``)."""
        with self.lock:
            sid = secrets.token_urlsafe(18)
            sess = RobotSession(sid, conversation_id, staff_id, create_at_ms + SESSION_TTL_MS, _Limiter(self.rate_limit_per_minute))
            self.sessions[sid] = sess
            return sess

    def build_callback(
        self,
        *,
        conversation_id: str,
        staff_id: str | None,
        text: str,
        base_url: str,
        msg_id: str | None = None,
        timestamp_offset_ms: int = 0,
        tamper: bool = False,
        sender_nick: str | None = None,
        pictures: list[bytes] | None = None,
    ) -> tuple[dict[str, str], bytes, dict[str, Any]]:
        """The headers, body bytes and payload of an @robot message (PLATFORMS §2.1).

        With ``pictures``, a ``picture`` message (no text) or a ``richText`` one (text and
        pictures); each picture is kept for ``/v1.0/robot/messageFiles/download``.
        """
        codes = [self.app.add_message_file(p) for p in pictures or []]
        with self.lock:
            group = self.groups.get(conversation_id)
            if group is None:
                raise KeyError(conversation_id)
            member = group.member(staff_id)
            # Two messages never share a millisecond here (a test clock may stand still), so
            # each callback's timestamp/sign pair is its own, as with the real platform.
            create_at = max(self.now_ms(), self._last_create_at + 1)
            self._last_create_at = create_at
            sess = self.open_session(conversation_id, staff_id, create_at)
        corp = "ding" + hashlib.sha1(self.app_key.encode()).hexdigest()[:16]
        bot_id = "$:LWCP_v1:$" + hashlib.sha1(("bot" + self.app_key).encode()).hexdigest()[:24]
        payload: dict[str, Any] = {
            "msgtype": "text",
            "text": {"content": " " + text},  # DingTalk keeps the space after the @robot
            "msgId": msg_id or "msg" + secrets.token_hex(12),
            "createAt": create_at,
            "conversationType": "2",
            "conversationId": conversation_id,
            "conversationTitle": group.title,
            "senderId": "$:LWCP_v1:$" + hashlib.sha1(str(staff_id).encode()).hexdigest()[:24],
            "senderNick": sender_nick or (member or {}).get("name") or (staff_id or "外部联系人"),
            "senderCorpId": corp,
            "chatbotCorpId": corp,
            "chatbotUserId": bot_id,
            "robotCode": self.app_key,
            "isAdmin": False,
            "isInAtList": True,
            "atUsers": [{"dingtalkId": bot_id}],
            "sessionWebhook": f"{base_url.rstrip('/')}/robot/sendBySession?session={sess.session_id}",
            "sessionWebhookExpiredTime": sess.expires_ms,
        }
        if staff_id:  # only users of the same organisation carry a staff id
            payload["senderStaffId"] = staff_id
        if codes and not text.strip() and len(codes) == 1:
            del payload["text"]
            payload["msgtype"] = "picture"
            payload["content"] = {"downloadCode": codes[0], "pictureDownloadCode": codes[0]}
        elif codes:
            del payload["text"]
            payload["msgtype"] = "richText"
            parts: list[dict[str, Any]] = [{"text": " " + text}] if text.strip() else []
            parts += [{"type": "picture", "downloadCode": c, "pictureDownloadCode": c} for c in codes]
            payload["content"] = {"richText": parts}
        ts = str(create_at + int(timestamp_offset_ms))
        sign = platform_sign(self.app_secret, int(ts))
        if tamper:
            sign = platform_sign(self.app_secret + "-tampered", int(ts))
        headers = {"Content-Type": "application/json; charset=utf-8", "timestamp": ts, "sign": sign}
        return headers, json.dumps(payload, ensure_ascii=False).encode("utf-8"), payload

    def deliver_callback(self, target_url: str, base_url: str, timeout: float = 10.0, **kwargs: Any) -> dict[str, Any]:
        """Build an @robot message, POST it to ``target_url`` and report Tongxin's answer."""
        headers, body, payload = self.build_callback(base_url=base_url, **kwargs)
        # Never hold the lock here: Tongxin answers through sessionWebhook while we wait.
        resp = requests.post(target_url, data=body, headers=headers, timeout=timeout)
        try:
            answer_json = resp.json()
        except ValueError:
            answer_json = None
        return {
            "status": resp.status_code,
            "body": resp.text[:10_000],
            "json": answer_json,
            "msg_id": payload["msgId"],
            "session_webhook": payload["sessionWebhook"],
            "payload": payload,
        }


# --------------------------------------------------------------------------- message checks


def _err(code: int, msg: str) -> dict[str, Any]:
    return {"errcode": code, "errmsg": msg}


def _display_text(body: dict[str, Any]) -> str:
    """The human-visible text of a message, for keywords, mentions and the HTML page."""
    mt = body.get("msgtype")
    inner = body.get(mt) if isinstance(mt, str) else None
    if not isinstance(inner, dict):
        return ""
    if mt == "text":
        return str(inner.get("content", ""))
    if mt == "feedCard":
        return "\n".join(str(x.get("title", "")) for x in inner.get("links", []) if isinstance(x, dict))
    parts = [str(inner.get("title", "")), str(inner.get("text", ""))]
    if mt == "actionCard":
        if inner.get("singleTitle"):
            parts.append(f"[{inner['singleTitle']}]({inner.get('singleURL', '')})")
        for b in inner.get("btns") or []:
            if isinstance(b, dict):
                parts.append(f"[{b.get('title', '')}]({b.get('actionURL', '')})")
    if mt == "link":
        parts.append(str(inner.get("messageUrl", "")))
    return "\n".join(parts)


def _check_keys(obj: Any, required: set[str], optional: set[str], where: str) -> str | None:
    if not isinstance(obj, dict):
        return f"{where} must be an object"
    missing = required - obj.keys()
    if missing:
        return f"{where} missing {sorted(missing)}"
    unknown = obj.keys() - required - optional
    if unknown:
        return f"{where} has unknown keys {sorted(unknown)}"
    for k in required:
        if not isinstance(obj[k], str) or not obj[k]:
            return f"{where}.{k} must be a non-empty string"
    return None


def parse_robot_message(raw: bytes) -> tuple[dict[str, Any], str | None]:
    """(body, None) for a valid webhook message, or ({}, reason) — reason becomes errmsg."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return {}, "缺少参数 json"
    if not isinstance(body, dict):
        return {}, "缺少参数 json"
    mt = body.get("msgtype")
    if mt not in _SHAPES:
        return {}, f"不支持的 msgtype: {mt!r}"
    extra = body.keys() - {"msgtype", mt, "at", "msgUuid"}
    if extra:  # e.g. "action_card" next to msgtype "actionCard"
        return {}, f"不合法的参数: unknown keys {sorted(extra)}"
    if "msgUuid" in body and not isinstance(body["msgUuid"], str):
        return {}, "不合法的参数: msgUuid must be a string"
    required, optional = _SHAPES[mt]
    inner = body.get(mt)
    problem = _check_keys(inner, required, optional, mt)
    if problem:
        return {}, f"不合法的参数: {problem}"
    if mt == "actionCard":
        single = "singleTitle" in inner or "singleURL" in inner
        if single and not (isinstance(inner.get("singleTitle"), str) and isinstance(inner.get("singleURL"), str)):
            return {}, "不合法的参数: actionCard needs both singleTitle and singleURL"
        if not single:
            btns = inner.get("btns")
            if not isinstance(btns, list) or not btns:
                return {}, "不合法的参数: actionCard needs singleTitle+singleURL or btns"
            for i, b in enumerate(btns):
                problem = _check_keys(b, {"title", "actionURL"}, set(), f"actionCard.btns[{i}]")
                if problem:
                    return {}, f"不合法的参数: {problem}"
    if mt == "feedCard":
        links = inner["links"] if isinstance(inner.get("links"), list) else None
        if not links:
            return {}, "不合法的参数: feedCard.links must be a non-empty list"
        for i, link in enumerate(links):
            problem = _check_keys(link, {"title", "messageURL"}, {"picURL"}, f"feedCard.links[{i}]")
            if problem:
                return {}, f"不合法的参数: {problem}"
    for key in ("content", "text"):
        if isinstance(inner.get(key), str) and len(inner[key]) > MAX_CONTENT_CHARS:
            return {}, f"不合法的参数: {mt}.{key} longer than {MAX_CONTENT_CHARS}"
    at = body.get("at", {})
    if not isinstance(at, dict) or at.keys() - _AT_KEYS:
        return {}, f"不合法的参数: at has unknown keys {sorted(at.keys() - _AT_KEYS) if isinstance(at, dict) else at!r}"
    for key in ("atMobiles", "atUserIds", "atDingtalkIds"):
        if key in at and not (isinstance(at[key], list) and all(isinstance(x, str) for x in at[key])):
            return {}, f"不合法的参数: at.{key} must be a list of strings"
    if "isAtAll" in at and not isinstance(at["isAtAll"], bool):
        return {}, "不合法的参数: at.isAtAll must be a boolean"
    return body, None


# --------------------------------------------------------------------------- Flask app


def create_fake_dingtalk(
    *,
    app_key: str,
    app_secret: str,
    clock: Callable[[], float] = time.time,
    rate_limit_per_minute: int = 20,
    block_http_302: bool = False,
    callback_url: str | None = None,
) -> Flask:
    """The fake as a Flask app; its state is ``app.extensions["fake_dingtalk"]``."""
    app = Flask(__name__)
    state = FakeDingtalkState(
        app_key=app_key, app_secret=app_secret, clock=clock, rate_limit_per_minute=rate_limit_per_minute,
        block_http_302=block_http_302, callback_url=callback_url,
    )
    app.extensions["fake_dingtalk"] = state
    install_app_routes(app, state.app)  # the app side: gettoken, organisation, chat/send, events

    def own_base_url() -> str:
        return (state.public_base_url or request.host_url).rstrip("/")

    @app.post("/robot/send")
    def robot_send():
        raw = request.get_data(cache=False)
        failure = outage_response(state)
        if failure is not None:
            return failure
        status, answer = state.robot_send(request.args, raw)
        if status == 302:
            return redirect("/_fake/blocked", code=302)
        return jsonify(answer), status

    @app.post("/robot/sendBySession")
    def robot_send_by_session():
        raw = request.get_data(cache=False)
        failure = outage_response(state)
        if failure is not None:
            return failure
        status, answer = state.session_send(request.args.get("session"), raw)
        return jsonify(answer), status

    @app.get("/_fake/blocked")
    def blocked():
        return Response("blocked", mimetype="text/plain")

    @app.get("/_fake/groups")
    def list_groups():
        with state.lock:
            items = [
                {"conversation_id": g.conversation_id, "title": g.title, "members": g.members, "messages": len(g.messages)}
                for g in state.groups.values()
            ]
        return jsonify({"items": items})

    @app.post("/_fake/groups")
    def post_group():
        data = request.get_json(silent=True) or {}
        try:
            state.add_group(
                data.get("conversation_id", ""), data.get("title", ""), data.get("access_token", ""),
                data.get("secret"), data.get("members") or [], data.get("keywords"), data.get("chat_id"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"ok": True}), 201

    @app.get("/_fake/groups/<cid>/messages")
    def group_messages(cid: str):
        if cid not in state.groups:
            return jsonify({"error": "unknown group"}), 404
        return jsonify({"items": state.messages(cid)})

    @app.get("/_fake/stats")
    def stats():
        return jsonify(state.stats())

    @app.post("/_fake/outage")
    def outage():
        data = request.get_json(silent=True) or {}
        try:
            state.set_outage(str(data.get("mode")), data.get("count"), data.get("seconds"))
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify({"ok": True})

    @app.post("/_fake/clock")
    def clock_route():
        data = request.get_json(silent=True) or {}
        try:
            now = state.advance(float(data.get("advance_seconds", 0)))
        except (TypeError, ValueError):
            return jsonify({"error": "advance_seconds must be a number"}), 400
        return jsonify({"now": now, "now_ms": int(now * 1000)})

    @app.post("/_fake/config")
    def config():
        data = request.get_json(silent=True) or {}
        keys = ("callback_url", "public_base_url", "block_http_302")
        return jsonify(state.configure(**{k: data[k] for k in keys if k in data}))

    @app.post("/_fake/reset")
    def reset():
        state.reset(full=bool((request.get_json(silent=True) or {}).get("full")))
        return jsonify({"ok": True})

    @app.post("/_fake/callback")
    def fake_callback():
        data = request.get_json(silent=True) or {}
        target = data.get("target_url") or state.callback_url
        if not target:
            return jsonify({"error": "target_url missing and no callback_url configured"}), 400
        if data.get("conversation_id") not in state.groups:
            return jsonify({"error": "unknown conversation_id"}), 404
        try:
            result = state.deliver_callback(
                target, own_base_url(),
                conversation_id=data["conversation_id"], staff_id=data.get("staff_id"),
                text=str(data.get("text", "")), msg_id=data.get("msg_id"),
                timestamp_offset_ms=int(data.get("timestamp_offset_ms") or 0), tamper=bool(data.get("tamper")),
                sender_nick=data.get("sender_nick"),
                pictures=[base64.b64decode(p) for p in data.get("pictures_b64") or []],
            )
        except requests.RequestException as exc:
            return jsonify({"error": f"callback POST failed: {type(exc).__name__}: {exc}"}), 502
        return jsonify(result)

    # -- the HTML page
    @app.get("/")
    def index():
        return Response(_render_page(state, request.args.get("result"), request.args.get("auto"),
                                     request.args.get("q", "")), mimetype="text/html")

    @app.post("/_fake/ui/config")
    def ui_config():
        state.configure(callback_url=(request.form.get("callback_url") or "").strip())
        return redirect("/?result=" + urllib.parse.quote("已保存回调地址"), code=303)

    @app.post("/_fake/ui/callback")
    def ui_callback():
        cid = request.form.get("conversation_id", "")
        text = (request.form.get("text") or "").strip()
        if not state.callback_url:
            msg = "未配置同心回调地址（页面顶部填写）"
        elif cid not in state.groups or not text:
            msg = "请选择群并输入指令"
        else:
            try:
                r = state.deliver_callback(
                    state.callback_url, own_base_url(), conversation_id=cid,
                    staff_id=request.form.get("staff_id") or None, text=text,
                )
                msg = f"已发送「{text}」，同心返回 HTTP {r['status']}"
            except requests.RequestException as exc:
                msg = f"发送失败：{type(exc).__name__}"
        anchor = "#g-" + urllib.parse.quote(cid)
        return redirect("/?result=" + urllib.parse.quote(msg) + anchor, code=303)

    return app


_PAGE_STYLE = """
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:1.5em;background:#f5f6f7;color:#222}
section{background:#fff;border-radius:8px;padding:1em;margin:1em 0;box-shadow:0 1px 3px #0002}
pre{white-space:pre-wrap;word-break:break-all;background:#f0f4ff;padding:.6em;border-radius:4px;margin:.3em 0}
.meta{color:#666;font-size:.85em}.flash{background:#fff6d5;padding:.5em;border-radius:4px}
small{color:#888}input[type=text]{width:28em}
.md{background:#f0f4ff;padding:.2em .8em;border-radius:4px;margin:.3em 0;overflow-wrap:anywhere}
.md img{max-width:240px}.md h1,.md h2,.md h3,.md h4,.md h5,.md h6{margin:.4em 0}.btns a{margin-right:1em}
"""

# The county's time, whatever the machine's zone: DingTalk shows Beijing time to its users.
BEIJING = ZoneInfo("Asia/Shanghai")

# Markdown as the DingTalk client shows it: headings, bold, italics, quotes, lists, links and
# images; a line break is a break; raw HTML is shown as text and only http(s) links are links.
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True})


def _fmt_time(t: float) -> str:
    return datetime.fromtimestamp(t, BEIJING).strftime("%Y-%m-%d %H:%M:%S")


def render_markdown(text: str) -> str:
    """``text`` (a markdown or actionCard message's body) as safe HTML, as the client renders it."""
    return _MARKDOWN.render(text)


def _message_html(msg: dict[str, Any]) -> str:
    """A group message's body on the page: markdown rendered, anything else as plain text."""
    e = html.escape
    inner = msg["payload"].get(msg["msgtype"]) if isinstance(msg.get("payload"), dict) else None
    if msg["msgtype"] in ("markdown", "actionCard") and isinstance(inner, dict):
        out = [f'<div class="md">{render_markdown(str(inner.get("text", "")))}']
        buttons = ([{"title": inner["singleTitle"], "actionURL": inner.get("singleURL", "")}]
                   if inner.get("singleTitle") else [b for b in inner.get("btns") or [] if isinstance(b, dict)])
        if buttons:
            out.append('<p class="btns">' + "".join(
                render_markdown(f"[{b.get('title', '')}]({b.get('actionURL', '')})").strip()
                .removeprefix("<p>").removesuffix("</p>") for b in buttons) + "</p>")
        out.append("</div>")
        return "".join(out)
    return f"<pre>{e(msg['text'])}</pre>"


def _render_page(state: FakeDingtalkState, result: str | None, auto: str | None, query: str = "") -> str:
    e = html.escape
    with state.lock:
        groups = list(state.groups.values())
        out = ['<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">',
               "<title>本地钉钉模拟器 · 同心</title>"]
        if auto and auto.isdigit() and 1 <= int(auto) <= 600:
            out.append(f'<meta http-equiv="refresh" content="{int(auto)}">')
        out.append(f"<style>{_PAGE_STYLE}</style></head><body>")
        out.append("<h1>本地钉钉模拟器</h1>")
        out.append(f'<p>模拟器时间：{e(_fmt_time(state.now()))}（北京时间） · <a href="/">刷新</a> · '
                   f'<a href="/?auto=5">每5秒自动刷新</a> · 共 {len(groups)} 个群</p>')
        if result:
            out.append(f'<p class="flash">{e(result)}</p>')
        out.append('<form method="post" action="/_fake/ui/config">同心回调地址：'
                   f'<input type="text" name="callback_url" value="{e(state.callback_url or "")}" '
                   'placeholder="http://127.0.0.1:8000/callbacks/dingtalk"> <button>保存</button></form>')
        for g in groups:
            blocked = g.limiter.blocked_until and g.limiter.blocked_until > state.now()
            out.append(f'<section id="g-{e(g.conversation_id)}"><h2>{e(g.title)} <small>{e(g.conversation_id)}</small></h2>')
            out.append(f'<p class="meta">收到 {g.accepted} 条群消息、{g.via_session} 条回复；'
                       f'被拒 {sum(g.rejected.values())} 次；60秒内最多 {g.max_in_60s} 条'
                       + ("；<b>机器人限流中</b>" if blocked else "") + "</p>")
            out.append('<form method="post" action="/_fake/ui/callback">'
                       f'<input type="hidden" name="conversation_id" value="{e(g.conversation_id)}">'
                       '以 <select name="staff_id">')
            for m in g.members:
                out.append(f'<option value="{e(m["staff_id"])}">{e(m["name"])}（{e(m["staff_id"])}）</option>')
            out.append('<option value="">群外人员（无 staffId）</option></select> '
                       '@机器人 <input type="text" name="text" placeholder="例如：受理 编号"> <button>发送</button></form>')
            if not g.messages:
                out.append('<p class="meta">暂无消息</p>')
            else:
                out.append("<ol reversed>")
                for msg in reversed(g.messages[-200:]):
                    via = {"robot": "群机器人", "app": "应用消息"}.get(msg["via"]) or f"回复（@{msg['reply_to_staff_id'] or '-'}）"
                    mentions = "、".join(msg["at_mobiles"] + msg["at_user_ids"])
                    title = f" · 标题：{e(msg['title'])}" if msg.get("title") else ""
                    out.append(f'<li><div class="meta">{e(_fmt_time(msg["time"]))} · {e(via)} · {e(msg["msgtype"])}'
                               + (f" · @{e(mentions)}" if mentions else "") + title + "</div>"
                               + _message_html(msg) + "</li>")
                out.append("</ol>")
            out.append("</section>")
    out.append(render_app_section(state.app, query))
    out.append("</body></html>")
    return "".join(out)


# --------------------------------------------------------------------------- standalone


def groups_from_file(path: str) -> list[dict[str, Any]]:
    """Group specs from a JSON or TOML file: a list, or ``{groups: [...]}``."""
    with open(path, encoding="utf-8-sig") as fh:
        text = fh.read()
    data: Any = tomllib.loads(text) if path.endswith(".toml") else json.loads(text)
    return data.get("groups", []) if isinstance(data, dict) else data


def groups_from_tongxin_config(path: str) -> tuple[dict[str, str], list[dict[str, Any]]]:
    """Tongxin's own TOML: its [dingtalk] section (app credentials, event keys) and a group spec
    per township/department robot, and the county group's (``[county.dingtalk]``; its roster
    rows name the unit ``county``)."""
    with open(path, "rb") as fh:
        cfg = tomllib.load(fh)
    groups = []
    for section in ("townships", "departments", "county"):
        units = [{"code": "county", **cfg.get("county", {})}] if section == "county" else cfg.get(section, [])
        for unit in units:
            dt = unit.get("dingtalk")
            if not dt:
                continue
            query = urllib.parse.parse_qs(urllib.parse.urlsplit(dt.get("webhook") or "").query)
            groups.append({
                "conversation_id": dt["conversation_id"], "title": unit.get("name", unit.get("code", "")),
                "access_token": query.get("access_token", [""])[0], "secret": dt.get("secret"), "members": [],
                "chat_id": dt.get("chat_id"), "unit_codes": {unit.get("code"), unit.get("name")},
            })
    return cfg.get("dingtalk", {}), groups


def add_roster_members(groups: list[dict[str, Any]], path: str) -> None:
    """Members from an import-org CSV: rows with a dingtalk_user_id join their township's group."""
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for row in csv.DictReader(fh):
            staff = (row.get("dingtalk_user_id") or "").strip()
            if not staff or not (row.get("official_name") or "").strip():
                continue
            for g in groups:
                if row.get("township", "").strip() in g.get("unit_codes", {g["conversation_id"]}):
                    if all(m["staff_id"] != staff for m in g["members"]):
                        g["members"].append({"staff_id": staff, "name": row["official_name"].strip(), "mobile": (row.get("mobile") or "").strip()})


def main(argv: list[str] | None = None) -> None:
    """Run the fake standalone (``python -m bridges.fakes.dingtalk --help``)."""
    p = argparse.ArgumentParser(description="本地钉钉模拟器 / local fake DingTalk")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=9102)
    p.add_argument("--app-key", default=os.environ.get("FAKE_DINGTALK_APP_KEY"))
    p.add_argument("--app-secret", default=os.environ.get("FAKE_DINGTALK_APP_SECRET"))
    p.add_argument("--groups", help="JSON or TOML file: a list (or {groups: [...]}) of conversation_id, title, access_token, secret, members")
    p.add_argument("--tongxin-config", help="Tongxin's TOML: take app credentials and every township/department robot from it")
    p.add_argument("--roster", help="import-org CSV: officials with a dingtalk_user_id become group members")
    p.add_argument("--callback-url", help="Tongxin's /callbacks/dingtalk URL, for the page's command forms")
    p.add_argument("--public-base-url", help="how Tongxin reaches this fake (sessionWebhook URLs)")
    p.add_argument("--org", help="import-org CSV: officials with a mobile become organisation members (the app side)")
    p.add_argument("--events-url", help="Tongxin's /callbacks/dingtalk/events URL: member changes are pushed there")
    p.add_argument("--rate-limit", type=int, default=20)
    p.add_argument("--block-302", action="store_true", help="answer HTTP 302 while a robot is blocked")
    args = p.parse_args(argv)

    groups: list[dict[str, Any]] = []
    creds: dict[str, str] = {}
    if args.tongxin_config:
        creds, groups = groups_from_tongxin_config(args.tongxin_config)
    if args.groups:
        groups += groups_from_file(args.groups)
    if args.roster:
        add_roster_members(groups, args.roster)
    app_key = args.app_key or creds.get("app_key") or "fake-app-key"
    app_secret = args.app_secret or creds.get("app_secret") or "fake-app-secret"

    app = create_fake_dingtalk(app_key=app_key, app_secret=app_secret, rate_limit_per_minute=args.rate_limit,
                               block_http_302=args.block_302, callback_url=args.callback_url)
    state: FakeDingtalkState = app.extensions["fake_dingtalk"]
    state.configure(public_base_url=args.public_base_url)
    state.add_groups(groups)
    # Event subscription: the same Token and EncodingAESKey as Tongxin's [dingtalk] section.
    state.app.configure(event_token=creds.get("event_token") or os.environ.get("FAKE_DINGTALK_EVENT_TOKEN"),
                        event_aes_key=creds.get("event_aes_key") or os.environ.get("FAKE_DINGTALK_EVENT_AES_KEY"),
                        events_url=args.events_url)
    members = org_from_roster(state.app, args.org) if args.org else 0
    print(f"fake DingTalk on http://{args.host}:{args.port}/ with {len(groups)} groups, {members} members", flush=True)
    serve_standalone(app, args.host, args.port)


if __name__ == "__main__":
    main()
