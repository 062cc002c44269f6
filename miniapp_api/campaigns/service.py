"""Volunteer campaigns (战地有我): publish, sign up and cancel with a waitlist, check in,
complete (hours ledger, linked report), cancel, leaderboard.

Capacity: every sign-up and cancellation runs in one write transaction that first locks the
campaign row (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` already
serialises writers), and a confirmed place is only taken by the conditional
``UPDATE campaign SET taken = taken + 1 WHERE taken < capacity``. Whoever does not get a
place is waitlisted; a cancellation hands the place to the oldest waitlisted sign-up (and
tells them by subscribe message) or gives it back.

Linked reports: a campaign made from an open report accepts it (if pending) and notes the
campaign in its timeline. When the campaign completes with at least one volunteer checked
in, the report is resolved through the lifecycle with the reply 由志愿者协助办结 (or, if an
official resolved it meanwhile, the timeline gets that note); with nobody checked in the
report stays open.
"""
from __future__ import annotations

import hmac
from datetime import datetime
from datetime import time as dtime
from datetime import timedelta

from peewee import IntegrityError
from peewee import fn

from miniapp_api.reports import lifecycle
from miniapp_api import outbox
from miniapp_api.config import Settings
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.errors import Conflict
from miniapp_api.errors import Forbidden
from miniapp_api.errors import NotFound
from miniapp_api.errors import ValidationFailed
from miniapp_api.paging import decode_cursor
from miniapp_api.paging import encode_cursor
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import Status
from miniapp_api.models import Report
from miniapp_api.models import Resident
from miniapp_api.models import TimelineEntry
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Signup
from miniapp_api.models.community import VolunteerHours
from miniapp_api.time import LOCAL_TZ
from miniapp_api.campaigns import checkin as codes
from miniapp_api.org import geo
from miniapp_api.org import places
from miniapp_api.time import local
from miniapp_api.community.common import next_code

ACTIVE = ("confirmed", "waitlisted")
#: A confirmed volunteer an official marked as absent: keeps the place (no hours); checking
#: in later makes them confirmed again.
NO_SHOW = "no_show"


class CampaignRefused(Exception):
    """Raised where a DingTalk reply is wanted instead of an HTTP error."""


# --- publishing ---------------------------------------------------------------------------

def open_report_for_campaign(report: Report) -> None:
    """Raise :class:`CampaignRefused` unless ``report`` can become a campaign task."""
    if report.status not in (Status.PENDING, Status.ACCEPTED):
        labels = lifecycle.STATUS_LABELS
        raise CampaignRefused(f"上报 {report.number} {labels.get(report.status, report.status)}，不能发起志愿活动"
                              f"（只有待受理或已受理的上报可以）。")
    existing = Campaign.get_or_none((Campaign.report == report) & (Campaign.status == "published"))
    if existing is not None:
        raise CampaignRefused(f"上报 {report.number} 已有志愿活动 {existing.number}。")


def default_window(settings: Settings, now: datetime) -> tuple[datetime, datetime]:
    """Tomorrow at ``default_start_hour`` (local), lasting ``default_hours``."""
    cfg = settings.campaigns
    day = (now.astimezone(LOCAL_TZ) + timedelta(days=1)).date()
    start = datetime.combine(day, dtime(cfg.default_start_hour), tzinfo=LOCAL_TZ)
    return start, start + timedelta(hours=cfg.default_hours)


