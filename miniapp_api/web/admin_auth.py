"""Who is calling an administrator endpoint, and what they may do.

Roles (DESIGN.md): ``county_admin`` (everything), ``unit_admin`` (their township only) and
``auditor`` (read-only, county-wide). A caller is recognised by, in order:

1. a console session (the console sets ``g.console_admin`` before the view runs; a write
   also needs the page's ``X-CSRFToken`` header, and a live session without it is answered
   403 ``csrf_missing`` or ``csrf_invalid`` rather than 401), or
2. ``Authorization: Bearer <admin.api_token>`` from the configuration (county_admin rights,
   for scripts), when that key is set.

Views call :func:`current_admin` and then :meth:`AdminPrincipal.require`.
"""
from __future__ import annotations

import hmac
from dataclasses import dataclass

from flask import g
from flask import request

from miniapp_api.web import collaborators
from miniapp_api.errors import Forbidden
from miniapp_api.errors import Unauthorized

ROLES = ("county_admin", "unit_admin", "auditor")


@dataclass(frozen=True)
class AdminPrincipal:
    """An authenticated administrator (``township`` is the unit code of a unit_admin)."""

    name: str
    role: str
    township: str | None = None
    user_id: int | None = None

    def can_read(self, township: str | None = None) -> bool:
        """Whether this admin may read the data of ``township`` (or county-wide data when None)."""
        if self.role in ("county_admin", "auditor"):
            return True
        return township is not None and township == self.township

    def can_write(self, township: str | None = None) -> bool:
        """Whether this admin may change the data of ``township`` (or county-wide data when None)."""
        if self.role == "county_admin":
            return True
        return self.role == "unit_admin" and township is not None and township == self.township

    def require(self, *, write: bool, township: str | None = None, county: bool = False) -> None:
        """Raise 403 unless this admin may read (or write) ``township`` (or county-wide data)."""
        if county and self.role != "county_admin" and (write or self.role != "auditor"):
            raise Forbidden("需要县级管理员权限", code="forbidden")
        allowed = self.can_write(township) if write else self.can_read(township)
        if not allowed:
            raise Forbidden("没有权限操作该单位的数据", code="forbidden")


def current_admin() -> AdminPrincipal:
    """The administrator of this request, or raise 401."""
    principal = getattr(g, "console_admin", None)
    if principal is not None:
        return principal
    token = collaborators.current().settings.admin.api_token
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
        return AdminPrincipal(name="api-token", role="county_admin")
    csrf = g.get("console_csrf_error")
    if csrf == "missing":
        raise Forbidden("缺少 X-CSRFToken 请求头：管理后台的会话调用管理接口时须带上页面的 CSRF token",
                        code="csrf_missing")
    if csrf == "invalid":
        raise Forbidden("X-CSRFToken 无效或已过期，请刷新管理后台页面后重试", code="csrf_invalid")
    raise Unauthorized("需要管理员登录", code="admin_unauthorized")
