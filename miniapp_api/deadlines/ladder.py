"""The escalation ladder: its levels and who is on duty at each.

小事不出网格、大事不出村屯、难事不出乡镇: grid → community → township → the county, which is
the department the duty list names for the category (``[deadlines] duty_departments``) or
else the county command centre (``[county]``). A report whistled to a department (转办) sits
at the department level, whose next level is the county.

At each level an A post (A岗) acts and a B post (B岗) covers. Grid and community posts are
the officials registered for that grid or community; the township's are its
``township_staff``; a department's its staff; the county's the ``county_staff``. Where
nobody at a level can act (nobody registered, everyone on leave, or no grid yet), the nearest
level above with someone stands in, and every message says so plainly (:func:`who`): a
lower level's person is never named as if they were the higher one (docs/deadlines.md).
"""
from __future__ import annotations

from miniapp_api.groups import duty
from miniapp_api.groups.duty import Posts
from miniapp_api.groups.duty import Reach
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.org.levels import LEVEL_LABELS  # noqa: F401  (re-exported: the ladder names its levels)
from miniapp_api.org.levels import LEVELS


def next_level(report: Report, duty_departments: dict[str, str], category_code: str) -> str | None:
    """The level above the report's current one, or None at the top (the county)."""
    level = report.level
    if level == "grid":
        return "community"
    if level == "community":
        return "township"
    if level == "township":
        return "department" if duty_departments.get(category_code) else "county"
    if level == "department":
        return "county"
    return None


def township_posts(township_id: int) -> Posts:
    """The township's own A/B posts (its ``township_staff``)."""
    return duty.unit_posts("township", township_id)


def department_posts(department_id: int) -> Posts:
    """The department's own A/B posts."""
    return duty.unit_posts("department", department_id)


def county_posts() -> Posts:
    """The county's A/B posts (its ``county_staff``)."""
    return duty.unit_posts("county")


class Roster(duty.Snapshot):
    """Every A/B post of the county, read in two queries (see :class:`duty.Snapshot`)."""

def _units(cache) -> duty.Units:
    if isinstance(cache, (duty.Snapshot, duty.Queried)):
        return cache
    return duty.Queried(cache)


def reach(report: Report, level: str, cache: "dict | duty.Units | None" = None) -> Reach:
    """Who answers for ``report`` at ``level``: that level's own posts, or, when nobody there
    can act, the nearest level above where someone can (:func:`duty.reach`)."""
    return duty.reach(level, township_id=report.township_id, grid_id=report.grid_id,
                      department_id=report.department_id, units=_units(cache))


def duty_posts(report: Report, level: str, cache: "dict | duty.Units | None" = None) -> Posts:
    """The A/B posts responsible for ``report`` at ``level`` (from a :class:`Roster`, or
    queried and cached per unit in a dict ``cache``); see :func:`reach`."""
    return reach(report, level, cache).posts


_WHY = {duty.NONE: "未登记A/B岗", duty.AWAY: "A/B岗均不在岗", duty.NO_UNIT: "未指定"}


def vacancy(found: Reach) -> str:
    """The levels passed over, said plainly: ``网格未登记A/B岗、村/社区未登记A/B岗``
    (a report without a grid: ``待指派网格``)."""
    parts = []
    for level, why in found.vacant:
        if why == duty.NO_UNIT:
            parts.append("待指派网格" if level in ("grid", "community") else f"未指定{LEVEL_LABELS.get(level, level)}")
        else:
            parts.append(f"{LEVEL_LABELS.get(level, level)}{_WHY[why]}")
    return "、".join(dict.fromkeys(parts))


def who(found: Reach, officials: list[Official]) -> str:
    """Whom a message names for a level, said plainly: ``网格甲``, or when a higher level
    stands in ``网格未登记A/B岗，由村/社区（社区甲）处理``, or ``县指挥中心未登记A/B岗，无人可提醒``."""
    if not found.stands_in:
        return names(officials) or f"{LEVEL_LABELS.get(found.level, found.level)}A/B岗均不在岗"
    if not found.by:
        return f"{vacancy(found)}，无人可提醒"
    by = LEVEL_LABELS.get(found.by, found.by)
    return f"{vacancy(found)}，由{by}（{names(officials) or '无人在岗'}）处理"


def mobiles(officials: list[Official]) -> list[str]:
    """Their mobiles for ``at.atMobiles`` (officials without one are named but not mentioned)."""
    return list(dict.fromkeys(o.mobile for o in officials if o.mobile))


def names(officials: list[Official]) -> str:
    """The officials' names, joined with 、."""
    return "、".join(o.name for o in officials)


def post_of(official: Official | None) -> str:
    """``A`` or ``B`` for an official on a duty post, else empty."""
    return official.duty_post if official and official.duty_post in ("A", "B") else ""


def level_of(official: Official | None, fallback: str) -> str:
    """The ladder level an official works at (for attributing a resolution)."""
    if official is None:
        return fallback
    if official.role == "county_staff" and not official.township_id and not official.department_id:
        return "county"
    if official.department_id:
        return "department"
    if official.grid_id:
        return "grid"
    if official.community_id:
        return "community"
    return "township"


def people_by_level(township_id: int, grid_id: int | None = None, department_id: int | None = None,
                    units: duty.Units | None = None) -> list[dict]:
    """Who would be mentioned at each level for a report in that township and grid (and, on a
    whistle, that department): ``[{"level", "label", "who", "stands_in"}]``, for the routing
    dry run."""
    units = units if units is not None else duty.Snapshot()
    report = Report(township=township_id, grid=grid_id, department=department_id)
    out = []
    for level in LEVELS:
        if level == "department" and not department_id:
            continue
        found = reach(report, level, units)
        out.append({"level": level, "label": LEVEL_LABELS[level], "who": who(found, found.on_duty()),
                    "stands_in": found.stands_in})
    return out
