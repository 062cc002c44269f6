"""Peewee models: the organisation, residents and reports, the outbox and deliveries.

Code names follow the glossary in DESIGN.md and README.md (``report``, never ``event``; an
outbox ``event`` is a domain fact waiting to be delivered). Times are stored as timezone-aware
UTC datetimes (see :class:`UtcDateTimeField`) and shown with an offset by the API.
"""
from __future__ import annotations

import json
from datetime import datetime
from datetime import timezone

from peewee import BooleanField
from peewee import CharField
from peewee import CompositeKey
from peewee import DateTimeField
from peewee import DoubleField
from peewee import Field
from peewee import ForeignKeyField
from peewee import IntegerField
from peewee import Model
from peewee import SmallIntegerField
from peewee import TextField

from miniapp_api.db import database


def utcnow() -> datetime:
    """The current time, timezone-aware UTC. Services take ``now`` as a parameter instead."""
    return datetime.now(timezone.utc)


class UtcDateTimeField(DateTimeField):
    """Stores UTC as naive ISO text/timestamp, returns aware UTC datetimes."""

    def db_value(self, value):
        if value is None:
            return None
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError("naive datetime given to a UtcDateTimeField")
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return super().db_value(value)

    def python_value(self, value):
        if isinstance(value, str):
            # SQLite hands back text. fromisoformat reads what db_value wrote, in C, and with
            # the offset appended it returns the aware value at once: ``replace(tzinfo=…)``
            # afterwards costs five times the parse, and "my reports" reads forty per page.
            try:
                value = datetime.fromisoformat(value + "+00:00")
            except ValueError:
                value = super().python_value(value)
        else:
            value = super().python_value(value)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class JSONField(TextField):
    """JSON stored as text, so SQLite and PostgreSQL behave alike."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    def python_value(self, value):
        return None if value is None else json.loads(value)


class BaseModel(Model):
    class Meta:
        database = database
        legacy_table_names = False


# --- organisation -------------------------------------------------------------------------


class Township(BaseModel):
    """乡镇/街道: one of the county's units; ``kind`` is ``town`` or ``street``."""

    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=40)
    kind = CharField(max_length=8)
    emergency = BooleanField(default=False)
    sort_order = IntegerField(default=0)


class Department(BaseModel):
    """县直部门: target of a whistle (转办)."""

    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=40, unique=True)


class GroupMapping(BaseModel):
    """A DingTalk group that speaks for a township or a department (钉钉群 / 群机器人).

    ``owner_kind`` is ``township`` or ``department``. Config seeds these rows; the console
    edits them later. ``secret`` is write-only: no API ever returns it.

    A group created by the county's DingTalk app names its ``chat_id``: messages then go
    through the app (``chat.send``, bridges/dingtalk/app_sender.py) and ``webhook``/``secret``
    may be empty strings. ``broken_reason`` is set when DingTalk says the group is gone
    (``chat_disband``); the mapping is then disabled until an administrator fixes it.
    """

    owner_kind = CharField(max_length=16)
    owner_code = CharField(max_length=32)
    webhook = TextField(default="")
    secret = TextField(default="")
    conversation_id = CharField(max_length=128, unique=True)
    enabled = BooleanField(default=True)
    updated_at = UtcDateTimeField(default=utcnow)
    chat_id = CharField(max_length=64, null=True, unique=True)
    broken_reason = TextField(null=True)
    broken_at = UtcDateTimeField(null=True)

    class Meta:
        indexes = ((("owner_kind", "owner_code"), True),)


class Community(BaseModel):
    """村/社区; ``kind`` is ``village`` or ``neighborhood``."""

    township = ForeignKeyField(Township, backref="communities", on_delete="RESTRICT")
    name = CharField(max_length=60)
    kind = CharField(max_length=16, default="village")

    class Meta:
        indexes = ((("township", "name"), True),)


class Grid(BaseModel):
    """网格: the smallest unit; belongs to a community."""

    community = ForeignKeyField(Community, backref="grids", on_delete="RESTRICT")
    name = CharField(max_length=60)
    center_lat = DoubleField(null=True)
    center_lng = DoubleField(null=True)
    # The grid's area as GeoJSON text (Polygon/MultiPolygon, WGS-84 lng/lat), for locating a
    # resident's home grid from coordinates (miniapp_api.org.places).
    boundary = TextField(null=True)

    class Meta:
        indexes = ((("community", "name"), True),)


