"""The escalation ladder: its levels and who is on duty at each.

小事不出网格、大事不出村屯、难事不出乡镇: grid → community → township → the county, which is
the department the duty list names for the category (``[deadlines] duty_departments``) or
else the county command centre (``[county]``). A report whistled to a department (转办) sits
at the department level, whose next level is the county.

At each level an A post (A岗) acts and a B post (B岗) covers. Grid and community posts are
the officials registered for that grid or community; the township's are its
``township_staff``; a department's its staff; the county's the ``county_staff``. Where a
report has no grid (or the grid no posts), the township's posts stand in.
"""
from __future__ import annotations

from miniapp_api.groups.duty import Posts
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.prepared import Param
from miniapp_api.org.levels import LEVEL_LABELS  # noqa: F401  (re-exported: the ladder names its levels)
from miniapp_api.org.levels import LEVELS
from miniapp_api.prepared import Prepared
from miniapp_api.prepared import loaded



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


def _base():
    return Official.select().where((Official.active == True) & Official.duty_post.in_(["A", "B"]))  # noqa: E712


def _prepared_posts(*conditions) -> Prepared:
    return Prepared(lambda: _base().where(*conditions).order_by(Official.id.desc()))


# Consulted on every new report and status change; compiled once (see ``prepared``).
_TOWNSHIP = _prepared_posts(Official.township == Param("unit"), Official.role == "township_staff",
                            Official.grid.is_null(), Official.community.is_null())
_DEPARTMENT = _prepared_posts(Official.department == Param("unit"))
_COUNTY = _prepared_posts(Official.role == "county_staff", Official.township.is_null(),
                          Official.department.is_null())
_GRID = _prepared_posts(Official.grid == Param("unit"))
_COMMUNITY = _prepared_posts(Official.community == Param("unit"), Official.grid.is_null())


def _posts_of(prepared: Prepared, **values) -> Posts:
    found = {}
    for row in prepared.rows(**values):  # newest first: the oldest wins
        official = loaded(Official, row._asdict())
        found[official.duty_post] = official
    return Posts(found.get("A"), found.get("B"))


def township_posts(township_id: int) -> Posts:
    """The township's own A/B posts (its ``township_staff``)."""
    return _posts_of(_TOWNSHIP, unit=township_id)


def department_posts(department_id: int) -> Posts:
    """The department's own A/B posts."""
    return _posts_of(_DEPARTMENT, unit=department_id)


def county_posts() -> Posts:
    """The county's A/B posts."""
    return _posts_of(_COUNTY)


class Roster:
    """Every A/B post of the county, read in two queries: what a scheduler pass consults for
    each report instead of asking the database unit by unit."""

    def __init__(self):
        self.grid_community = {g.id: g.community_id for g in Grid.select(Grid.id, Grid.community)}
        found: dict[tuple, dict[str, Official]] = {}
        for o in _base().order_by(Official.id.desc()):  # the oldest wins, as in duty_posts
            if o.grid_id:
                key = ("grid", o.grid_id)
            elif o.community_id:
                key = ("community", o.community_id)
            elif o.department_id:
                key = ("department", o.department_id)
            elif o.township_id:
                if o.role != "township_staff":
                    continue
                key = ("township", o.township_id)
            elif o.role == "county_staff":
                key = ("county", 0)
            else:
                continue
            found.setdefault(key, {})[o.duty_post] = o
        self.units = {k: Posts(v.get("A"), v.get("B")) for k, v in found.items()}

    def posts(self, report: Report, level: str) -> Posts:
        """The A/B posts on duty for ``report`` at ``level``."""
        key = None
        if level == "grid" and report.grid_id:
            key = ("grid", report.grid_id)
        elif level == "community" and report.grid_id:
            key = ("community", self.grid_community.get(report.grid_id, 0))
        elif level == "department" and report.department_id:
            key = ("department", report.department_id)
        elif level == "county":
            key = ("county", 0)
        posts = self.units.get(key) if key else None
        if posts is not None and (posts.a or posts.b):
            return posts
        return self.units.get(("township", report.township_id), Posts(None, None))


def duty_posts(report: Report, level: str, cache: "dict | Roster | None" = None) -> Posts:
    """The A/B posts responsible for ``report`` at ``level`` (from a :class:`Roster`, or
    queried and cached per unit in a dict ``cache``)."""
    if isinstance(cache, Roster):
        return cache.posts(report, level)
    cache = {} if cache is None else cache
    if level == "grid" and report.grid_id:
        key = ("grid", report.grid_id)
        load = lambda: _posts_of(_GRID, unit=report.grid_id)  # noqa: E731
    elif level == "community" and report.grid_id:
        key = ("community", report.grid_id)

        def load():
            grid = Grid.get_or_none(Grid.id == report.grid_id)
            return _posts_of(_COMMUNITY, unit=grid.community_id if grid else 0)
    elif level == "department" and report.department_id:
        key = ("department", report.department_id)
        load = lambda: department_posts(report.department_id)  # noqa: E731
    elif level == "county":
        key = ("county", 0)
        load = county_posts
    else:
        key = None
    if key is not None:
        if key not in cache:
            cache[key] = load()
        posts = cache[key]
        if posts.a or posts.b:
            return posts
    tkey = ("township", report.township_id)
    if tkey not in cache:
        cache[tkey] = township_posts(report.township_id)
    return cache[tkey]


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
