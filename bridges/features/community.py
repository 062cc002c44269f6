"""Notices and campaigns: where their outbox events go and what each channel shows.

=========================  ===================================================================
event kind                 targets
=========================  ===================================================================
notice.published           every targeted unit's group; residents in scope holding a ``notice``
                           subscribe consent (WeChat)
notice.withdrawn           the groups that were sent (or are being sent) the notice
notice.ack_reminder        the unit's group (its duty post @-mentioned)
notice.ack_escalated       the county group (``[county]``, else ``notices.county_group``), if configured
campaign.published         the campaign's unit group
campaign.updated           the unit group (changed time, capacity, place …)
campaign.signup_changed    none: the scheduler posts the count (campaign.count), coalesced
campaign.count             the unit group
campaign.promoted          the promoted resident (WeChat)
campaign.reminder          confirmed volunteers (WeChat)
campaign.roster            the unit group
campaign.cancelled         the unit group; confirmed and waitlisted residents (WeChat)
campaign.completed         the unit group
=========================  ===================================================================

Everything here is kept in :data:`KINDS`; composition installs it (``bridges.registry``).
"""
from __future__ import annotations

from bridges.dingtalk import render_community as render
from bridges.errors import Skipped
from bridges.kinds import Kinds
from bridges.routing import Target
from bridges.routing import group_target
from bridges.wechat.deliver import SubscribeMessage
from bridges.wechat.deliver import thing
from miniapp_api.campaigns.hours import display_name
from miniapp_api.notices import service as notice_service
from miniapp_api.time import local
from miniapp_api.community.common import mask_phone
from miniapp_api.community.common import time_range
from miniapp_api.community.links import signed_checkin_url
from miniapp_api.community.links import signed_notice_url
from miniapp_api.community.links import target_label
from miniapp_api.config import Settings
from miniapp_api.groups.duty import on_duty
from miniapp_api.groups.duty import posts_of
from miniapp_api.models import Delivery
from miniapp_api.models import Official
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Resident
from miniapp_api.models import SubscriptionConsent
from miniapp_api.models import Township
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Notice
from miniapp_api.models.community import NoticeUnit
from miniapp_api.models.community import Signup

#: The event kinds of notices and campaigns: routes, group messages, subscribe messages.
KINDS = Kinds("notices and campaigns")


def _notice(event: OutboxEvent) -> Notice:
    return Notice.get(Notice.number == event.payload["number"])


def _campaign(event: OutboxEvent) -> Campaign:
    return Campaign.get(Campaign.number == event.payload["number"])


def _consenting(query, template_id: str | None) -> list[Target]:
    """WeChat targets of the residents in ``query`` who hold a consent for ``template_id``."""
    if not template_id:
        return []
    rows = (query.select(Resident.id).join(SubscriptionConsent, on=(SubscriptionConsent.resident == Resident.id))
            .where((SubscriptionConsent.template_id == template_id) & (SubscriptionConsent.remaining > 0))
            .order_by(Resident.id).tuples())
    return [Target("wechat", f"wechat:resident:{rid}") for (rid,) in rows]


# --- routes -----------------------------------------------------------------------------------

@KINDS.route("notice.published")
def _notice_published(event: OutboxEvent, settings: Settings) -> list[Target]:
    notice = _notice(event)
    if notice.status != "published":
        return []  # withdrawn before the worker got to it: nobody hears of it
    units = (Township.select(Township.code).join(NoticeUnit, on=(NoticeUnit.township == Township.id))
             .where(NoticeUnit.notice == notice).order_by(Township.sort_order, Township.id))
    out = [group_target("township", t.code, settings) for t in units]
    return out + _consenting(notice_service.audience(notice), settings.wechat.templates.notice)


@KINDS.route("notice.withdrawn")
def _notice_withdrawn(event: OutboxEvent, settings: Settings) -> list[Target]:
    notice = _notice(event)
    if not notice.publish_event_id:
        return []
    told = (Delivery.select(Delivery.target)
            .where((Delivery.event == notice.publish_event_id) & (Delivery.channel == "dingtalk")
                   & (Delivery.state != "skipped")).order_by(Delivery.id))
    return [Target("dingtalk", d.target) for d in told]


@KINDS.route("notice.ack_reminder")
def _ack_reminder(event: OutboxEvent, settings: Settings) -> list[Target]:
    return [group_target("township", event.payload["township"], settings)]


