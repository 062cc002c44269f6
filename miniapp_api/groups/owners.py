"""Whose group a mapping is: a township, a county department, or the county itself."""
from __future__ import annotations

from dataclasses import dataclass

from miniapp_api.models import Department
from miniapp_api.models import Township

OWNER_KINDS = {"township": "乡镇/街道", "department": "县直部门", "county": "县级"}


@dataclass(frozen=True)
class CountyGroup:
    """The county's own group (``[county.dingtalk]``: escalations, notices to the county)."""

    code: str = "county"
    name: str = "县指挥中心"


def owner(kind: str, code: str):
    """The township or department a mapping speaks for, or None."""
    if kind == "township":
        return Township.get_or_none(Township.code == code)
    if kind == "department":
        return Department.get_or_none(Department.code == code)
    if kind == "county" and code == "county":
        return CountyGroup()
    return None


def target_of(kind: str, code: str) -> str:
    """The delivery target of the group (``dingtalk:<kind>:<code>``)."""
    return f"dingtalk:{kind}:{code}"
