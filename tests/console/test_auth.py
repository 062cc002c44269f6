"""Login, lockout with back-off, CSRF, cookies, idle expiry, logout, passwords, the admin API
through a console session, and ``tongxin create-admin``."""
from __future__ import annotations

from datetime import timedelta

from click.testing import CliRunner

from miniapp_api.console import security
from miniapp_api.models import utcnow
from miniapp_api.models.console import AdminUser
from miniapp_api.models.console import AuditEntry
from miniapp_api.models.console import ConsoleSession
from miniapp_api.models.console import LoginThrottle
from tests.console.conftest import PASSWORD


def test_pages_need_login(console):
    c = console()
    for path in ("/console/", "/console/reports", "/console/mappings", "/console/audit", "/console/audit.csv"):
        resp = c.get(path)
        assert resp.status_code == 302 and "/console/login" in resp.headers["Location"], path


def test_login_and_logout(console, db):
    c = console()
    resp = c.login("county")
    assert resp.status_code == 302 and resp.headers["Location"] == "/console/"
    assert "县管理员" in c.text("/console/")
    assert AuditEntry.get(AuditEntry.action == "auth.login").actor == "county"
    resp = c.post("/console/logout")
    assert resp.status_code == 302
    assert c.get("/console/").status_code == 302
    assert ConsoleSession.select().where(ConsoleSession.revoked_at.is_null()).count() == 0


def test_wrong_password_says_so_and_logs_in_nobody(console, db):
    c = console()
    resp = c.login("county", "wrong-password-1")
    assert resp.status_code == 401
    assert "用户名或密码错误" in resp.get_data(as_text=True)
    assert c.get("/console/").status_code == 302
    assert AuditEntry.get(AuditEntry.action == "auth.login_failed").actor == "county"