class Official(BaseModel):
    """干部: ``role`` is ``grid_leader``, ``grid_worker``, ``township_staff``,
    ``department_staff`` or ``county_staff``; ``duty_post`` is ``A``, ``B`` or empty (AB岗)."""

    # County-level staff have no township; department staff name their department.
    township = ForeignKeyField(Township, null=True, backref="officials", on_delete="RESTRICT")
    department = ForeignKeyField(Department, null=True, backref="officials", on_delete="RESTRICT")
    community = ForeignKeyField(Community, null=True, on_delete="RESTRICT")
    grid = ForeignKeyField(Grid, null=True, backref="officials", on_delete="RESTRICT")
    name = CharField(max_length=40)
    role = CharField(max_length=16)
    duty_post = CharField(max_length=1, default="")
    dingtalk_user_id = CharField(max_length=64, null=True, index=True)
    mobile = CharField(max_length=20, default="")
    active = BooleanField(default=True)
    on_leave = BooleanField(default=False)
    # Set when the DingTalk roster sync found them gone from the organisation (they are then
    # inactive, never deleted); cleared if they come back.
    left_org_at = UtcDateTimeField(null=True)


class Category(BaseModel):
    """A kind of problem a resident can report, with its duty-list level and deadlines."""

    code = CharField(max_length=32, unique=True)
    name = CharField(max_length=40)
    level = CharField(max_length=16, default="grid")
    accept_hours = DoubleField(default=24)
    resolve_hours = DoubleField(default=72)
    active = BooleanField(default=True)
    sort_order = IntegerField(default=0)
    # 办结 needs a completion photo (办结照片) for reports of this category (v012).
    needs_proof = BooleanField(default=False)
    # What belongs in this category, shown to residents under the picker (v014); may be empty.
    help = CharField(max_length=200, default="")


# --- residents ----------------------------------------------------------------------------


class Resident(BaseModel):
    """居民: a mini-program user, known by openid. ``session_key`` never leaves the server."""

    openid = CharField(max_length=64, unique=True)
    unionid = CharField(max_length=64, null=True)
    session_key = CharField(max_length=64, default="")
    nickname = CharField(max_length=40, default="")
    created_at = UtcDateTimeField(default=utcnow)
    last_login_at = UtcDateTimeField(default=utcnow)
    # Home place (unit, community, grid): notices and campaigns are scoped by it.
    home_township = ForeignKeyField(Township, null=True, on_delete="SET NULL")
    home_community = ForeignKeyField(Community, null=True, on_delete="SET NULL")
    home_grid = ForeignKeyField(Grid, null=True, on_delete="SET NULL")
    # How many reports they follow (我也遇到), kept by the database itself (triggers on
    # report_support, migration v015): "my reports" skips looking for followed reports when
    # it is 0, and the bearer token's query reads it anyway.
    follows = IntegerField(default=0)


class AuthSession(BaseModel):
    """A login of a resident; the bearer token names it and is signed with the secret key."""

    id = CharField(max_length=40, primary_key=True)
    resident = ForeignKeyField(Resident, backref="sessions", on_delete="CASCADE")
    created_at = UtcDateTimeField(default=utcnow)
    expires_at = UtcDateTimeField()
    revoked_at = UtcDateTimeField(null=True)


class SubscriptionConsent(BaseModel):
    """One-time subscribe-message consents a resident granted, per template (count left)."""

    resident = ForeignKeyField(Resident, on_delete="CASCADE")
    template_id = CharField(max_length=128)
    remaining = IntegerField(default=0)
    updated_at = UtcDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("resident", "template_id"), True),)


# --- uploads and reports ------------------------------------------------------------------


class Upload(BaseModel):
    """An image a resident uploaded, stored content-addressed (EXIF stripped)."""

    id = CharField(max_length=40, primary_key=True)
    resident = ForeignKeyField(Resident, null=True, on_delete="SET NULL")
    sha256 = CharField(max_length=64, index=True)
    content_type = CharField(max_length=32)
    width = IntegerField()
    height = IntegerField()
    size = IntegerField()
    created_at = UtcDateTimeField(default=utcnow)
    # WeChat's image check (mediaCheckAsync, miniapp_api.reports.photo_checks): unchecked (no
    # check asked for: officials' notice pictures, photos from before v010), pending (asked,
    # the verdict will be pushed for ``moderation_trace_id``), pass, review or risky.
    moderation = CharField(max_length=16, default="unchecked")
    moderation_trace_id = CharField(max_length=64, null=True, index=True)