def create(settings: Settings, *, title: str, description: str, place: tuple[str, float | None, float | None],
           radius_m: int | None, starts_at: datetime, ends_at: datetime, capacity: int, scope: tuple,
           skills: list[str], hours: float | None, report: Report | None, publisher_kind: str,
           publisher_name: str, actor: Actor, now: datetime) -> Campaign:
    """Publish a campaign (and note it on its report); returns it, already in the outbox."""
    if ends_at <= starts_at:
        raise ValidationFailed("ends_at：结束时间应晚于开始时间", field="ends_at")
    if ends_at <= now:
        raise ValidationFailed("ends_at：结束时间应晚于现在", field="ends_at")
    if ends_at - starts_at > timedelta(days=31):
        raise ValidationFailed("ends_at：活动时长不能超过 31 天", field="ends_at")
    level, township, community, grid = scope
    credited = hours if hours is not None else hours_between(starts_at, ends_at)
    name, lat, lng = place
    with write_tx():
        if report is not None:
            report = Report.get_by_id(report.id)
            open_report_for_campaign(report)
        campaign = Campaign.create(
            number=next_code("V"), title=title, description=description, place_name=name, lat=lat, lng=lng,
            radius_m=radius_m or settings.campaigns.checkin_radius_m, starts_at=starts_at, ends_at=ends_at,
            capacity=capacity, taken=0, level=level, township=township, community=community, grid=grid,
            skills=skills, hours=credited, status="published", report=report, publisher_kind=publisher_kind,
            publisher_name=publisher_name[:60], created_at=now,
        )
        event = outbox.record("campaign.published", {"number": campaign.number}, now=now)
        Campaign.update(publish_event_id=event.id).where(Campaign.id == campaign.id).execute()
        if report is not None:
            note = f"发起志愿活动 {campaign.number}：{title}"
            if report.status == Status.PENDING:
                lifecycle.apply(report, Action.ACCEPT, actor, now, note=note)
            else:
                _note(report, actor, now, note)
    return Campaign.get_by_id(campaign.id)


def hours_between(starts_at: datetime, ends_at: datetime) -> float:
    """The hours a volunteer is credited for a campaign of this time: its length, to 0.01 h
    (65 minutes are 1.08 h), at most 24 and at least 0.01."""
    length = (ends_at - starts_at).total_seconds() / 3600
    return max(0.01, round(min(length, 24), 2))


def plan(settings: Settings, body, now: datetime) -> dict:
    """The arguments of :func:`create` for a checked ``CampaignIn`` (API or console), with the
    defaults filled in: a campaign made from a report is offered in its grid, at its place,
    tomorrow at ``default_start_hour``. 404 ``report_not_found``, 422 for what is missing.
    The caller checks the rights on ``scope[1]`` (and on the report's unit)."""
    report = None
    if body.report:
        report = Report.get_or_none(Report.number == body.report)
        if report is None:
            raise NotFound("找不到该上报", code="report_not_found")
    if body.scope is not None:
        s = body.scope
        scope = resolve_scope(s.level, s.township, s.community, s.grid)
    elif report is not None:
        scope = scope_of_report(report)
    else:
        raise ValidationFailed("scope：请选择活动范围", field="scope")
    start, end = body.starts_at, body.ends_at
    if start is None or end is None:
        if report is None:
            field = "starts_at" if start is None else "ends_at"
            raise ValidationFailed(f"{field}：请填写活动时间", field=field)
        d_start, d_end = default_window(settings, now)
        start, end = start or d_start, end or (start + (d_end - d_start) if start else d_end)
    if body.place is not None:
        place = (body.place.name, body.place.lat, body.place.lng)
    elif report is not None:
        place = (report.address[:100], report.lat, report.lng)
    else:
        place = ("", None, None)
    title = body.title or (f"志愿协助：{report.category.name}" if report is not None else None)
    if not title:
        raise ValidationFailed("title：请填写活动名称", field="title")
    return dict(title=title[:60], description=body.description, place=place, radius_m=body.radius_m,
                starts_at=start, ends_at=end, capacity=body.capacity or settings.campaigns.default_capacity,
                scope=scope, skills=body.skills, hours=body.hours, report=report)


def resolve_scope(level: str, township: str | None, community: int | None, grid: int | None) -> tuple:
    """``(level, Township, Community | None, Grid | None)`` of a checked scope."""
    if level == "grid" and grid is None:
        raise ValidationFailed("scope.grid：请选择网格", field="scope.grid")
    if level == "community" and community is None:
        raise ValidationFailed("scope.community：请选择村/社区", field="scope.community")
    t, c, g = places.resolve_place(township, community if level in ("community", "grid") else None,
                                   grid if level == "grid" else None, "scope.")
    return level, t, c, g


def scope_of_report(report: Report) -> tuple:
    """A campaign made from a report is offered in the report's grid, else its unit."""
    if report.grid_id:
        grid = report.grid
        return "grid", report.township, grid.community, grid
    return "township", report.township, None, None