@KINDS.route("notice.ack_escalated")
def _ack_escalated(event: OutboxEvent, settings: Settings) -> list[Target]:
    # The county command centre ([county]) when it has a group; else notices.county_group.
    if settings.county is not None and settings.county.dingtalk is not None:
        return [group_target("county", "county", settings)]
    code = settings.notices.county_group
    return [group_target("department", code, settings)] if code else []


@KINDS.route("campaign.published", "campaign.updated", "campaign.count", "campaign.roster", "campaign.completed")
def _campaign_group(event: OutboxEvent, settings: Settings) -> list[Target]:
    return [group_target("township", _campaign(event).township.code, settings)]


@KINDS.route("campaign.signup_changed")
def _signup_changed(event: OutboxEvent, settings: Settings) -> list[Target]:
    # Nothing is sent per sign-up: the scheduler turns changes into one coalesced
    # campaign.count message per interval (community.scheduler.campaign_counts).
    return []


@KINDS.route("campaign.promoted")
def _promoted(event: OutboxEvent, settings: Settings) -> list[Target]:
    if not settings.wechat.templates.campaign:
        return []
    return [Target("wechat", f"wechat:resident:{event.payload['resident_id']}")]


def _signed_up(campaign: Campaign, statuses: tuple[str, ...], settings: Settings) -> list[Target]:
    query = Resident.select().where(Resident.id.in_(
        Signup.select(Signup.resident).where((Signup.campaign == campaign) & Signup.status.in_(statuses))))
    return _consenting(query, settings.wechat.templates.campaign)


@KINDS.route("campaign.reminder")
def _reminder(event: OutboxEvent, settings: Settings) -> list[Target]:
    return _signed_up(_campaign(event), ("confirmed",), settings)


@KINDS.route("campaign.cancelled")
def _cancelled(event: OutboxEvent, settings: Settings) -> list[Target]:
    campaign = _campaign(event)
    group = [group_target("township", campaign.township.code, settings)]
    return group + _signed_up(campaign, ("confirmed", "waitlisted"), settings)


# --- DingTalk ---------------------------------------------------------------------------------

def _duty_mobiles(township: Township) -> list[str]:
    """The unit's township-staff duty post (A, or B when A is on leave)."""
    posts = posts_of({o.duty_post: o for o in Official.select().where(
        (Official.township == township) & (Official.role == "township_staff") & (Official.active == True)  # noqa: E712
        & (Official.mobile != "") & Official.duty_post.in_(["A", "B"]))})
    return [o.mobile for o in on_duty(posts)]


@KINDS.dingtalk_payload("notice.published")
def _notice_card(event: OutboxEvent, settings: Settings) -> dict:
    notice = _notice(event)
    if notice.status != "published":
        raise Skipped("notice withdrawn before it was sent")
    return render.render_notice(render.NoticeView(**notice_service.card_fields(notice, settings)))


@KINDS.dingtalk_payload("notice.withdrawn")
def _notice_withdrawn_card(event: OutboxEvent, settings: Settings) -> dict:
    notice = _notice(event)
    return render.render_notice_withdrawn(notice.number, notice.title, event.payload.get("reason", ""),
                                          event.payload.get("by", ""))


@KINDS.dingtalk_payload("notice.ack_reminder")
def _ack_reminder_card(event: OutboxEvent, settings: Settings) -> dict:
    notice = _notice(event)
    township = Township.get(Township.code == event.payload["township"])
    row = NoticeUnit.get((NoticeUnit.notice == notice) & (NoticeUnit.township == township))
    if notice.status != "published" or row.acked_at is not None:
        raise Skipped("acknowledged (or withdrawn) before the reminder was sent")
    return render.render_ack_reminder(notice.number, notice.title, township.name, local(notice.published_at),
                                      signed_notice_url(settings, notice.number), _duty_mobiles(township))


@KINDS.dingtalk_payload("notice.ack_escalated")
def _ack_escalated_card(event: OutboxEvent, settings: Settings) -> dict:
    notice = _notice(event)
    units = {t.code: t for t in Township.select().where(Township.code.in_(event.payload["townships"]))}
    acked = {u.township_id for u in NoticeUnit.select().where((NoticeUnit.notice == notice)
                                                             & NoticeUnit.acked_at.is_null(False))}
    missing = [units[c].name for c in event.payload["townships"] if c in units and units[c].id not in acked]
    if notice.status != "published" or not missing:
        raise Skipped("every unit acknowledged before the escalation was sent")
    hours = (notice.escalate_at - notice.published_at).total_seconds() / 3600
    return render.render_ack_escalation(notice.number, notice.title, missing, f"{hours:g}",
                                        signed_notice_url(settings, notice.number))