class Report(BaseModel):
    """随手拍: a problem a resident reported. ``status`` changes only in ``lifecycle``."""

    number = CharField(max_length=32, unique=True)
    # Indexed by the composites in Meta, which lead with resident_id.
    resident = ForeignKeyField(Resident, backref="reports", on_delete="RESTRICT", index=False)
    category = ForeignKeyField(Category, on_delete="RESTRICT")
    township = ForeignKeyField(Township, on_delete="RESTRICT")
    grid = ForeignKeyField(Grid, null=True, on_delete="SET NULL")
    department = ForeignKeyField(Department, null=True, on_delete="SET NULL")
    level = CharField(max_length=16, default="grid")
    description = TextField()
    lat = DoubleField()
    lng = DoubleField()
    address = CharField(max_length=200, default="")
    anonymous = BooleanField(default=False)
    status = CharField(max_length=16, default="pending", index=True)
    # unchecked (WeChat could not answer in time) | pass | review | risky
    moderation = CharField(max_length=16, default="pass")
    reply = TextField(null=True)
    rating_score = SmallIntegerField(null=True)
    rating_comment = TextField(null=True)
    urgent = BooleanField(default=False)
    # Indexed by report_created_at_township_category (v002), which leads with it.
    created_at = UtcDateTimeField(default=utcnow)
    updated_at = UtcDateTimeField(default=utcnow)
    accepted_at = UtcDateTimeField(null=True)
    resolved_at = UtcDateTimeField(null=True)
    closed_at = UtcDateTimeField(null=True)
    # Deadlines and the escalation ladder (miniapp_api.deadlines; set by lifecycle, scheduler).
    deadline_round = IntegerField(default=0)        # bumped each time a deadline clock starts
    phase_started_at = UtcDateTimeField(null=True)  # when the current deadline clock started
    phase_hours = DoubleField(null=True)            # its length (working hours when counted so)
    accept_due_at = UtcDateTimeField(null=True)
    resolve_due_at = UtcDateTimeField(null=True)
    next_step_at = UtcDateTimeField(null=True, index=True)  # when the scheduler looks next
    missed_deadlines = SmallIntegerField(default=0)
    handover_count = SmallIntegerField(default=0)   # A→B handovers (B covered for A)
    redo_count = SmallIntegerField(default=0)       # 重办: sent back after a low rating/reopen
    resolved_post = CharField(max_length=1, default="")    # A | B | '' of who resolved
    resolved_level = CharField(max_length=16, default="")
    resolved_unit = CharField(max_length=48, default="")   # township:<code> | department:<code> | county
    # 我也遇到 and 合并 (v012): how many residents follow it, and the report a duplicate goes on as.
    supporters = IntegerField(default=0)
    merged_into = ForeignKeyField("self", null=True, on_delete="SET NULL", backref="merged_duplicates")

    class Meta:
        indexes = (
            (("resident", "id"), False),          # "my reports", newest first
            (("resident", "created_at"), False),  # the daily limit: a count within one range
            (("township", "status"), False),
            (("category", "status", "lat", "lng"), False),  # reports/nearby: a bounding box (v012)
        )


class ReportPhoto(BaseModel):
    report = ForeignKeyField(Report, backref="photos", on_delete="CASCADE")
    upload = ForeignKeyField(Upload, on_delete="RESTRICT")
    position = SmallIntegerField(default=0)

    class Meta:
        primary_key = CompositeKey("report", "upload")


class ReportSupport(BaseModel):
    """我也遇到: a resident follows a report that is not their own (or was merged into it)."""

    report = ForeignKeyField(Report, backref="supports", on_delete="CASCADE")
    resident = ForeignKeyField(Resident, on_delete="CASCADE", index=False)
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("resident", "report"), True),)  # once per resident; "my reports" reads it


class TimelineEntry(BaseModel):
    """One change of a report: who, through which channel, when, and a note."""

    report = ForeignKeyField(Report, backref="timeline", on_delete="CASCADE")
    at = UtcDateTimeField(default=utcnow)
    status = CharField(max_length=16)
    action = CharField(max_length=24)
    channel = CharField(max_length=16)  # wechat | dingtalk | console | system
    actor_kind = CharField(max_length=16)  # resident | official | admin | system
    actor_name = CharField(max_length=60, default="")
    actor_id = CharField(max_length=64, default="")
    note = TextField(default="")

    class Meta:
        indexes = ((("report", "id"), False),)


