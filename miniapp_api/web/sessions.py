"""Residents' bearer tokens: issued at login, checked on every authenticated request.

A token is ``<session id>.<signature>``: the id names an :class:`AuthSession` row (so a token
can expire and be revoked) and the signature is an HMAC of the id with ``server.secret_key``
(so a forged token is refused without touching the database).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime
from datetime import timedelta

from flask import g
from flask import request

from miniapp_api.errors import Unauthorized
from miniapp_api.models import AuthSession
from miniapp_api.models import Resident
from miniapp_api.models import utcnow
from miniapp_api.prepared import Param
from miniapp_api.prepared import Prepared
from miniapp_api.prepared import loaded
from miniapp_api.web import collaborators


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
    if not session_id or not sig or len(token) > 200 or not token.isascii():  # ours are ASCII
        return None
    if not hmac.compare_digest(sig.encode(), _signature(secret_key, session_id).encode()):
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
    settings = collaborators.current().settings
    resident = resident_for_token(token.strip(), settings.server.secret_key, utcnow())
    if resident is None:
        raise Unauthorized("登录已失效，请重新登录", code="invalid_token")
    return resident