def _campaign_view(c: Campaign, settings: Settings) -> render.CampaignView:
    return render.CampaignView(
        number=c.number, title=c.title, description=c.description, time_text=time_range(c.starts_at, c.ends_at),
        place=c.place_name, scope_label=target_label(c.level, c.township, c.community, c.grid),
        capacity=c.capacity, taken=c.taken, hours=c.hours, link=signed_checkin_url(settings, c.number),
        skills=list(c.skills or []), report_number=c.report.number if c.report_id else None)


@KINDS.dingtalk_payload("campaign.published")
def _campaign_card(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_campaign(_campaign_view(_campaign(event), settings))


@KINDS.dingtalk_payload("campaign.updated")
def _campaign_updated_card(event: OutboxEvent, settings: Settings) -> dict:
    return render.render_campaign(_campaign_view(_campaign(event), settings), updated=True)


@KINDS.dingtalk_payload("campaign.count")
def _count_card(event: OutboxEvent, settings: Settings) -> dict:
    c = _campaign(event)
    waiting = Signup.select().where((Signup.campaign == c) & (Signup.status == "waitlisted")).count()
    # The latest count, not the one at the time of the event: a late message is never stale.
    return render.render_campaign_count(c.number, c.title, c.taken, c.capacity, waiting)


@KINDS.dingtalk_payload("campaign.roster")
def _roster_card(event: OutboxEvent, settings: Settings) -> dict:
    c = _campaign(event)
    rows = list(Signup.select().where((Signup.campaign == c) & Signup.status.in_(["confirmed", "waitlisted"]))
                .order_by(Signup.queue, Signup.id))
    entries = [render.RosterEntry(s.name or display_name(s.resident_id), mask_phone(s.phone),
                                  "已签到" if s.checked_in_at else "")
               for s in rows if s.status == "confirmed"]
    waiting = sum(1 for s in rows if s.status == "waitlisted")
    return render.render_roster(c.number, c.title, time_range(c.starts_at, c.ends_at), c.place_name, entries,
                                waiting, signed_checkin_url(settings, c.number))


@KINDS.dingtalk_payload("campaign.cancelled")
def _cancelled_card(event: OutboxEvent, settings: Settings) -> dict:
    c = _campaign(event)
    return render.render_campaign_cancelled(c.number, c.title, event.payload.get("reason", ""),
                                            event.payload.get("by", ""))


@KINDS.dingtalk_payload("campaign.completed")
def _completed_card(event: OutboxEvent, settings: Settings) -> dict:
    c = _campaign(event)
    return render.render_campaign_completed(c.number, c.title, event.payload.get("volunteers", 0),
                                            float(event.payload.get("hours", 0)),
                                            c.report.number if c.report_id else None)


# --- WeChat subscribe messages ----------------------------------------------------------------

@KINDS.wechat_message("notice.published")
def _notice_message(event: OutboxEvent, settings: Settings) -> SubscribeMessage:
    t = settings.wechat.templates
    notice = _notice(event)
    if notice.status != "published" or not t.notice:
        raise Skipped("notice withdrawn (or no notice template configured)")
    unit = notice.township.name if notice.township_id else "县级通知"
    data = {t.notice_fields["title"]: thing(notice.title, "通知公告"),
            t.notice_fields["unit"]: thing(unit, "通知公告"),
            t.notice_fields["time"]: local(notice.published_at)}
    return SubscribeMessage(t.notice, data, f"pages/notice/detail?number={notice.number}")


_CAMPAIGN_NOTES = {
    "campaign.promoted": "候补已转为正式报名，请按时参加",
    "campaign.reminder": "活动即将开始，请按时到场签到",
    "campaign.cancelled": "活动已取消",
}


@KINDS.wechat_message("campaign.promoted", "campaign.reminder", "campaign.cancelled")
def _campaign_message(event: OutboxEvent, settings: Settings) -> SubscribeMessage:
    t = settings.wechat.templates
    if not t.campaign:
        raise Skipped("no campaign template configured")
    c = _campaign(event)
    if event.kind != "campaign.cancelled" and c.status != "published":
        raise Skipped("campaign no longer open")
    f = t.campaign_fields
    data = {f["title"]: thing(c.title, "志愿活动"), f["time"]: time_range(c.starts_at, c.ends_at),
            f["place"]: thing(c.place_name, "见活动详情"), f["note"]: thing(_CAMPAIGN_NOTES[event.kind], "志愿活动")}
    return SubscribeMessage(t.campaign, data, f"pages/campaign/detail?number={c.number}")
