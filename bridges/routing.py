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
"""
from __future__ import annotations

from dataclasses import dataclass

from miniapp_api.config import Settings
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report


@dataclass(frozen=True)
class Target:
    channel: str
    target: str


def group_target(owner_kind: str, code: str, settings: Settings) -> Target:
    if settings.dingtalk.staging_webhook:
        return Target("dingtalk", "dingtalk:staging")
    return Target("dingtalk", f"dingtalk:{owner_kind}:{code}")


def _announced(report: Report) -> bool:
    """Groups only hear about reports that passed the content check."""
    return report.moderation in ("pass", "review")


def targets_for(event: OutboxEvent, settings: Settings) -> list[Target]:
    """Every target of ``event`` (may be empty: nothing to deliver)."""
    kind = event.kind
    if kind == "report.content_check":
        return [Target("system", "system:content_check")]
    if kind == "dingtalk.reply":
        return [Target("dingtalk", f"dingtalk:reply:{event.payload['conversation_id']}")]
    report = event.report
    if report is None:
        return []
    if kind == "report.created":
        if report.level == "department" and report.department_id:
            return [group_target("department", report.department.code, settings)]
        return [group_target("township", report.township.code, settings)]
    if kind == "report.status_changed":
        out: list[Target] = []
        if _announced(report):
            out.append(group_target("township", report.township.code, settings))
            # The department hears of the whistle and of what happens to it afterwards.
            if report.department_id and (event.payload.get("action") == "transfer"
                                         or event.payload.get("from") == "transferred"):
                out.append(group_target("department", report.department.code, settings))
        out.append(Target("wechat", f"wechat:resident:{report.resident_id}"))
        return list(dict.fromkeys(out))
    return []
