"""Models of notices (通知公告) and volunteer campaigns (战地有我).

Code names (DESIGN glossary): ``notice``, ``campaign``, ``signup``, ``checkin``. A notice
targets the county, a unit (township), a community or a grid; every targeted unit has a
:class:`NoticeUnit` row that records its acknowledgement (收到), reminder and escalation.
A campaign has a capacity and a count of confirmed sign-ups (``taken``) that is only ever
changed by a conditional update, so it never exceeds the capacity.

The columns the scheduler sets once (``reminded_at``, ``roster_sent_at``, …) are what makes
it idempotent: a step runs only if its column is still empty, and sets it in the same
transaction as the outbox event it writes.
"""
from __future__ import annotations

from peewee import BooleanField
from peewee import CharField
from peewee import DoubleField
from peewee import ForeignKeyField
from peewee import IntegerField
from peewee import TextField

from miniapp_api.models.core import BaseModel
from miniapp_api.models.core import Community
from miniapp_api.models.core import Grid
from miniapp_api.models.core import JSONField
from miniapp_api.models.core import Report
from miniapp_api.models.core import Resident
from miniapp_api.models.core import Township
from miniapp_api.models.core import UtcDateTimeField
from miniapp_api.models.core import utcnow


class Notice(BaseModel):
    """通知公告. ``level``: county | township | community | grid; ``status``: published | withdrawn.

    ``township``/``community``/``grid`` name the target (the unit is set for every level
    but ``county``). ``number`` (``N0001``) is what officials type in ``收到 <number>``.
    """

    number = CharField(max_length=16, unique=True)
    title = CharField(max_length=60)
    body_html = TextField(default="")  # sanitised (community.sanitize) before it is stored
    body_text = TextField(default="")  # the same as plain text, for groups and messages
    images = JSONField(default=list)  # upload ids, in order
    level = CharField(max_length=12)
    township = ForeignKeyField(Township, null=True, on_delete="RESTRICT")
    community = ForeignKeyField(Community, null=True, on_delete="RESTRICT")
    grid = ForeignKeyField(Grid, null=True, on_delete="RESTRICT")
    pinned = BooleanField(default=False)
    expires_at = UtcDateTimeField(null=True)
    status = CharField(max_length=12, default="published", index=True)
    publisher_kind = CharField(max_length=16, default="admin")  # admin | official
    publisher_name = CharField(max_length=60, default="")
    published_at = UtcDateTimeField(default=utcnow, index=True)
    ack_due_at = UtcDateTimeField(null=True)  # unacknowledged units are reminded then
    escalate_at = UtcDateTimeField(null=True)  # and the county group is told then
    withdrawn_at = UtcDateTimeField(null=True)
    withdrawn_by = CharField(max_length=60, default="")
    withdraw_reason = TextField(default="")
    publish_event_id = IntegerField(null=True)  # the notice.published outbox event


class NoticeUnit(BaseModel):
    """One targeted unit of a notice and its acknowledgement (收到) in the unit's group."""

    notice = ForeignKeyField(Notice, backref="units", on_delete="CASCADE")
    township = ForeignKeyField(Township, on_delete="RESTRICT")
    acked_at = UtcDateTimeField(null=True)
    acked_by_name = CharField(max_length=60, default="")
    acked_by_id = CharField(max_length=64, default="")
    reminded_at = UtcDateTimeField(null=True)
    escalated_at = UtcDateTimeField(null=True)

    class Meta:
        indexes = ((("notice", "township"), True),)


class NoticeRead(BaseModel):
    """A resident's read receipt (已读) of a notice; one per resident and notice."""

    notice = ForeignKeyField(Notice, backref="reads", on_delete="CASCADE")
    resident = ForeignKeyField(Resident, on_delete="CASCADE")
    read_at = UtcDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("notice", "resident"), True),)


