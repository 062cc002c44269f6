"""``tongxin import-grids PATH.geojson [--dry-run]``: grid boundaries (CONTRACT §1, docs/grids.md).

The file is a GeoJSON FeatureCollection (RFC 7946, so WGS-84 longitude/latitude) of
``Polygon`` or ``MultiPolygon`` features whose properties name the grid as the roster CSV
does: ``township`` (a unit's code or full name), ``community`` and ``grid``. A community or
grid that does not exist yet is created, as ``import-org`` would.

All or nothing: every problem is collected and named by its feature (``feature 3 (永盛街道 /
东风社区 / 第1网格)``, counting from 1) and, if there is any, nothing is written. Checked:

* the file and each feature's shape, properties and geometry (a ring that crosses itself, a
  hole outside its shell, coordinates out of range);
* the township exists; one feature per grid;
* overlaps: two grids may share edges, and may overlap by at most :data:`OVERLAP_TOLERANCE` of
  the smaller one's area (digitising slivers); more is an error naming both;
* distance: a grid whose centre lies more than :data:`FAR_KM` from the median centre of its
  township's other grids (at least :data:`FAR_MIN_OTHERS` of them) is an error: swapped
  coordinates, a wrong township, or data in another datum.

Re-importing the same file changes nothing: a boundary equal to the stored one is left as it
is. A grid's centre follows its new boundary unless it already lies inside it
(``places.geometry_values``). :func:`save_geometry` runs the same checks on one grid's
boundary, for the console and the admin API.
"""
from __future__ import annotations

import json
import os
import statistics
from collections import defaultdict
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path


from miniapp_api.db import write_tx
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Township
from miniapp_api.org import geo
from miniapp_api.org.places import geometry_values
from miniapp_api.org.places import set_grid_geometry

#: Two grids may overlap by at most this share of the smaller grid's area.
OVERLAP_TOLERANCE = 0.01
#: A grid farther than this from the median centre of its township's other grids is refused.
FAR_KM = 20.0
#: ... when the township has at least this many other grids with a centre.
FAR_MIN_OTHERS = 3
MAX_FILE_BYTES = 100 * 1024 * 1024
_FORMULA_START = ("=", "+", "-", "@")  # names that would run as formulas in an exported sheet


@dataclass(frozen=True, order=True)
class FeatureError:
    """One problem: ``feature`` counts from 1 (0 is the whole file); ``label`` names the grid."""

    feature: int
    label: str
    message: str

    def __str__(self) -> str:
        if not self.feature:
            return self.message
        return f"feature {self.feature}" + (f" ({self.label})" if self.label else "") + f": {self.message}"


@dataclass
class GridImportResult:
    """What an import did (or, with ``dry_run``, would do)."""

    features: int = 0
    communities_created: int = 0
    grids_created: int = 0
    boundaries_set: int = 0
    unchanged: int = 0
    dry_run: bool = False
    errors: list[FeatureError] = field(default_factory=list)


class GridImportFailed(Exception):
    """The file has problems; nothing was applied. ``errors`` names each one's feature."""

    def __init__(self, errors: list[FeatureError]):
        self.errors = sorted(errors)
        super().__init__("\n".join(str(e) for e in self.errors))


class _DryRun(Exception):
    """Raised inside the transaction to roll a dry run back."""


@dataclass
class _Candidate:
    """A grid boundary about to be stored: where it comes from and what it is."""

    feature: int            # 1-based feature number (0: a single grid saved from the console)
    label: str              # 永盛街道 / 东风社区 / 第1网格
    township: Township
    community: str
    grid: str
    geometry: dict
    shape: object
    grid_id: int | None = None  # the existing grid it replaces, if any

    @property
    def centre(self) -> tuple[float, float]:
        return geo.centre_of(self.shape)


# --- reading ------------------------------------------------------------------------------


def _read(path_or_text: str | bytes | os.PathLike) -> object:
    """The parsed JSON. A ``str`` starting with ``{`` is the GeoJSON itself; any other
    ``str`` or path-like names a file."""
    if isinstance(path_or_text, str) and path_or_text.lstrip().startswith("{"):
        text = path_or_text
    else:
        if isinstance(path_or_text, bytes):
            raw = path_or_text
        else:
            try:
                if Path(path_or_text).stat().st_size > MAX_FILE_BYTES:
                    raise GridImportFailed([FeatureError(0, "", f"文件太大（最多 {MAX_FILE_BYTES // 1024 // 1024} MB）")])
                raw = Path(path_or_text).read_bytes()
            except OSError as err:
                raise GridImportFailed([FeatureError(0, "", f"无法读取文件 {path_or_text}：{err.strerror or err}")]) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise GridImportFailed([FeatureError(0, "", "文件不是 UTF-8 编码的 GeoJSON")]) from None
    try:
        return json.loads(text)
    except ValueError as err:
        raise GridImportFailed([FeatureError(0, "", f"不是有效的 JSON：{err}")]) from None


