"""``tongxin import-org PATH.csv``: the roster of communities, grids and officials (CONTRACT §1).

The file is UTF-8 CSV, with or without a BOM (Excel's "CSV UTF-8" writes one), and starts
with exactly this header::

    township,community,grid,official_name,role,duty_post,dingtalk_user_id,mobile

* ``township`` — a unit's code (``yongsheng``) or its exact name (``永盛街道``);
* ``community``, ``grid`` — created when missing (a community of a street is a
  ``neighborhood``, of a town a ``village``); a ``township_staff`` row may leave both empty;
* ``official_name`` — empty means the row only creates the grid;
* ``role`` — ``grid_leader`` or ``grid_worker`` (a grid's posts), ``community_leader`` (村（社区）
  网格长: the posts of a whole community; ``grid`` empty), ``township_staff``,
  ``department_staff`` (``township`` holds a department's code or name; ``community`` and
  ``grid`` empty) or ``county_staff`` (县指挥中心: ``township`` holds ``county``);
* ``duty_post`` — ``A``, ``B`` or empty (AB 岗: one A post per grid, one per community
  among its officials without a grid, one among a township's staff, one per department and
  one for the county command centre, at most);
* ``dingtalk_user_id`` — optional, at most 64 characters, one official per id;
* ``mobile`` — optional, an 11-digit mainland mobile number.

Optional columns may follow, in any order, recognised by their header name: ``boundary``
holds a grid's boundary as WKT (``POLYGON ((lng lat, …))``) or GeoJSON (quote the cell: it
contains commas), stored as GeoJSON; ``lat`` and ``lng`` (together) the grid's centre, WGS-84.
Without a centre, a boundary's own centre becomes the grid's. Reports and residents' home
places are routed by them (``miniapp_api.org.routing``); a grid's boundary and centre must
read the same on every row that gives them. Boundaries for the whole county are better
imported with ``tongxin import-grids`` (``miniapp_api.org.grid_import``).

An official is identified by (township, community, grid, name, role); importing updates
their duty post, DingTalk id and mobile, so re-importing the same file changes nothing.
Nothing is deleted or deactivated: a roster only adds and updates.

All or nothing: every problem is collected with its line number (line 1 is the header) and,
if there is any, :func:`import_org` raises :class:`ImportFailed` and the transaction is rolled
back. Checks that depend on what is already in the database (two A posts in one unit, one
DingTalk id on two officials) run on the state the import would produce,
inside the same transaction, so they see exactly what would be committed; they cover the
rows that are valid on their own (fix those first, and a second run names any conflict
left). The same official twice in one file (or the same grid-only row twice) is an error,
even with a township written once by code and once by name.
"""
from __future__ import annotations

import csv
import io
import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

from peewee import JOIN

from miniapp_api.db import write_tx
from miniapp_api.org import geo
from miniapp_api.org.places import set_grid_geometry
from miniapp_api.models import Community
from miniapp_api.models import Department
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Township

HEADER = ("township", "community", "grid", "official_name", "role", "duty_post", "dingtalk_user_id", "mobile")
#: An optional ninth column: the grid's boundary, WKT or GeoJSON (stored as GeoJSON; its
#: centroid becomes the grid's centre). Used to locate residents' home grids.
BOUNDARY_COLUMN = "boundary"
#: Optional columns after the eight of :data:`HEADER`, in any order, recognised by their
#: header name: the grid's boundary, and its centre (``lat`` and ``lng``, WGS-84, together).
OPTIONAL_COLUMNS = (BOUNDARY_COLUMN, "lat", "lng")
ROLES = ("grid_leader", "grid_worker", "community_leader", "township_staff", "department_staff", "county_staff")
GRID_ROLES = ("grid_leader", "grid_worker")
#: Roles whose ``township`` column names another kind of unit: a department, or the county.
UNIT_ROLES = ("department_staff", "county_staff")
#: What the ``township`` column holds for ``county_staff``.
COUNTY = "county"
_ROLE_LIST = "、".join(ROLES)

_MOBILE = re.compile(r"1[3-9][0-9]{9}")  # ASCII digits only: \d also matches full-width ones
# Cells starting like a formula would run as one when an exported roster is opened in a
# spreadsheet; such names are refused at the door.
_FORMULA_START = ("=", "+", "-", "@")


