"""What a DingTalk group sees of a report: a plain, frozen view for the group card.

The DingTalk adapter renders new-report cards and digests from :func:`group_card` alone; it
never reads uploads, duty posts, the mention policy or the emergency switch itself. The
resident's openid and phone are never part of the view.

The card combines three concepts (the report, its unit's duty posts and mention policy, and
emergency mode from ``deadlines``), and ``deadlines`` builds on the other two; so it sits
above all three, in its own module, imported only by the bridges' delivery side.
"""
from __future__ import annotations

from dataclasses import dataclass

from miniapp_api.config import Settings
from miniapp_api.deadlines import ladder
from miniapp_api.deadlines.mode import in_force
from miniapp_api.groups.duty import on_duty
from miniapp_api.groups.duty import posts_of
from miniapp_api.groups.policy import apply_mention_policy
from miniapp_api.models import Official
from miniapp_api.org.levels import FIRST_LEVEL_LABELS as LEVEL_LABELS
from miniapp_api.models import Report
from miniapp_api.models import ReportPhoto
from miniapp_api.models import Upload
from miniapp_api.reports.links import signed_report_url
from miniapp_api.reports.uploads import photo_out

#: How a card names a resident who did not report anonymously.
REPORTER_LABEL = "居民(已实名)"


@dataclass(frozen=True)
class GroupCard:
    """One report as a group card shows it: never the resident's openid or phone."""

    number: str
    category: str
    township_name: str
    address: str
    description: str
    photo_urls: tuple[str, ...]
    link: str
    mention_mobiles: tuple[str, ...]
    anonymous: bool
    reporter_label: str
    urgent: bool
    level_label: str


def duty_mobiles(report: Report) -> list[str]:
    """The duty post for the report's grid (else the unit's township staff): A, or B when A is
    away; both while emergency mode is in force for the unit (平战一键转换)."""
    query = Official.select().where((Official.active == True) & (Official.mobile != ""))  # noqa: E712
    if report.grid_id:
        query = query.where(Official.grid == report.grid_id)
    else:
        query = query.where((Official.township == report.township_id) & (Official.role == "township_staff"))
    posts = posts_of({o.duty_post: o for o in query if o.duty_post in ("A", "B")})
    return [o.mobile for o in on_duty(posts, emergency=in_force(report.township_id))]


def mentions(report: Report) -> list[str]:
    """The mobiles a new-report card @-mentions: the duty post under the unit's mention policy."""
    return apply_mention_policy(report, duty_mobiles(report))


def group_card(report: Report, settings: Settings) -> GroupCard:
    """The view of ``report`` a group card (or a digest line) is rendered from."""
    base = settings.server.public_base_url
    photos = (Upload.select(Upload).join(ReportPhoto)
              .where(ReportPhoto.report == report).order_by(ReportPhoto.position))
    return GroupCard(
        number=report.number,
        category=report.category.name,
        township_name=report.township.name,
        address=report.address,
        description=report.description,
        photo_urls=tuple(photo_out(u, base)["url"] for u in photos),
        link=signed_report_url(settings, report.number),
        mention_mobiles=tuple(mentions(report)),
        anonymous=report.anonymous,
        reporter_label=REPORTER_LABEL,
        urgent=report.urgent,
        level_label=LEVEL_LABELS.get(report.level, ""),
    )
