"""Request and response models of the mini-program API (they also make the OpenAPI document)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field

# Residents and officials live in China; times are shown with +08:00.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 with the local offset, e.g. ``2026-11-27T09:30:00+08:00``."""
    return None if dt is None else dt.astimezone(LOCAL_TZ).isoformat(timespec="seconds")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# --- inputs -------------------------------------------------------------------------------

class LocationIn(_In):
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="纬度 (GCJ-02，小程序 wx.getLocation)")
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False, description="经度")
    address: str = Field(default="", max_length=200, description="地址描述")


class ReportIn(_In):
    category: str = Field(min_length=1, max_length=32, description="问题类别 code，见 GET /categories")
    description: str = Field(min_length=1, max_length=2500, description="问题描述")
    township: str = Field(min_length=1, max_length=32, description="所属乡镇/街道 code，见 GET /townships")
    location: LocationIn
    photos: list[str] = Field(default_factory=list, max_length=20, description="POST /uploads 返回的 id")
    anonymous: bool = Field(default=False, description="匿名：办理人员看不到上报人")


class ReportListQuery(_In):
    mine: Literal["true"] = Field(default="true", description="只列出自己的上报（目前只支持 true）")
    cursor: str | None = Field(default=None, max_length=64, description="上一页返回的 next_cursor")
    limit: int = Field(default=20, ge=1, le=100, description="每页条数，1–100")


class RatingIn(_In):
    score: int = Field(ge=1, le=5, description="满意度 1–5")
    comment: str = Field(default="", max_length=500)


class ReopenIn(_In):
    reason: str = Field(min_length=1, max_length=500, description="为什么问题没有解决")


class SubscriptionsIn(_In):
    template_ids: list[str] = Field(min_length=1, max_length=20)


# --- outputs ------------------------------------------------------------------------------

class ResidentOut(BaseModel):
    id: int
    nickname: str
    created_at: str

    @classmethod
    def of(cls, r) -> dict:
        return {"id": r.id, "nickname": r.nickname, "created_at": iso(r.created_at)}


class TownshipOut(BaseModel):
    code: str
    name: str
    kind: Literal["town", "street"]


class TownshipList(BaseModel):
    items: list[TownshipOut]


class CategoryOut(BaseModel):
    code: str
    name: str


class CategoryList(BaseModel):
    items: list[CategoryOut]


class PhotoOut(BaseModel):
    url: str
    thumbnail_url: str


class LocationOut(BaseModel):
    lat: float
    lng: float
    address: str


class RatingOut(BaseModel):
    score: int
    comment: str


class TownshipRef(BaseModel):
    code: str
    name: str


class ReportOut(BaseModel):
    number: str = Field(max_length=32, pattern=r"^[0-9A-Za-z-]+$")
    status: Literal["pending", "accepted", "transferred", "resolved", "closed", "rejected"]
    category: CategoryOut
    description: str
    township: TownshipRef
    location: LocationOut
    photos: list[PhotoOut]
    anonymous: bool
    created_at: str
    updated_at: str
    reply: str | None
    rating: RatingOut | None


class ActorOut(BaseModel):
    kind: str
    name: str


class TimelineOut(BaseModel):
    at: str
    status: str
    action: str
    channel: Literal["wechat", "dingtalk", "console", "system"]
    actor: ActorOut
    note: str


class ReportDetailOut(ReportOut):
    timeline: list[TimelineOut]


class ReportList(BaseModel):
    items: list[ReportOut]
    next_cursor: str | None


class SubscriptionOut(BaseModel):
    template_id: str
    remaining: int


class SubscriptionList(BaseModel):
    items: list[SubscriptionOut]
