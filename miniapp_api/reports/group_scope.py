"""Which unit a DingTalk group stands for, who in it may act, and which reports it reaches.

Shared by every group command (the report commands, ``收到`` of notices, ``发起志愿`` of
campaigns); a refusal is raised as :class:`Refused` and becomes the reply in the group.
"""
from __future__ import annotations

from miniapp_api.models import Department
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import Township

NOT_FOUND = "找不到编号为 {n} 的上报，或它不属于本群的单位。"


class Refused(Exception):
    """The command cannot run; the message is the Chinese reply."""


def unit_of(mapping: GroupMapping):
    """The township or department a group's mapping names (None when it is gone)."""
    if mapping.owner_kind == "township":
        return Township.get_or_none(Township.code == mapping.owner_code)
    return Department.get_or_none(Department.code == mapping.owner_code)


def official_in(mapping: GroupMapping, unit, staff_id: str | None) -> Official:
    """The registered official behind ``staff_id`` who may act in this group."""
    if not staff_id:
        raise Refused("无法识别您的钉钉身份（仅本组织成员可操作）。")
    for o in Official.select().where((Official.dingtalk_user_id == staff_id) & (Official.active == True)):  # noqa: E712
        if o.role == "county_staff":
            return o
        if mapping.owner_kind == "township" and o.township_id == unit.id:
            return o
        if mapping.owner_kind == "department" and o.department_id == unit.id:
            return o
    raise Refused("您不是本群所属单位登记的干部，不能操作。如有疑问请联系平台管理员。")


def scoped(mapping: GroupMapping, unit):
    """Reports this group's unit may see and act on (a query condition)."""
    if mapping.owner_kind == "township":
        return Report.township == unit.id
    return Report.department == unit.id


def report_in_group(mapping: GroupMapping, unit, number: str) -> Report:
    """Report ``number`` if this group's unit may act on it, else :class:`Refused`."""
    report = (Report.select().where((Report.number == number) & scoped(mapping, unit)
                                    & (Report.moderation.in_(["pass", "review"]))).first())
    if report is None:
        raise Refused(NOT_FOUND.format(n=number))
    return report
