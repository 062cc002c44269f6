"""Tables of deadlines and the escalation ladder (``miniapp_api.deadlines``).

* :class:`DeadlinePolicy` — the county's ladder policy (one row): reminder fractions, the A→B
  handover point, working days, emergency factors, the whistle report-back time, the duty
  list's county-level departments. ``tongxin init-db`` writes it from ``[deadlines]``; the
  console edits it here.
* :class:`Holiday` — the county's calendar: public holidays and make-up working days (调休).
* :class:`EmergencySwitch` — every flip of the 平战一键转换 switch, county-wide or per unit;
  the latest county row is the county-wide state (a unit's own state is ``Township.emergency``).
* :class:`EscalationStep` — each ladder step done for a report (reminder, handover,
  escalation, overdue), unique per ``(report, step)``: a restarted scheduler never repeats one.
* :class:`RatingRecord` — every rating, attributed to the post, level and unit that resolved.
* :class:`SchedulerMark` — once-only marks of periodic work (the daily digest per group and day).

The deadline columns of a report itself (due times, the next step, redo count, who resolved)
live on :class:`~miniapp_api.models.Report`.
"""
from __future__ import annotations

from peewee import BooleanField
from peewee import CharField
from peewee import DateField
from peewee import DoubleField
from peewee import ForeignKeyField
from peewee import IntegerField
from peewee import SmallIntegerField

from miniapp_api.models.core import BaseModel
from miniapp_api.models.core import JSONField
from miniapp_api.models.core import Report
from miniapp_api.models.core import UtcDateTimeField
from miniapp_api.models.core import utcnow


class DeadlinePolicy(BaseModel):
    """The ladder policy; a single row with ``id = 1`` (defaults from ``[deadlines]``)."""

    working_days = BooleanField(default=True)
    reminder_fractions = JSONField(default=lambda: [0.5])
    handover_fraction = DoubleField(default=0.75)
    emergency_accept_factor = DoubleField(default=0.5)
    emergency_resolve_factor = DoubleField(default=0.5)
    emergency_all_days = BooleanField(default=True)
    emergency_categories = JSONField(default=list)
    whistle_report_hours = DoubleField(default=24)
    redo_max_score = SmallIntegerField(default=2)
    duty_departments = JSONField(default=dict)
    updated_at = UtcDateTimeField(default=utcnow)


class Holiday(BaseModel):
    """One day of the county's calendar: ``kind`` is ``holiday`` (a weekday off) or
    ``workday`` (a weekend day worked, 调休上班). Days not listed follow Monday–Friday."""

    day = DateField(primary_key=True)
    kind = CharField(max_length=8)
    name = CharField(max_length=40, default="")


class EmergencySwitch(BaseModel):
    """One flip of the emergency switch. ``scope`` is ``county`` or ``township``."""

    scope = CharField(max_length=16)
    township = CharField(max_length=32, default="")
    on = BooleanField()
    at = UtcDateTimeField(default=utcnow)
    actor = CharField(max_length=60, default="")

    class Meta:
        indexes = ((("scope", "township", "id"), False),)


class EscalationStep(BaseModel):
    """A ladder step done for a report. ``step`` is ``<round>:<kind>[:<fraction>]``;
    ``kind`` is ``remind``, ``handover``, ``escalate``, ``overdue`` or ``whistle_overdue``."""

    report = ForeignKeyField(Report, on_delete="CASCADE")
    step = CharField(max_length=48)
    kind = CharField(max_length=16)
    round = IntegerField()
    level = CharField(max_length=16)
    to_level = CharField(max_length=16, default="")
    scheduled_at = UtcDateTimeField()
    at = UtcDateTimeField()
    mentioned = CharField(max_length=120, default="")  # names of the officials @-mentioned

    class Meta:
        indexes = ((("report", "step"), True), (("kind", "at"), False))


class RatingRecord(BaseModel):
    """A resident's rating, attributed to whoever resolved the report at that time."""

    report = ForeignKeyField(Report, on_delete="CASCADE")
    score = SmallIntegerField()
    at = UtcDateTimeField()
    post = CharField(max_length=1, default="")      # A | B | '' (not a duty post)
    level = CharField(max_length=16, default="")    # grid | community | township | department | county
    unit = CharField(max_length=48, default="")     # township:<code> | department:<code> | county
    official = CharField(max_length=40, default="")
    redo = BooleanField(default=False)              # this rating sent the report back (重办)

    class Meta:
        indexes = ((("at",), False), (("report",), False))


class SchedulerMark(BaseModel):
    """A piece of periodic work already done, e.g. ``digest:2026-11-27:dingtalk:township:yitong``."""

    key = CharField(max_length=120, primary_key=True)
    at = UtcDateTimeField(default=utcnow)


DEADLINE_MODELS = [DeadlinePolicy, Holiday, EmergencySwitch, EscalationStep, RatingRecord, SchedulerMark]

# Part of the same schema (v001 on a new database, truncation in tests), whichever of the two
# modules is imported first.

__all__ = [m.__name__ for m in DEADLINE_MODELS] + ["DEADLINE_MODELS"]
