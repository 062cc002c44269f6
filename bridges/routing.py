"""Which targets an outbox event goes to: the fan-out rules, in one place.

=====================  ===================================================================
event kind             targets
=====================  ===================================================================
report.content_check   ``system:content_check`` (the worker checks the text, then announces)
report.photo_check     ``system:photo_check`` (the worker asks WeChat's image check)
report.photo_withdrawn the unit group (and the department's) if the report was announced; the
                       resident's WeChat when the photo was theirs
report.created         the report's unit group, or its department's when it starts there
report.status_changed  the unit group (if the report was ever announced), the department
                       group on a whistle or when the department acts, and the resident's
                       WeChat (subscribe message)
dingtalk.reply         ``dingtalk:reply:<conversation id>`` (the callback's sessionWebhook)
=====================  ===================================================================

Targets are strings ``<channel>:<kind>:<code>``; the channel's bridge resolves them to a
webhook at send time, so the console's edits apply to deliveries already queued. Under the
staging switch every group target becomes ``dingtalk:staging``.

These report kinds are this module's own. Other features keep their rules in their own table
(``bridges.kinds.Kinds``), which composition installs with :func:`add_routes`
(``bridges.registry``). :class:`Reroute` lives here too: a bridge raises it, the worker acts
on it, and both import it from this lower module.
"""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Callable

from miniapp_api.config import Settings
from miniapp_api.deadlines import ladder
from miniapp_api.models import GroupMapping
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.reports.support import followers

from bridges.kinds import KindRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    """One place a delivery goes: its channel (``dingtalk``, ``wechat``, ``system``) and target string."""

    channel: str
    target: str


class Reroute(Exception):
    """Raised by a bridge to move a delivery to another target of its channel, due at once
    (not an attempt). DingTalk: a reply whose sessionWebhook expired goes through the group's
    own robot, so it must queue under that robot's per-minute limit, not beside it."""

    def __init__(self, target: str, reason: str = ""):
        self.target = target
        super().__init__(reason or f"rerouted to {target}")


def group_target(owner_kind: str, code: str, settings: Settings) -> Target:
    """The DingTalk group target of a unit, department or the county (the staging group when set)."""
    if settings.dingtalk.staging_webhook:
        return Target("dingtalk", "dingtalk:staging")
    return Target("dingtalk", f"dingtalk:{owner_kind}:{code}")


RouteFn = Callable[[OutboxEvent, Settings], list[Target]]
_ROUTES = KindRegistry("a route")


def add_routes(table: Mapping[str, RouteFn]) -> None:
    """Install a feature's fan-out rules (``Kinds.routes``); installing them again is a no-op."""
    _ROUTES.add_all(table)


def known_kinds() -> frozenset[str]:
    """Every event kind that has a fan-out rule."""
    return frozenset(_ROUTES)


def targets_for(event: OutboxEvent, settings: Settings) -> list[Target]:
    """Every target of ``event`` (may be empty: nothing to deliver)."""
    fn = _ROUTES.get(event.kind)
    if fn is None:
        log.error("no route for outbox event kind %s (event %s)", event.kind, event.id)
        return []
    return list(dict.fromkeys(fn(event, settings)))


def _announced(report: Report) -> bool:
    """Groups only hear about reports that passed the content check."""
    return report.moderation in ("pass", "review")


def _groups_that_heard(report: Report, settings: Settings, *, department: bool) -> list[Target]:
    """The unit's group when the report was announced, and its department's with ``department``."""
    if not _announced(report):
        return []
    out = [group_target("township", report.township.code, settings)]
    if department and report.department_id:
        out.append(group_target("department", report.department.code, settings))
    return out


@_ROUTES.register("report.content_check")
def _content_check(event: OutboxEvent, settings: Settings) -> list[Target]:
    return [Target("system", "system:content_check")]


@_ROUTES.register("report.photo_check")
def _photo_check(event: OutboxEvent, settings: Settings) -> list[Target]:
    return [Target("system", "system:photo_check")]


@_ROUTES.register("report.photo_withdrawn")
def _photo_withdrawn(event: OutboxEvent, settings: Settings) -> list[Target]:
    """The groups that saw the report hear the photo was withdrawn; the resident too when it was theirs."""
    report = event.report
    out = _groups_that_heard(report, settings, department=True)
    if event.payload.get("own"):
        out.append(Target("wechat", f"wechat:resident:{report.resident_id}"))
    return out


@_ROUTES.register("dingtalk.reply")
def _reply(event: OutboxEvent, settings: Settings) -> list[Target]:
    return [Target("dingtalk", f"dingtalk:reply:{event.payload['conversation_id']}")]


@_ROUTES.register("report.created")
def _report_created(event: OutboxEvent, settings: Settings) -> list[Target]:
    report = event.report
    if report.level == "department" and report.department_id:
        return [group_target("department", report.department.code, settings)]
    return [group_target("township", report.township.code, settings)]


def county_mapped() -> bool:
    """Whether the county command centre has an enabled group."""
    return GroupMapping.select().where((GroupMapping.owner_kind == "county") & (GroupMapping.owner_code == "county")
                                       & (GroupMapping.enabled == True)).exists()  # noqa: E712


def _county_stands_in(report: Report) -> bool:
    """Whether a whistle to ``report``'s department must be answered by the county, because
    nobody in the department can act (its card there mentions the county's staff)."""
    return bool(report.department_id) and ladder.reach(report, "department").by == "county"


@_ROUTES.register("report.status_changed")
def _status_changed(event: OutboxEvent, settings: Settings) -> list[Target]:
    report = event.report
    # The department hears of the whistle and of what happens to it afterwards.
    whistled = event.payload.get("action") == "transfer"
    out = _groups_that_heard(report, settings, department=whistled or event.payload.get("from") == "transferred")
    # A department with nobody on duty: the county, which stands in, sees the card in its own group.
    if whistled and _announced(report) and _county_stands_in(report) and county_mapped():
        out.append(group_target("county", "county", settings))
    out.append(Target("wechat", f"wechat:resident:{report.resident_id}"))
    # Residents who pressed 我也遇到 (or whose duplicate was merged into it) follow it too.
    out.extend(Target("wechat", f"wechat:resident:{rid}") for rid in followers(report.id))
    return out