@dataclass(frozen=True, order=True)
class RowError:
    """One problem: ``line`` counts physical lines from 1 (the header); 0 is the whole file."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


@dataclass
class ImportResult:
    """What an import did (or, with ``dry_run``, would do)."""

    rows: int = 0
    communities_created: int = 0
    grids_created: int = 0
    officials_created: int = 0
    officials_updated: int = 0
    officials_unchanged: int = 0
    grids_geometry_updated: int = 0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the file had no errors."""
        return not self.errors


class ImportFailed(Exception):
    """The file has problems; nothing was applied. ``errors`` lists them by line."""

    def __init__(self, errors: list[RowError], result: ImportResult | None = None):
        self.errors = sorted(errors)
        self.result = result or ImportResult(errors=self.errors)
        self.result.errors = self.errors
        super().__init__("\n".join(str(e) for e in self.errors))


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


@dataclass
class _Row:
    line: int
    township: Township | None  # None for department and county staff
    community: str
    grid: str
    name: str
    role: str
    duty_post: str
    dingtalk_user_id: str
    mobile: str
    boundary: str = ""
    department: Department | None = None
    center: tuple[float, float] | None = None

    @property
    def unit(self) -> tuple:
        """The unit of the row: a township, a department, or the county."""
        if self.department is not None:
            return ("department", self.department.id)
        return ("township", self.township.id) if self.township is not None else (COUNTY,)

    @property
    def identity(self) -> tuple:
        if not self.name:
            return ("grid", self.unit, self.community, self.grid)
        return (self.unit, self.community, self.grid, self.name, self.role)


# --- reading ------------------------------------------------------------------------------