def test_cookie_flags(console):
    c = console()
    c.get("/console/login")
    resp = c.client.post("/console/login", data={"username": "county", "password": PASSWORD, "csrf_token": c.token})
    cookie = resp.headers["Set-Cookie"]
    assert cookie.startswith("tongxin_console=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" in cookie  # public_base_url is https in the tests


def test_lockout_with_back_off(console, db, monkeypatch):
    c = console()
    for _ in range(security.LOCK_AFTER - 1):
        assert c.login("county", "bad-password-1").status_code == 401
    resp = c.login("county", "bad-password-1")
    assert resp.status_code == 429 and "已暂时锁定" in resp.get_data(as_text=True)
    # While locked even the right password is refused, without being checked.
    resp = c.login("county")
    assert resp.status_code == 429
    row = LoginThrottle.get_by_id(security.account_key("county", "127.0.0.1"))
    first_lock = (row.locked_until - row.last_failure_at).total_seconds()
    assert first_lock == security.LOCK_BASE_SECONDS
    # After the lock, one more failure doubles it.
    LoginThrottle.update(locked_until=utcnow() - timedelta(seconds=1)).where(LoginThrottle.key == security.account_key("county", "127.0.0.1")).execute()
    c.login("county", "bad-password-1")
    row = LoginThrottle.get_by_id(security.account_key("county", "127.0.0.1"))
    assert (row.locked_until - row.last_failure_at).total_seconds() == 2 * security.LOCK_BASE_SECONDS
    # Once the lock has run out, the right password works and clears the count.
    LoginThrottle.update(locked_until=utcnow() - timedelta(seconds=1)).where(LoginThrottle.key == security.account_key("county", "127.0.0.1")).execute()
    assert c.login("county").status_code == 302
    assert LoginThrottle.get_or_none(LoginThrottle.key == security.account_key("county", "127.0.0.1")) is None


def test_unknown_user_is_counted_like_a_known_one(console, db):
    c = console()
    for _ in range(security.LOCK_AFTER):
        resp = c.login("nobody", "bad-password-1")
    assert resp.status_code == 429
    assert LoginThrottle.get_by_id(security.account_key("nobody", "127.0.0.1")).failures == security.LOCK_AFTER


def test_deactivated_account_cannot_log_in(console, db):
    AdminUser.update(active=False).where(AdminUser.username == "auditor").execute()
    assert console().login("auditor").status_code == 401


def test_login_form_needs_csrf(console):
    c = console()
    c.get("/console/login")
    resp = c.client.post("/console/login", data={"username": "county", "password": PASSWORD})
    assert resp.status_code == 400 and "表单校验失败" in resp.get_data(as_text=True)


def test_every_form_needs_csrf(console, db):
    c = console("county")
    for path, data in [("/console/logout", {}), ("/console/categories", {"code": "x1", "name": "x"}),
                       ("/console/emergency", {"on": "1", "confirm": "yes"}),
                       ("/console/mappings/township/yongsheng", {"conversation_id": "cid-x"}),
                       ("/console/deliveries/requeue", {"target": "x"}),
                       ("/console/admins", {"username": "x"})]:
        resp = c.post(path, data, csrf=False)
        assert resp.status_code == 400, path
        resp = c.post(path, dict(data, csrf_token="forged"), csrf=False)
        assert resp.status_code == 400, path
    assert c.get("/console/").status_code == 200  # still logged in: nothing happened
    assert AuditEntry.select().where(~AuditEntry.action.startswith("auth.")).count() == 0


def test_open_redirect_is_refused(console):
    c = console()
    c.get("/console/login")
    resp = c.client.post("/console/login", data={"username": "county", "password": PASSWORD, "csrf_token": c.token,
                                                 "next": "https://evil.example/console/"})
    assert resp.headers["Location"] == "/console/"
    c2 = console()
    c2.get("/console/login")
    resp = c2.client.post("/console/login", data={"username": "county", "password": PASSWORD, "csrf_token": c2.token,
                                                  "next": "/console/reports?status=pending"})
    assert resp.headers["Location"] == "/console/reports?status=pending"


def test_idle_expiry(console, db):
    c = console("county")
    ConsoleSession.update(last_seen_at=utcnow() - timedelta(minutes=31)).execute()
    resp = c.get("/console/")
    assert resp.status_code == 302
    assert "登录已超时" in c.text("/console/login")


def test_absolute_expiry(console, db):
    c = console("county")
    ConsoleSession.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert c.get("/console/").status_code == 302


def test_change_password(console, db):
    c = console("county")
    resp = c.post("/console/password", {"current": "nope", "new": "short", "confirm": "other"})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "当前密码不对" in body and "不一致" in body
    resp = c.post("/console/password", {"current": PASSWORD, "new": "abcdefghij", "confirm": "abcdefghij"})
    assert resp.status_code == 422 and "两类字符" in resp.get_data(as_text=True)
    other = console("county")  # another browser
    resp = c.post("/console/password", {"current": PASSWORD, "new": "New-password-77", "confirm": "New-password-77"})
    assert resp.status_code == 302
    assert c.get("/console/").status_code == 200  # this browser got a new session
    assert other.get("/console/").status_code == 302  # the other one is logged out
    assert console().login("county", "New-password-77").status_code == 302


def test_admin_api_accepts_console_sessions(console, db):
    c = console("county")
    resp = c.client.get("/api/v1/admin/emergency")
    assert resp.status_code == 200, resp.get_json()
    # A write with the cookie alone is refused: a forged cross-site request has no token.
    resp = c.client.post("/api/v1/admin/emergency", json={"on": True, "township": "yongsheng"})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "csrf_missing"
    resp = c.client.post("/api/v1/admin/emergency", json={"on": True, "township": "yongsheng"},
                         headers={"X-CSRFToken": c.token})
    assert resp.status_code == 200 and resp.get_json()["townships"]["yongsheng"] is True
    unit = console("yn_admin")
    resp = unit.client.post("/api/v1/admin/emergency", json={"on": True, "township": "yongsheng"},
                            headers={"X-CSRFToken": unit.token})
    assert resp.status_code == 403


def test_admins_page_creates_and_deactivates(console, db):
    c = console("county")
    resp = c.post("/console/admins", {"username": "ab", "display_name": "x", "role": "unit_admin", "password": PASSWORD})
    assert resp.status_code == 422 and "用户名为" in resp.get_data(as_text=True)
    resp = c.post("/console/admins", {"username": "new_unit", "display_name": "新单位", "role": "unit_admin",
                                      "password": PASSWORD})
    assert resp.status_code == 422 and "单位管理员必须选择" in resp.get_data(as_text=True)
    assert AdminUser.get_or_none(AdminUser.username == "new_unit") is None
    resp = c.post("/console/admins", {"username": "new_unit", "display_name": "新单位", "role": "unit_admin",
                                      "township": "yitong", "password": PASSWORD})
    assert resp.status_code == 302
    user = AdminUser.get(AdminUser.username == "new_unit")
    assert user.township == "yitong" and user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in str(AuditEntry.get(AuditEntry.action == "admin.created").after)
    new = console("new_unit")
    resp = c.post(f"/console/admins/{user.id}/active", {"active": "0"})
    assert resp.status_code == 302
    assert new.get("/console/").status_code == 302  # deactivated: the session ends at once
    me = AdminUser.get(AdminUser.username == "county")
    resp = c.post(f"/console/admins/{me.id}/active", {"active": "0"})
    assert resp.status_code == 422 and "不能停用自己的账号" in resp.get_data(as_text=True)


def test_cli_create_admin(settings_dict, tmp_path, app, db):
    from miniapp_api.cli import main

    path = tmp_path / "tongxin.toml"
    path.write_text(_toml(settings_dict), encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["--config", str(path), "create-admin", "root", "--name", "县级管理员", "--password-stdin"],
                           input="Str0ng-pass-word\n")
    assert result.exit_code == 0, result.output
    assert "created admin root" in result.output
    db.connect(reuse_if_open=True)
    user = AdminUser.get(AdminUser.username == "root")
    assert user.role == "county_admin" and security.verify_password(user.password_hash, "Str0ng-pass-word")
    result = runner.invoke(main, ["--config", str(path), "create-admin", "root", "--password-stdin"], input="Str0ng-pass-word\n")
    assert result.exit_code != 0 and "已存在" in result.output
    result = runner.invoke(main, ["--config", str(path), "create-admin", "weak", "--password-stdin"], input="short\n")
    assert result.exit_code != 0 and "password" in result.output
    result = runner.invoke(main, ["--config", str(path), "create-admin", "unit1", "--role", "unit_admin",
                                  "--password-stdin"], input="Str0ng-pass-word\n")
    assert result.exit_code != 0 and "township" in result.output


def _toml(data: dict, prefix: str = "") -> str:
    """A tiny TOML writer for the test configuration (tables, arrays of tables, scalars)."""
    import json

    lines, tables = [], []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value, False))
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            tables.append((key, value, True))
        else:
            lines.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
    out = "\n".join(lines) + "\n"
    for key, value, is_array in tables:
        name = f"{prefix}{key}"
        for item in (value if is_array else [value]):
            out += f"\n[[{name}]]\n" if is_array else f"\n[{name}]\n"
            out += _toml(item, f"{name}.")
    return out