def from_report_in_group(settings: Settings, report: Report, text: str, official_name: str, actor: Actor,
                         now: datetime) -> Campaign:
    """``发起志愿 <number> [说明]`` in DingTalk: a campaign with the defaults of ``[campaigns]``."""
    open_report_for_campaign(report)
    start, end = default_window(settings, now)
    title = f"志愿协助：{report.category.name}"[:60]
    description = text or f"协助处理群众反映的问题（上报 {report.number}）：{report.description[:200]}"
    return create(settings, title=title, description=description,
                  place=(report.address[:100], report.lat, report.lng), radius_m=None, starts_at=start, ends_at=end,
                  capacity=settings.campaigns.default_capacity, scope=scope_of_report(report), skills=[],
                  hours=None, report=report, publisher_kind="official", publisher_name=official_name,
                  actor=actor, now=now)


def _note(report: Report, actor: Actor, now: datetime, note: str) -> None:
    """A timeline line on a report that does not change its status."""
    TimelineEntry.create(report=report, at=now, status=report.status, action="volunteer", channel=actor.channel,
                         actor_kind=actor.kind, actor_name=actor.name, actor_id=actor.id, note=note)


# --- who sees what --------------------------------------------------------------------------

def visible_to(resident: Resident):
    """Campaigns offered where the resident lives (unit, community or grid)."""
    cond = Campaign.id < 0  # nothing without a home place
    if resident.home_township_id:
        cond |= (Campaign.level == "township") & (Campaign.township == resident.home_township_id)
    if resident.home_community_id:
        cond |= (Campaign.level == "community") & (Campaign.community == resident.home_community_id)
    if resident.home_grid_id:
        cond |= (Campaign.level == "grid") & (Campaign.grid == resident.home_grid_id)
    return cond


def get_for(resident: Resident, number: str) -> Campaign:
    """Campaign ``number`` if ``resident`` may see it, else 404."""
    campaign = Campaign.select().where((Campaign.number == number) & visible_to(resident)).first()
    if campaign is None:
        raise NotFound("找不到该志愿活动", code="campaign_not_found")
    return campaign


def page(query, cursor: str | None, limit: int) -> tuple[list[Campaign], str | None]:
    """Newest first, cursor-paged."""
    if cursor:
        query = query.where(Campaign.id < decode_cursor(cursor, "c")[0])
    rows = list(query.order_by(Campaign.id.desc()).limit(limit + 1))
    return rows[:limit], (encode_cursor("c", rows[limit - 1].id) if len(rows) > limit else None)


def waitlisted_counts(campaign_ids: list[int]) -> dict[int, int]:
    """How many are waitlisted for each campaign (by id; campaigns with none are left out)."""
    if not campaign_ids:
        return {}
    rows = (Signup.select(Signup.campaign, fn.COUNT(Signup.id).alias("n"))
            .where(Signup.campaign.in_(campaign_ids) & (Signup.status == "waitlisted"))
            .group_by(Signup.campaign).tuples())
    return {cid: n for cid, n in rows}


def position(signup: Signup) -> int | None:
    """1-based place on the waitlist."""
    if signup.status != "waitlisted":
        return None
    ahead = Signup.select().where(
        (Signup.campaign == signup.campaign_id) & (Signup.status == "waitlisted")
        & ((Signup.queue < signup.queue) | ((Signup.queue == signup.queue) & (Signup.id < signup.id)))).count()
    return ahead + 1


# --- sign-up, cancellation, waitlist --------------------------------------------------------

def _locked(campaign_id: int) -> Campaign:
    query = Campaign.select().where(Campaign.id == campaign_id)
    if is_postgres():
        query = query.for_update()
    return query.get()


def _changed(c: Campaign) -> int:
    """Count a sign-up change (the scheduler tells the group, coalesced); returns the new count,
    which orders sign-ups: it is taken under the campaign's lock."""
    Campaign.update(signup_changes=Campaign.signup_changes + 1).where(Campaign.id == c.id).execute()
    return Campaign.select(Campaign.signup_changes).where(Campaign.id == c.id).scalar()


def _open_for_signup(campaign: Campaign, now: datetime) -> None:
    if campaign.status == "cancelled":
        raise Conflict("该活动已取消", code="campaign_cancelled")
    if campaign.status == "completed" or now >= campaign.ends_at:
        raise Conflict("该活动已结束", code="campaign_ended")