def _resolver():
    by_code: dict[str, Township] = {}
    by_name: dict[str, list[Township]] = defaultdict(list)
    for t in Township.select():
        by_code[t.code] = t
        by_name[t.name].append(t)

    def resolve(value: str) -> tuple[Township | None, str | None]:
        if value in by_code:
            return by_code[value], None
        named = by_name.get(value, [])
        if len(named) == 1:
            return named[0], None
        if named:
            return None, f"township “{value}” 对应多个单位，请用 code"
        return None, f"township “{value}” 不存在（可填乡镇/街道的 code，如 {next(iter(by_code), 'yongsheng')}，或完整名称）"
    return resolve


def _name_problem(column: str, value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return f"properties.{column} 不能为空"
    if len(value.strip()) > 60:
        return f"properties.{column} 太长（最多 60 个字）"
    if value.strip().startswith(_FORMULA_START):
        return f"properties.{column} 不能以 = + - @ 开头"
    return None


def _candidates(data: object) -> tuple[list[_Candidate], list[FeatureError]]:
    """The features that are valid on their own, and every problem, by feature."""
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        return [], [FeatureError(0, "", "文件应为 GeoJSON FeatureCollection（{\"type\": \"FeatureCollection\", \"features\": [...]}）")]
    crs = data.get("crs")  # RFC 7946 dropped it; older files name their datum here
    if isinstance(crs, dict) and "CRS84" not in json.dumps(crs) and "4326" not in json.dumps(crs):
        return [], [FeatureError(0, "", "坐标系应为 WGS-84（EPSG:4326 / CRS84）；请先把坐标换算为 WGS-84（见 docs/grids.md）")]
    if not data["features"]:
        return [], [FeatureError(0, "", "FeatureCollection 里没有任何 feature")]
    resolve = _resolver()
    out: list[_Candidate] = []
    errors: list[FeatureError] = []
    seen: dict[tuple, int] = {}
    for n, feature in enumerate(data["features"], start=1):
        props = feature.get("properties") if isinstance(feature, dict) else None
        props = props if isinstance(props, dict) else {}
        names = [props.get(k) for k in ("township", "community", "grid")]
        label = " / ".join(str(v).strip() for v in names if isinstance(v, str) and v.strip())
        problems: list[str] = []
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            errors.append(FeatureError(n, label, "应为 {\"type\": \"Feature\", \"properties\": …, \"geometry\": …}"))
            continue
        problems += [p for p in (_name_problem(c, v) for c, v in zip(("township", "community", "grid"), names)) if p]
        township = None
        if not problems:
            township, problem = resolve(names[0].strip())
            if problem:
                problems.append(problem)
        geometry = shape = None
        try:
            geometry = geo.geometry_from_geojson(feature.get("geometry"))
            shape = geo.check_valid(geometry)
        except geo.InvalidBoundary as err:
            problems.append(f"geometry：{err}")
        if problems:
            errors.extend(FeatureError(n, label, p) for p in problems)
            continue
        if township is not None:
            label = f"{township.name} / {names[1].strip()} / {names[2].strip()}"
        key = (township.id, names[1].strip(), names[2].strip())
        if key in seen:
            errors.append(FeatureError(n, label, f"与 feature {seen[key]} 是同一个网格（每个网格只能有一个 feature）"))
            continue
        seen[key] = n
        out.append(_Candidate(n, label, township, names[1].strip(), names[2].strip(), geometry, shape))
    return out, errors


# --- checks against the other grids ---------------------------------------------------------


def _existing_grids() -> dict[tuple, Grid]:
    rows = Grid.select(Grid, Community).join(Community)
    return {(g.community.township_id, g.community.name, g.name): g for g in rows}


def _grid_label(grid: Grid, townships: dict[int, str]) -> str:
    return f"{townships.get(grid.community.township_id, '')} / {grid.community.name} / {grid.name}"


def _check(candidates: list[_Candidate], existing: dict[tuple, Grid]) -> list[FeatureError]:
    """Overlaps and implausible distances of the candidates, against each other and against
    the grids they leave as they are."""
    errors: list[FeatureError] = []
    if not candidates:
        return errors
    townships = {t.id: t.name for t in Township.select(Township.id, Township.name)}
    replaced = {c.grid_id for c in candidates if c.grid_id}
    others = [g for g in existing.values() if g.id not in replaced]

    # Overlaps: one STRtree over every boundary the import leaves behind.
    shapes, owners = [], []  # owner: a candidate, or an existing grid
    for c in candidates:
        shapes.append(c.shape)
        owners.append(c)
    for g in others:
        if g.boundary:
            try:
                shapes.append(geo.shape_of(geo.parse_boundary(g.boundary)))
                owners.append(g)
            except geo.InvalidBoundary:
                continue  # stored before validation existed; it is ignored by routing too
    tree = geo.shapely_module().STRtree(shapes)
    pairs_a, pairs_b = tree.query(shapes[:len(candidates)], predicate="intersects")
    for i, j in zip(pairs_a.tolist(), pairs_b.tolist()):
        if i == j or (j < len(candidates) and j < i):
            continue  # itself, or a pair of candidates already seen the other way round
        a, b = shapes[i], shapes[j]
        overlap = a.intersection(b).area
        smaller = min(a.area, b.area)
        if overlap <= OVERLAP_TOLERANCE * smaller:
            continue
        c = owners[i]
        other = owners[j]
        who = (f"feature {other.feature}（{other.label}）" if isinstance(other, _Candidate)
               else f"已有网格“{_grid_label(other, townships)}”")
        errors.append(FeatureError(c.feature, c.label,
                                   f"与{who}重叠约 {geo.area_m2(a.intersection(b)):.0f} 平方米，"
                                   f"占较小网格面积的 {overlap / smaller:.1%}（最多允许 {OVERLAP_TOLERANCE:.0%}）"))

    # Distance from the township's other grids (their median centre).
    centres: dict[int, list[tuple[object, tuple[float, float]]]] = defaultdict(list)
    for c in candidates:
        centres[c.township.id].append((c, c.centre))
    for g in others:
        if g.center_lat is not None and g.center_lng is not None:
            centres[g.community.township_id].append((g, (g.center_lat, g.center_lng)))
    for c in candidates:
        rest = [p for owner, p in centres[c.township.id] if owner is not c]
        if len(rest) < FAR_MIN_OTHERS:
            continue
        mid = (statistics.median(p[0] for p in rest), statistics.median(p[1] for p in rest))
        lat, lng = c.centre
        km = geo.haversine_m(lat, lng, *mid) / 1000
        if km > FAR_KM:
            errors.append(FeatureError(c.feature, c.label,
                                       f"离{c.township.name}其他网格的中心约 {km:.0f} 公里（超过 {FAR_KM:g} 公里）："
                                       f"是否写错了乡镇/街道、写反了经纬度，或坐标不是 WGS-84？"))
    return errors


# --- applying -----------------------------------------------------------------------------


def _apply(candidates: list[_Candidate], existing: dict[tuple, Grid], result: GridImportResult) -> None:
    communities = {(c.township_id, c.name): c for c in Community.select()}
    for c in candidates:
        grid = existing.get((c.township.id, c.community, c.grid))
        if grid is None:
            community = communities.get((c.township.id, c.community))
            if community is None:
                kind = "neighborhood" if c.township.kind == "street" else "village"
                community = communities[(c.township.id, c.community)] = Community.create(
                    township=c.township, name=c.community, kind=kind)
                result.communities_created += 1
            grid = Grid.create(community=community, name=c.grid)
            result.grids_created += 1
        values = geometry_values(grid, c.geometry, None)
        if values:
            Grid.update(**values).where(Grid.id == grid.id).execute()
            result.boundaries_set += 1
        else:
            result.unchanged += 1


def import_grids(path_or_text: str | bytes | os.PathLike, *, dry_run: bool = False) -> GridImportResult:
    """Import grid boundaries from GeoJSON (a path, or the text or bytes themselves), all or nothing.

    :param dry_run: check everything and count what would change, then roll back.
    :raises GridImportFailed: any problem in the file; nothing was applied.
    """
    data = _read(path_or_text)
    result = GridImportResult(dry_run=dry_run)
    try:
        with write_tx():
            candidates, errors = _candidates(data)
            result.features = len(data.get("features") or []) if isinstance(data, dict) else 0
            existing = _existing_grids()
            for c in candidates:
                grid = existing.get((c.township.id, c.community, c.grid))
                c.grid_id = grid.id if grid else None
            errors += _check(candidates, existing)
            if errors:
                raise GridImportFailed(errors)
            _apply(candidates, existing, result)
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    return result


def save_geometry(grid: Grid, boundary_text: str | None, center: tuple[float, float] | None = None) -> Grid:
    """Set one grid's boundary (WKT or GeoJSON; empty text removes it) and, optionally, its
    centre, with the checks of :func:`import_grids` against every other grid.

    :raises geo.InvalidBoundary: the boundary is invalid, overlaps another grid or lies far
        from its township's other grids; the message says which (Chinese).
    """
    if boundary_text is None or not boundary_text.strip():
        return set_grid_geometry(grid, boundary_text, center)  # no boundary: nothing to compare
    geometry = geo.parse_boundary(boundary_text)
    community = Community.get_by_id(grid.community_id)
    township = Township.get_by_id(community.township_id)
    candidate = _Candidate(0, "", township, community.name, grid.name, geometry, geo.check_valid(geometry),
                           grid_id=grid.id)
    with write_tx():
        problems = _check([candidate], _existing_grids())
        if problems:
            raise geo.InvalidBoundary("；".join(p.message for p in problems))
        values = geometry_values(Grid.get_by_id(grid.id), geometry, center)
        if values:
            Grid.update(**values).where(Grid.id == grid.id).execute()
    return Grid.get_by_id(grid.id)


def format_result(result: GridImportResult) -> str:
    """A short bilingual summary of an import, for the command line."""
    head = "试运行，未写入任何数据 / dry run, nothing written" if result.dry_run else "导入完成 / import done"
    return "\n".join([
        f"{head}: {result.features} 个网格边界 / features",
        f"  新建村/社区 communities created: {result.communities_created}",
        f"  新建网格 grids created: {result.grids_created}",
        f"  边界已设置 boundaries set: {result.boundaries_set}, 未变 unchanged: {result.unchanged}",
    ])
