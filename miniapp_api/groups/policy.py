"""What the console adds to a group at send time: its staging group and its mention policy.

The DingTalk bridge calls these two functions for every group message, so a change made in
the console applies to deliveries already queued. No Flask here (the worker imports it).
"""
from __future__ import annotations

from miniapp_api.groups import duty
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models.console import MappingPolicy


def policy_for(owner_kind: str, owner_code: str) -> MappingPolicy | None:
    """The group's policy row (mention policy, staging group), or None."""
    return MappingPolicy.get_or_none((MappingPolicy.owner_kind == owner_kind) & (MappingPolicy.owner_code == owner_code))


def staging_robot(owner_kind: str, owner_code: str) -> tuple[str, str] | None:
    """``(webhook, secret)`` of the group's staging robot while its staging switch is on."""
    policy = policy_for(owner_kind, owner_code)
    if policy and policy.staging_enabled and policy.staging_webhook and policy.staging_secret:
        return policy.staging_webhook, policy.staging_secret
    return None


def _duty_posts(report: Report) -> list[Official]:
    """Every A and B post that can act for the report's own level (the grid's posts for a
    grid-level report, the community's 村（社区）网格长 for a community-level one, the township
    staff on duty for a township-level one, the department's, the county's): the unit that
    :func:`duty.reach` finds answering, so a level with nobody stands in as on the card."""
    found = duty.reach(report.level or "township", township_id=report.township_id, grid_id=report.grid_id,
                       department_id=report.department_id)
    return [o for o in found.on_duty(emergency=True) if o.mobile]  # both posts, those who can act


def apply_mention_policy(report: Report, default_mobiles: list[str]) -> list[str]:
    """The mobiles to @ on a new-report card under the unit's policy.

    ``duty`` (the default) keeps the bridge's own choice (the A post, B when A is on leave);
    ``duty_ab`` adds every A and B post not on leave at the report's level; ``none``
    mentions nobody.
    """
    policy = policy_for("township", report.township.code) if report.township_id else None
    name = policy.mention_policy if policy else "duty"
    if name == "none":
        return []
    if name == "duty_ab":
        return list(dict.fromkeys(list(default_mobiles) + [o.mobile for o in _duty_posts(report)]))
    return list(default_mobiles)
