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
from miniapp_api.groups.policy import apply_mention_policy
from miniapp_api.org.levels import FIRST_LEVEL_LABELS as LEVEL_LABELS
from miniapp_api.models import Report
from miniapp_api.reports.completion_photos import photos_by_report
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
    supporters: int = 0                              # 我也遇到
    completion_photo_urls: tuple[str, ...] = ()      # 办结照片, apart from the resident's 上报照片
    inline_photo_urls: tuple[str, ...] = ()          # of those, the ones shown as pictures (WeChat's check passed)
    held_photos: int = 0                             # photos not shown until WeChat's check passes (``hold``)


def _photos(uploads: list, base: str, before_check: str) -> tuple[list[str], list[str], int]:
    """``(urls shown, urls shown as pictures, photos held back)`` of some photos, by WeChat's
    image check (``[wechat] photos_before_check`` for those not judged yet): a passed photo is a
    picture, a reviewed one a link, one not judged yet a link, a picture or held back."""
    shown, inline, held = [], [], 0
    for upload in uploads:
        waiting = upload.moderation in ("unchecked", "pending")
        if waiting and before_check == "hold":
            held += 1
            continue
        url = photo_out(upload, base)["url"]
        shown.append(url)
        if upload.moderation == "pass" or (waiting and before_check == "inline"):
            inline.append(url)
    return shown, inline, held


def duty_mobiles(report: Report) -> list[str]:
    """The duty post of the report's own level (the grid's A post for a grid-level report,
    the community's, the township's, the department's): A, or B when A is away; both while
    emergency mode is in force for the unit (平战一键转换). When nobody at that level can act,
    the nearest level above stands in (``ladder.reach``)."""
    found = ladder.reach(report, report.level or "township")
    return [o.mobile for o in found.on_duty(emergency=in_force(report.township_id)) if o.mobile]


def mentions(report: Report) -> list[str]:
    """The mobiles a new-report card @-mentions: the duty post under the unit's mention policy."""
    return apply_mention_policy(report, duty_mobiles(report))


def group_card(report: Report, settings: Settings) -> GroupCard:
    """The view of ``report`` a group card (or a digest line) is rendered from."""
    base = settings.server.public_base_url
    photos, done = (list(x) for x in (v[report.id] for v in photos_by_report([report.id])))
    before_check = settings.wechat.photos_before_check
    photo_urls, inline, held = _photos(photos, base, before_check)
    done_urls, done_inline, done_held = _photos(done, base, before_check)
    return GroupCard(
        number=report.number,
        category=report.category.name,
        township_name=report.township.name,
        address=report.address,
        description=report.description,
        photo_urls=tuple(photo_urls),
        link=signed_report_url(settings, report.number),
        mention_mobiles=tuple(mentions(report)),
        anonymous=report.anonymous,
        reporter_label=REPORTER_LABEL,
        urgent=report.urgent,
        level_label=LEVEL_LABELS.get(report.level, ""),
        supporters=report.supporters or 0,
        completion_photo_urls=tuple(done_urls),
        inline_photo_urls=tuple(inline + done_inline),
        held_photos=held + done_held,
    )


@dataclass(frozen=True)
class TransferDuty:
    """Who a 转办 card asks to 报到 in the department's group: the department's post on duty,
    or, when nobody there can act, the level that stands in (the county), said plainly."""

    department: str                      # the department's name
    who: str                             # ``孙城管``, or ``县直部门未登记A/B岗，由县指挥中心（…）处理``
    mention_mobiles: tuple[str, ...]     # the mobiles of those named, for ``@`` and ``at.atMobiles``


def transfer_duty(report: Report) -> TransferDuty:
    """Who answers a whistle to ``report``'s department: its A post, B when A is away, both while
    emergency mode is in force for the unit; when nobody in the department can act, the county
    staff on duty (``ladder.reach`` from the department level), never a township official."""
    found = ladder.reach(report, "department")
    officials = found.on_duty(emergency=in_force(report.township_id))
    return TransferDuty(department=report.department.name if report.department_id else "",
                        who=ladder.who(found, officials), mention_mobiles=tuple(ladder.mobiles(officials)))
