"""Deadlines and escalation: where their outbox events go and what the groups see.

=====================  ===================================================================
event kind             targets
=====================  ===================================================================
report.reminder        the group of the report's level (催办 / AB岗交接)
report.redo            the group of the report's level (回访重办)
report.escalated       the new level's group, and the old level's when it is another group
                       (all three: also the group of a higher level standing in for a
                       level with nobody on duty, ``reached_level``)
report.assigned        the township's group (指派网格: the grid's A post is mentioned)
report.overdue         the county group and the unit's group (超时督办)
whistle.overdue        the whistling unit's group and the county group (部门未报到)
emergency.switched     the one group named in the event (one event per affected group)
digest.daily           the one group named in the event (每日简报)
=====================  ===================================================================

A level's group: grid, community and township → the unit's group; department → the
department's group; county → the county command centre's group (``[county]``), or the unit's
group while none is mapped. None of these reach residents' WeChat: they see the steps in
their timeline.

Everything here is kept in :data:`KINDS`; composition installs it (``bridges.registry``).
"""
from __future__ import annotations

from bridges.dingtalk import render_deadlines as render
from bridges.kinds import Kinds
from bridges.routing import Target
from bridges.routing import county_mapped
from bridges.routing import group_target
from miniapp_api.config import Settings
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.reports.links import signed_report_url

#: The event kinds of deadlines and escalation: routes and group messages.
KINDS = Kinds("deadlines and escalation")


def _township(report: Report, settings: Settings) -> Target:
    return group_target("township", report.township.code, settings)


def level_target(report: Report, level: str, settings: Settings) -> Target:
    """The DingTalk group that speaks for ``report`` at ``level``."""
    if level == "department" and report.department_id:
        return group_target("department", report.department.code, settings)
    if level == "county" and county_mapped():
        return group_target("county", "county", settings)
    return _township(report, settings)


def _county_or_township(report: Report, settings: Settings) -> Target:
    return group_target("county", "county", settings) if county_mapped() else _township(report, settings)


def _standing_in(event: OutboxEvent, settings: Settings) -> list[Target]:
    """The group of the level that stands in for a vacant one (``reached_level``), if any:
    its people are mentioned, so the message must reach them."""
    reached = event.payload.get("reached_level")
    return [level_target(event.report, reached, settings)] if reached else []


@KINDS.route("report.reminder", "report.redo")
def _at_level(event: OutboxEvent, settings: Settings) -> list[Target]:
    return ([level_target(event.report, event.payload.get("level") or event.report.level, settings)]
            + _standing_in(event, settings))


@KINDS.route("report.escalated")
def _escalated(event: OutboxEvent, settings: Settings) -> list[Target]:
    report = event.report
    return [level_target(report, event.payload["level"], settings),
            level_target(report, event.payload.get("from_level") or event.payload["level"], settings)
            ] + _standing_in(event, settings)


@KINDS.route("report.assigned")
def _assigned(event: OutboxEvent, settings: Settings) -> list[Target]:
    return [_township(event.report, settings)] + _standing_in(event, settings)


@KINDS.route("report.overdue", "whistle.overdue")
def _overdue(event: OutboxEvent, settings: Settings) -> list[Target]:
    return [_township(event.report, settings), _county_or_township(event.report, settings)]


@KINDS.route("emergency.switched", "digest.daily")
def _named_group(event: OutboxEvent, settings: Settings) -> list[Target]:
    group = event.payload["group"]
    return [group_target(group["kind"], group["code"], settings)]


def _link(event: OutboxEvent, settings: Settings) -> str:
    return signed_report_url(settings, event.payload["number"])


@KINDS.dingtalk_payload("report.reminder")
def _reminder(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_reminder(event.payload, _link(event, settings))


@KINDS.dingtalk_payload("report.escalated")
def _escalation(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_escalated(event.payload, _link(event, settings))


@KINDS.dingtalk_payload("report.assigned")
def _assigned_message(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_assigned(event.payload, _link(event, settings))


@KINDS.dingtalk_payload("report.overdue")
def _overdue_message(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_overdue(event.payload, _link(event, settings))


@KINDS.dingtalk_payload("whistle.overdue")
def _whistle_overdue(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_whistle_overdue(event.payload, _link(event, settings))


@KINDS.dingtalk_payload("report.redo")
def _redo(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_redo(event.payload, _link(event, settings))


@KINDS.dingtalk_payload("emergency.switched")
def _emergency(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_emergency(event.payload)


@KINDS.dingtalk_payload("digest.daily")
def _digest(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_daily_digest(event.payload)
