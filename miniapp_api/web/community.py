"""Resident endpoints: home place, notices, campaigns, check-in, hours and leaderboard.

Every list follows the resident's home place (``PUT /me/home``): county-wide notices reach
everybody; a unit's, community's or grid's notices and campaigns only the residents who live
there. Anything out of scope answers 404, with no hint that it exists.
"""
from __future__ import annotations

from miniapp_api.web import collaborators
from miniapp_api.web.api import ApiBlueprint
from miniapp_api.errors import NotFound
from miniapp_api.errors import ValidationFailed
from miniapp_api.models import Resident
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Signup
from miniapp_api.time import iso
from miniapp_api.campaigns import service as campaign_service
from miniapp_api.campaigns import hours
from miniapp_api.notices import service as notice_service
from miniapp_api.org import places
from miniapp_api.community.common import NUMBER_RE
from miniapp_api.community.schemas import MAX_ID
from miniapp_api.campaigns.schemas import CampaignList
from miniapp_api.campaigns.schemas import CampaignListQuery
from miniapp_api.campaigns.schemas import CampaignOut
from miniapp_api.campaigns.schemas import CheckinIn
from miniapp_api.campaigns.schemas import CheckinOut
from miniapp_api.community.schemas import CommunityList
from miniapp_api.community.schemas import GridList
from miniapp_api.community.schemas import HomeIn
from miniapp_api.community.schemas import HomeOut
from miniapp_api.campaigns.schemas import HoursOut
from miniapp_api.campaigns.schemas import LeaderboardOut
from miniapp_api.campaigns.schemas import LeaderQuery
from miniapp_api.community.schemas import LocatedOut
from miniapp_api.community.schemas import LocateQuery
from miniapp_api.campaigns.schemas import MySignupOut
from miniapp_api.notices.schemas import NoticeDetailOut
from miniapp_api.notices.schemas import NoticeList
from miniapp_api.community.schemas import PageQuery
from miniapp_api.notices.schemas import ReadOut
from miniapp_api.campaigns.schemas import SignupIn
from miniapp_api.campaigns.serialize import campaign_out
from miniapp_api.campaigns.serialize import my_signup_out
from miniapp_api.notices.serialize import notice_detail_out
from miniapp_api.notices.serialize import notice_out
from miniapp_api.community.serialize import prime

bp = ApiBlueprint("community")


def number_arg(number: str) -> str:
    """A notice or campaign number from the path, 404 when it cannot be one."""
    if not NUMBER_RE.match(number):
        raise ValidationFailed("number：编号格式不正确", field="number")
    return number


# --- home place ---------------------------------------------------------------------------

@bp.operation("/townships/<code>/communities", "GET", summary="乡镇/街道下的村/社区（选择居住地）", tag="places",
              response=CommunityList, auth=False, errors={404: "township_not_found"})
def list_communities(code: str):
    """The communities of a unit (to choose a home place)."""
    return {"items": [{"id": c.id, "name": c.name, "kind": c.kind} for c in places.communities_of(code[:32])]}


@bp.operation("/communities/<int:community_id>/grids", "GET", summary="村/社区下的网格（选择居住地）", tag="places",
              response=GridList, auth=False, errors={404: "community_not_found"})
def list_grids(community_id: int):
    """The grids of a community (to choose a home place)."""
    if community_id > MAX_ID:
        raise NotFound("没有这个村/社区", code="community_not_found")
    return {"items": [{"id": g.id, "name": g.name,
                       "center": {"lat": g.center_lat, "lng": g.center_lng} if g.center_lat is not None else None}
                      for g in places.grids_of(community_id)]}


@bp.operation("/me/home", "GET", summary="我的居住地（乡镇/街道、村/社区、网格）", tag="me", response=HomeOut)
def get_home(resident: Resident):
    """The resident's home place."""
    return places.home_out(resident)


@bp.operation("/me/home", "PUT", summary="设置居住地：从列表选择，或给出坐标按网格边界/中心点定位", tag="me",
              body=HomeIn, response=HomeOut, errors={404: "no_grid_here"})
