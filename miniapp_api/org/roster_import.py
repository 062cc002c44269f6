"""``tongxin import-org PATH.csv``: the roster of communities, grids and officials (CONTRACT §1).

The file is UTF-8 CSV, with or without a BOM (Excel's "CSV UTF-8" writes one), and starts
with exactly this header::

    township,community,grid,official_name,role,duty_post,dingtalk_user_id,mobile

* ``township`` — a unit's code (``yongsheng``) or its exact name (``永盛街道``);
* ``community``, ``grid`` — created when missing (a community of a street is a
  ``neighborhood``, of a town a ``village``); a ``township_staff`` row may leave both empty;
* ``official_name`` — empty means the row only creates the grid;
* ``role`` — ``grid_leader``, ``grid_worker`` or ``township_staff``;
* ``duty_post`` — ``A``, ``B`` or empty (AB 岗: one A post per grid at most);
* ``dingtalk_user_id`` — optional, at most 64 characters, one official per id;
* ``mobile`` — optional, an 11-digit mainland mobile number.

An optional ninth column ``boundary`` holds a grid's boundary as WKT (``POLYGON ((lng lat,
…))``) or GeoJSON (quote the cell: it contains commas). It is stored as GeoJSON, its centroid
becomes the grid's centre, and residents are located in it (``miniapp_api.community``).

An official is identified by (township, community, grid, name, role); importing updates
their duty post, DingTalk id and mobile, so re-importing the same file changes nothing.
Nothing is deleted or deactivated: a roster only adds and updates.

All or nothing: every problem is collected with its line number (line 1 is the header) and,
if there is any, :func:`import_org` raises :class:`ImportFailed` and the transaction is rolled
back. Checks that depend on what is already in the database (two A posts in a grid, one
DingTalk id on two officials) run on the state the import would produce, inside the same
transaction, so they see exactly what would be committed; they cover the rows that are valid
on their own (fix those first, and a second run names any conflict left). The same official
twice in one file (or the same grid-only row twice) is an error, even with a township
written once by code and once by name.
"""
from __future__ import annotations

import csv
import io
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
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Township

HEADER = ("township", "community", "grid", "official_name", "role", "duty_post", "dingtalk_user_id", "mobile")
#: An optional ninth column: the grid's boundary, WKT or GeoJSON (stored as GeoJSON; its
#: centroid becomes the grid's centre). Used to locate residents' home grids.
BOUNDARY_COLUMN = "boundary"
ROLES = ("grid_leader", "grid_worker", "township_staff")
GRID_ROLES = ("grid_leader", "grid_worker")

_MOBILE = re.compile(r"^1[3-9]\d{9}$")
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
    township: Township
    community: str
    grid: str
    name: str
    role: str
    duty_post: str
    dingtalk_user_id: str
    mobile: str
    boundary: str = ""

    @property
    def identity(self) -> tuple:
        if not self.name:
            return ("grid", self.township.id, self.community, self.grid)
        return (self.township.id, self.community, self.grid, self.name, self.role)


# --- reading ------------------------------------------------------------------------------


def _read_text(path_or_text: str | bytes | os.PathLike) -> str:
    """The file's text. A ``str`` holding a line break or starting with the header is the
    CSV itself; any other ``str`` or path-like names a file."""
    if isinstance(path_or_text, str) and ("\n" in path_or_text or path_or_text.lstrip("\ufeff").startswith("township,")):
        return path_or_text.removeprefix("\ufeff")
    if isinstance(path_or_text, bytes):
        raw = path_or_text
    else:
        try:
            raw = Path(path_or_text).read_bytes()
        except OSError as err:
            raise ImportFailed([RowError(0, f"无法读取文件 {path_or_text}：{err.strerror or err}")]) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise ImportFailed([RowError(line, "文件不是 UTF-8 编码（在 Excel 中请另存为“CSV UTF-8”）")]) from None


def _townships() -> tuple[dict[str, Township], dict[str, list[Township]]]:
    by_code: dict[str, Township] = {}
    by_name: dict[str, list[Township]] = defaultdict(list)
    for t in Township.select():
        by_code[t.code] = t
        by_name[t.name].append(t)
    return by_code, by_name


