"""A faithful local fake of the WeChat mini-program server APIs (real HTTP, ships with the product).

Tests and ``make demo`` point ``wechat.api_base_url`` here; our client talks to it exactly as
it talks to ``https://api.weixin.qq.com``. It enforces the rules of PLATFORMS.md §5 and §7:

- ``GET /cgi-bin/token``: 40002 bad grant_type, 40013 wrong appid, 40001 wrong secret; every
  call issues a new token (7200 s) and the previous one keeps working for 300 s more; past
  ``token_daily_limit`` issues in a (UTC) day: 45009.
- ``POST /cgi-bin/stable_token`` (JSON body only; GET 43002, not JSON 47001): 40002 bad
  grant_type, 40013 wrong appid, 40125 wrong secret. Normal mode (``force_refresh`` false or
  absent) returns the same token while it has more than 300 s left, with the seconds it has
  left; in its last 300 s a new one is issued and both work until the old one expires.
  ``force_refresh: true`` retires the current stable token at once and issues a new one, at
  most ``stable_force_daily_limit`` (20) times a day (then 45009) and 30 s apart (sooner: the
  current token comes back unchanged). Stable and classic tokens never retire each other.
  Past ``stable_token_daily_limit`` calls a day: 45009.
- every business API (``access_token`` in the query): missing 41001, unknown or retired 40001,
  expired 42001.
- ``GET /sns/jscode2session``: codes are single-use (40163), live 300 s (40029), unknown 40029,
  a code issued as risky 40226, more than ``login_limit_per_minute`` logins of one openid in
  60 s 45011 (the code is not used up). Wrong appid 40013, wrong secret 40125. A success marks
  the openid "recently active" for two hours. An extra ``access_token`` param is ignored
  (wechatpy sends one).
- ``POST /wxa/msg_sec_check`` (v2): GET 43302, empty body 44002, not JSON / version≠2 /
  content over 2500 chars 47001, empty content 44002, scene∉1..4 40129, openid never seen
  40003, openid seen but not active in the last two hours 61010 ("user access record
  expired", as WeChat answers; 43104 is an openid of another app). Verdict by content: a word
  of ``risky_words`` → risky with that word's label, of ``review_words`` → review, else pass.
- ``POST /wxa/media_check_async`` (v2; GET 43302, empty body 44002, not JSON 47001):
  ``media_url`` missing or not http(s) 47001, ``media_type`` not 1/2 47001, ``version`` ≠ 2
  47001, scene∉1..4 40129, openid never seen 40003, not active in the last two hours 61010
  (the errcodes msgSecCheck uses; the document lists only 0). Answers ``trace_id`` and then
  **pushes** the verdict, as WeChat does, to the push URL set with ``configure_push`` (the
  mini-program console's 消息推送 settings): a
  ``wxa_media_check`` event (v2 fields, the ``label`` a string as WeChat sends it), signed
  with the push token, in plaintext or safe mode (AES with the EncodingAESKey, wechatpy's
  ``PrpCrypto``; ``msg_signature``). The verdict comes from ``script_media_verdict`` rules
  (default: pass, label 100). The fake downloads nothing: WeChat fetches ``media_url`` from
  the internet, but tests and the demo use URLs no one may fetch, so the script decides.
  Pushes go out at once on a thread, or are kept until ``release_pushes`` while
  ``hold_pushes(True)``; every push is logged (``pushes``) and can be sent again exactly
  (``replay_push``: WeChat's retry of a push whose answer it did not get).
- ``POST /cgi-bin/message/subscribe/send``: unknown touser 40003, unknown template 40037,
  bad miniprogram_state/lang 47003, page not in ``pages`` (when set) 41030, a declared key
  missing or breaking its keyword rule 47003 ``argument invalid! data.<key>.value invalid``,
  no unused one-time consent 43101. A success uses up one consent and is recorded.

Scripting (JSON, under ``/_fake/``): ``login-code``, ``consents``, ``templates``, ``messages``,
``outage``, ``force-token-error``, ``token-endpoints`` (``{"down": true}``: both token
endpoints answer HTTP 500), ``advance``, ``stats``, ``reset``; ``GET /`` is a small
Chinese page for the demo. The state is ``app.extensions["fake_wechat"]``
(:class:`FakeWechatState`); its public seeding and inspection API — ``issue_login_code``,
``grant_consent``, ``register_template``, ``set_outage``, ``force_token_errors``,
``set_token_endpoints_down``, ``advance``,
``sent_messages``, ``snapshot_stats``, ``reset``, and for image checks ``configure_push``,
``script_media_verdict``, ``hold_pushes``, ``release_pushes``, ``replay_push``, ``pushes`` —
is what the demo and tests use (``/_fake/push-config``, ``/_fake/media-verdict``,
``/_fake/pushes``, ``/_fake/pushes/hold``, ``/_fake/pushes/release``, ``/_fake/pushes/replay``
over HTTP).

Run standalone: ``python -m bridges.fakes.wechat --port 9101 --appid wx... --secret ...``.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import threading
import time
from collections import Counter
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import requests
from flask import Flask
from flask import Response
from flask import jsonify
from flask import request
from wechatpy.crypto import PrpCrypto

from bridges.fakes.serve import serve_standalone

TOKEN_TTL = 7200
TOKEN_OVERLAP = 300  # a retired token keeps working this long after the next one is issued
STABLE_FORCE_GAP = 30  # force_refresh of the stable token: at most once per this many seconds
CODE_TTL = 300
ACTIVE_WINDOW = 2 * 3600  # the content checks want a user seen in the last two hours
CONTENT_MAX_CHARS = 2500
MINIPROGRAM_STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")
OUTAGE_MODES = ("error500", "timeout", "busy", "html", "off")

DEFAULT_RISKY_WORDS = {"赌博": 20006, "诈骗": 20008, "RISKY": 20006}
DEFAULT_REVIEW_WORDS = {"REVIEW": 21000, "待审": 21000}

# --- subscribe-message keyword rules (PLATFORMS.md §5.5) -----------------------------------------

_ASCII_SYMBOLS = r"!-/:-@\[-`{-~"
_DATE = r"\d{4}(?:年\d{1,2}月\d{1,2}日|-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2})"
_TIME = r"(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?"


def _ranged(single: str) -> re.Pattern:
    return re.compile(rf"^{single}(?:\s*~\s*{single})?$")


KEYWORD_RULES: dict[str, Callable[[str], bool]] = {
    "thing": lambda v: 0 < len(v) <= 20,
    "number": lambda v: len(v) <= 32 and re.fullmatch(r"[+-]?\d+(?:\.\d+)?", v) is not None,
    "letter": lambda v: re.fullmatch(r"[A-Za-z]{1,32}", v) is not None,
    "symbol": lambda v: re.fullmatch(rf"[{_ASCII_SYMBOLS}]{{1,5}}", v) is not None,
    "character_string": lambda v: re.fullmatch(rf"[0-9A-Za-z{_ASCII_SYMBOLS}]{{1,32}}", v) is not None,
    "time": lambda v: _ranged(rf"(?:{_DATE}\s*)?{_TIME}").match(v) is not None,
    "date": lambda v: _ranged(rf"{_DATE}(?:\s*{_TIME})?").match(v) is not None,
    "amount": lambda v: re.fullmatch(r"[¥￥$]?\d{1,10}(?:\.\d{1,2})?元?", v) is not None,
    "phone_number": lambda v: re.fullmatch(r"[0-9+\-() ]{1,17}", v) is not None,
    "car_number": lambda v: re.fullmatch(r"[0-9A-Za-z\u4e00-\u9fff]{1,8}", v) is not None,
    "name": lambda v: re.fullmatch(r"[\u4e00-\u9fff·]{1,10}|[A-Za-z .]{1,20}", v) is not None,
    "phrase": lambda v: re.fullmatch(r"[\u4e00-\u9fff]{1,5}", v) is not None,
}


# What the page calls a field when its template declares no label (WeChat's console always
# names each keyword, e.g. "上报编号"): by keyword type.
TYPE_LABELS = {"thing": "事项", "number": "数字", "letter": "字母", "symbol": "符号", "character_string": "编号",
               "time": "时间", "date": "日期", "amount": "金额", "phone_number": "电话", "car_number": "车牌",
               "name": "姓名", "phrase": "状态"}


class WxError(Exception):
    """An errcode answer (HTTP 200, JSON ``{errcode, errmsg}``), as WeChat gives it."""

    def __init__(self, errcode: int, errmsg: str):
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"{errcode} {errmsg}")


@dataclass
class _Token:
    expires_at: float
    retire_at: float | None = None  # set when a newer token is issued


@dataclass
class _Code:
    openid: str
    issued_at: float
    risky: bool = False
    used: bool = False


@dataclass
class _User:
    openid: str
    unionid: str | None = None
    last_active: float | None = None
    logins: deque = field(default_factory=deque)  # times of recent successful logins


@dataclass
class Outage:
    """A scripted failure of the business APIs: its mode, calls left (None: until off) and delay."""

    mode: str
    remaining: int | None  # None: until switched off
    seconds: float


def _rid() -> str:
    return secrets.token_hex(4) + "-" + secrets.token_hex(4)


@dataclass
class MediaRule:
    """A scripted verdict: every image whose URL contains ``match`` (any, if empty) gets it."""

    suggest: str
    label: int
    match: str = ""


@dataclass
class PushConfig:
    """The message push settings of the mini-program's console (消息推送配置)."""

    url: str
    token: str
    aes_key: str | None = None  # set: safe mode (安全模式), else plaintext mode


