"""Request and response models of the notice, campaign and home-place API (OpenAPI too)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from pydantic import Field
from pydantic import field_validator

from miniapp_api.reports.schemas import LOCAL_TZ
from miniapp_api.reports.schemas import _In as _BaseIn

MAX_ID = 2_147_483_647  # ids are 32-bit integers in PostgreSQL

Level = Literal["county", "township", "community", "grid"]
ScopeLevel = Literal["township", "community", "grid"]


def _local(v: datetime | None) -> datetime | None:
    """A time without an offset is China's local time; years 2000–2100 only."""
    if v is None:
        return v
    if not 2000 <= v.year <= 2100:
        raise ValueError("时间超出范围（2000–2100 年）")
    return v.replace(tzinfo=LOCAL_TZ) if v.tzinfo is None else v


class _In(_BaseIn):
    """Inputs of this package: no NUL characters anywhere (PostgreSQL text cannot hold them)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, v):
        if isinstance(v, str) and "\x00" in v:
            raise ValueError("不能包含空字符")
        if isinstance(v, list) and any(isinstance(x, str) and "\x00" in x for x in v):
            raise ValueError("不能包含空字符")
        return v


# --- home place ---------------------------------------------------------------------------

class HomeIn(_In):
    township: str | None = Field(default=None, max_length=32, description="乡镇/街道 code")
    community: int | None = Field(default=None, ge=1, le=MAX_ID, description="村/社区 id（GET /townships/{code}/communities）")
    grid: int | None = Field(default=None, ge=1, le=MAX_ID, description="网格 id（GET /communities/{id}/grids）")
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False,
                              description="按坐标定位网格时的纬度（与 lng 一起给出，代替上面三项）")
    lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False, description="经度")


class LocateQuery(_In):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)


class TownshipRef(BaseModel):
    code: str
    name: str


class IdName(BaseModel):
    id: int
    name: str


class HomeOut(BaseModel):
    township: TownshipRef | None
    community: IdName | None
    grid: IdName | None


class LocatedOut(HomeOut):
    method: Literal["boundary", "nearest_center"]
    distance_m: float | None


class CommunityOut(BaseModel):
    id: int
    name: str
    kind: str


class CommunityList(BaseModel):
    items: list[CommunityOut]


class GridOut(BaseModel):
    id: int
    name: str
    center: dict | None = Field(description="{lat, lng}，没有则为 null")


class GridList(BaseModel):
    items: list[GridOut]


class GeometryIn(_In):
    boundary: str | None = Field(default=None, max_length=200_000,
                                 description="WKT（POLYGON/MULTIPOLYGON）或 GeoJSON；空字符串清除")
    center_lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    center_lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)


# --- notices ------------------------------------------------------------------------------

class TargetIn(_In):
    level: Level = Field(description="county 全县 | township 乡镇/街道 | community 村/社区 | grid 网格")
    township: str | None = Field(default=None, max_length=32)
    community: int | None = Field(default=None, ge=1, le=MAX_ID)
    grid: int | None = Field(default=None, ge=1, le=MAX_ID)


class NoticeIn(_In):
    title: str = Field(min_length=1, max_length=60)
    body_html: str = Field(default="", max_length=200_000, description="富文本；只保留白名单内的标签")
    images: list[str] = Field(default_factory=list, max_length=9, description="POST /uploads 返回的 id")
    target: TargetIn
    pinned: bool = False
    expires_at: datetime | None = Field(default=None, description="过期时间（无时区则按北京时间）")
    ack_hours: float | None = Field(default=None, gt=0, le=24 * 30,
                                    description="各单位须在多少小时内回复「收到」（默认按配置）")

    _tz = field_validator("expires_at")(_local)


class WithdrawIn(_In):
    reason: str = Field(default="", max_length=200)


class PageQuery(_In):
    cursor: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=20, ge=1, le=100)


class PhotoOut(BaseModel):
    url: str
    thumbnail_url: str


class TargetOut(BaseModel):
    level: Level
    township: TownshipRef | None
    community: IdName | None
    grid: IdName | None


class NoticeOut(BaseModel):
    number: str
    title: str
    status: Literal["published", "withdrawn"]
    pinned: bool
    summary: str
    target: TargetOut
    publisher: str
    published_at: str
    expires_at: str | None
    withdrawn_at: str | None
    read: bool


class NoticeDetailOut(NoticeOut):
    body_html: str
    images: list[PhotoOut]
    withdraw_reason: str


class NoticeList(BaseModel):
    items: list[NoticeOut]
    next_cursor: str | None


class ReadOut(BaseModel):
    number: str
    read_at: str


class UnitAckOut(BaseModel):
    township: TownshipRef
    acked_at: str | None
    acked_by: str
    reminded_at: str | None
    escalated_at: str | None
    delivery: str | None = Field(description="群消息投递状态：pending/sending/sent/dead/skipped，未生成为 null")


class NoticeStatsOut(BaseModel):
    number: str
    status: str
    audience: int = Field(description="通知范围内的居民数")
    reads: int
    read_rate: float
    units_total: int
    units_acked: int
    units: list[UnitAckOut]


class AdminNoticeOut(NoticeDetailOut):
    stats: NoticeStatsOut


class AdminNoticeList(BaseModel):
    items: list[NoticeOut]
    next_cursor: str | None


# --- campaigns ----------------------------------------------------------------------------

class PlaceIn(_In):
    name: str = Field(default="", max_length=100)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)


class ScopeIn(_In):
    level: ScopeLevel
    township: str | None = Field(default=None, max_length=32)
    community: int | None = Field(default=None, ge=1, le=MAX_ID)
    grid: int | None = Field(default=None, ge=1, le=MAX_ID)


class CampaignIn(_In):
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

    _tz = field_validator("starts_at", "ends_at")(_local)

    @field_validator("skills")
    @classmethod
    def _skills(cls, v: list[str]) -> list[str]:
        out = [s.strip() for s in v if s and s.strip()]
        if any(len(s) > 20 for s in out):
            raise ValueError("每项技能不超过 20 字")
        return out


class CampaignPatchIn(_In):
    title: str | None = Field(default=None, min_length=1, max_length=60)
    description: str | None = Field(default=None, max_length=2000)
    place: PlaceIn | None = None
    radius_m: int | None = Field(default=None, ge=20, le=20_000)
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: int | None = Field(default=None, ge=1, le=1000)
    skills: list[str] | None = Field(default=None, max_length=10)
    hours: float | None = Field(default=None, gt=0, le=24)

    _tz = field_validator("starts_at", "ends_at")(_local)


class CancelIn(_In):
    reason: str = Field(default="", max_length=200)


class SignupIn(_In):
    name: str = Field(default="", max_length=20, description="称呼（花名册中显示）")
    phone: str = Field(default="", max_length=20, pattern=r"^(|\+?[0-9 -]{5,20})$",
                       description="联系电话（群里只显示打码后的号码）")


class CheckinIn(_In):
    code: str = Field(min_length=1, max_length=64, description="6 位签到码，或扫码得到的文字")
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)


class CampaignListQuery(_In):
    when: Literal["upcoming", "all"] = Field(default="upcoming", description="upcoming 未结束的；all 全部")
    cursor: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=20, ge=1, le=100)


class MySignupOut(BaseModel):
    status: Literal["confirmed", "waitlisted", "cancelled"]
    position: int | None = Field(description="候补顺位（仅候补时）")
    signed_up_at: str
    checked_in_at: str | None


class PlaceOut(BaseModel):
    name: str
    lat: float | None
    lng: float | None
    radius_m: int


class CampaignOut(BaseModel):
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
    items: list[CampaignOut]
    next_cursor: str | None


class CheckinOut(BaseModel):
    number: str
    checked_in_at: str
    distance_m: float | None


class HoursEntryOut(BaseModel):
    campaign: str
    title: str
    township: TownshipRef
    hours: float
    credited_at: str


class HoursOut(BaseModel):
    total_hours: float
    items: list[HoursEntryOut]


class LeaderQuery(_In):
    township: str | None = Field(default=None, max_length=32, description="默认为居民所在乡镇/街道")
    limit: int = Field(default=20, ge=1, le=100)


class LeaderOut(BaseModel):
    rank: int
    name: str
    hours: float
    campaigns: int


class LeaderboardOut(BaseModel):
    township: TownshipRef
    items: list[LeaderOut]
    me: LeaderOut | None


class RosterEntryOut(BaseModel):
    name: str
    phone: str = Field(description="打码后的电话")
    status: str
    signed_up_at: str
    checked_in_at: str | None


class AdminCampaignOut(CampaignOut):
    roster: list[RosterEntryOut]
    checkin_page_url: str


class AdminCampaignList(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None


class CheckinCodeOut(BaseModel):
    number: str
    code: str
    qr_text: str
    valid_until: str
    period_seconds: int
    qr_svg_url: str
    page_url: str
