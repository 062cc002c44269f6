"""Request and response models of the mini-program API (they also make the OpenAPI document)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

from miniapp_api.time import iso


class InputModel(BaseModel):
    """Base of the API's inputs: unknown fields refused, strings stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- inputs -------------------------------------------------------------------------------

class LocationIn(InputModel):
    """Where a problem is: coordinates and an address."""

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="纬度（WGS-84：小程序 wx.getLocation 用 type 'wgs84'；wx.chooseLocation 返回的 GCJ-02 要先换算）")
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False, description="经度")
    address: str = Field(default="", max_length=200, description="地址描述")


class ReportIn(InputModel):
    """A resident's report (随手拍) as submitted."""

    category: str = Field(min_length=1, max_length=32, description="问题类别 code，见 GET /categories")
    # The configured limit ([reports] description_max_chars, at most 2500) is checked by the
    # service and stated in the OpenAPI document (web.api's SETTING_LIMITS).
    description: str = Field(min_length=1, max_length=2500, description="问题描述",
                             json_schema_extra={"x-setting-limits": {"maxLength": "reports.description_max_chars"}})
    township: str = Field(min_length=1, max_length=32, description="所属乡镇/街道 code，见 GET /townships")
    location: LocationIn
    photos: list[str] = Field(default_factory=list, max_length=20, description="POST /uploads 返回的 id",
                              json_schema_extra={"x-setting-limits": {"maxItems": "reports.max_photos"}})
    anonymous: bool = Field(default=False, description="匿名：办理人员看不到上报人")


class ReportListQuery(InputModel):
    """A cursor-paged list of the resident's own reports."""

    mine: Literal["true"] = Field(default="true", description="只列出自己的上报（目前只支持 true）")
    cursor: str | None = Field(default=None, max_length=64, description="上一页返回的 next_cursor")
    limit: int = Field(default=20, ge=1, le=100, description="每页条数，1–100")


class NearbyQuery(InputModel):
    """A point and a category: which open reports lie near it (我也遇到)."""

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="纬度")
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False, description="经度")
    category: str = Field(min_length=1, max_length=32, description="问题类别 code")


class RatingIn(InputModel):
    """A resident's rating of a resolved report."""

    score: int = Field(ge=1, le=5, description="满意度 1–5")
    comment: str = Field(default="", max_length=500)


class ReopenIn(InputModel):
    """Why a resident says a resolved report is not fixed."""

    reason: str = Field(min_length=1, max_length=500, description="为什么问题没有解决")


class SubscriptionsIn(InputModel):
    """The subscribe-message templates a resident accepted."""

    template_ids: list[str] = Field(min_length=1, max_length=20)


# --- outputs ------------------------------------------------------------------------------

class ResidentOut(BaseModel):
    """The resident as the mini-program sees themselves."""

    id: int
    nickname: str
    created_at: str

    @classmethod
    def of(cls, r) -> dict:
        """The payload of resident ``r``."""
        return {"id": r.id, "nickname": r.nickname, "created_at": iso(r.created_at)}


class TownshipOut(BaseModel):
    """One township or street."""

    code: str
    name: str
    kind: Literal["town", "street"]


class TownshipList(BaseModel):
    """Every township and street."""

    items: list[TownshipOut]


class CategoryOut(BaseModel):
    """One problem category."""

    code: str
    name: str


class CategoryItem(CategoryOut):
    """One problem category in the residents' picker, with its help text."""

    help: str = Field(description="这一类包括什么（给居民看的一句话，可能为空）")


class CategoryList(BaseModel):
    """The active problem categories."""

    items: list[CategoryItem]


class PhotoOut(BaseModel):
    """A report photo's URL and its thumbnail's."""

    url: str
    thumbnail_url: str


class LocationOut(BaseModel):
    """Where a reported problem is."""

    lat: float
    lng: float
    address: str


class RatingOut(BaseModel):
    """The resident's rating of a report."""

    score: int
    comment: str


class TownshipRef(BaseModel):
    """A township or street named by code and name."""

    code: str
    name: str


class GridRef(BaseModel):
    """The grid a report was routed to, by name (never its officials)."""

    name: str
    community: str


class ReportOut(BaseModel):
    """A report in a list."""

    number: str = Field(max_length=32, pattern=r"^[0-9A-Za-z-]+$")
    status: Literal["pending", "accepted", "transferred", "resolved", "closed", "rejected", "merged"]
    category: CategoryOut
    description: str
    township: TownshipRef
    grid: GridRef | None = Field(description="the grid it was routed to; null: 待指派网格 (the township handles it)")
    location: LocationOut
    photos: list[PhotoOut]
    anonymous: bool
    created_at: str
    updated_at: str
    reply: str | None
    rating: RatingOut | None
    completion_photos: list[PhotoOut] = Field(description="办结照片（上报照片在 photos）")
    supporters: int = Field(description="点了“我也遇到”的居民数")
    merged_into: str | None = Field(default=None, description="status 为 merged 时：继续办理的主编号")
    relation: Literal["own", "following"] | None = Field(
        default=None, description="在“我的上报”里：own 自己上报的，following 我也遇到/合并后关注的")


class NearbyOut(BaseModel):
    """An open report near a point, as any resident may see it (never the reporter)."""

    number: str = Field(max_length=32, pattern=r"^[0-9A-Za-z-]+$")
    category: CategoryOut
    status: Literal["pending", "accepted", "transferred"] = Field(description="只列未办结的")
    distance_m: int = Field(ge=0, description="与所给位置的距离（米）")
    created_at: str
    summary: str = Field(description="描述的第一行（截断）")
    thumbnail_url: str | None


class NearbyList(BaseModel):
    """Open reports near a point, nearest first."""

    items: list[NearbyOut]


class SupportOut(BaseModel):
    """我也遇到: the report followed and how many residents now support it."""

    number: str = Field(max_length=32, pattern=r"^[0-9A-Za-z-]+$")
    supporters: int = Field(ge=0, description="点了“我也遇到”的居民数")


class ReportCreatedOut(ReportOut):
    """A new report, with the open reports of its category nearby (to offer 我也遇到 next time)."""

    nearby: list[NearbyOut]


class ActorOut(BaseModel):
    """Who acted on a report (never a resident's identity)."""

    kind: str
    name: str


class TimelineOut(BaseModel):
    """One entry of a report's timeline."""

    at: str
    status: str
    action: str
    channel: Literal["wechat", "dingtalk", "console", "system"]
    actor: ActorOut
    note: str


class ReportDetailOut(ReportOut):
    """A report with its timeline."""

    timeline: list[TimelineOut]


class ReportListItem(ReportOut):
    """A report in "my reports": always says whether it is the caller's own or one they follow."""

    relation: Literal["own", "following"] = Field(
        description="own 自己上报的，following 我也遇到/合并后关注的")


class ReportList(BaseModel):
    """A page of reports."""

    items: list[ReportListItem]
    next_cursor: str | None


class SubscriptionOut(BaseModel):
    """One subscribe-message template and whether the resident accepted it."""

    template_id: str
    remaining: int


class SubscriptionList(BaseModel):
    """The resident's subscribe-message choices."""

    items: list[SubscriptionOut]
