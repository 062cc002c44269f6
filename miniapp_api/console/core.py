"""The console blueprint and what every console request goes through.

* **Session.** Flask's signed session cookie (``tongxin_console``: HttpOnly, SameSite=Lax,
  Secure when ``server.public_base_url`` is https) carries only a random session token and
  the CSRF secret; the session itself lives in :class:`ConsoleSession` (idle and absolute
  expiry, revocation). An app-wide hook resumes it and sets ``g.console_admin`` to an
  :class:`~miniapp_api.web.admin_auth.AdminPrincipal`, so the admin API accepts console sessions
  too; for an unsafe method outside the console it does so only with a valid
  ``X-CSRFToken`` header, so a console cookie cannot be used to forge admin API calls.
* **CSRF.** Flask-WTF's token on every console form (``CSRFProtect.protect`` in the
  blueprint's ``before_request``; the app-wide default check is off so the mini-program API
  and the platform callbacks are unaffected).
* **Pages, not JSON.** Errors inside the console render a Chinese HTML page; security headers
  (CSP without inline script, no framing, no caching) go on every console response.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import timedelta
from urllib.parse import urlencode
from urllib.parse import urlsplit

from flask import Blueprint
from flask import Flask
from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError
from flask_wtf.csrf import CSRFProtect
from flask_wtf.csrf import validate_csrf
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from miniapp_api.web import collaborators
from miniapp_api.web.admin_auth import AdminPrincipal
from miniapp_api.errors import ApiError
from miniapp_api.reports.lifecycle import ACTION_LABELS
from miniapp_api.reports.lifecycle import STATUS_LABELS
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.console import security
from miniapp_api.audit import ACTION_LABELS as AUDIT_LABELS
from miniapp_api.audit import Who
from miniapp_api.audit import local
from miniapp_api.org.levels import FIRST_LEVEL_LABELS as LEVEL_LABELS

log = logging.getLogger(__name__)

csrf = CSRFProtect()

COOKIE_NAME = "tongxin_console"
IDLE_MINUTES = 30
ABSOLUTE_HOURS = 12
PUBLIC_ENDPOINTS = {"console.login", "console.static", "console.not_found"}
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")

CHANNEL_LABELS = {"wechat": "微信", "dingtalk": "钉钉", "console": "控制台", "system": "系统"}


class Routes:
    """The routes of one view module, recorded by its decorators and added to the console
    blueprint by :func:`install` (so registration is one explicit list, not an import)."""

    def __init__(self) -> None:
        self.rules: list[tuple[str, object, dict]] = []
        self.template_globals: list[tuple[str, object]] = []

    def route(self, rule: str, **options):
        """Record ``rule`` for the decorated view (options as for ``Blueprint.route``)."""
        def record(view):
            self.rules.append((rule, view, options))
            return view
        return record

    def get(self, rule: str, **options):
        """Record a GET route."""
        return self.route(rule, methods=["GET"], **options)

    def post(self, rule: str, **options):
        """Record a POST route."""
        return self.route(rule, methods=["POST"], **options)

    def template_global(self, name: str):
        """Record a function the console's templates may call as ``name``."""
        def record(func):
            self.template_globals.append((name, func))
            return func
        return record

    def add_to(self, bp: Blueprint) -> None:
        """Add every recorded route and template global to ``bp``."""
        for rule, view, options in self.rules:
            bp.add_url_rule(rule, view_func=view, **options)
        for name, func in self.template_globals:
            bp.add_app_template_global(func, name)


routes = Routes()  # the console's own: the catch-all 404 page


# --- who is asking --------------------------------------------------------------------------


def client_ip() -> str:
    """The caller's address as the app sees it (behind nginx: ``[server] trusted_proxies``)."""
    return (request.remote_addr or "")[:64]


#: The last page number a list accepts; a larger ``?page=`` shows this page (an empty one).
#: Without the bound, a number beyond 64 bits reached the database as an OFFSET and failed.
MAX_PAGE = 1_000_000