def signup(resident: Resident, campaign: Campaign, name: str, phone: str, now: datetime) -> Signup:
    """Sign up: a confirmed place while there is one, else the waitlist. 409 if already in."""
    try:
        with write_tx():
            c = _locked(campaign.id)
            _open_for_signup(c, now)
            existing = Signup.get_or_none((Signup.campaign == c) & (Signup.resident == resident))
            if existing is not None and existing.status in ACTIVE + (NO_SHOW,):
                raise Conflict("您已在候补名单中" if existing.status == "waitlisted" else "您已报名该活动",
                               code="already_signed_up")
            got = (Campaign.update(taken=Campaign.taken + 1)
                   .where((Campaign.id == c.id) & (Campaign.taken < Campaign.capacity)
                          & (Campaign.status == "published")).execute())
            status = "confirmed" if got else "waitlisted"
            queue = _changed(c)
            values = dict(status=status, name=name, phone=phone, signed_up_at=now, queue=queue, updated_at=now,
                          promoted_at=None, cancelled_at=None, checked_in_at=None, checkin_distance_m=None)
            if existing is None:
                row = Signup.create(campaign=c, resident=resident, **values)
            else:
                Signup.update(**values).where(Signup.id == existing.id).execute()
                row = Signup.get_by_id(existing.id)
            outbox.record("campaign.signup_changed", {"number": c.number, "change": status,
                                                      "resident_id": resident.id}, now=now)
    except IntegrityError:
        # The same resident twice at once: the other request made the sign-up.
        raise Conflict("您已报名该活动", code="already_signed_up") from None
    return row


def cancel_signup(resident: Resident, campaign: Campaign, now: datetime) -> tuple[Signup, Signup | None]:
    """Cancel; a confirmed place goes to the oldest waitlisted sign-up (returned, notified)."""
    with write_tx():
        c = _locked(campaign.id)
        row = Signup.get_or_none((Signup.campaign == c) & (Signup.resident == resident))
        if row is None or row.status not in ACTIVE:
            raise NotFound("您没有报名该活动", code="signup_not_found")
        if row.checked_in_at is not None:
            raise Conflict("已签到，不能取消报名", code="already_checked_in")
        if c.status != "published":
            raise Conflict("活动已结束或已取消，不能取消报名", code="campaign_ended")
        Signup.update(status="cancelled", cancelled_at=now, updated_at=now).where(Signup.id == row.id).execute()
        _changed(c)
        promoted = None
        if row.status == "confirmed":
            promoted = _promote(c, now)
        outbox.record("campaign.signup_changed", {"number": c.number, "change": "cancelled",
                                                  "resident_id": resident.id}, now=now)
    return Signup.get_by_id(row.id), promoted


def _promote(c: Campaign, now: datetime) -> Signup | None:
    """Hand a freed place to the oldest waitlisted sign-up, or give it back (in the caller's
    transaction, under the campaign's lock)."""
    nxt = (Signup.select().where((Signup.campaign == c) & (Signup.status == "waitlisted"))
           .order_by(Signup.queue, Signup.id).first())
    if nxt is None:
        Campaign.update(taken=Campaign.taken - 1).where((Campaign.id == c.id) & (Campaign.taken > 0)).execute()
        return None
    Signup.update(status="confirmed", promoted_at=now, updated_at=now).where(Signup.id == nxt.id).execute()
    outbox.record("campaign.promoted", {"number": c.number, "resident_id": nxt.resident_id}, now=now)
    return Signup.get_by_id(nxt.id)


def changes_of(body) -> dict:
    """The columns a checked ``CampaignPatchIn`` changes (what was not given stays)."""
    changes = body.model_dump(exclude_unset=True, exclude={"place"})
    if body.place is not None:
        changes.update(place_name=body.place.name, lat=body.place.lat, lng=body.place.lng)
    if changes.get("skills") is not None:
        changes["skills"] = [x.strip()[:20] for x in changes["skills"] if x and x.strip()]
    return {k: v for k, v in changes.items() if v is not None}


