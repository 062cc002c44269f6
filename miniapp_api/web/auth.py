"""Resident login with WeChat (``/api/v1/auth/…``): a ``wx.login()`` code for a bearer token.

The tokens themselves are :mod:`miniapp_api.web.sessions`. ``session_key`` from WeChat is kept
on the resident row and never leaves the server.
"""
from __future__ import annotations

from datetime import timedelta

from flask import g
from pydantic import BaseModel
from pydantic import Field

from bridges.errors import PlatformError
from bridges.errors import Unavailable

from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.errors import ServiceUnavailable
from miniapp_api.models import Resident
from miniapp_api.models import utcnow
from miniapp_api.reports.schemas import ResidentOut
from miniapp_api.time import iso
from miniapp_api.web import collaborators
from miniapp_api.web.api import ApiBlueprint
from miniapp_api.web.sessions import issue_token
from miniapp_api.web.sessions import revoke

bp = ApiBlueprint("auth")

class LoginIn(BaseModel):
    """The login request: the code from ``wx.login()``."""

    code: str = Field(min_length=1, max_length=128, description="wx.login() 得到的 code")


class LoginOut(BaseModel):
    """A successful login: the bearer token, when it expires, and the resident."""

    token: str
    expires_at: str
    resident: ResidentOut


class LogoutOut(BaseModel):
    """The answer to a logout."""

    ok: bool


# WeChat errcodes of code2Session → our answers (CONTRACT §3).
_LOGIN_ERRORS = {
    40029: (401, "wechat_code_invalid", "登录凭证无效或已过期，请重新进入小程序"),
    40163: (401, "wechat_code_invalid", "登录凭证已被使用，请重新进入小程序"),
    45011: (429, "wechat_rate_limited", "登录太频繁，请稍后再试"),
    40226: (403, "wechat_risky_user", "该微信账号存在风险，暂时无法登录"),
}


@bp.operation("/auth/wechat-login", "POST", summary="微信登录：code 换取会话令牌", tag="auth", body=LoginIn,
       response=LoginOut, auth=False, errors={401: "wechat_code_invalid", 403: "wechat_risky_user",
                           429: "wechat_rate_limited", 503: "wechat_unavailable"})
def wechat_login(body: LoginIn):
    """Exchange a ``wx.login()`` code for a session token (creating the resident on first login)."""
    svc = collaborators.current()
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


@bp.operation("/auth/logout", "POST", summary="退出登录（吊销当前令牌）", tag="auth", response=LogoutOut)
def logout(resident: Resident):
    """Revoke the token of this request."""
    revoke(g.auth_session_id, utcnow())
    return {"ok": True}
