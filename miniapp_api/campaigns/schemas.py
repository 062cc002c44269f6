"""Request and response models of the campaign and volunteer hours API (OpenAPI too)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from pydantic import Field
from pydantic import field_validator

from miniapp_api.community.schemas import MAX_ID
from miniapp_api.community.schemas import CommunityIn
from miniapp_api.community.schemas import ScopeLevel
from miniapp_api.community.schemas import TargetOut
from miniapp_api.community.schemas import TownshipRef
from miniapp_api.community.schemas import local_input


class PlaceIn(CommunityIn):
    """Where a campaign takes place."""

    name: str = Field(default="", max_length=100)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)


class ScopeIn(CommunityIn):
    """Who may sign up for a campaign: a township, a community or a grid."""

    level: ScopeLevel
    township: str | None = Field(default=None, max_length=32)
    community: int | None = Field(default=None, ge=1, le=MAX_ID)
    grid: int | None = Field(default=None, ge=1, le=MAX_ID)


class CampaignIn(CommunityIn):
    """A volunteer campaign an administrator creates (or one started from a report)."""

    title: str | None = Field(default=None, min_length=1, max_length=60, description="由上报发起时可省略")
    description: str = Field(default="", max_length=2000)
    place: PlaceIn | None = Field(default=None, description="有地点时签到须在半径内")
    radius_m: int | None = Field(default=None, ge=20, le=20_000)
    starts_at: datetime | None = Field(default=None, description="由上报发起时可省略（默认明天上午）")
    ends_at: datetime | None = None
    capacity: int | None = Field(default=None, ge=1, le=1000)
    scope: ScopeIn | None = Field(default=None, description="由上报发起时默认为上报所在网格或乡镇")
    skills: list[str] = Field(default_factory=list, max_length=10)
    hours: float | None = Field(default=None, gt=0, le=24, description="每位签到志愿者记入的时长（默认为活动时长）")
    report: str | None = Field(default=None, max_length=32, description="由一条上报发起（上报编号）")

    _tz = field_validator("starts_at", "ends_at")(local_input)

    @field_validator("skills")
    @classmethod
    def _skills(cls, v: list[str]) -> list[str]:
        out = [s.strip() for s in v if s and s.strip()]
        if any(len(s) > 20 for s in out):
            raise ValueError("每项技能不超过 20 字")
        return out


class CampaignPatchIn(CommunityIn):
    """Changes to a campaign."""

    title: str | None = Field(default=None, min_length=1, max_length=60)
    description: str | None = Field(default=None, max_length=2000)
    place: PlaceIn | None = None
    radius_m: int | None = Field(default=None, ge=20, le=20_000)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: int | None = Field(default=None, ge=1, le=1000)
    skills: list[str] | None = Field(default=None, max_length=10)
    hours: float | None = Field(default=None, gt=0, le=24)

    _tz = field_validator("starts_at", "ends_at")(local_input)


class CancelIn(CommunityIn):
    """Why a campaign is cancelled."""

    reason: str = Field(default="", max_length=200)


class SignupIn(CommunityIn):
    """A resident's sign-up for a campaign."""

    name: str = Field(default="", max_length=20, description="称呼（花名册中显示）")
    phone: str = Field(default="", max_length=20, pattern=r"^(|\+?[0-9 -]{5,20})$",
                       description="联系电话（群里只显示打码后的号码）")


class CheckinIn(CommunityIn):
    """A volunteer's check-in: the code and where they are."""

    code: str = Field(min_length=1, max_length=64, description="6 位签到码，或扫码得到的文字")
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)


class CampaignListQuery(CommunityIn):
    """A cursor-paged list of campaigns, upcoming or all."""

    when: Literal["upcoming", "all"] = Field(default="upcoming", description="upcoming 未结束的；all 全部")
    cursor: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=20, ge=1, le=100)


class MySignupOut(BaseModel):
    """The resident's own sign-up for a campaign."""

    status: Literal["confirmed", "waitlisted", "cancelled", "no_show"] = Field(description="no_show：活动开始后被标记为未到")
    position: int | None = Field(description="候补顺位（仅候补时）")
    signed_up_at: str
    checked_in_at: str | None


class PlaceOut(BaseModel):
    """Where a campaign takes place, and the check-in radius."""

    name: str
    lat: float | None
    lng: float | None
    radius_m: int


class CampaignOut(BaseModel):
    """A volunteer campaign."""

    number: str
    title: str
    description: str
    status: Literal["published", "cancelled", "completed"]
    place: PlaceOut
    starts_at: str
    ends_at: str
    capacity: int
    taken: int
    waitlisted: int
    scope: TargetOut
    skills: list[str]
    hours: float
    report: str | None = Field(description="关联的上报编号")
    my_signup: MySignupOut | None


class CampaignList(BaseModel):
    """A page of campaigns."""

    items: list[CampaignOut]
    next_cursor: str | None


class CheckinOut(BaseModel):
    """A recorded check-in."""

    number: str
    checked_in_at: str
    distance_m: float | None


class HoursEntryOut(BaseModel):
    """Volunteer hours credited for one campaign."""

    campaign: str
    title: str
    township: TownshipRef
    hours: float
    credited_at: str


class HoursOut(BaseModel):
    """A resident's volunteer hours."""

    total_hours: float
    items: list[HoursEntryOut]


class LeaderQuery(CommunityIn):
    """The volunteer hours leaderboard of a township."""

    township: str | None = Field(default=None, max_length=32, description="默认为居民所在乡镇/街道")
    limit: int = Field(default=20, ge=1, le=100)


class LeaderOut(BaseModel):
    """One volunteer on the leaderboard."""

    rank: int
    name: str
    hours: float
    campaigns: int


class LeaderboardOut(BaseModel):
    """A township's volunteer hours leaderboard, with the resident's own place."""

    township: TownshipRef
    items: list[LeaderOut]
    me: LeaderOut | None


class RosterEntryOut(BaseModel):
    """One volunteer on a campaign's roster (phone masked)."""

    name: str
    phone: str = Field(description="打码后的电话")
    status: str
    signed_up_at: str
    checked_in_at: str | None


class AdminCampaignOut(CampaignOut):
    """A campaign with its roster and check-in page, for administrators."""

    roster: list[RosterEntryOut]
    checkin_page_url: str


class AdminCampaignList(BaseModel):
    """A page of campaigns, for administrators."""

    items: list[CampaignOut]
    next_cursor: str | None


class CheckinCodeOut(BaseModel):
    """A campaign's current check-in code and its QR."""

    number: str
    code: str
    qr_text: str
    valid_until: str
    period_seconds: int
    qr_svg_url: str
    page_url: str