def update(campaign: Campaign, changes: dict, now: datetime) -> Campaign:
    """Change a published campaign (title, description, place, time, capacity, …).

    The capacity never drops below the confirmed sign-ups; a larger capacity promotes the
    waitlist at once. A new start time re-arms the reminder and the roster.
    """
    with write_tx():
        c = _locked(campaign.id)
        if c.status != "published":
            raise Conflict("该活动已结束或已取消，不能修改", code="campaign_closed")
        values = {k: v for k, v in changes.items() if k in (
            "title", "description", "place_name", "lat", "lng", "radius_m", "starts_at", "ends_at", "capacity",
            "skills", "hours")}
        start, end = values.get("starts_at", c.starts_at), values.get("ends_at", c.ends_at)
        if end <= start:
            raise ValidationFailed("ends_at：结束时间应晚于开始时间", field="ends_at")
        if ("ends_at" in values or "starts_at" in values) and end <= now:
            raise ValidationFailed("ends_at：结束时间应晚于现在", field="ends_at")
        if "capacity" in values and values["capacity"] < c.taken:
            raise Conflict(f"已有 {c.taken} 人报名，名额不能少于 {c.taken}", code="capacity_below_signups")
        if "starts_at" in values and values["starts_at"] != c.starts_at:
            values.update(reminded_at=None, roster_sent_at=None)
        if (start, end) != (c.starts_at, c.ends_at) and "hours" not in values:
            # Hours follow the campaign's time: a new time without new hours recalculates them.
            values["hours"] = hours_between(start, end)
        if values:
            Campaign.update(**values).where(Campaign.id == c.id).execute()
        c = Campaign.get_by_id(c.id)
        while c.taken < c.capacity:
            nxt = (Signup.select().where((Signup.campaign == c) & (Signup.status == "waitlisted"))
                   .order_by(Signup.queue, Signup.id).first())
            if nxt is None:
                break
            Signup.update(status="confirmed", promoted_at=now, updated_at=now).where(Signup.id == nxt.id).execute()
            Campaign.update(taken=Campaign.taken + 1).where(Campaign.id == c.id).execute()
            _changed(c)
            outbox.record("campaign.promoted", {"number": c.number, "resident_id": nxt.resident_id}, now=now)
            c = Campaign.get_by_id(c.id)
        outbox.record("campaign.updated", {"number": c.number, "fields": sorted(values)}, now=now)
    return Campaign.get_by_id(campaign.id)


# --- check-in ---------------------------------------------------------------------------------

def checkin(settings: Settings, resident: Resident, campaign: Campaign, submitted: str, lat: float | None,
            lng: float | None, now: datetime) -> Signup:
    """Check in with the rotating code, inside the time window and the radius. Once."""
    cfg = settings.campaigns
    row = Signup.get_or_none((Signup.campaign == campaign) & (Signup.resident == resident))
    if row is None or row.status not in ("confirmed", NO_SHOW):
        msg = "您仍在候补名单中，不能签到" if row is not None and row.status == "waitlisted" else "您没有报名该活动"
        raise Forbidden(msg, code="not_signed_up")
    if row.checked_in_at is not None:
        raise Conflict("您已签到，不能重复签到", code="already_checked_in")
    if campaign.status == "cancelled":
        raise Conflict("该活动已取消", code="campaign_cancelled")
    opens = campaign.starts_at - timedelta(minutes=cfg.checkin_early_minutes)
    if now < opens:
        raise Conflict(f"签到尚未开始，{local(opens)} 起可以签到", code="checkin_not_open")
    if now > campaign.ends_at or campaign.status == "completed":
        raise Conflict("活动已结束，不能签到", code="checkin_closed")
    number, code = codes.parse_submitted(submitted)
    if code is None or (number is not None and number != campaign.number):
        raise ApiError("签到码不正确", code="checkin_code_invalid", status=422, field="code")
    if len(code) == 10:  # a printed poster's code (only ever in its QR)
        printed = codes.print_code(settings.server.secret_key, campaign.number, campaign.starts_at)
        verdict = "ok" if hmac.compare_digest(code, printed) else "invalid"
    else:
        verdict = codes.verify(settings.server.secret_key, campaign.number, code, now, cfg.checkin_code_seconds)
    if verdict == "expired":
        raise ApiError("签到码已过期，请扫描现场最新的签到码", code="checkin_code_expired", status=422, field="code")
    if verdict != "ok":
        raise ApiError("签到码不正确", code="checkin_code_invalid", status=422, field="code")
    distance = None
    if campaign.lat is not None and campaign.lng is not None:
        if lat is None or lng is None:
            raise ValidationFailed("lat：签到需要您的位置，请允许小程序获取位置", field="lat")
        distance = round(geo.haversine_m(lat, lng, campaign.lat, campaign.lng), 1)
        if distance > campaign.radius_m:
            raise ApiError(f"您距活动地点约 {distance:.0f} 米，超出 {campaign.radius_m} 米的签到范围",
                           code="checkin_too_far", status=422, field="lat")
    with write_tx():
        done = (Signup.update(checked_in_at=now, checkin_distance_m=distance, updated_at=now, status="confirmed")
                .where((Signup.id == row.id) & Signup.checked_in_at.is_null()
                       & Signup.status.in_(("confirmed", NO_SHOW)))
                .execute())
        if not done:
            raise Conflict("您已签到，不能重复签到", code="already_checked_in")
    return Signup.get_by_id(row.id)


