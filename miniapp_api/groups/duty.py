"""Who is on duty for a unit: the A post acts, the B post covers (A岗/B岗).

This is the one place the rule is written. The escalation ladder, the group cards (the
DingTalk report card's @-mentions, a notice's duty post), ``指派`` and the emergency
broadcast all ask ``on_duty``; each of them only decides which officials hold the unit's
A and B posts.

The units, each with its own A/B posts (``unit_key``):

* ``("grid", id)`` — the officials registered for that grid (网格员, 网格长);
* ``("community", id)`` — the community's officials without a grid (村（社区）网格长);
* ``("township", id)`` — the township's ``township_staff`` (乡镇/街道值班);
* ``("department", id)`` — the department's staff (县直部门);
* ``("county", 0)`` — the ``county_staff`` (县指挥中心).

:func:`reach` walks up from a level when nobody there can act (小事不出网格 … upwards:
grid → community → township → county; department → county), and says which levels it
passed over and why, so a message can say so plainly instead of naming a lower level's
person as if they were the higher one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.prepared import Param
from miniapp_api.prepared import Prepared
from miniapp_api.prepared import loaded


def available(official: Official | None) -> bool:
    """True when ``official`` holds the post and can act: present, active and not on leave."""
    return official is not None and official.active and not official.on_leave


@dataclass(frozen=True)
class Posts:
    """The A and B posts of one unit (either may be missing)."""

    a: Official | None
    b: Official | None

    @staticmethod
    def available(official: Official | None) -> bool:
        """True when ``official`` can act (see :func:`available`)."""
        return available(official)

    @property
    def a_available(self) -> bool:
        """True when the A post can act."""
        return available(self.a)

    @property
    def anyone(self) -> bool:
        """True when the A or the B post can act."""
        return available(self.a) or available(self.b)

    def on_duty(self, *, emergency: bool = False, handed_over: bool = False) -> list[Official]:
        """Who is @-mentioned (see :func:`on_duty`)."""
        return on_duty(self, emergency=emergency, handed_over=handed_over)


NOBODY = Posts(None, None)


def posts_of(officials_by_post: dict[str, Official]) -> Posts:
    """The Posts of a unit from its officials keyed by ``duty_post`` ("A"/"B")."""
    return Posts(officials_by_post.get("A"), officials_by_post.get("B"))


def on_duty(posts: Posts, *, emergency: bool = False, handed_over: bool = False) -> list[Official]:
    """Who is @-mentioned: A (B once A handed over or when A is away); both in emergency.

    Only officials who can act (:func:`available`) are ever returned.
    """
    if emergency:  # 平战一键转换: both posts are called
        return [o for o in (posts.a, posts.b) if available(o)]
    if not handed_over and available(posts.a):
        return [posts.a]
    return [posts.b] if available(posts.b) else []


# --- the units' posts ---------------------------------------------------------------------


def unit_key(official: Official) -> tuple[str, int] | None:
    """The unit whose A/B posts ``official`` holds (see the module's list), or None."""
    if official.grid_id:
        return ("grid", official.grid_id)
    if official.community_id:
        return ("community", official.community_id)
    if official.department_id:
        return ("department", official.department_id)
    if official.township_id:
        return ("township", official.township_id) if official.role == "township_staff" else None
    return ("county", 0) if official.role == "county_staff" else None


def _base():
    return Official.select().where((Official.active == True) & Official.duty_post.in_(["A", "B"]))  # noqa: E712


def _prepared(*conditions) -> Prepared:
    return Prepared(lambda: _base().where(*conditions).order_by(Official.id.desc()))


# Consulted on every new report and status change; compiled once (see ``prepared``).
_QUERIES = {
    "grid": _prepared(Official.grid == Param("unit")),
    "community": _prepared(Official.community == Param("unit"), Official.grid.is_null()),
    "township": _prepared(Official.township == Param("unit"), Official.role == "township_staff",
                          Official.grid.is_null(), Official.community.is_null()),
    "department": _prepared(Official.department == Param("unit")),
    "county": _prepared(Official.role == "county_staff", Official.township.is_null(),
                        Official.department.is_null()),
}


def unit_posts(kind: str, unit_id: int = 0) -> Posts:
    """The A/B posts of one unit (``kind`` as in :func:`unit_key`); the oldest holder wins."""
    query = _QUERIES[kind]
    found: dict[str, Official] = {}
    rows = query.rows(unit=unit_id) if kind != "county" else query.rows()
    for row in rows:  # newest first: the oldest wins
        official = loaded(Official, row._asdict())
        found[official.duty_post] = official
    return posts_of(found)


def all_posts() -> dict[tuple[str, int], Posts]:
    """Every unit's A/B posts, read in one query (the oldest holder of a post wins)."""
    found: dict[tuple, dict[str, Official]] = {}
    for o in _base().order_by(Official.id.desc()):
        key = unit_key(o)
        if key is not None:
            found.setdefault(key, {})[o.duty_post] = o
    return {k: posts_of(v) for k, v in found.items()}


# --- who answers at a level ---------------------------------------------------------------

#: The level that answers when nobody at a level can act.
UP = {"grid": "community", "community": "township", "township": "county", "department": "county", "county": None}

#: Why a level was passed over: nobody holds its posts, everyone there is away (leave or
#: inactive), or the report has no such unit (no grid yet, no department named).
NONE, AWAY, NO_UNIT = "none", "away", "no_unit"


class Units(Protocol):
    """Where :func:`reach` reads posts from: the database (:class:`Queried`) or a snapshot."""

    def posts(self, key: tuple[str, int]) -> Posts:
        """The unit's posts (:data:`NOBODY` when it has none)."""

    def community_of(self, grid_id: int) -> int | None:
        """The community a grid belongs to."""


class Queried:
    """Units read from the database as they are asked for, each once (a dict cache)."""

    def __init__(self, cache: dict | None = None):
        self.cache = {} if cache is None else cache

    def posts(self, key: tuple[str, int]) -> Posts:
        """The unit's posts, read once."""
        if key not in self.cache:
            self.cache[key] = unit_posts(*key)
        return self.cache[key]

    def community_of(self, grid_id: int) -> int | None:
        """The grid's community, read once."""
        key = ("grid-community", grid_id)
        if key not in self.cache:
            grid = Grid.select(Grid.community).where(Grid.id == grid_id).first()
            self.cache[key] = grid.community_id if grid else None
        return self.cache[key]


class Snapshot:
    """Every unit's posts and every grid's community, read in two queries: what a scheduler
    pass consults for each report instead of asking the database unit by unit."""

    def __init__(self):
        self.grid_community = {g.id: g.community_id for g in Grid.select(Grid.id, Grid.community)}
        self.units = all_posts()

    def posts(self, key: tuple[str, int]) -> Posts:
        """The unit's posts."""
        return self.units.get(key, NOBODY)

    def community_of(self, grid_id: int) -> int | None:
        """The grid's community."""
        return self.grid_community.get(grid_id)


@dataclass(frozen=True)
class Reach:
    """Who answers for a report at ``level``: the posts of ``by`` (``level`` itself, or the
    nearest level above it where someone can act; empty when nobody can), and the levels
    passed over on the way, each with why (:data:`NONE`, :data:`AWAY`, :data:`NO_UNIT`)."""

    level: str
    by: str
    posts: Posts
    vacant: tuple[tuple[str, str], ...] = ()

    @property
    def stands_in(self) -> bool:
        """True when a higher level answers for this one."""
        return self.by != self.level

    def on_duty(self, *, emergency: bool = False, handed_over: bool = False) -> list[Official]:
        """Who is @-mentioned (:func:`on_duty` on the posts that answer)."""
        return on_duty(self.posts, emergency=emergency, handed_over=handed_over)


def level_key(level: str, *, township_id: int | None, grid_id: int | None, department_id: int | None,
              units: Units) -> tuple[str, int] | None:
    """The unit that holds ``level``'s posts for a report in that township, grid, department."""
    if level == "grid":
        return ("grid", grid_id) if grid_id else None
    if level == "community":
        community = units.community_of(grid_id) if grid_id else None
        return ("community", community) if community else None
    if level == "township":
        return ("township", township_id) if township_id else None
    if level == "department":
        return ("department", department_id) if department_id else None
    return ("county", 0)


def reach(level: str, *, township_id: int | None, grid_id: int | None = None, department_id: int | None = None,
          units: Units | None = None) -> Reach:
    """Who answers at ``level``: its own posts when one of them can act, else the next level
    up (:data:`UP`), and so on; :class:`Reach` says which levels were passed over and why."""
    units = units if units is not None else Queried()
    vacant: list[tuple[str, str]] = []
    current: str | None = level
    while current is not None:
        key = level_key(current, township_id=township_id, grid_id=grid_id, department_id=department_id, units=units)
        posts = units.posts(key) if key else NOBODY
        if posts.anyone:
            return Reach(level, current, posts, tuple(vacant))
        vacant.append((current, NO_UNIT if key is None else (AWAY if (posts.a or posts.b) else NONE)))
        current = UP.get(current)
    return Reach(level, "", NOBODY, tuple(vacant))