def page_arg(args) -> int:
    """The ``?page=`` of a console list: 1 when missing or not a number, clamped to 1…:data:`MAX_PAGE`."""
    raw = str(args.get("page", "1"))[:20]
    try:
        return min(MAX_PAGE, max(1, int(raw)))
    except ValueError:
        return 1


def admin() -> AdminPrincipal:
    """The administrator of this console request."""
    return g.console_admin


def who() -> Who:
    """The administrator of this request, as the audit log records them."""
    p: AdminPrincipal = g.console_admin
    return Who(username=g.console_user.username, name=p.name, role=p.role, township=p.township,
               ip=client_ip(), user_id=p.user_id)


def township_scope() -> str | None:
    """None for county-wide roles; the unit code of a unit administrator."""
    p: AdminPrincipal = g.console_admin
    return p.township if p.role == "unit_admin" else None


def visible_townships() -> list[Township]:
    """The townships this administrator may see (one for a unit administrator)."""
    scope = township_scope()
    q = Township.select().order_by(Township.sort_order, Township.id)
    return list(q.where(Township.code == scope) if scope else q)


def safe_next(target: str | None) -> str:
    """A post-login destination inside the console, never another site."""
    default = url_for("console.dashboard")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/console/") or "\\" in target:
        return default
    return target


# --- the hooks ------------------------------------------------------------------------------


def _load_console_admin() -> None:
    """App-wide: resume a console session from the cookie and set ``g.console_admin``."""
    g.console_user = None
    if COOKIE_NAME not in request.cookies or request.endpoint == "console.static":
        return
    token = session.get("sid")
    if not token:
        return
    resumed = security.resume_session(token, utcnow(), timedelta(minutes=current_app.config["CONSOLE_IDLE_MINUTES"]))
    if resumed.user is None:
        session.pop("sid", None)
        g.console_expired = resumed.expired
        return
    if request.method not in _SAFE_METHODS and request.blueprint != "console":
        header = next((request.headers.get(h) for h in ("X-CSRFToken", "X-CSRF-Token") if request.headers.get(h)), None)
        try:
            validate_csrf(header)
        except ValidationError:
            # A cookie alone never authorises a write; the admin API says what is missing.
            g.console_csrf_error = "invalid" if header else "missing"
            return
    user = resumed.user
    g.console_user = user
    g.console_admin = AdminPrincipal(name=user.display_name or user.username, role=user.role,
                                     township=user.township if user.role == "unit_admin" else None,
                                     user_id=user.id)


def _console_guard():
    if request.endpoint in ("console.static",):
        return None
    if request.method not in _SAFE_METHODS:
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if g.get("console_admin") is None:
        if g.get("console_expired"):
            flash("登录已超时或已失效，请重新登录", "warn")
        nxt = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("console.login", next=nxt))
    return None


def _headers(resp):
    resp.headers["Content-Security-Policy"] = g.get("console_csp") or CSP  # a page may widen img-src (the map's tiles)
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "console.static":
        resp.headers["Cache-Control"] = "no-store"
    return resp


# --- error pages ----------------------------------------------------------------------------


def _error_page(status: int, title: str, message: str):
    return render_template("console/error.html", status=status, title=title, message=message), status


def _csrf_error(err: CSRFError):
    return _error_page(400, "页面已过期", "表单校验失败（页面已过期或来源不明），没有做任何修改。请返回、刷新页面后重试。")


def _api_error(err: ApiError):
    titles = {403: "没有权限", 404: "找不到", 409: "操作冲突"}
    return _error_page(err.status, titles.get(err.status, "请求有误"), err.message)


def _http_error(err: HTTPException):
    messages = {404: "找不到该页面", 405: "不支持该请求方法", 413: "上传的文件太大"}
    return _error_page(err.code or 500, "请求无法处理", messages.get(err.code, "请求无法处理"))


def _unexpected(err: Exception):
    log.exception("console error")
    return _error_page(500, "服务器内部错误", "服务器内部错误，操作没有完成。请稍后再试，或联系技术支持。")


@routes.route("/<path:rest>")
def not_found(rest: str):
    """Any other path under /console/: the console's own 404 page."""
    return _error_page(404, "找不到", "找不到该页面")


# --- templates ------------------------------------------------------------------------------