class IdempotencyKey(BaseModel):
    """``Idempotency-Key`` of ``POST /reports``: same key + same body → same report."""

    resident = ForeignKeyField(Resident, on_delete="CASCADE")
    key = CharField(max_length=128)
    body_hash = CharField(max_length=64)
    report = ForeignKeyField(Report, on_delete="CASCADE")
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("resident", "key"), True),)


class Counter(BaseModel):
    """Named counters (tracking-number sequences) incremented inside transactions."""

    name = CharField(max_length=64, primary_key=True)
    value = IntegerField(default=0)


# --- outbox and delivery ------------------------------------------------------------------


class OutboxEvent(BaseModel):
    """A domain fact to deliver, written in the same transaction as the change it reports.

    ``kind`` is e.g. ``report.created``; ``fanned_out`` turns true once the worker has made
    one :class:`Delivery` per target.
    """

    kind = CharField(max_length=48, index=True)
    payload = JSONField()
    report = ForeignKeyField(Report, null=True, on_delete="CASCADE")
    priority = SmallIntegerField(default=0)  # higher first; urgent = 10
    created_at = UtcDateTimeField(default=utcnow)
    fanned_out = BooleanField(default=False, index=True)


class Delivery(BaseModel):
    """One (outbox event, target) pair and its sending state.

    ``state``: pending → sending → sent | dead | skipped; ``coalesced`` when merged into a
    digest delivery (``digest`` points at it; a digest row has no event and keeps the merged
    items in ``payload``). ``target`` is e.g. ``dingtalk:township:yongsheng`` or
    ``wechat:resident:42``.
    """

    event = ForeignKeyField(OutboxEvent, null=True, backref="deliveries", on_delete="CASCADE")
    payload = JSONField(null=True)
    channel = CharField(max_length=16)
    target = CharField(max_length=96, index=True)
    state = CharField(max_length=12, default="pending")
    priority = SmallIntegerField(default=0)
    attempts = IntegerField(default=0)
    next_attempt_at = UtcDateTimeField(default=utcnow)
    claimed_until = UtcDateTimeField(null=True)
    claimed_by = CharField(max_length=64, null=True)
    last_error = TextField(null=True)
    last_errcode = CharField(max_length=32, null=True)
    msg_uuid = CharField(max_length=64, null=True)
    digest = ForeignKeyField("self", null=True, on_delete="SET NULL")
    created_at = UtcDateTimeField(default=utcnow)
    sent_at = UtcDateTimeField(null=True)

    class Meta:
        indexes = ((("state", "next_attempt_at"), False),)


class TargetState(BaseModel):
    """Per-target sending state (a group robot, an app group, a resident's WeChat): the lock
    row workers take, DingTalk blocks, health."""

    class Meta:
        table_name = "robot_state"  # its name before it served every target; kept, no migration

    target = CharField(max_length=96, primary_key=True)
    blocked_until = UtcDateTimeField(null=True)
    rate_limit_waits = IntegerField(default=0)
    last_sent_at = UtcDateTimeField(null=True)
    last_error = TextField(null=True)
    last_error_at = UtcDateTimeField(null=True)


class PlatformToken(BaseModel):
    """Platform access tokens shared by every process (a new WeChat token retires the old)."""

    name = CharField(max_length=96, primary_key=True)
    value = TextField(default="")
    expires_at = UtcDateTimeField(null=True)
    fetched_at = UtcDateTimeField(null=True)


class CallbackReceipt(BaseModel):
    """Inbound callback ids already handled (the same DingTalk ``msgId`` twice has one effect)."""

    source = CharField(max_length=16)
    external_id = CharField(max_length=128)
    received_at = UtcDateTimeField(default=utcnow)

    class Meta:
        primary_key = CompositeKey("source", "external_id")


class SchemaVersion(BaseModel):
    version = IntegerField(primary_key=True)
    applied_at = UtcDateTimeField(default=utcnow)


CORE_MODELS: list[type[Model]] = [
    Township,
    Department,
    GroupMapping,
    Community,
    Grid,
    Official,
    Category,
    Resident,
    AuthSession,
    SubscriptionConsent,
    Upload,
    Report,
    ReportPhoto,
    ReportSupport,
    TimelineEntry,
    IdempotencyKey,
    Counter,
    OutboxEvent,
    Delivery,
    TargetState,
    PlatformToken,
    CallbackReceipt,
    SchemaVersion,
]

__all__ = [m.__name__ for m in CORE_MODELS] + ["CORE_MODELS", "BaseModel", "JSONField", "UtcDateTimeField", "utcnow", "Field"]