def _mobile(value: str) -> str | None:
    """The 11-digit number, tolerating spaces, dashes and a +86 prefix; None if invalid."""
    digits = re.sub(r"[\s-]", "", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits if _MOBILE.match(digits) else None


def _check_row(line: int, cells: list[str], townships) -> tuple[_Row | None, list[str]]:
    """Validate one row on its own; returns the row (or None) and the problems found."""
    problems: list[str] = []
    township_v, community, grid, name, role, duty_post, dingtalk_id, mobile_v = cells
    by_code, by_name = townships

    township = by_code.get(township_v)
    if township is None and len(by_name.get(township_v, [])) == 1:
        township = by_name[township_v][0]
    if not township_v:
        problems.append("township 不能为空")
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
        problems.append(f"role “{role}” 无效，应为 grid_leader、grid_worker 或 township_staff")

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
        problems.append("role 不能为空（grid_leader、grid_worker 或 township_staff）")
    elif role in GRID_ROLES and not (community and grid):
        problems.append(f"role 为 {role} 时 community 和 grid 都要填写")

    if problems or township is None:
        return None, problems
    return _Row(line, township, community, grid, name, role, duty_post, dingtalk_id, mobile), []


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


def _parse(text: str, townships) -> tuple[list[_Row], list[RowError]]:
    """Rows that are valid on their own, and every problem found, by line."""
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[_Row] = []
    errors: list[RowError] = []
    seen: dict[tuple, int] = {}
    first_line = 1
    width = len(HEADER)
    try:
        for record in reader:
            line, first_line = first_line, reader.line_num + 1
            cells = [c.strip() for c in record]
            if line == 1:
                if tuple(cells) not in (HEADER, HEADER + (BOUNDARY_COLUMN,)):
                    return [], [RowError(1, f"表头应为 {','.join(HEADER)}（可再加一列 {BOUNDARY_COLUMN}）；"
                                            f"实际为 {','.join(cells) or '（空）'}")]
                width = len(cells)
                continue
            if not any(cells):
                continue  # blank lines and Excel's trailing ",,,,,,," rows
            if len(cells) != width:
                errors.append(RowError(line, f"应有 {width} 列，实际有 {len(cells)} 列（名称里的逗号要用英文双引号括起来）"))
                continue
            row, problems = _check_row(line, cells[:len(HEADER)], townships)
            boundary, problem = _boundary(cells[len(HEADER)] if width > len(HEADER) else "", cells[2])
            if problem:
                problems.append(problem)
                row = None
            errors.extend(RowError(line, p) for p in problems)
            if row is None:
                continue
            row.boundary = boundary
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
            self.officials[(o.township_id, o.community_id, o.grid_id, o.name, o.role)] = o

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
        if row.boundary and grid.boundary != row.boundary:
            self.grids[key] = grid = set_grid_geometry(grid, row.boundary, None)  # centre: its centroid
            self.result.grids_geometry_updated += 1
        return grid

    def official(self, row: _Row, community: Community | None, grid: Grid | None) -> Official:
        key = (row.township.id, community.id if community else None, grid.id if grid else None, row.name, row.role)
        wanted = {"duty_post": row.duty_post, "dingtalk_user_id": row.dingtalk_user_id or None,
                  "mobile": row.mobile}
        existing = self.officials.get(key)
        if existing is None:
            self.officials[key] = Official.create(township=row.township, community=community, grid=grid,
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


def _dingtalk_conflicts(rows: list[_Row], line_of: dict[int, int]) -> list[RowError]:
    """After the import, each DingTalk id the file names belongs to one active official
    (it is how a sender in a DingTalk group is recognised)."""
    errors: list[RowError] = []
    lines_by_ding: dict[str, list[int]] = defaultdict(list)
    for row in rows:
        if row.name and row.dingtalk_user_id:
            lines_by_ding[row.dingtalk_user_id].append(row.line)
    holders: dict[str, list[Official]] = defaultdict(list)
    for chunk in _chunks(list(lines_by_ding)):
        for o in Official.select().where(Official.active & Official.dingtalk_user_id.in_(chunk)).order_by(Official.id):
            holders[o.dingtalk_user_id].append(o)
    for ding, officials in holders.items():
        if len(officials) > 1:
            who = "、".join(_holder(o, line_of) for o in officials)
            errors.append(RowError(max(lines_by_ding[ding]), f"dingtalk_user_id “{ding}” 同时属于多名人员：{who}"))
    return errors


def _a_post_conflicts(line_of: dict[int, int], a_grids: set[int]) -> list[RowError]:
    """After the import, each grid the file gives an A post has exactly one."""
    errors: list[RowError] = []
    posts: dict[int, list[Official]] = defaultdict(list)
    for chunk in _chunks(sorted(a_grids)):
        query = (Official.select(Official, Grid).join(Grid)
                 .where(Official.active & (Official.duty_post == "A") & Official.grid.in_(chunk))
                 .order_by(Official.id))
        for o in query:
            posts[o.grid_id].append(o)
    for officials in posts.values():
        if len(officials) > 1:
            who = "、".join(_holder(o, line_of) for o in officials)
            line = max(line_of.get(o.id, 0) for o in officials)
            errors.append(RowError(line, f"网格“{officials[0].grid.name}”有 {len(officials)} 个 A 岗：{who}；每个网格只能有一个 A 岗"))
    return errors


def _apply(rows: list[_Row], result: ImportResult) -> list[RowError]:
    """Write every row (inside the caller's transaction) and check the resulting state."""
    org = _Org(result)
    line_of: dict[int, int] = {}  # official id → line of the file that names them
    a_grids: set[int] = set()  # grids where the file puts an A post
    for row in rows:
        community = org.community(row)
        grid = org.grid(community, row)
        if row.name:
            line_of[org.official(row, community, grid).id] = row.line
            if grid is not None and row.duty_post == "A":
                a_grids.add(grid.id)
    return _dingtalk_conflicts(rows, line_of) + _a_post_conflicts(line_of, a_grids)


def import_org(path_or_text: str | bytes | os.PathLike, *, dry_run: bool = False) -> ImportResult:
    """Import a roster CSV (a path, or the CSV text or bytes themselves), all or nothing.

    :param dry_run: check everything and count what would change, then roll back.
    :returns: the counts; ``errors`` is empty.
    :raises ImportFailed: any problem in the file; nothing was applied.
    """
    text = _read_text(path_or_text)
    result = ImportResult(dry_run=dry_run)
    try:
        with write_tx():
            rows, errors = _parse(text, _townships())
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
    officials = (Official.select(Official, Township, Community, Grid)
                 .join(Township).switch(Official)
                 .join(Community, JOIN.LEFT_OUTER).switch(Official)
                 .join(Grid, JOIN.LEFT_OUTER)
                 .where(Official.active))
    with_boundary = Grid.select().where(Grid.boundary.is_null(False)).exists()
    extra = (lambda g: [g.boundary or ""] if g is not None else [""]) if with_boundary else (lambda g: [])
    for o in officials:
        community = o.community.name if o.community_id else ""
        grid = o.grid.name if o.grid_id else ""
        if o.grid_id:
            staffed.add(o.grid_id)
        key = (o.township.sort_order, o.township.code, community, grid, 1, role_order.get(o.role, 9), o.name)
        lines.append((key, [o.township.code, community, grid, o.name, o.role, o.duty_post,
                            o.dingtalk_user_id or "", o.mobile] + extra(o.grid if o.grid_id else None)))
    for g in Grid.select(Grid, Community, Township).join(Community).join(Township):
        if g.id not in staffed:
            t = g.community.township
            lines.append(((t.sort_order, t.code, g.community.name, g.name, 0, 0, ""),
                          [t.code, g.community.name, g.name, "", "", "", "", ""] + extra(g)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(HEADER + ((BOUNDARY_COLUMN,) if with_boundary else ()))
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
