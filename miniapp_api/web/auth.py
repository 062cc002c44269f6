"""Resident login with WeChat and the bearer tokens that follow it.

A token is ``<session id>.<signature>``: the id names an :class:`AuthSession` row (so a token
can expire and be revoked) and the signature is an HMAC of the id with ``server.secret_key``
(so a forged token is refused without touching the database). ``session_key`` from WeChat is
kept on the resident row and never leaves the server.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from datetime import timedelta

from flask import Flask
from flask import g
from flask import request
from pydantic import BaseModel
from pydantic import Field

from bridges.errors import PlatformError
from bridges.errors import Unavailable

from miniapp_api.web import context as services
from miniapp_api.web.api import route
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.errors import ServiceUnavailable
from miniapp_api.errors import Unauthorized
from miniapp_api.models import AuthSession
from miniapp_api.models import Resident
from miniapp_api.models import utcnow
from miniapp_api.prepared import Param
from miniapp_api.prepared import Prepared
from miniapp_api.prepared import loaded
from miniapp_api.reports.schemas import ResidentOut
from miniapp_api.reports.schemas import iso


class LoginIn(BaseModel):
    code: str = Field(min_length=1, max_length=128, description="wx.login() 得到的 code")


class LoginOut(BaseModel):
    token: str
    expires_at: str
    resident: ResidentOut


class LogoutOut(BaseModel):
    ok: bool


def _signature(secret_key: str, session_id: str) -> str:
    mac = hmac.new(secret_key.encode(), session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def issue_token(resident: Resident, secret_key: str, ttl: timedelta, now: datetime) -> tuple[str, AuthSession]:
    """Create a session for ``resident`` and return its signed bearer token."""
    session_id = secrets.token_urlsafe(24)
    row = AuthSession.create(id=session_id, resident=resident, created_at=now, expires_at=now + ttl)
    return f"{session_id}.{_signature(secret_key, session_id)}", row


# Every authenticated request runs this; compiled once (see ``prepared``).
_SESSION = Prepared(lambda: AuthSession.select(AuthSession.expires_at, AuthSession.revoked_at, *Resident._meta.sorted_fields)
                    .join(Resident).where(AuthSession.id == Param("sid")))
_RESIDENT_FIELDS = [f.name for f in Resident._meta.sorted_fields]


def resident_for_token(token: str, secret_key: str, now: datetime) -> Resident | None:
    """The resident a token belongs to, or None when it is forged, expired or revoked."""
    session_id, _, sig = token.partition(".")
    if not session_id or not sig or len(token) > 200:
        return None
    if not hmac.compare_digest(sig, _signature(secret_key, session_id)):
        return None
    row = _SESSION.one(sid=session_id)
    if row is None or row[1] is not None or row[0] <= now:
        return None
    g.auth_session_id = session_id
    return loaded(Resident, dict(zip(_RESIDENT_FIELDS, row[2:])))


def revoke(session_id: str, now: datetime) -> None:
    """Revoke one session; its token is refused from now on."""
    AuthSession.update(revoked_at=now).where(AuthSession.id == session_id).execute()


def current_resident() -> Resident:
    """The resident of this request's bearer token, or raise 401."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("请先登录", code="unauthorized")
    settings = services.get().settings
    resident = resident_for_token(token.strip(), settings.server.secret_key, utcnow())
    if resident is None:
        raise Unauthorized("登录已失效，请重新登录", code="invalid_token")
    return resident


# WeChat errcodes of code2Session → our answers (CONTRACT §3).
_LOGIN_ERRORS = {
    40029: (401, "wechat_code_invalid", "登录凭证无效或已过期，请重新进入小程序"),
    40163: (401, "wechat_code_invalid", "登录凭证已被使用，请重新进入小程序"),
    45011: (429, "wechat_rate_limited", "登录太频繁，请稍后再试"),
    40226: (403, "wechat_risky_user", "该微信账号存在风险，暂时无法登录"),
}


@route("/auth/wechat-login", "POST", summary="微信登录：code 换取会话令牌", tag="auth", body=LoginIn,
       response=LoginOut, auth=False, errors={401: "wechat_code_invalid", 403: "wechat_risky_user",
                           429: "wechat_rate_limited", 503: "wechat_unavailable"})
def wechat_login(body: LoginIn):
    svc = services.get()
    try:
        session = svc.wechat.code_to_session(body.code)
    except PlatformError as err:
        status, code, message = _LOGIN_ERRORS.get(err.errcode, (503, "wechat_unavailable", "微信服务暂时不可用，请稍后再试"))
        raise ApiError(message, code=code, status=status) from None
    except Unavailable:
        raise ServiceUnavailable("微信服务暂时不可用，请稍后再试", code="wechat_unavailable") from None
    now = utcnow()
    with write_tx():
        resident, created = Resident.get_or_create(
            openid=session.openid,
            defaults={"session_key": session.session_key, "unionid": session.unionid,
                      "created_at": now, "last_login_at": now},
        )
        if not created:
            Resident.update(session_key=session.session_key, unionid=session.unionid or resident.unionid,
                            last_login_at=now).where(Resident.id == resident.id).execute()
        token, row = issue_token(resident, svc.settings.server.secret_key,
                                 timedelta(hours=svc.settings.server.token_ttl_hours), now)
    return {"token": token, "expires_at": iso(row.expires_at), "resident": ResidentOut.of(resident)}


@route("/auth/logout", "POST", summary="退出登录（吊销当前令牌）", tag="auth", response=LogoutOut)
def logout(resident: Resident):
    revoke(g.auth_session_id, utcnow())
    return {"ok": True}


def init_app(app: Flask) -> None:
    """Nothing to set up: importing this module declared its routes."""

