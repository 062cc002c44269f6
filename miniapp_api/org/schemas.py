"""Request and response models of ``GET /api/v1/locate`` (they also make the OpenAPI document)."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field


class LocateQuery(BaseModel):
    """A point (WGS-84) and, optionally, the township the resident picked."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    lat: float = Field(ge=-90, le=90, allow_inf_nan=False, description="纬度（WGS-84）")
    lng: float = Field(ge=-180, le=180, allow_inf_nan=False, description="经度（WGS-84）")
    township: str | None = Field(default=None, max_length=32, pattern=r"^[a-z][a-z0-9_-]{0,31}$",
                                 description="居民选择的乡镇/街道 code（可不填）：按该乡镇/街道找最近的网格中心点")


class LocatedTownship(BaseModel):
    """A township or street named by code and name."""

    code: str
    name: str


class LocatedGrid(BaseModel):
    """A grid named by its name and its community's (never its officials)."""

    name: str
    community: str


class LocateOut(BaseModel):
    """Where a report at the point would go, and by which rule."""

    township: LocatedTownship | None
    grid: LocatedGrid | None
    rule: Literal["boundary", "nearest_centre", "home", "none"]
    distance_m: float | None = Field(description="nearest_centre：到该网格中心点的距离（米）")
    note: str = Field(description="怎样决定的（中文，和上报后办理过程里的说明相同）")