def mark_no_show(campaign: Campaign, signup_ids: list[int], absent: bool, now: datetime) -> int:
    """Mark confirmed volunteers who have not checked in as absent (未到), or undo it; returns how
    many changed. Only once the campaign has started, and not after it closed."""
    if campaign.status != "published":
        raise Conflict("该活动已结束或已取消，不能修改签到情况", code="campaign_closed")
    if now < campaign.starts_at:
        raise Conflict("活动开始后才能标记未到", code="campaign_not_started")
    before, after = ("confirmed", NO_SHOW) if absent else (NO_SHOW, "confirmed")
    with write_tx():
        return (Signup.update(status=after, updated_at=now)
                .where((Signup.campaign == campaign) & Signup.id.in_(signup_ids) & (Signup.status == before)
                       & Signup.checked_in_at.is_null()).execute())


# --- completing and cancelling -----------------------------------------------------------------

def complete(campaign: Campaign, actor: Actor, now: datetime) -> Campaign:
    """Close a campaign: credit hours to those who checked in, resolve the linked report.
    A campaign that has not started yet cannot be completed (409 ``campaign_not_started``)."""
    if now < campaign.starts_at and campaign.status == "published":
        raise Conflict(f"活动 {local(campaign.starts_at)} 才开始，开始前不能结束；如不再举行，请取消活动",
                       code="campaign_not_started")
    with write_tx():
        done = (Campaign.update(status="completed", completed_at=now)
                .where((Campaign.id == campaign.id) & (Campaign.status == "published")).execute())
        if not done:
            raise Conflict("该活动已结束或已取消", code="campaign_closed")
        c = Campaign.get_by_id(campaign.id)
        present = list(Signup.select().where((Signup.campaign == c) & (Signup.status == "confirmed")
                                             & Signup.checked_in_at.is_null(False)))
        for s in present:
            (VolunteerHours.insert(resident=s.resident_id, campaign=c, township=c.township_id, hours=c.hours,
                                   credited_at=now).on_conflict_ignore().execute())
        outbox.record("campaign.completed", {"number": c.number, "volunteers": len(present),
                                             "hours": c.hours * len(present)}, now=now)
        if c.report_id and present:
            _resolve_report(Report.get_by_id(c.report_id), c, len(present), actor, now)
    return Campaign.get_by_id(campaign.id)


def _resolve_report(report: Report, c: Campaign, volunteers: int, actor: Actor, now: datetime) -> None:
    note = f"由志愿者协助办结（志愿活动 {c.number}，{volunteers} 名志愿者参与）"
    if report.status in (Status.PENDING, Status.TRANSFERRED):
        report = lifecycle.apply(report, Action.ACCEPT, actor, now, note=f"志愿活动 {c.number} 承办")
    if report.status == Status.ACCEPTED:
        lifecycle.apply(report, Action.RESOLVE, actor, now, note=note, changes={"reply": note})
    elif report.status in (Status.RESOLVED, Status.CLOSED):
        _note(report, actor, now, note)


def cancel(campaign: Campaign, actor: Actor, reason: str, now: datetime) -> Campaign:
    """Cancel a published campaign; the group and the signed-up residents are told."""
    with write_tx():
        done = (Campaign.update(status="cancelled", cancelled_at=now, cancel_reason=reason)
                .where((Campaign.id == campaign.id) & (Campaign.status == "published")).execute())
        if not done:
            raise Conflict("该活动已结束或已取消", code="campaign_closed")
        outbox.record("campaign.cancelled", {"number": campaign.number, "reason": reason, "by": actor.name}, now=now)
        if campaign.report_id:
            report = Report.get_by_id(campaign.report_id)
            _note(report, actor, now, f"志愿活动 {campaign.number} 已取消" + (f"：{reason}" if reason else ""))
    return Campaign.get_by_id(campaign.id)
