"""Models of the administrators' web console: accounts, sessions, the audit log and the
versioned DingTalk group mappings.

* :class:`AdminUser` — a console account (``county_admin``, ``unit_admin`` of one township,
  ``auditor``); the password is an argon2 hash.
* :class:`ConsoleSession` — a login; the cookie carries a random token, the row its SHA-256,
  so the database alone cannot be replayed as a cookie. Idle and absolute expiry live here.
* :class:`LoginThrottle` — failed logins per user name and per address (lockout, back-off).
* :class:`AuditEntry` — append-only: the application has no path that updates or deletes
  one (``save`` of an existing row and ``delete_instance`` raise), and migration v004 adds
  database triggers that refuse UPDATE and DELETE on both SQLite and PostgreSQL.
* :class:`MappingPolicy` — what the console adds to a :class:`~.models.GroupMapping`: the
  mention policy, a staging group and its switch, the last test send.
* :class:`MappingVersion` — every state a mapping has had (secrets included, never shown),
  so any change can be rolled back.
"""
from __future__ import annotations

from peewee import BooleanField
from peewee import CharField
from peewee import ForeignKeyField
from peewee import IntegerField
from peewee import TextField

from miniapp_api.models.core import BaseModel
from miniapp_api.models.core import JSONField
from miniapp_api.models.core import UtcDateTimeField
from miniapp_api.models.core import utcnow


class AdminUser(BaseModel):
    """A console account. ``township`` is the unit code of a ``unit_admin``."""

    username = CharField(max_length=40, unique=True)
    display_name = CharField(max_length=40)
    password_hash = CharField(max_length=255)
    role = CharField(max_length=16)
    township = CharField(max_length=32, null=True)
    active = BooleanField(default=True)
    created_at = UtcDateTimeField(default=utcnow)
    last_login_at = UtcDateTimeField(null=True)
    password_changed_at = UtcDateTimeField(default=utcnow)


class ConsoleSession(BaseModel):
    """One console login; ``id`` is the SHA-256 (hex) of the token in the cookie."""

    id = CharField(max_length=64, primary_key=True)
    user = ForeignKeyField(AdminUser, backref="sessions", on_delete="CASCADE")
    created_at = UtcDateTimeField(default=utcnow)
    last_seen_at = UtcDateTimeField(default=utcnow)
    expires_at = UtcDateTimeField()
    revoked_at = UtcDateTimeField(null=True)
    ip = CharField(max_length=64, default="")
    user_agent = CharField(max_length=200, default="")


class LoginThrottle(BaseModel):
    """Consecutive failed logins for ``key`` (``user:<name>`` or ``ip:<address>``)."""

    key = CharField(max_length=120, primary_key=True)
    failures = IntegerField(default=0)
    locked_until = UtcDateTimeField(null=True)
    last_failure_at = UtcDateTimeField(null=True)


class AppendOnlyError(RuntimeError):
    """Raised when code tries to change or delete an audit entry."""


class AuditEntry(BaseModel):
    """One administrator action: who, what, before and after, when, from which address.

    ``township`` is the unit the change concerns (None for county-wide changes), so a unit
    administrator sees their own unit's entries. No foreign keys: an entry outlives whatever
    it describes.
    """

    at = UtcDateTimeField(default=utcnow, index=True)
    actor = CharField(max_length=40)
    actor_name = CharField(max_length=40, default="")
    actor_role = CharField(max_length=16, default="")
    ip = CharField(max_length=64, default="")
    action = CharField(max_length=48, index=True)
    target = CharField(max_length=120, default="")
    township = CharField(max_length=32, null=True, index=True)
    before = JSONField(null=True)
    after = JSONField(null=True)
    note = TextField(default="")

    def save(self, *args, **kwargs):
        if self._pk is not None and not kwargs.get("force_insert"):
            raise AppendOnlyError("audit entries cannot be changed")
        return super().save(*args, **kwargs)

    def delete_instance(self, *args, **kwargs):
        raise AppendOnlyError("audit entries cannot be deleted")


MENTION_POLICIES = {
    "duty": "值班 A 岗（A 岗请假时提醒 B 岗）",
    "duty_ab": "A 岗和 B 岗都提醒",
    "none": "不 @ 任何人",
}


class MappingPolicy(BaseModel):
    """Console settings of one unit's or department's group (``owner_kind``/``owner_code``)."""

    owner_kind = CharField(max_length=16)
    owner_code = CharField(max_length=32)
    mention_policy = CharField(max_length=16, default="duty")
    staging_webhook = TextField(null=True)
    staging_secret = TextField(null=True)
    staging_enabled = BooleanField(default=False)
    last_test_at = UtcDateTimeField(null=True)
    last_test_ok = BooleanField(null=True)
    last_test_result = TextField(null=True)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("owner_kind", "owner_code"), True),)


class MappingVersion(BaseModel):
    """A snapshot of a mapping after a change (``version`` counts from 1 per owner)."""

    owner_kind = CharField(max_length=16)
    owner_code = CharField(max_length=32)
    version = IntegerField()
    webhook = TextField(null=True)
    secret = TextField(null=True)
    conversation_id = CharField(max_length=128, null=True)
    enabled = BooleanField(default=True)
    mention_policy = CharField(max_length=16, default="duty")
    staging_webhook = TextField(null=True)
    staging_secret = TextField(null=True)
    staging_enabled = BooleanField(default=False)
    chat_id = CharField(max_length=64, null=True)  # an app-sent group (migration v005)
    action = CharField(max_length=16)  # initial | update | rollback | staging
    note = TextField(default="")
    created_at = UtcDateTimeField(default=utcnow)
    created_by = CharField(max_length=40, default="")

    class Meta:
        indexes = ((("owner_kind", "owner_code", "version"), True),)


CONSOLE_MODELS = [AdminUser, ConsoleSession, LoginThrottle, AuditEntry, MappingPolicy, MappingVersion]

__all__ = [m.__name__ for m in CONSOLE_MODELS] + ["CONSOLE_MODELS"]