def put_home(resident: Resident, body: HomeIn):
    """Set the resident's home place, chosen from the lists or located from coordinates."""
    if (body.lat is None) != (body.lng is None):
        raise ValidationFailed("lng：坐标需同时给出纬度和经度", field="lng")
    if body.lat is not None:
        if body.township or body.community or body.grid:
            raise ValidationFailed("lat：按坐标定位时不要同时选择单位、村/社区或网格", field="lat")
        found = _locate(body.lat, body.lng)
        grid = found.grid
        resident = places.set_home(resident, grid.community.township, grid.community, grid)
    else:
        township, community, grid = places.resolve_place(body.township, body.community, body.grid)
        resident = places.set_home(resident, township, community, grid)
    return places.home_out(resident)


def _locate(lat: float, lng: float) -> places.Located:
    found = places.locate(lat, lng, collaborators.current().settings.campaigns.locate_max_km)
    if found is None:
        raise NotFound("附近没有找到网格，请从列表中选择", code="no_grid_here")
    return found


@bp.operation("/me/home/locate", "GET", summary="按坐标查找所在网格（不保存）", tag="me", query=LocateQuery,
              response=LocatedOut, errors={404: "no_grid_here"})
def locate_home(resident: Resident, query: LocateQuery):
    """The grid at given coordinates (nothing saved)."""
    found = _locate(query.lat, query.lng)
    grid = found.grid
    t = grid.community.township
    return {"township": {"code": t.code, "name": t.name}, "community": {"id": grid.community.id, "name": grid.community.name},
            "grid": {"id": grid.id, "name": grid.name}, "method": found.method, "distance_m": found.distance_m}


# --- notices ------------------------------------------------------------------------------

@bp.operation("/notices", "GET", summary="通知公告（按居住地；置顶在前，最新在前）", tag="notices", query=PageQuery,
              response=NoticeList)
def list_notices(resident: Resident, query: PageQuery):
    """One page of the notices of the resident's home place, pinned first, newest first."""
    rows, nxt = notice_service.list_for(resident, utcnow(), query.cursor, query.limit)
    prime(rows)
    read = notice_service.read_ids(resident, [n.id for n in rows])
    return {"items": [notice_out(n, n.id in read) for n in rows], "next_cursor": nxt}


@bp.operation("/notices/<number>", "GET", summary="一条通知的正文（已撤回的只显示撤回说明）", tag="notices",
              response=NoticeDetailOut, errors={404: "notice_not_found"})
def get_notice(resident: Resident, number: str):
    """One notice's text (a withdrawn one shows only its withdrawal note)."""
    notice = notice_service.get_for(resident, number_arg(number))
    read = bool(notice_service.read_ids(resident, [notice.id]))
    return notice_detail_out(notice, collaborators.current().settings.server.public_base_url, read)


@bp.operation("/notices/<number>/read", "POST", summary="已读回执", tag="notices", response=ReadOut,
              errors={404: "notice_not_found"})
def read_notice(resident: Resident, number: str):
    """Record the resident's read receipt."""
    notice = notice_service.get_for(resident, number_arg(number))
    return {"number": notice.number, "read_at": iso(notice_service.mark_read(resident, notice, utcnow()))}


# --- campaigns ----------------------------------------------------------------------------

def _signup_of(resident: Resident, campaign: Campaign) -> Signup | None:
    return Signup.get_or_none((Signup.campaign == campaign) & (Signup.resident == resident))


def _out(resident: Resident, campaign: Campaign) -> dict:
    campaign = Campaign.get_by_id(campaign.id)
    waiting = campaign_service.waitlisted_counts([campaign.id]).get(campaign.id, 0)
    return campaign_out(campaign, waiting, _signup_of(resident, campaign))

def _campaign_page(resident: Resident, q, cursor: str | None, limit: int) -> dict:
    """One page of campaigns from ``q`` as the resident sees them: waitlist sizes and their own sign-up."""
    rows, nxt = campaign_service.page(q, cursor, limit)
    prime(rows)
    waiting = campaign_service.waitlisted_counts([c.id for c in rows])
    mine = {s.campaign_id: s for s in Signup.select().where(
        (Signup.resident == resident) & Signup.campaign.in_([c.id for c in rows]))} if rows else {}
    return {"items": [campaign_out(c, waiting.get(c.id, 0), mine.get(c.id)) for c in rows], "next_cursor": nxt}


@bp.operation("/campaigns", "GET", summary="战地有我：居住地的志愿活动（最新在前）", tag="campaigns",
              query=CampaignListQuery, response=CampaignList)