class Campaign(BaseModel):
    """战地有我: a volunteer campaign. ``status``: published | cancelled | completed.

    ``level`` is the scope (township | community | grid); ``taken`` counts confirmed
    sign-ups and never exceeds ``capacity``. ``report`` links a report it helps resolve.
    """

    number = CharField(max_length=16, unique=True)
    title = CharField(max_length=60)
    description = TextField(default="")
    place_name = CharField(max_length=100, default="")
    lat = DoubleField(null=True)
    lng = DoubleField(null=True)
    radius_m = IntegerField(default=500)
    starts_at = UtcDateTimeField(index=True)
    ends_at = UtcDateTimeField()
    capacity = IntegerField()
    taken = IntegerField(default=0)
    level = CharField(max_length=12)
    township = ForeignKeyField(Township, on_delete="RESTRICT")
    community = ForeignKeyField(Community, null=True, on_delete="RESTRICT")
    grid = ForeignKeyField(Grid, null=True, on_delete="RESTRICT")
    skills = JSONField(default=list)
    hours = DoubleField(default=1.0)  # credited to each volunteer who checked in
    status = CharField(max_length=12, default="published", index=True)
    report = ForeignKeyField(Report, null=True, on_delete="SET NULL")
    publisher_kind = CharField(max_length=16, default="admin")
    publisher_name = CharField(max_length=60, default="")
    created_at = UtcDateTimeField(default=utcnow)
    reminded_at = UtcDateTimeField(null=True)  # subscribe-message reminder before the start
    roster_sent_at = UtcDateTimeField(null=True)  # roster posted to the group at the start
    completed_at = UtcDateTimeField(null=True)
    cancelled_at = UtcDateTimeField(null=True)
    cancel_reason = TextField(default="")
    signup_changes = IntegerField(default=0)  # +1 with every sign-up, cancellation, promotion
    announced_changes = IntegerField(default=0)  # signup_changes when the group was last told
    announced_at = UtcDateTimeField(null=True)
    publish_event_id = IntegerField(null=True)


class Signup(BaseModel):
    """A resident's sign-up for a campaign. ``status``: confirmed | waitlisted | cancelled.

    The waitlist is served in ``queue`` order (taken under the campaign's lock, so it is
    the order in which sign-ups were decided). ``phone`` is kept for the officials'
    roster, which only ever shows it masked.
    """

    campaign = ForeignKeyField(Campaign, backref="signups", on_delete="CASCADE")
    resident = ForeignKeyField(Resident, on_delete="CASCADE")
    status = CharField(max_length=12)
    name = CharField(max_length=20, default="")
    phone = CharField(max_length=20, default="")
    signed_up_at = UtcDateTimeField(default=utcnow)
    queue = IntegerField(default=0)  # order of sign-up within the campaign (the waitlist's order)
    updated_at = UtcDateTimeField(default=utcnow)
    promoted_at = UtcDateTimeField(null=True)
    cancelled_at = UtcDateTimeField(null=True)
    checked_in_at = UtcDateTimeField(null=True)
    checkin_distance_m = DoubleField(null=True)

    class Meta:
        indexes = ((("campaign", "resident"), True), (("campaign", "status"), False))


class VolunteerHours(BaseModel):
    """The volunteer hours ledger: one row per resident and completed campaign."""

    resident = ForeignKeyField(Resident, on_delete="CASCADE")
    campaign = ForeignKeyField(Campaign, on_delete="CASCADE")
    township = ForeignKeyField(Township, on_delete="RESTRICT")  # the unit's leaderboard
    hours = DoubleField()
    credited_at = UtcDateTimeField(default=utcnow)

    class Meta:
        indexes = ((("resident", "campaign"), True), (("township", "resident"), False))


COMMUNITY_MODELS = [Notice, NoticeUnit, NoticeRead, Campaign, Signup, VolunteerHours]

__all__ = [m.__name__ for m in COMMUNITY_MODELS] + ["COMMUNITY_MODELS"]
