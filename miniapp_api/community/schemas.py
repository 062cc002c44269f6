"""Request and response models shared by the notice and campaign API, and the home-place ones
(OpenAPI too). Notice-only models are in ``miniapp_api.notices.schemas``, campaign-only ones in
``miniapp_api.campaigns.schemas``."""
from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from pydantic import Field
from pydantic import field_validator

from miniapp_api.time import LOCAL_TZ
from miniapp_api.reports.schemas import InputModel

MAX_ID = 2_147_483_647  # ids are 32-bit integers in PostgreSQL

Level = Literal["county", "township", "community", "grid"]
ScopeLevel = Literal["township", "community", "grid"]


def local_input(v: datetime | None) -> datetime | None:
    """A time without an offset is China's local time; years 2000–2100 only."""
    if v is None:
        return v
    if not 2000 <= v.year <= 2100:
        raise ValueError("时间超出范围（2000–2100 年）")
    return v.replace(tzinfo=LOCAL_TZ) if v.tzinfo is None else v


class CommunityIn(InputModel):
    """Inputs of notices, campaigns and home places: no NUL characters anywhere (PostgreSQL text cannot hold them)."""

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, v):
        if isinstance(v, str) and "\x00" in v:
            raise ValueError("不能包含空字符")
        if isinstance(v, list) and any(isinstance(x, str) and "\x00" in x for x in v):
            raise ValueError("不能包含空字符")
        return v


# --- home place ---------------------------------------------------------------------------

class HomeIn(CommunityIn):
    """A resident's home place: chosen unit, community and grid, or coordinates to locate the grid."""

    township: str | None = Field(default=None, max_length=32, description="乡镇/街道 code")
    community: int | None = Field(default=None, ge=1, le=MAX_ID, description="村/社区 id（GET /townships/{code}/communities）")
    grid: int | None = Field(default=None, ge=1, le=MAX_ID, description="网格 id（GET /communities/{id}/grids）")
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False,
                              description="按坐标定位网格时的纬度（与 lng 一起给出，代替上面三项）")
    lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False, description="经度")


class LocateQuery(CommunityIn):
    """The coordinates to locate a grid from."""

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False)


class TownshipRef(BaseModel):
    """A township or street named by code and name."""

    code: str
    name: str


class IdName(BaseModel):
    """A community or grid named by id and name."""

    id: int
    name: str


class HomeOut(BaseModel):
    """A resident's home place."""

    township: TownshipRef | None
    community: IdName | None
    grid: IdName | None


class LocatedOut(HomeOut):
    """The grid located from coordinates, and how it was found."""

    method: Literal["boundary", "nearest_centre"]
    distance_m: float | None


class CommunityOut(BaseModel):
    """One village or urban community."""

    id: int
    name: str
    kind: str


class CommunityList(BaseModel):
    """The communities of a township."""

    items: list[CommunityOut]


class GridOut(BaseModel):
    """One grid, with its centre."""

    id: int
    name: str
    center: dict | None = Field(description="{lat, lng}，没有则为 null")


class GridList(BaseModel):
    """The grids of a community."""

    items: list[GridOut]


class GeometryIn(CommunityIn):
    """A grid's boundary and centre, as an administrator sets them."""

    boundary: str | None = Field(default=None, max_length=200_000,
                                 description="WKT（POLYGON/MULTIPOLYGON）或 GeoJSON；空字符串清除")
    center_lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    center_lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)


# --- shared by notices and campaigns -------------------------------------------------------

class TargetIn(CommunityIn):
    """Whom a notice is for: the county, a township, a community or a grid."""

    level: Level = Field(description="county 全县 | township 乡镇/街道 | community 村/社区 | grid 网格")
    township: str | None = Field(default=None, max_length=32)
    community: int | None = Field(default=None, ge=1, le=MAX_ID)
    grid: int | None = Field(default=None, ge=1, le=MAX_ID)


class PageQuery(CommunityIn):
    """A cursor-paged list request."""

    cursor: str | None = Field(default=None, max_length=64)
    limit: int = Field(default=20, ge=1, le=100)


class PhotoOut(BaseModel):
    """An image's URL and its thumbnail's."""

    url: str
    thumbnail_url: str


class TargetOut(BaseModel):
    """Whom a notice or campaign is for, with names."""

    level: Level
    township: TownshipRef | None
    community: IdName | None
    grid: IdName | None