def list_campaigns(resident: Resident, query: CampaignListQuery):
    """One page of the campaigns of the resident's home place, newest first."""
    q = Campaign.select().where(campaign_service.visible_to(resident))
    if query.when == "upcoming":
        q = q.where((Campaign.status == "published") & (Campaign.ends_at > utcnow()))
    return _campaign_page(resident, q, query.cursor, query.limit)


@bp.operation("/campaigns/leaderboard", "GET", summary="志愿时长排行榜（按乡镇/街道）", tag="campaigns",
              query=LeaderQuery, response=LeaderboardOut, errors={404: "township_not_found"})
def leaderboard(resident: Resident, query: LeaderQuery):
    """The volunteer hours leaderboard of a unit."""
    code = query.township
    township = Township.get_or_none(Township.code == code) if code else \
        Township.get_or_none(Township.id == resident.home_township_id) if resident.home_township_id else None
    if township is None:
        raise NotFound("请选择乡镇/街道（或先设置居住地）", code="township_not_found")
    items, me = hours.leaderboard(township, query.limit, resident)
    return {"township": {"code": township.code, "name": township.name}, "items": items, "me": me}


@bp.operation("/campaigns/<number>", "GET", summary="一个志愿活动（含我的报名）", tag="campaigns", response=CampaignOut,
              errors={404: "campaign_not_found"})
def get_campaign(resident: Resident, number: str):
    """One campaign, with the resident's sign-up."""
    return _out(resident, campaign_service.get_for(resident, number_arg(number)))


@bp.operation("/campaigns/<number>/signup", "POST", summary="报名（满员则进入候补）", tag="campaigns", body=SignupIn,
              response=MySignupOut, status=201,
              errors={404: "campaign_not_found", 409: "already_signed_up / campaign_ended / campaign_cancelled"})
def signup(resident: Resident, number: str, body: SignupIn):
    """Sign the resident up (onto the waitlist when full)."""
    campaign = campaign_service.get_for(resident, number_arg(number))
    row = campaign_service.signup(resident, campaign, body.name, body.phone, utcnow())
    return my_signup_out(row), 201


@bp.operation("/campaigns/<number>/signup", "DELETE", summary="取消报名（名额顺延给候补第一位）", tag="campaigns",
              response=MySignupOut, errors={404: "campaign_not_found / signup_not_found",
                                             409: "already_checked_in / campaign_ended"})
def cancel_signup(resident: Resident, number: str):
    """Cancel the resident's sign-up (the first on the waitlist moves up)."""
    campaign = campaign_service.get_for(resident, number_arg(number))
    row, _ = campaign_service.cancel_signup(resident, campaign, utcnow())
    return my_signup_out(row)


@bp.operation("/campaigns/<number>/checkin", "POST", summary="签到：现场签到码（或扫码），须在活动时间内、地点范围内",
              tag="campaigns", body=CheckinIn, response=CheckinOut,
              errors={403: "not_signed_up", 404: "campaign_not_found",
                      409: "already_checked_in / checkin_not_open / checkin_closed / campaign_cancelled",
                      422: "checkin_code_invalid / checkin_code_expired / checkin_too_far / validation_failed"})
def checkin(resident: Resident, number: str, body: CheckinIn):
    """Check in with the on-site code, within the campaign's time and place."""
    campaign = campaign_service.get_for(resident, number_arg(number))
    row = campaign_service.checkin(collaborators.current().settings, resident, campaign, body.code, body.lat, body.lng, utcnow())
    return {"number": campaign.number, "checked_in_at": iso(row.checked_in_at), "distance_m": row.checkin_distance_m}


@bp.operation("/me/signups", "GET", summary="我报名的志愿活动（最新在前）", tag="me", query=PageQuery, response=CampaignList)
def my_signups(resident: Resident, query: PageQuery):
    """One page of the campaigns the resident signed up for, newest first."""
    q = Campaign.select().where(Campaign.id.in_(Signup.select(Signup.campaign).where(Signup.resident == resident)))
    return _campaign_page(resident, q, query.cursor, query.limit)


@bp.operation("/me/volunteer-hours", "GET", summary="我的志愿时长台账", tag="me", response=HoursOut)
def my_hours(resident: Resident):
    """The resident's volunteer hours ledger."""
    total, rows = hours.hours_of(resident)
    return {"total_hours": total, "items": [
        {"campaign": r.campaign.number, "title": r.campaign.title,
         "township": {"code": r.township.code, "name": r.township.name}, "hours": r.hours,
         "credited_at": iso(r.credited_at)} for r in rows]}