class FakeWechatState:
    """Everything the fake remembers; every method takes ``self.lock``.

    The settings below are plain attributes, so tests may change them at any time:
    ``token_daily_limit``, ``stable_token_daily_limit``, ``stable_force_daily_limit``,
    ``login_limit_per_minute``, ``risky_words`` / ``review_words``
    (word → label), ``templates`` (id → {key: keyword type}), ``pages`` (None = any page).
    """

    def __init__(self, appid: str, secret: str, clock: Callable[[], float] = time.time):
        self.appid = appid
        self.secret = secret
        self.clock = clock
        self.lock = threading.RLock()
        self.token_daily_limit = 2000
        self.stable_token_daily_limit = 500_000
        self.stable_force_daily_limit = 20
        self.login_limit_per_minute = 100
        self.risky_words: dict[str, int] = dict(DEFAULT_RISKY_WORDS)
        self.review_words: dict[str, int] = dict(DEFAULT_REVIEW_WORDS)
        self.templates: dict[str, dict[str, str]] = {}
        self.template_labels: dict[str, dict[str, str]] = {}
        self.pages: set[str] | None = None
        self.reset()

    def reset(self) -> None:
        """Forget tokens, users, codes, consents, messages, scripted failures and counters."""
        with self.lock:
            self.offset = 0.0
            self.tokens: dict[str, _Token] = {}
            self.current_token: str | None = None
            self.token_issues_by_day: Counter = Counter()
            self.current_stable: str | None = None
            self.stable_calls_by_day: Counter = Counter()
            self.stable_forces_by_day: Counter = Counter()
            self.last_stable_force: float | None = None
            self.token_endpoints_down = False
            self.codes: dict[str, _Code] = {}
            self.users: dict[str, _User] = {}
            self.consents: Counter = Counter()  # (openid, template_id) → unused consents
            self.messages: list[dict[str, Any]] = []
            self.stats: Counter = Counter()
            self.outage: Outage | None = None
            self.forced_token_errors = 0
            self.media_rules: list[MediaRule] = []
            self.push_config: PushConfig | None = None
            self.holding_pushes = False
            self.held_pushes: list[dict[str, Any]] = []
            self.push_log: list[dict[str, Any]] = []

    def now(self) -> float:
        """The fake's time: the clock plus whatever ``advance`` added."""
        return self.clock() + self.offset

    def advance(self, seconds: float) -> None:
        """Move the fake's time forward (codes and tokens expire, users stop being active)."""
        with self.lock:
            self.offset += seconds

    # --- scripting ---------------------------------------------------------------------------

    def issue_login_code(self, openid: str | None = None, *, risky: bool = False,
                         unionid: str | None = None) -> tuple[str, str]:
        """What ``wx.login`` gives the mini-program: a fresh code for ``openid`` (made up if None)."""
        with self.lock:
            openid = openid or "o" + secrets.token_urlsafe(20)[:27]
            user = self.users.setdefault(openid, _User(openid))
            if unionid:
                user.unionid = unionid
            code = secrets.token_hex(16)
            self.codes[code] = _Code(openid, self.now(), risky=risky)
            return code, openid

    def grant_consent(self, openid: str, template_id: str, count: int = 1) -> int:
        """What ``wx.requestSubscribeMessage`` grants: ``count`` one-time consents; returns the total."""
        with self.lock:
            self.users.setdefault(openid, _User(openid))
            self.consents[(openid, template_id)] += count
            return self.consents[(openid, template_id)]

    def register_template(self, template_id: str, fields: dict[str, str], labels: dict[str, str] | None = None) -> None:
        """Declare a subscribe-message template: ``{key: keyword type}`` (thing, time, …) and
        the label the resident sees for each key (``{"character_string1": "上报编号"}``)."""
        unknown = sorted(set(fields.values()) - set(KEYWORD_RULES))
        if unknown:
            raise ValueError(f"unknown keyword types: {unknown}")
        with self.lock:
            self.templates[template_id] = dict(fields)
            self.template_labels[template_id] = {key: str((labels or {}).get(key) or TYPE_LABELS.get(kind, key))
                                                 for key, kind in fields.items()}

    def template_list(self) -> list[dict[str, Any]]:
        """Every template with its fields and their labels, as the page shows them."""
        with self.lock:
            return [{"template_id": t, "fields": dict(f), "labels": dict(self.template_labels.get(t, {}))}
                    for t, f in self.templates.items()]

    def set_outage(self, mode: str, count: int | None = None, seconds: float = 3.0) -> None:
        """Make the next ``count`` business calls (all, if None) fail; ``mode="off"`` ends it.

        ``error500``: HTTP 500 with a text body; ``timeout``: sleep ``seconds`` then answer
        -1 (the call has no effect); ``busy``: errcode -1; ``html``: HTTP 200 with an HTML
        page. The token endpoint is not affected.
        """
        if mode not in OUTAGE_MODES:
            raise ValueError(f"mode must be one of {OUTAGE_MODES}")
        with self.lock:
            self.outage = None if mode == "off" else Outage(mode, count, float(seconds))

    def force_token_errors(self, count: int) -> None:
        """The next ``count`` token-checked calls answer 40001 whatever token they carry."""
        with self.lock:
            self.forced_token_errors = int(count)

    def snapshot_stats(self) -> dict[str, Any]:
        """Counters: token fetches, logins, messages sent, and calls per path."""
        with self.lock:
            return {
                "token_fetches": self.stats["token_fetches"],
                "logins": self.stats["logins"],
                "messages_sent": len(self.messages),
                "calls": {k[len("path:"):]: v for k, v in self.stats.items() if k.startswith("path:")},
            }

    def sent_messages(self) -> list[dict[str, Any]]:
        """A copy of every subscribe message sent so far, oldest first."""
        with self.lock:
            return [dict(m) for m in self.messages]

    def take_outage(self) -> Outage | None:
        """Use up one scripted failure, if any (called once per business call)."""
        with self.lock:
            outage = self.outage
            if outage is None:
                return None
            if outage.remaining is not None:
                outage.remaining -= 1
                if outage.remaining <= 0:
                    self.outage = None
            return outage

    # --- image checks (mediaCheckAsync) and message push ---------------------------------------

    def configure_push(self, url: str | None, token: str = "", aes_key: str | None = None) -> None:
        """Where and how verdicts are pushed (None: nowhere): the URL, the Token and, for safe
        mode, the 43-character EncodingAESKey."""
        if aes_key is not None and not re.fullmatch(r"[A-Za-z0-9]{43}", aes_key):
            raise ValueError("aes_key must be 43 letters and digits")
        with self.lock:
            self.push_config = PushConfig(url, token, aes_key) if url else None

    def script_media_verdict(self, suggest: str, label: int | None = None, match: str = "") -> None:
        """Every later check of an image whose URL contains ``match`` (all, if empty) is judged
        ``suggest`` (pass, review, risky); the newest matching rule wins. Label defaults:
        100 for pass, 20002 (porn) otherwise."""
        if suggest not in ("pass", "review", "risky"):
            raise ValueError("suggest must be pass, review or risky")
        with self.lock:
            self.media_rules.insert(0, MediaRule(suggest, int(label if label is not None else
                                                              (100 if suggest == "pass" else 20002)), match))

    def hold_pushes(self, hold: bool = True) -> None:
        """While held, verdict pushes wait for :meth:`release_pushes` instead of going out at once."""
        with self.lock:
            self.holding_pushes = bool(hold)

    def pushes(self) -> list[dict[str, Any]]:
        """A copy of every push sent so far: trace_id, suggest, query, body, HTTP status, answer."""
        with self.lock:
            return [dict(p) for p in self.push_log]

    def media_check(self, body: dict) -> dict:
        """``/wxa/media_check_async`` on an already-parsed JSON body: a trace_id, and a push due."""
        with self.lock:
            url = body.get("media_url")
            if not isinstance(url, str) or not re.match(r"^https?://[^\s]+$", url) or len(url) > 2048:
                raise WxError(47001, "data format error: media_url")
            if body.get("media_type") not in (1, 2):
                raise WxError(47001, "data format error: media_type")
            if body.get("version") != 2:
                raise WxError(47001, "data format error: version")
            if body.get("scene") not in (1, 2, 3, 4):
                raise WxError(40129, "invalid scene")
            openid = body.get("openid")
            if not isinstance(openid, str) or openid not in self.users:
                raise WxError(40003, "invalid openid")
            self._require_active(self.users[openid])
            rule = next((r for r in self.media_rules if not r.match or r.match in url), MediaRule("pass", 100))
            trace_id = _rid() + "-" + secrets.token_hex(4)
            job = {"trace_id": trace_id, "openid": openid, "media_url": url, "suggest": rule.suggest,
                   "label": rule.label}
            self.stats["media_checks"] += 1
            if self.holding_pushes:
                self.held_pushes.append(job)
                job = None
        if job is not None:
            threading.Thread(target=self._push, args=(job,), daemon=True, name="fake-wechat-push").start()
        return {"errcode": 0, "errmsg": "ok", "trace_id": trace_id}

    def release_pushes(self) -> list[dict[str, Any]]:
        """Send every held push now (in order, on this thread); returns their log entries."""
        with self.lock:
            jobs, self.held_pushes = self.held_pushes, []
        return [self._push(job) for job in jobs]

    def replay_push(self, index: int = -1) -> dict[str, Any]:
        """Send push ``index`` of the log again, byte for byte (WeChat's retry); returns the new entry."""
        with self.lock:
            entry = dict(self.push_log[index])
        return self._send(entry["url"], entry["query"], entry["body"], entry["trace_id"], entry["suggest"])

    def push_message(self, job: dict[str, Any]) -> dict[str, Any]:
        """The ``wxa_media_check`` event (v2) WeChat pushes for one check."""
        label = str(job["label"])
        return {
            "ToUserName": "gh_fakeminiprog", "FromUserName": job["openid"], "CreateTime": int(self.now()),
            "MsgType": "event", "Event": "wxa_media_check", "appid": self.appid, "trace_id": job["trace_id"],
            "version": 2, "errcode": 0, "errmsg": "ok",
            "detail": [{"strategy": "content_model", "errcode": 0, "suggest": job["suggest"], "label": label,
                        "prob": 90 if job["suggest"] != "pass" else 0}],
            "result": {"suggest": job["suggest"], "label": label},
        }

    def _push(self, job: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            config = self.push_config
        if config is None:
            return self._log({"trace_id": job["trace_id"], "suggest": job["suggest"], "url": None, "query": {},
                              "body": "", "status": None, "answer": "no push URL configured"})
        timestamp, nonce = str(int(self.now())), str(secrets.randbelow(10**9) + 10**8)
        text = json.dumps(self.push_message(job), ensure_ascii=False)
        query = {"signature": _sign(config.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce,
                 "openid": job["openid"]}
        if config.aes_key:
            key = base64.b64decode(config.aes_key + "=")
            encrypt = PrpCrypto(key).encrypt(text, self.appid).decode("ascii")
            query.update(encrypt_type="aes", msg_signature=_sign(config.token, timestamp, nonce, encrypt))
            text = json.dumps({"ToUserName": "gh_fakeminiprog", "Encrypt": encrypt})
        return self._send(config.url, query, text, job["trace_id"], job["suggest"])

    def _send(self, url: str, query: dict, body: str, trace_id: str, suggest: str) -> dict[str, Any]:
        entry = {"trace_id": trace_id, "suggest": suggest, "url": url, "query": dict(query), "body": body}
        try:
            res = requests.post(url, params=query, data=body.encode("utf-8"),
                                headers={"Content-Type": "application/json"}, timeout=10)
            entry.update(status=res.status_code, answer=res.text[:500])
        except requests.RequestException as exc:
            entry.update(status=None, answer=type(exc).__name__)
        return self._log(entry)

    def _log(self, entry: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self.push_log.append(entry)
        return dict(entry)

    # --- platform behaviour --------------------------------------------------------------------

    def _check_app(self, grant_type: str | None, appid: str | None, secret: str | None,
                   wrong_secret: WxError) -> None:
        """The credential checks both token endpoints make (they differ in the wrong-secret code)."""
        if grant_type != "client_credential":
            raise WxError(40002, "invalid grant_type")
        if appid != self.appid:
            raise WxError(40013, "invalid appid")
        if secret != self.secret:
            raise wrong_secret

    def _count_token_call(self, by_day: Counter, limit: int, now: float) -> int:
        """Count one token call against its daily limit (45009 past it); returns the day."""
        day = int(now // 86400)
        if by_day[day] >= limit:
            raise WxError(45009, "reach max api daily quota limit")
        by_day[day] += 1
        self.stats["token_fetches"] += 1
        return day

    def issue_token(self, grant_type: str | None, appid: str | None, secret: str | None) -> dict:
        """``/cgi-bin/token``: a new token; the previous one retires ``TOKEN_OVERLAP`` s later."""
        with self.lock:
            self._check_app(grant_type, appid, secret,
                            WxError(40001, "invalid credential, access_token is invalid or not latest"))
            now = self.now()
            self._count_token_call(self.token_issues_by_day, self.token_daily_limit, now)
            old = self.tokens.get(self.current_token) if self.current_token else None
            if old is not None:
                old.retire_at = min(old.retire_at or old.expires_at, now + TOKEN_OVERLAP)
            token = secrets.token_urlsafe(96)
            self.tokens[token] = _Token(expires_at=now + TOKEN_TTL)
            self.current_token = token
            return {"access_token": token, "expires_in": TOKEN_TTL}

    def set_token_endpoints_down(self, down: bool) -> None:
        """Make ``/cgi-bin/token`` and ``/cgi-bin/stable_token`` answer HTTP 500 (or recover)."""
        with self.lock:
            self.token_endpoints_down = bool(down)

    def issue_stable_token(self, body: dict) -> dict:
        """``/cgi-bin/stable_token``: the current stable token (normal mode) or a new one."""
        with self.lock:
            self._check_app(body.get("grant_type"), body.get("appid"), body.get("secret"),
                            WxError(40125, "invalid appsecret"))
            force = body.get("force_refresh", False)
            if not isinstance(force, bool):
                raise WxError(47001, "data format error: force_refresh must be a boolean")
            now = self.now()
            day = self._count_token_call(self.stable_calls_by_day, self.stable_token_daily_limit, now)
            current = self.tokens.get(self.current_stable) if self.current_stable else None
            usable = current is not None and current.retire_at is None and now < current.expires_at
            if force:
                if self.last_stable_force is not None and now - self.last_stable_force < STABLE_FORCE_GAP and usable:
                    return {"access_token": self.current_stable, "expires_in": int(current.expires_at - now)}
                if self.stable_forces_by_day[day] >= self.stable_force_daily_limit:
                    raise WxError(45009, "reach max api daily quota limit (force_refresh)")
                self.stable_forces_by_day[day] += 1
                self.last_stable_force = now
                if current is not None:
                    current.retire_at = now  # force_refresh: the previous token stops at once
            elif usable and now < current.expires_at - TOKEN_OVERLAP:
                return {"access_token": self.current_stable, "expires_in": int(current.expires_at - now)}
            # New (first, forced, or in the old one's last five minutes: it works until it expires).
            token = secrets.token_urlsafe(96)
            self.tokens[token] = _Token(expires_at=now + TOKEN_TTL)
            self.current_stable = token
            return {"access_token": token, "expires_in": TOKEN_TTL}

    def check_token(self, token: str | None) -> None:
        """Raise the errcode a business API gives for ``token`` (nothing when it is good)."""
        with self.lock:
            if not token:
                raise WxError(41001, "access_token missing")
            if self.forced_token_errors > 0:
                self.forced_token_errors -= 1
                raise WxError(40001, "invalid credential, access_token is invalid or not latest")
            entry = self.tokens.get(token)
            now = self.now()
            if entry is None or (entry.retire_at is not None and now >= entry.retire_at):
                raise WxError(40001, "invalid credential, access_token is invalid or not latest")
            if now >= entry.expires_at:
                raise WxError(42001, "access_token expired")

    def code_to_session(self, appid: str | None, secret: str | None, js_code: str | None,
                        grant_type: str | None) -> dict:
        """``/sns/jscode2session``: use up a login code, return openid and a session_key."""
        with self.lock:
            if appid != self.appid:
                raise WxError(40013, "invalid appid")
            if secret != self.secret:
                raise WxError(40125, "invalid appsecret")
            if grant_type != "authorization_code":
                raise WxError(40002, "invalid grant_type")
            code = self.codes.get(js_code or "")
            now = self.now()
            if code is None:
                raise WxError(40029, "invalid code")
            if code.used:
                raise WxError(40163, "code been used")
            if now - code.issued_at >= CODE_TTL:
                raise WxError(40029, "invalid code")
            if code.risky:
                code.used = True
                raise WxError(40226, "code blocked")
            user = self.users[code.openid]
            while user.logins and now - user.logins[0] >= 60:
                user.logins.popleft()
            if len(user.logins) >= self.login_limit_per_minute:
                # Not used up: the same code works again once the minute has passed.
                raise WxError(45011, "api minute-quota reach limit  mustslower  retry next minute")
            code.used = True
            user.logins.append(now)
            user.last_active = now
            self.stats["logins"] += 1
            answer = {"openid": user.openid, "session_key": base64.b64encode(secrets.token_bytes(16)).decode()}
            if user.unionid:
                answer["unionid"] = user.unionid
            return answer

    def msg_sec_check(self, body: dict) -> dict:
        """``/wxa/msg_sec_check`` v2 on an already-parsed JSON body."""
        with self.lock:
            if body.get("version") != 2:
                raise WxError(47001, "data format error: version must be 2")
            content = body.get("content")
            if content is None or content == "":
                raise WxError(44002, "empty post data: content")
            if not isinstance(content, str) or len(content) > CONTENT_MAX_CHARS:
                raise WxError(47001, "data format error: content")
            scene = body.get("scene")
            if not isinstance(scene, int) or isinstance(scene, bool) or scene not in (1, 2, 3, 4):
                raise WxError(40129, "invalid scene")
            user = self.users.get(body.get("openid") or "")
            if user is None:
                raise WxError(40003, "invalid openid")
            self._require_active(user)
            suggest, label, keyword = self._verdict(content)
            detail = [{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label,
                       "prob": 90 if suggest != "pass" else 0}]
            if keyword:
                detail.append({"strategy": "keyword", "errcode": 0, "suggest": suggest, "label": label,
                               "level": 90 if suggest == "risky" else 60, "keyword": keyword})
            return {"errcode": 0, "errmsg": "ok", "trace_id": _rid(),
                    "result": {"suggest": suggest, "label": label}, "detail": detail}

    def _require_active(self, user) -> None:
        """The content checks' rule: the user must have used the mini-program in the last two
        hours, else 61010 (WeChat's "user access record expired")."""
        if user.last_active is None or self.now() - user.last_active > ACTIVE_WINDOW:
            raise WxError(61010, "user access record expired (not active in the last 2 hours)")

    def _verdict(self, content: str) -> tuple[str, int, str | None]:
        lowered = content.lower()
        for suggest, words in (("risky", self.risky_words), ("review", self.review_words)):
            for word, label in words.items():
                if word.lower() in lowered:
                    return suggest, label, word
        return "pass", 100, None

    def send_subscribe(self, body: dict) -> dict:
        """``/cgi-bin/message/subscribe/send`` on an already-parsed JSON body."""
        with self.lock:
            touser = body.get("touser")
            if not isinstance(touser, str) or touser not in self.users:
                raise WxError(40003, "invalid openid")
            template_id = body.get("template_id")
            fields = self.templates.get(template_id) if isinstance(template_id, str) else None
            if fields is None:
                raise WxError(40037, "invalid template_id")
            state = body.get("miniprogram_state", "formal")
            if state not in MINIPROGRAM_STATES:
                raise WxError(47003, "argument invalid! miniprogram_state invalid")
            lang = body.get("lang", "zh_CN")
            if lang not in LANGS:
                raise WxError(47003, "argument invalid! lang invalid")
            page = body.get("page")
            if page is not None and (not isinstance(page, str) or
                                     (self.pages is not None and page.split("?")[0] not in self.pages)):
                raise WxError(41030, "invalid page")
            data = body.get("data")
            if not isinstance(data, dict):
                raise WxError(47003, "argument invalid! data invalid")
            for key, kind in fields.items():
                item = data.get(key)
                value = item.get("value") if isinstance(item, dict) else None
                if not isinstance(value, str) or not KEYWORD_RULES[kind](value):
                    raise WxError(47003, f"argument invalid! data.{key}.value invalid")
            if self.consents[(touser, template_id)] <= 0:
                raise WxError(43101, "user refuse to accept the msg")
            self.consents[(touser, template_id)] -= 1
            msgid = len(self.messages) + 1
            self.messages.append({
                "msgid": msgid, "touser": touser, "template_id": template_id, "page": page,
                "data": {k: v.get("value") if isinstance(v, dict) else v for k, v in data.items()},
                "miniprogram_state": state, "lang": lang, "sent_at": self.now(),
            })
            return {"errcode": 0, "errmsg": "ok", "msgid": msgid}


# --- HTTP ------------------------------------------------------------------------------------------


def _sign(*parts: str) -> str:
    """The message push signature: sha1 of the sorted parts joined."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _wx(errcode: int, errmsg: str) -> Response:
    # WeChat answers errors with HTTP 200 and a JSON body; errmsg carries a request id.
    return jsonify({"errcode": errcode, "errmsg": f"{errmsg} rid: {_rid()}"})


def _json_body() -> dict:
    """The request body as a JSON object (wechatpy posts bytes with no Content-Type)."""
    raw = request.get_data()
    if not raw.strip():
        raise WxError(44002, "empty post data")
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise WxError(47001, "data format error")
    return body


def _business(state: FakeWechatState, *, post_only: bool = False, token: bool = True) -> None:
    """Common gate of a business API: scripted outages, the access token, the method."""
    outage = state.take_outage()
    if outage is not None:
        if outage.mode == "timeout":
            time.sleep(outage.seconds)  # outside the lock: other requests go on meanwhile
            raise WxError(-1, "system error")
        if outage.mode == "busy":
            raise WxError(-1, "system error")
        raise _Scripted(outage.mode)
    if token:
        state.check_token(request.args.get("access_token"))
    if post_only and request.method != "POST":
        raise WxError(43302, "require POST method")


class _Scripted(Exception):
    """A scripted non-JSON answer (HTTP 500 or an HTML page)."""

    def __init__(self, mode: str):
        self.mode = mode


def _script_body() -> dict:
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else {}


def create_fake_wechat(appid: str, secret: str, *, clock: Callable[[], float] = time.time,
                       templates: dict[str, dict[str, str]] | None = None,
                       template_labels: dict[str, dict[str, str]] | None = None) -> Flask:
    """A Flask app playing WeChat for ``appid``/``secret``; state in ``app.extensions["fake_wechat"]``.

    ``clock`` returns seconds (like ``time.time``); tests pass a controllable one.
    ``templates`` registers subscribe-message templates up front (id → {key: type}), and
    ``template_labels`` their fields' labels (id → {key: label}).
    """
    app = Flask(__name__)
    state = FakeWechatState(appid, secret, clock)
    for template_id, fields in (templates or {}).items():
        state.register_template(template_id, fields, (template_labels or {}).get(template_id))
    app.extensions["fake_wechat"] = state

    @app.before_request
    def _count():
        with state.lock:
            state.stats[f"path:{request.path}"] += 1

    @app.errorhandler(WxError)
    def _wx_error(err: WxError):
        return _wx(err.errcode, err.errmsg)

    @app.errorhandler(_Scripted)
    def _scripted(err: _Scripted):
        if err.mode == "html":
            return Response("<html><body><h1>502 Bad Gateway</h1></body></html>", 200,
                            mimetype="text/html")
        return Response("Internal Server Error", 500, mimetype="text/plain")

    @app.errorhandler(404)
    @app.errorhandler(405)
    def _bad_url(err):
        if request.path.startswith("/_fake/"):
            return jsonify({"error": str(err)}), err.code
        return _wx(40066, "invalid url")

    @app.errorhandler(ValueError)
    def _bad_script(err: ValueError):
        return jsonify({"error": str(err)}), 400

    # --- WeChat APIs ---

    def _token_endpoint_gate() -> None:
        if state.token_endpoints_down:
            raise _Scripted("error500")

    @app.get("/cgi-bin/token")
    def token():
        _token_endpoint_gate()
        a = request.args
        return jsonify(state.issue_token(a.get("grant_type"), a.get("appid"), a.get("secret")))

    @app.route("/cgi-bin/stable_token", methods=["GET", "POST"])
    def stable_token():
        _token_endpoint_gate()
        if request.method != "POST":
            raise WxError(43002, "require POST method")
        return jsonify(state.issue_stable_token(_json_body()))

    @app.get("/sns/jscode2session")
    def jscode2session():
        _business(state, token=False)  # no token needed (wechatpy sends one anyway: ignored)
        a = request.args
        return jsonify(state.code_to_session(a.get("appid"), a.get("secret"), a.get("js_code"),
                                             a.get("grant_type")))

    @app.route("/wxa/msg_sec_check", methods=["GET", "POST"])
    def msg_sec_check():
        _business(state, post_only=True)
        return jsonify(state.msg_sec_check(_json_body()))

    @app.route("/wxa/media_check_async", methods=["GET", "POST"])
    def media_check_async():
        _business(state, post_only=True)
        return jsonify(state.media_check(_json_body()))

    @app.route("/cgi-bin/message/subscribe/send", methods=["GET", "POST"])
    def subscribe_send():
        _business(state, post_only=True)
        return jsonify(state.send_subscribe(_json_body()))

    # --- scripting for tests and the demo ---

    @app.post("/_fake/login-code")
    def fake_login_code():
        b = _script_body()
        code, openid = state.issue_login_code(b.get("openid") or None, risky=bool(b.get("risky")),
                                              unionid=b.get("unionid") or None)
        return jsonify({"code": code, "openid": openid})

    @app.post("/_fake/consents")
    def fake_consents():
        b = _script_body()
        if not b.get("openid") or not b.get("template_id"):
            raise ValueError("openid and template_id are required")
        total = state.grant_consent(b["openid"], b["template_id"], int(b.get("count", 1)))
        return jsonify({"openid": b["openid"], "template_id": b["template_id"], "unused": total})

    @app.post("/_fake/templates")
    def fake_templates():
        b = _script_body()
        if not b.get("template_id") or not isinstance(b.get("fields"), dict):
            raise ValueError("template_id and fields {key: type} are required")
        labels = b.get("labels") if isinstance(b.get("labels"), dict) else None
        state.register_template(b["template_id"], b["fields"], labels)
        return jsonify({"template_id": b["template_id"], "fields": b["fields"],
                        "labels": state.template_labels[b["template_id"]]})

    @app.get("/_fake/templates")
    def fake_template_list():
        return jsonify({"items": state.template_list()})

    @app.get("/_fake/messages")
    def fake_messages():
        return jsonify({"items": state.sent_messages()})

    @app.post("/_fake/outage")
    def fake_outage():
        b = _script_body()
        count = b.get("count")
        state.set_outage(str(b.get("mode", "")), None if count is None else int(count),
                         float(b.get("seconds", 3.0)))
        return jsonify({"mode": b.get("mode"), "count": count})

    @app.post("/_fake/force-token-error")
    def fake_force_token_error():
        state.force_token_errors(int(_script_body().get("count", 1)))
        return jsonify({"count": state.forced_token_errors})

    @app.post("/_fake/token-endpoints")
    def fake_token_endpoints():
        state.set_token_endpoints_down(bool(_script_body().get("down")))
        return jsonify({"down": state.token_endpoints_down})

    @app.post("/_fake/push-config")
    def fake_push_config():
        b = _script_body()
        state.configure_push(b.get("url") or None, str(b.get("token") or ""), b.get("aes_key") or None)
        return jsonify({"url": b.get("url"), "safe": bool(b.get("aes_key"))})

    @app.post("/_fake/media-verdict")
    def fake_media_verdict():
        b = _script_body()
        label = b.get("label")
        state.script_media_verdict(str(b.get("suggest", "")), None if label is None else int(label),
                                   str(b.get("match") or ""))
        return jsonify({"suggest": b.get("suggest"), "match": b.get("match") or ""})

    @app.get("/_fake/pushes")
    def fake_pushes():
        return jsonify({"items": state.pushes()})

    @app.post("/_fake/pushes/release")
    def fake_release_pushes():
        return jsonify({"items": state.release_pushes()})

    @app.post("/_fake/pushes/hold")
    def fake_hold_pushes():
        state.hold_pushes(bool(_script_body().get("hold", True)))
        return jsonify({"hold": state.holding_pushes})

    @app.post("/_fake/pushes/replay")
    def fake_replay_push():
        return jsonify(state.replay_push(int(_script_body().get("index", -1))))

    @app.post("/_fake/advance")
    def fake_advance():
        state.advance(float(_script_body().get("seconds", 0)))
        return jsonify({"now": state.now()})

    @app.post("/_fake/reset")
    def fake_reset():
        state.reset()
        return jsonify({"ok": True})

    @app.get("/_fake/stats")
    def fake_stats():
        return jsonify(state.snapshot_stats())

    @app.get("/")
    def index():
        return Response(INDEX_HTML, mimetype="text/html")

    return app


INDEX_HTML = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>模拟微信服务器</title>
<style>
body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:860px;margin:2em auto;padding:0 1em;color:#222}
fieldset{margin:1em 0;border:1px solid #ccc;border-radius:6px}
input{padding:.3em;margin:.2em}button{padding:.35em 1em;cursor:pointer}
code,pre{background:#f4f4f4;padding:.1em .3em;border-radius:3px;word-break:break-all;white-space:pre-wrap}
table{border-collapse:collapse;width:100%}td,th{border:1px solid #ddd;padding:.3em;text-align:left;vertical-align:top}
</style></head><body>
<h1>模拟微信服务器（本地演示）</h1>
<p>本页模拟小程序端：<code>wx.login</code> 取得登录 code，<code>wx.requestSubscribeMessage</code> 授予一次性订阅。</p>
<fieldset><legend>登录</legend>
<label>openid（留空则新建用户）<input id="openid" size="32"></label>
<label><input type="checkbox" id="risky"> 风险用户</label>
<button id="login">获取登录 code</button>
<p>code：<code id="code">—</code>（5 分钟内有效，只能使用一次）</p>
</fieldset>
<fieldset><legend>订阅消息授权</legend>
<label>模板 ID <input id="template" size="32"></label>
<button id="consent">同意接收一次</button> <span id="consented"></span>
</fieldset>
<h2>已发送的订阅消息 <button id="refresh">刷新</button></h2>
<table><thead><tr><th>#</th><th>接收者 openid</th><th>模板</th><th>内容</th><th>页面</th></tr></thead>
<tbody id="messages"></tbody></table>
<script>
const $ = (id) => document.getElementById(id);
async function post(path, body) {
  const r = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"},
                               body: JSON.stringify(body)});
  return r.json();
}
$("login").onclick = async () => {
  const r = await post("/_fake/login-code", {openid: $("openid").value.trim() || null, risky: $("risky").checked});
  $("openid").value = r.openid; $("code").textContent = r.code;
};
$("consent").onclick = async () => {
  const r = await post("/_fake/consents", {openid: $("openid").value.trim(), template_id: $("template").value.trim(), count: 1});
  $("consented").textContent = r.error ? "失败：" + r.error : "剩余可发送次数：" + r.unused;
};
async function refresh() {
  const r = await (await fetch("/_fake/messages")).json();
  const labels = {};  // template id → {key: the label residents see}
  for (const t of (await (await fetch("/_fake/templates")).json()).items) labels[t.template_id] = t.labels;
  const tbody = $("messages"); tbody.replaceChildren();
  for (const m of r.items.slice().reverse()) {
    const tr = document.createElement("tr");
    const named = labels[m.template_id] || {};
    const cells = [m.msgid, m.touser, m.template_id,
                   Object.entries(m.data).map(([k, v]) => (named[k] || k) + "：" + v).join("\\n"), m.page || ""];
    for (const c of cells) { const td = document.createElement("td"); td.textContent = c; tr.append(td); }
    tbody.append(tr);
  }
}
$("refresh").onclick = refresh; refresh(); setInterval(refresh, 5000);
</script></body></html>
"""


def _parse_template(spec: str) -> tuple[str, dict[str, str]]:
    """``ID=key:type,key:type`` → (ID, {key: type})."""
    template_id, _, rest = spec.partition("=")
    fields = dict(part.split(":", 1) for part in rest.split(",") if part)
    return template_id, fields


def main(argv: list[str] | None = None) -> None:
    """Run the fake on its own: ``python -m bridges.fakes.wechat --port 9101 ...``."""
    parser = argparse.ArgumentParser(description="A local fake of the WeChat mini-program server APIs")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9101)
    parser.add_argument("--appid", required=True)
    parser.add_argument("--secret", required=True)
    parser.add_argument("--template", action="append", default=[], metavar="ID=key:type,...",
                        help="register a subscribe-message template (repeatable), "
                             "e.g. tpl1=character_string1:character_string,thing2:thing")
    parser.add_argument("--token-daily-limit", type=int, default=2000)
    args = parser.parse_args(argv)
    app = create_fake_wechat(args.appid, args.secret, templates=dict(map(_parse_template, args.template)))
    app.extensions["fake_wechat"].token_daily_limit = args.token_daily_limit
    serve_standalone(app, args.host, args.port)


if __name__ == "__main__":
    main()
