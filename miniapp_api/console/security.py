"""Console accounts: argon2 passwords, sessions with idle expiry, lockout with back-off.

* Passwords are hashed with argon2id (``argon2-cffi``'s defaults, RFC 9106 low-memory
  profile) and re-hashed on login when the parameters change.
* A failed login counts against the account *from that address* (the main defence) and
  against the address. After :data:`LOCK_AFTER` failures in a row the account is locked for
  that address for :data:`LOCK_BASE_SECONDS`, doubling with each further failure up to
  :data:`LOCK_MAX_SECONDS`; an address is locked for every account after
  :data:`IP_LOCK_AFTER`. While locked, the password is not even checked. Someone guessing
  from elsewhere therefore never locks the account's owner out: the right password from an
  address that is not locked always works, and it clears the account's failures (and the
  address's run of failures). The
  address is the client's as ``[server] trusted_proxies`` lets the app see it (behind nginx,
  ``X-Forwarded-For``; otherwise every caller is the proxy). Unknown names are counted and
  hashed against a dummy hash too, so the answer and its timing do not tell whether an
  account exists.
* A session is a random token in the cookie; the database keeps its SHA-256. It ends after
  ``idle`` without a request, after ``absolute`` in any case, at logout, or when the account
  is deactivated or its password changed.

Functions take ``now`` and the caller's address; nothing here reads Flask's request.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError
from argon2.exceptions import VerificationError

from miniapp_api.web.admin_auth import ROLES
from miniapp_api.db import write_tx
from miniapp_api.models import Township
from miniapp_api.models.console import AdminUser
from miniapp_api.models.console import ConsoleSession
from miniapp_api.models.console import LoginThrottle

LOCK_AFTER = 5
IP_LOCK_AFTER = 20
LOCK_BASE_SECONDS = 60
LOCK_MAX_SECONDS = 3600
PASSWORD_MIN = 10
PASSWORD_MAX = 128
USERNAME_RE = re.compile(r"^[A-Za-z0-9_.-]{3,40}$")
ROLE_LABELS = {"county_admin": "县级管理员", "unit_admin": "单位管理员", "auditor": "审计员"}

hasher = PasswordHasher()
_dummy_hash: str | None = None


class LoginRefused(Exception):
    """The login failed; ``message`` is what the page shows."""

    def __init__(self, message: str, *, locked_seconds: float = 0):
        super().__init__(message)
        self.message = message
        self.locked_seconds = locked_seconds


class AccountError(ValueError):
    """Account data is invalid; ``field`` names the form field."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


# --- passwords ------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    """The argon2 hash of ``password``."""
    return hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches ``hashed``."""
    try:
        return hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _dummy() -> str:
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = hasher.hash(secrets.token_hex(16))
    return _dummy_hash


def password_problem(password: str, username: str = "") -> str | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < PASSWORD_MIN:
        return f"密码至少 {PASSWORD_MIN} 个字符"
    if len(password) > PASSWORD_MAX:
        return f"密码最多 {PASSWORD_MAX} 个字符"
    if username and username.lower() in password.lower():
        return "密码不能包含用户名"
    kinds = sum(bool(re.search(p, password)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[^A-Za-z0-9]"))
    if kinds < 2:
        return "密码要包含至少两类字符（小写字母、大写字母、数字、符号）"
    return None


def validate_account(username: str, display_name: str, role: str, township: str | None) -> str | None:
    """Check account fields; returns the unit code (None for county roles) or raises AccountError."""
    if not USERNAME_RE.match(username or ""):
        raise AccountError("username", "用户名为 3–40 个字母、数字或 _ . -")
    if not (display_name or "").strip() or len(display_name.strip()) > 40:
        raise AccountError("display_name", "姓名不能为空，最多 40 个字")
    if role not in ROLES:
        raise AccountError("role", "角色应为县级管理员、单位管理员或审计员")
    if role == "unit_admin":
        if not township or Township.get_or_none(Township.code == township) is None:
            raise AccountError("township", "单位管理员必须选择一个存在的乡镇/街道")
        return township
    return None


def create_admin(username: str, display_name: str, role: str, password: str, township: str | None,
                 now: datetime) -> AdminUser:
    """Create an account (CLI and console); raises AccountError."""
    township = validate_account(username, display_name, role, township)
    problem = password_problem(password, username)
    if problem:
        raise AccountError("password", problem)
    with write_tx():
        if AdminUser.get_or_none(AdminUser.username == username):
            raise AccountError("username", f"用户名 {username} 已存在")
        return AdminUser.create(username=username, display_name=display_name.strip(), role=role,
                                township=township, password_hash=hash_password(password),
                                created_at=now, password_changed_at=now)


def set_password(user: AdminUser, password: str, now: datetime) -> None:
    """Change a password and end the account's other sessions; raises AccountError."""
    problem = password_problem(password, user.username)
    if problem:
        raise AccountError("password", problem)
    with write_tx():
        (AdminUser.update(password_hash=hash_password(password), password_changed_at=now)
         .where(AdminUser.id == user.id).execute())
        (ConsoleSession.update(revoked_at=now)
         .where((ConsoleSession.user == user.id) & ConsoleSession.revoked_at.is_null()).execute())


# --- lockout --------------------------------------------------------------------------------