NAV = [
    ("console.dashboard", "概览", None),
    ("console.reports", "上报", None),
    ("console.notices_list", "通知", None),
    ("console.campaigns_list", "志愿活动", None),
    ("console.mappings", "钉钉群", None),
    ("console.deliveries", "推送", None),
    ("console.roster", "人员", None),
    ("console.grids", "网格", None),
    ("console.categories", "类别", None),
    ("console.audit_log", "审计", None),
    ("console.admins", "管理员", ("county_admin", "auditor")),
]


def _context():
    p = g.get("console_admin")
    nav = [(ep, label) for ep, label, roles in NAV if p and (roles is None or p.role in roles)]
    unit = None
    if p and p.township:
        t = Township.get_or_none(Township.code == p.township)
        unit = t.name if t else p.township
    return {"principal": p, "nav": nav, "role_label": security.ROLE_LABELS.get(p.role, "") if p else "",
            "unit_name": unit, "STATUS_LABELS": STATUS_LABELS, "ACTION_LABELS": ACTION_LABELS,
            "AUDIT_LABELS": AUDIT_LABELS, "CHANNEL_LABELS": CHANNEL_LABELS, "LEVEL_LABELS": LEVEL_LABELS,
            "can_write": bool(p and p.role != "auditor"), "query": _query}


def _query(args, **changes) -> str:
    """The query string of ``args`` with ``changes`` applied (for pagers and export links)."""
    values = {k: v for k, v in args.items() if k not in changes}
    values.update({k: v for k, v in changes.items() if v is not None})
    return urlencode(values)


def _secret_key(app: Flask) -> bytes:
    settings = app.config["TONGXIN_SETTINGS"]
    return hmac.new(settings.server.secret_key.encode(), b"tongxin-console-cookie", hashlib.sha256).digest()


def blueprint(views: list[Routes]) -> Blueprint:
    """A console blueprint with its hooks, error pages and the routes of ``views``."""
    bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates",
                   static_folder="static")
    bp.before_request(_console_guard)
    bp.after_request(_headers)
    bp.register_error_handler(CSRFError, _csrf_error)
    bp.register_error_handler(ApiError, _api_error)
    bp.register_error_handler(HTTPException, _http_error)
    bp.register_error_handler(Exception, _unexpected)
    bp.context_processor(_context)
    for view in views:
        view.add_to(bp)
    routes.add_to(bp)
    return bp


class CookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie session, with no signer built for a request without the cookie.

    Only the console (and the admin API it calls) keeps a session; residents and robots
    authenticate on every request. Flask builds the session's signer (a key derivation) on
    every request before it looks for the cookie, a cost the busiest API calls paid for
    nothing. Without the cookie the session starts empty, as Flask's own would, and saving
    it (at login) builds the signer then."""

    def open_session(self, app: Flask, request):
        if self.get_cookie_name(app) not in request.cookies:
            return self.session_class()
        return super().open_session(app, request)


def install(app: Flask, views: list[Routes]) -> None:
    """Configure cookies and CSRF, register the blueprint (with ``views``) and the session hook."""
    settings = app.config["TONGXIN_SETTINGS"]
    if not app.secret_key:
        app.secret_key = _secret_key(app)
    app.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.server.public_base_url.startswith("https://"),
        WTF_CSRF_CHECK_DEFAULT=False,  # only the console's forms; the APIs have their own auth
        WTF_CSRF_TIME_LIMIT=ABSOLUTE_HOURS * 3600,
    )
    app.config.setdefault("CONSOLE_IDLE_MINUTES", IDLE_MINUTES)
    app.config.setdefault("CONSOLE_ABSOLUTE_HOURS", ABSOLUTE_HOURS)
    app.session_interface = CookieSessions()
    csrf.init_app(app)
    app.before_request(_load_console_admin)
    app.register_blueprint(blueprint(views))
    app.jinja_env.filters["local"] = local
    # Imported macros (the pager) do not see the context processor's names; a global they do.
    app.jinja_env.globals["query"] = _query


def get_settings():
    """The app's settings."""
    return collaborators.current().settings
