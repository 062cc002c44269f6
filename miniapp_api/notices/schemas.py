"""Request and response models of the notice API (OpenAPI too)."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from pydantic import Field
from pydantic import field_validator

from miniapp_api.community.schemas import CommunityIn
from miniapp_api.community.schemas import PhotoOut
from miniapp_api.community.schemas import TargetIn
from miniapp_api.community.schemas import TargetOut
from miniapp_api.community.schemas import TownshipRef
from miniapp_api.community.schemas import local_input


class NoticeIn(CommunityIn):
    """A notice an administrator publishes."""

    title: str = Field(min_length=1, max_length=60)
    body_html: str = Field(default="", max_length=200_000, description="富文本；只保留白名单内的标签")
    images: list[str] = Field(default_factory=list, max_length=9, description="POST /admin/uploads 返回的图片 id")
    target: TargetIn
    pinned: bool = False
    expires_at: datetime | None = Field(default=None, description="过期时间（无时区则按北京时间）")
    ack_hours: float | None = Field(default=None, gt=0, le=24 * 30,
                                    description="各单位须在多少小时内回复「收到」（默认按配置）")
    ack_required: bool = Field(default=True, description="各单位是否须回复「收到」；false 为仅供知悉")
    publish_at: datetime | None = Field(default=None, description="定时发布时间（无时区则按北京时间；省略或已过则立即发布）")

    _tz = field_validator("expires_at", "publish_at")(local_input)


class WithdrawIn(CommunityIn):
    """Why a notice is withdrawn."""

    reason: str = Field(default="", max_length=200)


class NoticeOut(BaseModel):
    """A notice in a list."""

    number: str
    title: str
    status: Literal["scheduled", "published", "withdrawn"] = Field(description="scheduled：定时发布，尚未发出")
    pinned: bool
    summary: str
    target: TargetOut
    publisher: str
    published_at: str
    expires_at: str | None
    withdrawn_at: str | None
    read: bool


class NoticeDetailOut(NoticeOut):
    """A notice with its body and images."""

    body_html: str
    images: list[PhotoOut]
    withdraw_reason: str


class NoticeList(BaseModel):
    """A page of notices."""

    items: list[NoticeOut]
    next_cursor: str | None


class ReadOut(BaseModel):
    """A resident's read receipt of a notice."""

    number: str
    read_at: str


class UnitAckOut(BaseModel):
    """One unit's acknowledgement (收到) of a notice, and its reminders."""

    township: TownshipRef
    acked_at: str | None
    acked_by: str
    reminded_at: str | None
    escalated_at: str | None
    delivery: str | None = Field(description="群消息投递状态：pending/sending/sent/dead/skipped，未生成为 null")


class NoticeStatsOut(BaseModel):
    """A notice's reach: readers and units that acknowledged it."""

    number: str
    status: str
    audience: int = Field(description="通知范围内的居民数")
    reads: int
    read_rate: float
    units_total: int
    units_acked: int
    units: list[UnitAckOut]


class AdminNoticeOut(NoticeDetailOut):
    """A notice with its statistics, for administrators."""

    stats: NoticeStatsOut


class AdminNoticeList(BaseModel):
    """A page of notices, for administrators."""

    items: list[NoticeOut]
    next_cursor: str | None