def _decode(raw: bytes) -> str:
    """The text of a roster file's bytes (UTF-8, with or without a BOM)."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ImportFailed([RowError(line, "文件不是 UTF-8 编码（在 Excel 中请另存为“CSV UTF-8”）")]) from None


def _read_text(text: str | bytes) -> str:
    """The CSV text itself: a ``str`` is the text, ``bytes`` its UTF-8 encoding. Never a
    file name (files are read only by :func:`_read_file`, from the ``path`` parameter)."""
    if isinstance(text, str):
        return text.removeprefix("\ufeff")
    if isinstance(text, (bytes, bytearray)):
        return _decode(bytes(text))
    raise TypeError(f"the roster text must be str or bytes, not {type(text).__name__} (a file goes in path=)")


def _read_file(path: str | os.PathLike) -> str:
    """The text of the roster file at ``path`` (the operator's command line only)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as err:
        raise ImportFailed([RowError(0, f"无法读取文件 {path}：{err.strerror or err}")]) from None
    return _decode(raw)


def _townships() -> tuple[dict[str, Township], dict[str, list[Township]], dict[str, Department]]:
    by_code: dict[str, Township] = {}
    by_name: dict[str, list[Township]] = defaultdict(list)
    for t in Township.select():
        by_code[t.code] = t
        by_name[t.name].append(t)
    departments = {}
    for d in Department.select():
        departments[d.code] = departments[d.name] = d
    return by_code, by_name, departments


def _mobile(value: str) -> str | None:
    """The 11-digit number, tolerating spaces, dashes and a +86 prefix; None if invalid."""
    digits = re.sub(r"[\s-]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if _MOBILE.fullmatch(digits) else None


def _check_row(line: int, cells: list[str], townships) -> tuple[_Row | None, list[str]]:
    """Validate one row on its own; returns the row (or None) and the problems found."""
    problems: list[str] = []
    township_v, community, grid, name, role, duty_post, dingtalk_id, mobile_v = cells
    by_code, by_name = townships[:2]
    departments = townships[2] if len(townships) > 2 else {}

    township = department = None
    if role in UNIT_ROLES:
        if role == "department_staff":
            department = departments.get(township_v)
            if township_v and department is None:
                codes = "、".join(sorted({d.code for d in departments.values()})) or "（未配置部门）"
                problems.append(f"department_staff 的 township 一栏应为部门的 code 或名称（{codes}），“{township_v}” 不存在")
        elif township_v != COUNTY:
            problems.append(f"county_staff 的 township 一栏应为 {COUNTY}")
        if community or grid:
            problems.append(f"role 为 {role} 时 community 和 grid 都要留空")
    else:
        township = by_code.get(township_v)
        if township is None and len(by_name.get(township_v, [])) == 1:
            township = by_name[township_v][0]
    if not township_v:
        problems.append("township 不能为空")
    elif role in UNIT_ROLES:
        pass
    elif township is None:
        why = "名称对应多个单位，请用 code" if len(by_name.get(township_v, [])) > 1 else "不存在"
        problems.append(f"township “{township_v}” {why}（可填乡镇/街道的 code，如 {next(iter(by_code), 'yongsheng')}，或完整名称）")

    for column, value, limit in (("community", community, 60), ("grid", grid, 60), ("official_name", name, 40)):
        if len(value) > limit:
            problems.append(f"{column} 太长（最多 {limit} 个字）")
        if value.startswith(_FORMULA_START):
            problems.append(f"{column} 不能以 = + - @ 开头")
    if grid and not community:
        problems.append("填写了 grid 就必须填写 community")

    duty_post = duty_post.upper()
    if duty_post not in ("A", "B", ""):
        problems.append(f"duty_post “{duty_post}” 无效，应为 A、B 或留空")
    if role and role not in ROLES:
        problems.append(f"role “{role}” 无效，应为 {_ROLE_LIST}")

    mobile = ""
    if mobile_v:
        mobile = _mobile(mobile_v) or ""
        if not mobile:
            problems.append(f"mobile “{mobile_v}” 不是有效的 11 位手机号")
    if len(dingtalk_id) > 64:
        problems.append("dingtalk_user_id 太长（最多 64 个字符）")
    elif dingtalk_id and (not dingtalk_id.isprintable() or any(c.isspace() for c in dingtalk_id)):
        problems.append("dingtalk_user_id 不能包含空格或控制字符")

    if not name:
        if not (community and grid):
            problems.append("official_name 为空的行只创建网格，community 和 grid 都要填写")
        for column, value in (("duty_post", duty_post), ("dingtalk_user_id", dingtalk_id), ("mobile", mobile_v)):
            if value:
                problems.append(f"official_name 为空（只创建网格），{column} 应留空")
    elif not role:
        problems.append(f"role 不能为空（{_ROLE_LIST}）")
    elif role in GRID_ROLES and not (community and grid):
        problems.append(f"role 为 {role} 时 community 和 grid 都要填写")
    elif role == "community_leader" and (not community or grid):
        problems.append("role 为 community_leader 时要填写 community，grid 留空（村（社区）网格长负责整个村/社区）")

    if problems or (township is None and role not in UNIT_ROLES):
        return None, problems
    return _Row(line, township, community, grid, name, role, duty_post, dingtalk_id, mobile,
                department=department), []


def _boundary(text: str, grid: str) -> tuple[str, str | None]:
    """The canonical GeoJSON text of a boundary cell, or the problem with it."""
    if not text:
        return "", None
    if not grid:
        return "", "boundary 只能填在写明了 grid 的行"
    try:
        return geo.dumps(geo.parse_boundary(text)), None
    except geo.InvalidBoundary as err:
        return "", f"boundary 无效：{err}"


def _header_error(cells: list[str]) -> RowError:
    """What is wrong with the first line, naming only our own column names: the line itself
    is never echoed (it may be anything, and error pages are shown to whoever sent it)."""
    wrong = next((i for i, name in enumerate(HEADER) if i >= len(cells) or cells[i] != name), None)
    if wrong is not None:
        where = f"第 {wrong + 1} 列应为 {HEADER[wrong]}"
    else:
        extra = cells[len(HEADER):]
        bad = next((i for i, name in enumerate(extra) if name not in OPTIONAL_COLUMNS or name in extra[:i]), None)
        if bad is not None:
            where = f"第 {len(HEADER) + bad + 1} 列应为 {'、'.join(OPTIONAL_COLUMNS)} 之一（每列一次）"
        else:
            where = "lat 和 lng 两列要一起给出"
    return RowError(1, f"表头应为 {','.join(HEADER)}（其后可加 {'、'.join(OPTIONAL_COLUMNS)} 列，按列名识别）；{where}")


def _optional_columns(cells: list[str]) -> dict[str, int] | None:
    """Where each optional column is, by name; None when the header is not a valid one."""
    if tuple(cells[:len(HEADER)]) != HEADER:
        return None
    extra = cells[len(HEADER):]
    if len(set(extra)) != len(extra) or not set(extra) <= set(OPTIONAL_COLUMNS) or ("lat" in extra) != ("lng" in extra):
        return None
    return {name: len(HEADER) + i for i, name in enumerate(extra)}


def _center(lat: str, lng: str, grid: str) -> tuple[tuple[float, float] | None, str | None]:
    """A grid's centre from the lat and lng cells, or the problem with them."""
    if not lat and not lng:
        return None, None
    if not grid:
        return None, "lat/lng 只能填在写明了 grid 的行"
    try:
        point = (float(lat), float(lng))
    except ValueError:
        return None, "lat 和 lng 要一起填写，且为数字（WGS-84 纬度、经度）"
    if not all(map(math.isfinite, point)) or not (-90 <= point[0] <= 90 and -180 <= point[1] <= 180):
        return None, "lat/lng 超出范围（纬度 -90–90，经度 -180–180）"
    return point, None


def _same_geometry(seen: dict[tuple, tuple], grid: tuple, line: int, boundary: str,
                   center: tuple[float, float] | None) -> str | None:
    """A grid's boundary and centre must read the same on every row that gives them."""
    first = seen.setdefault(grid, (line, boundary, center))
    if (first[1] and boundary and first[1] != boundary) or (first[2] and center and first[2] != center):
        return f"网格“{grid[-1]}”的 boundary 或 lat/lng 与第 {first[0]} 行不同（同一网格只能有一个边界和中心点）"
    return None


def _parse(text: str, townships) -> tuple[list[_Row], list[RowError]]:
    """Rows that are valid on their own, and every problem found, by line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[_Row] = []
    errors: list[RowError] = []
    seen: dict[tuple, int] = {}
    geometry_lines: dict[tuple, tuple] = {}  # grid → (line, boundary, centre) first given
    columns: dict[str, int] = {}
    first_line = 1
    width = len(HEADER)
    try:
        for record in reader:
            line, first_line = first_line, reader.line_num + 1
            cells = [c.strip() for c in record]
            if line == 1:
                columns = _optional_columns(cells)
                if columns is None:
                    return [], [_header_error(cells)]
                width = len(cells)
                continue
            if not any(cells):
                continue  # blank lines and Excel's trailing ",,,,,,," rows
            if len(cells) != width:
                errors.append(RowError(line, f"应有 {width} 列，实际有 {len(cells)} 列（名称里的逗号要用英文双引号括起来）"))
                continue
            row, problems = _check_row(line, cells[:len(HEADER)], townships)
            optional = {name: cells[i] for name, i in columns.items()}
            boundary, problem = _boundary(optional.get(BOUNDARY_COLUMN, ""), cells[2])
            center, center_problem = _center(optional.get("lat", ""), optional.get("lng", ""), cells[2])
            for p in (problem, center_problem):
                if p:
                    problems.append(p)
                    row = None
            if row is not None and (boundary or center):
                problem = _same_geometry(geometry_lines, (row.unit, row.community, row.grid), line, boundary, center)
                if problem:
                    problems.append(problem)
                    row = None
            errors.extend(RowError(line, p) for p in problems)
            if row is None:
                continue
            row.boundary, row.center = boundary, center
            if row.identity in seen:
                errors.append(RowError(line, f"与第 {seen[row.identity]} 行重复（同一单位、村/社区、网格、姓名和角色）"))
                continue
            seen[row.identity] = line
            rows.append(row)
    except csv.Error as err:
        errors.append(RowError(first_line, f"CSV 格式错误：{err}"))
    if first_line == 1:
        errors.append(RowError(1, f"文件是空的，缺少表头 {','.join(HEADER)}"))
    return rows, errors


# --- applying -----------------------------------------------------------------------------


class _Org:
    """The existing organisation, loaded once, plus what this import creates."""

    def __init__(self, result: ImportResult):
        self.result = result
        self.communities = {(c.township_id, c.name): c for c in Community.select()}
        self.grids = {(g.community_id, g.name): g for g in Grid.select()}
        self.officials: dict[tuple, Official] = {}
        for o in Official.select().order_by(Official.id.desc()):  # the oldest wins a tie
            self.officials[(o.township_id, o.department_id, o.community_id, o.grid_id, o.name, o.role)] = o

    def community(self, row: _Row) -> Community | None:
        if not row.community:
            return None
        key = (row.township.id, row.community)
        if key not in self.communities:
            kind = "neighborhood" if row.township.kind == "street" else "village"
            self.communities[key] = Community.create(township=row.township, name=row.community, kind=kind)
            self.result.communities_created += 1
        return self.communities[key]

    def grid(self, community: Community | None, row: _Row) -> Grid | None:
        if community is None or not row.grid:
            return None
        key = (community.id, row.grid)
        if key not in self.grids:
            self.grids[key] = Grid.create(community=community, name=row.grid)
            self.result.grids_created += 1
        grid = self.grids[key]
        if row.boundary or row.center:
            before = (grid.boundary, grid.center_lat, grid.center_lng)
            self.grids[key] = grid = set_grid_geometry(grid, row.boundary or None, row.center)
            if (grid.boundary, grid.center_lat, grid.center_lng) != before:
                self.result.grids_geometry_updated += 1
        return grid

    def official(self, row: _Row, community: Community | None, grid: Grid | None) -> Official:
        key = (row.township.id if row.township else None, row.department.id if row.department else None,
               community.id if community else None, grid.id if grid else None, row.name, row.role)
        wanted = {"duty_post": row.duty_post, "dingtalk_user_id": row.dingtalk_user_id or None,
                  "mobile": row.mobile}
        existing = self.officials.get(key)
        if existing is None:
            self.officials[key] = Official.create(township=row.township, department=row.department,
                                                  community=community, grid=grid,
                                                  name=row.name, role=row.role, **wanted)
            self.result.officials_created += 1
            return self.officials[key]
        changed = {k: v for k, v in wanted.items() if getattr(existing, k) != v}
        if changed:
            Official.update(**changed).where(Official.id == existing.id).execute()
            self.result.officials_updated += 1
        else:
            self.result.officials_unchanged += 1
        return existing


def _holder(official: Official, line_of: dict[int, int]) -> str:
    if official.id in line_of:
        return f"{official.name}（第 {line_of[official.id]} 行）"
    return f"{official.name}（系统中已有的人员）"


def _chunks(items: list, size: int = 500):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _shared_values(rows: list[_Row], line_of: dict[int, int], column: str) -> list[RowError]:
    """After the import, each value of ``column`` the file names belongs to one active official."""
    errors: list[RowError] = []
    lines_by_value: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.name and getattr(row, column):
            lines_by_value[getattr(row, column)].append(row.line)
    field_ = getattr(Official, column)
    holders: dict[str, list[Official]] = defaultdict(list)
    for chunk in _chunks(list(lines_by_value)):
        for o in Official.select().where(Official.active & field_.in_(chunk)).order_by(Official.id):
            holders[getattr(o, column)].append(o)
    for value, officials in holders.items():
        if len(officials) > 1:
            who = "、".join(_holder(o, line_of) for o in officials)
            errors.append(RowError(max(lines_by_value[value]), f"{column} “{value}” 同时属于多名人员：{who}"))
    return errors


def _dingtalk_conflicts(rows: list[_Row], line_of: dict[int, int]) -> list[RowError]:
    """After the import, each DingTalk id the file names belongs to one active official
    (it is how a sender in a DingTalk group is recognised)."""
    return _shared_values(rows, line_of, "dingtalk_user_id")


def _mobile_conflicts(rows: list[_Row], line_of: dict[int, int]) -> list[RowError]:
    """After the import, each mobile the file names belongs to one active official (the
    DingTalk roster sync matches members to officials by mobile)."""
    return _shared_values(rows, line_of, "mobile")


def _a_post_conflicts(line_of: dict[int, int], a_grids: set[int], a_communities: set[int],
                      a_townships: set[int], a_departments: set[int], a_county: bool) -> list[RowError]:
    """After the import, each unit the file gives an A post has exactly one: a grid, a
    community (its officials without a grid: the 村（社区）网格长), a township (its staff), a
    department (its staff) and the county command centre. The duty ladder hands a report to
    the A post of its level; two would leave it to chance which of them is asked."""
    errors: list[RowError] = []
    units = (
        (a_grids, Official.grid, Grid, Official.grid.is_null(False), "网格", "每个网格只能有一个 A 岗"),
        (a_communities, Official.community, Community, Official.grid.is_null(),
         "村/社区", "每个村/社区只能有一个 A 岗（村（社区）网格长）"),
        (a_townships, Official.township, Township, (Official.role == "township_staff") & Official.community.is_null(),
         "乡镇/街道", "每个乡镇/街道的工作人员中只能有一个 A 岗"),
        (a_departments, Official.department, Department, Official.role == "department_staff",
         "部门", "每个部门只能有一个 A 岗"),
    )
    for ids, column, model, scope, word, rule in units:
        posts: dict[int, list[Official]] = defaultdict(list)
        for chunk in _chunks(sorted(ids)):
            query = (Official.select(Official, model).join(model, on=(column == model.id))
                     .where(Official.active & (Official.duty_post == "A") & column.in_(chunk) & scope)
                     .order_by(Official.id))
            for o in query:
                posts[getattr(o, column.name + "_id")].append(o)
        for officials in posts.values():
            if len(officials) > 1:
                who = "、".join(_holder(o, line_of) for o in officials)
                line = max(line_of.get(o.id, 0) for o in officials)
                unit = getattr(officials[0], column.name).name
                errors.append(RowError(line, f"{word}“{unit}”有 {len(officials)} 个 A 岗：{who}；{rule}"))
    if a_county:
        officials = list(Official.select().where(Official.active & (Official.duty_post == "A")
                                                 & (Official.role == "county_staff")).order_by(Official.id))
        if len(officials) > 1:
            who = "、".join(_holder(o, line_of) for o in officials)
            line = max(line_of.get(o.id, 0) for o in officials)
            errors.append(RowError(line, f"县指挥中心有 {len(officials)} 个 A 岗：{who}；县指挥中心只能有一个 A 岗"))
    return errors


def _apply(rows: list[_Row], result: ImportResult) -> list[RowError]:
    """Write every row (inside the caller's transaction) and check the resulting state."""
    org = _Org(result)
    line_of: dict[int, int] = {}  # official id → line of the file that names them
    a_grids: set[int] = set()  # grids where the file puts an A post
    a_communities: set[int] = set()  # communities where it puts one (an official without a grid)
    a_townships: set[int] = set()  # townships whose staff it gives one
    a_departments: set[int] = set()  # departments it gives one
    a_county = False  # whether it gives the county command centre one
    for row in rows:
        community = org.community(row)
        grid = org.grid(community, row)
        if row.name:
            line_of[org.official(row, community, grid).id] = row.line
            if row.duty_post != "A":
                continue
            if grid is not None:
                a_grids.add(grid.id)
            elif community is not None:
                a_communities.add(community.id)
            elif row.role == "township_staff" and row.township is not None:
                a_townships.add(row.township.id)
            elif row.role == "department_staff" and row.department is not None:
                a_departments.add(row.department.id)
            elif row.role == "county_staff":
                a_county = True
    return (_dingtalk_conflicts(rows, line_of) + _mobile_conflicts(rows, line_of)
            + _a_post_conflicts(line_of, a_grids, a_communities, a_townships, a_departments, a_county))


def _within_unit(rows: list[_Row], unit: str) -> tuple[list[_Row], list[RowError]]:
    """The rows of ``unit`` (as parsed: a township by code or by name), and an error for
    each row of any other unit (those are not even tried against the database)."""
    own = Township.get_or_none(Township.code == unit)
    kept: list[_Row] = []
    errors: list[RowError] = []
    for row in rows:
        if own is not None and getattr(row.township, "id", None) == own.id:
            kept.append(row)
        else:
            errors.append(RowError(row.line, f"只能导入本单位（{own.name if own else unit}）的数据，这一行属于其他单位"))
    return kept, errors


def import_org(text: str | bytes | None = None, *, path: str | os.PathLike | None = None,
               dry_run: bool = False, unit: str | None = None) -> ImportResult:
    """Import a roster CSV, all or nothing: ``text`` (the CSV as ``str`` or UTF-8 ``bytes``)
    or the file at ``path`` (the operator's command line), never both.

    :param dry_run: check everything and count what would change, then roll back.
    :param unit: a unit administrator's township code: a row of any other unit is an error.
    :returns: the counts; ``errors`` is empty.
    :raises ImportFailed: any problem in the file; nothing was applied.
    """
    if (text is None) == (path is None):
        raise TypeError("import_org takes the CSV text or a path=, exactly one")
    text = _read_text(text) if path is None else _read_file(path)
    result = ImportResult(dry_run=dry_run)
    try:
        with write_tx():
            rows, errors = _parse(text, _townships())
            if unit is not None:
                rows, outside = _within_unit(rows, unit)
                errors += outside
            result.rows = len(rows)
            errors += _apply(rows, result)
            if errors:
                raise ImportFailed(errors, result)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return result


# --- exporting and reporting ----------------------------------------------------------------


def export_org() -> str:
    """The whole roster as import-org CSV (no BOM): importing it back changes nothing.

    Townships are written by code. Grids without an active official get a row of their own;
    deactivated officials are left out (an import never deactivates, so that is lossless).
    """
    role_order = {r: i for i, r in enumerate(ROLES)}
    lines: list[tuple[tuple, list[str]]] = []
    staffed: set[int] = set()
    officials = (Official.select(Official, Township, Department, Community, Grid)
                 .join(Township, JOIN.LEFT_OUTER).switch(Official)
                 .join(Department, JOIN.LEFT_OUTER).switch(Official)
                 .join(Community, JOIN.LEFT_OUTER).switch(Official)
                 .join(Grid, JOIN.LEFT_OUTER)
                 .where(Official.active))
    with_boundary = Grid.select().where(Grid.boundary.is_null(False)).exists()
    with_center = Grid.select().where(Grid.center_lat.is_null(False)).exists()
    optional = ((BOUNDARY_COLUMN,) if with_boundary else ()) + (("lat", "lng") if with_center else ())

    def extra(g: Grid | None) -> list[str]:
        cells = []
        if with_boundary:
            cells.append(g.boundary or "" if g is not None else "")
        if with_center:
            has = g is not None and g.center_lat is not None
            cells += [repr(g.center_lat), repr(g.center_lng)] if has else ["", ""]
        return cells
    for o in officials:
        community = o.community.name if o.community_id else ""
        grid = o.grid.name if o.grid_id else ""
        if o.grid_id:
            staffed.add(o.grid_id)
        if o.township_id:
            unit, order = o.township.code, o.township.sort_order
        elif o.department_id:  # department and county staff come after the townships
            unit, order = o.department.code, 10**6
        elif o.role == "county_staff":
            unit, order = COUNTY, 10**6 + 1
        else:
            continue  # not on a roster post (e.g. created by the DingTalk sync alone)
        key = (order, unit, community, grid, 1, role_order.get(o.role, 9), o.name)
        lines.append((key, [unit, community, grid, o.name, o.role, o.duty_post,
                            o.dingtalk_user_id or "", o.mobile] + extra(o.grid if o.grid_id else None)))
    for g in Grid.select(Grid, Community, Township).join(Community).join(Township):
        if g.id not in staffed:
            t = g.community.township
            lines.append(((t.sort_order, t.code, g.community.name, g.name, 0, 0, ""),
                          [t.code, g.community.name, g.name, "", "", "", "", ""] + extra(g)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER + optional)
    writer.writerows(cells for _, cells in sorted(lines, key=lambda item: item[0]))
    return out.getvalue()


def format_result(result: ImportResult) -> str:
    """A short bilingual summary of an import, for the command line."""
    if result.errors:
        lines = [f"导入失败，未做任何修改 / import failed, nothing applied: {len(result.errors)} 处错误 / errors"]
        lines += [f"  第 {e.line} 行 / line {e.line}: {e.message}" for e in result.errors]
        return "\n".join(lines)
    head = "试运行，未写入任何数据 / dry run, nothing written" if result.dry_run else "导入完成 / import done"
    return "\n".join([
        f"{head}: {result.rows} 行 / rows",
        f"  新建村/社区 communities created: {result.communities_created}",
        f"  新建网格 grids created: {result.grids_created}",
        *([f"  网格边界 grid boundaries set: {result.grids_geometry_updated}"] if result.grids_geometry_updated else []),
        f"  人员 officials: 新建 created {result.officials_created}, 更新 updated {result.officials_updated}, "
        f"未变 unchanged {result.officials_unchanged}",
    ])
