"""Login, logout, one's own password, and the administrators' accounts (county only)."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from flask import flash
from flask import g
from flask import redirect
from flask import render_template
from flask import request
from flask import session
from flask import url_for

from miniapp_api.db import write_tx
from miniapp_api.errors import NotFound
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.models.console import AdminUser
from miniapp_api import audit
from miniapp_api.console import security
from miniapp_api.audit import Who
from miniapp_api.console.core import admin
from miniapp_api.console.core import Routes
from miniapp_api.console.core import client_ip
from miniapp_api.console.core import safe_next
from miniapp_api.console.core import who

routes = Routes()


@routes.route("/login", methods=["GET", "POST"])
def login():
    """GET the login form; POST signs in (with lockout)."""
    nxt = request.values.get("next", "")
    if request.method == "GET":
        if g.get("console_admin") is not None:
            return redirect(safe_next(nxt))
        return render_template("console/login.html", next=nxt, username="")
    username = request.form.get("username", "").strip()[:100]
    password = request.form.get("password", "")
    now = utcnow()
    try:
        user = security.authenticate(username, password, client_ip(), now)
    except security.LoginRefused as err:
        with write_tx():
            audit.record(Who(username or "?", "", "", None, client_ip()), "auth.login_failed",
                         target=f"admin:{username}", note=err.message[:200], now=now)
        return render_template("console/login.html", next=nxt, username=username, error=err.message), \
            429 if err.locked_seconds else 401
    session.clear()  # a fresh session (and CSRF secret) at every login: no fixation
    session["sid"] = security.start_session(
        user, client_ip(), request.headers.get("User-Agent", ""), now,
        timedelta(hours=current_app.config["CONSOLE_ABSOLUTE_HOURS"]))
    with write_tx():
        audit.record(Who(user.username, user.display_name, user.role, user.township, client_ip(), user.id),
                     "auth.login", target=f"admin:{user.username}", township=user.township, now=now)
    return redirect(safe_next(nxt))


@routes.post("/logout")
def logout():
    """POST: end the session."""
    now = utcnow()
    token = session.get("sid")
    with write_tx():
        audit.record(who(), "auth.logout", target=f"admin:{g.console_user.username}",
                     township=admin().township, now=now)
    if token:
        security.end_session(token, now)
    session.clear()
    flash("已退出登录", "ok")
    return redirect(url_for("console.login"))


@routes.route("/password", methods=["GET", "POST"])
def password():
    """GET/POST: change one's own password."""
    if request.method == "GET":
        return render_template("console/password.html")
    user = g.console_user
    now = utcnow()
    errors = {}
    if not security.verify_password(user.password_hash, request.form.get("current", "")):
        errors["current"] = "当前密码不对"
    new = request.form.get("new", "")
    if new != request.form.get("confirm", ""):
        errors["confirm"] = "两次输入的新密码不一致"
    if not errors:
        try:
            security.set_password(user, new, now)
        except security.AccountError as err:
            errors[err.field if err.field != "password" else "new"] = err.message
    if errors:
        return render_template("console/password.html", errors=errors), 422
    with write_tx():
        audit.record(who(), "auth.password_changed", target=f"admin:{user.username}", township=user.township, now=now)
    # Every session of the account ended with the change; this browser gets a new one.
    session.clear()
    session["sid"] = security.start_session(AdminUser.get_by_id(user.id), client_ip(),
                                            request.headers.get("User-Agent", ""), now,
                                            timedelta(hours=current_app.config["CONSOLE_ABSOLUTE_HOURS"]))
    flash("密码已修改，其他设备上的登录已退出", "ok")
    return redirect(url_for("console.dashboard"))


# --- administrators (county administrators only) ---------------------------------------------


def _admins_page(errors=None, form=None, status=200):
    users = list(AdminUser.select().order_by(AdminUser.id))
    townships = list(Township.select().order_by(Township.sort_order, Township.id))
    return render_template("console/admins.html", users=users, townships=townships, errors=errors or {},
                           form=form or {}, roles=security.ROLE_LABELS), status


@routes.get("/admins")
def admins():
    """GET the administrators list."""
    admin().require(write=False, county=True)
    return _admins_page()


@routes.post("/admins")
def admin_create():
    """POST: create an administrator."""
    admin().require(write=True, county=True)
    f = request.form
    now = utcnow()
    try:
        with write_tx():
            user = security.create_admin(f.get("username", "").strip(), f.get("display_name", ""), f.get("role", ""),
                                         f.get("password", ""), f.get("township") or None, now)
            audit.record(who(), "admin.created", target=f"admin:{user.username}", township=user.township,
                         after={"username": user.username, "display_name": user.display_name, "role": user.role,
                                "township": user.township}, now=now)
    except security.AccountError as err:
        form = {k: v for k, v in f.items() if k != "password"}
        return _admins_page({err.field: err.message}, form, 422)
    flash(f"已新建管理员 {user.username}", "ok")
    return redirect(url_for("console.admins"))


def _user(user_id: int) -> AdminUser:
    user = AdminUser.get_or_none(AdminUser.id == user_id)
    if user is None:
        raise NotFound("没有这个管理员")
    return user


@routes.post("/admins/<int:user_id>/active")
def admin_active(user_id: int):
    """POST: activate or deactivate an administrator."""
    admin().require(write=True, county=True)
    user = _user(user_id)
    active = request.form.get("active") == "1"
    if user.id == g.console_user.id and not active:
        return _admins_page({"_": "不能停用自己的账号"}, status=422)
    now = utcnow()
    with write_tx():
        AdminUser.update(active=active).where(AdminUser.id == user.id).execute()
        audit.record(who(), "admin.activated" if active else "admin.deactivated", target=f"admin:{user.username}",
                     township=user.township, before={"active": user.active}, after={"active": active}, now=now)
    flash(f"已{'启用' if active else '停用'} {user.username}", "ok")
    return redirect(url_for("console.admins"))


@routes.post("/admins/<int:user_id>/password")
def admin_password(user_id: int):
    """POST: reset an administrator's password."""
    admin().require(write=True, county=True)
    user = _user(user_id)
    now = utcnow()
    try:
        with write_tx():
            security.set_password(user, request.form.get("password", ""), now)
            audit.record(who(), "admin.password_reset", target=f"admin:{user.username}", township=user.township, now=now)
    except security.AccountError as err:
        return _admins_page({f"password_{user.id}": err.message}, status=422)
    flash(f"已重置 {user.username} 的密码，该账号需要用新密码重新登录", "ok")
    return redirect(url_for("console.admins"))
