"""Which targets an outbox event goes to: the fan-out rules, in one place.

=====================  ===================================================================
event kind             targets
=====================  ===================================================================
report.content_check   ``system:content_check`` (the worker checks the text, then announces)
report.created         the report's unit group, or its department's when it starts there
report.status_changed  the unit group (if the report was ever announced), the department
                       group on a whistle or when the department acts, and the resident's
                       WeChat (subscribe message)
dingtalk.reply         ``dingtalk:reply:<conversation id>`` (the callback's sessionWebhook)
=====================  ===================================================================

Targets are strings ``<channel>:<kind>:<code>``; the channel's bridge resolves them to a
webhook at send time, so the console's edits apply to deliveries already queued. Under the
staging switch every group target becomes ``dingtalk:staging``.

Other features register their kinds with :func:`routes` in their own modules.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Callable

from miniapp_api.config import Settings
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report

from bridges.kinds import KindRegistry

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Target:
    channel: str
    target: str


def group_target(owner_kind: str, code: str, settings: Settings) -> Target:
    if settings.dingtalk.staging_webhook:
        return Target("dingtalk", "dingtalk:staging")
    return Target("dingtalk", f"dingtalk:{owner_kind}:{code}")


RouteFn = Callable[[OutboxEvent, Settings], list[Target]]
_ROUTES = KindRegistry("a route")


def routes(*kinds: str) -> Callable[[RouteFn], RouteFn]:
    """Register the decorated function as the fan-out rule of ``kinds``.

    Features (deadlines, notices, …) register their own event kinds in their own modules,
    listed in ``bridges/features/__init__.py``.
    """
    return _ROUTES.register(*kinds)


def known_kinds() -> frozenset[str]:
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


@routes("report.content_check")
def _content_check(event: OutboxEvent, settings: Settings) -> list[Target]:
    return [Target("system", "system:content_check")]


@routes("dingtalk.reply")
def _reply(event: OutboxEvent, settings: Settings) -> list[Target]:
    return [Target("dingtalk", f"dingtalk:reply:{event.payload['conversation_id']}")]


@routes("report.created")
def _report_created(event: OutboxEvent, settings: Settings) -> list[Target]:
    report = event.report
    if report.level == "department" and report.department_id:
        return [group_target("department", report.department.code, settings)]
    return [group_target("township", report.township.code, settings)]


@routes("report.status_changed")
def _status_changed(event: OutboxEvent, settings: Settings) -> list[Target]:
    report = event.report
    out: list[Target] = []
    if _announced(report):
        out.append(group_target("township", report.township.code, settings))
        # The department hears of the whistle and of what happens to it afterwards.
        if report.department_id and (event.payload.get("action") == "transfer"
                                     or event.payload.get("from") == "transferred"):
            out.append(group_target("department", report.department.code, settings))
    out.append(Target("wechat", f"wechat:resident:{report.resident_id}"))
    return out