def _lock_seconds(failures: int, threshold: int) -> float:
    if failures < threshold:
        return 0
    return min(LOCK_MAX_SECONDS, LOCK_BASE_SECONDS * 2 ** (failures - threshold))


def _account(username: str) -> str:
    return f"user:{username.lower()[:48]}@"


def account_key(username: str, ip: str) -> str:
    """The throttle key of ``username``'s failed logins from ``ip``."""
    return f"{_account(username)}{ip[:64]}"


def _address_key(ip: str) -> str:
    return f"ip:{ip[:100]}"


def _keys(username: str, ip: str) -> list[tuple[str, int]]:
    return [(account_key(username, ip), LOCK_AFTER), (_address_key(ip), IP_LOCK_AFTER)]


def locked_seconds(username: str, ip: str, now: datetime) -> float:
    """Seconds until this name may try again from this address; 0 when not locked."""
    keys = [k for k, _ in _keys(username, ip)]
    left = 0.0
    for row in LoginThrottle.select().where(LoginThrottle.key.in_(keys)):
        if row.locked_until and row.locked_until > now:
            left = max(left, (row.locked_until - now).total_seconds())
    return left


def _record_failure(username: str, ip: str, now: datetime) -> float:
    longest = 0.0
    with write_tx():
        for key, threshold in _keys(username, ip):
            LoginThrottle.insert(key=key).on_conflict_ignore().execute()
            row = LoginThrottle.get_by_id(key)
            failures = row.failures + 1
            seconds = _lock_seconds(failures, threshold)
            (LoginThrottle.update(failures=failures, last_failure_at=now,
                                  locked_until=now + timedelta(seconds=seconds) if seconds else None)
             .where(LoginThrottle.key == key).execute())
            longest = max(longest, seconds)
    return longest


def _clear_failures(username: str, ip: str) -> None:
    """Forget the account's failed logins, from every address, and the address's run of failures."""
    with write_tx():
        LoginThrottle.delete().where(LoginThrottle.key.startswith(_account(username))
                                     | (LoginThrottle.key == _address_key(ip))).execute()


def wait_text(seconds: float) -> str:
    """How long a locked-out user must wait, in Chinese."""
    minutes = int(seconds // 60)
    return f"{minutes} 分 {int(seconds % 60)} 秒" if minutes else f"{max(1, int(seconds))} 秒"


def authenticate(username: str, password: str, ip: str, now: datetime) -> AdminUser:
    """The active account for these credentials, or raise :class:`LoginRefused`."""
    username = (username or "").strip()
    left = locked_seconds(username, ip, now)
    if left:
        raise LoginRefused(f"登录失败次数过多，已暂时锁定，请 {wait_text(left)}后再试", locked_seconds=left)
    user = AdminUser.get_or_none(AdminUser.username == username) if username else None
    ok = verify_password(user.password_hash if user else _dummy(), password or "")
    if not ok or user is None or not user.active:
        lock = _record_failure(username, ip, now)
        if lock:
            raise LoginRefused(f"登录失败次数过多，已暂时锁定，请 {wait_text(lock)}后再试", locked_seconds=lock)
        raise LoginRefused("用户名或密码错误（或账号已停用）")
    _clear_failures(username, ip)
    values = {"last_login_at": now}
    if hasher.check_needs_rehash(user.password_hash):
        values["password_hash"] = hash_password(password)
    with write_tx():
        AdminUser.update(**values).where(AdminUser.id == user.id).execute()
    return AdminUser.get_by_id(user.id)


# --- sessions -------------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: AdminUser, ip: str, user_agent: str, now: datetime, absolute: timedelta) -> str:
    """Record a new session for ``user``; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    with write_tx():
        ConsoleSession.create(id=_digest(token), user=user, created_at=now, last_seen_at=now,
                              expires_at=now + absolute, ip=ip[:64], user_agent=(user_agent or "")[:200])
    return token


@dataclass
class Resumed:
    """A resumed session: its user, or None and whether it had expired."""

    user: AdminUser | None
    expired: bool = False


def resume_session(token: str, now: datetime, idle: timedelta) -> Resumed:
    """The account behind ``token`` if its session is still alive; refreshes its idle clock."""
    row = (ConsoleSession.select(ConsoleSession, AdminUser).join(AdminUser)
           .where(ConsoleSession.id == _digest(token)).first())
    if row is None or row.revoked_at is not None:
        return Resumed(None, expired=row is not None)
    if row.expires_at <= now or row.last_seen_at + idle <= now or not row.user.active \
            or row.user.password_changed_at > row.created_at:
        with write_tx():
            ConsoleSession.update(revoked_at=now).where(ConsoleSession.id == row.id).execute()
        return Resumed(None, expired=True)
    if (now - row.last_seen_at).total_seconds() > 30:  # one write a minute is enough
        with write_tx():
            ConsoleSession.update(last_seen_at=now).where(ConsoleSession.id == row.id).execute()
    return Resumed(row.user)


def end_session(token: str, now: datetime) -> None:
    """Revoke the session ``token`` (logout)."""
    with write_tx():
        ConsoleSession.update(revoked_at=now).where(
            (ConsoleSession.id == _digest(token)) & ConsoleSession.revoked_at.is_null()).execute()
