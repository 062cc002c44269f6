"""``tongxin import-grids``: GeoJSON grid boundaries, all or nothing, every error naming its
feature, and re-importing the same file changes nothing (CONTRACT §1, docs/grids.md)."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from miniapp_api.cli import main
from miniapp_api.db import database
from miniapp_api.models import Community
from miniapp_api.models import Grid
from tests.bridges.helpers import write_config
from tests.community.conftest import COUNTY
from tests.org.conftest import FEATURES
from tests.org.conftest import box
from tests.org.conftest import collection
from tests.org.conftest import feature
from tests.org.conftest import polygon


@pytest.fixture
def cli(app, settings_dict, tmp_path):
    """Run ``tongxin --config … ARGS`` on the test database; returns the click result."""
    cfg = write_config(tmp_path / "tongxin.toml", settings_dict)

    def run(*args: str):
        result = CliRunner().invoke(main, ["--config", str(cfg), *args])
        database.connect(reuse_if_open=True)  # the command closed the connection it used
        return result
    return run


def snapshot() -> list:
    """Every community and grid row, to show that nothing at all changed."""
    return [list(m.select().order_by(m.id).tuples()) for m in (Community, Grid)]


def write(tmp_path, features: list, name: str = "grids.geojson"):
    path = tmp_path / name
    path.write_text(collection(features), encoding="utf-8")
    return str(path)


def test_import_dry_run_and_reimport(cli, tmp_path):
    path = write(tmp_path, FEATURES)
    dry = cli("import-grids", path, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "试运行" in dry.output and "新建网格 grids created: 5" in dry.output
    assert Grid.select().count() == 0  # a dry run writes nothing

    done = cli("import-grids", path)
    assert done.exit_code == 0, done.output
    assert "新建村/社区 communities created: 4" in done.output and "boundaries set: 5" in done.output
    first = Grid.get(Grid.name == "第1网格")
    assert json.loads(first.boundary)["type"] == "Polygon"
    assert (first.center_lat, first.center_lng) == pytest.approx((43.345, 125.305))  # its centre
    assert Community.get(Community.name == "东尖山村").kind == "village"  # of a town
    assert Community.get(Community.name == "东风社区").kind == "neighborhood"  # of a street

    before = snapshot()
    again = cli("import-grids", path)
    assert again.exit_code == 0, again.output
    assert "boundaries set: 0, 未变 unchanged: 5" in again.output
    assert snapshot() == before


def test_a_changed_boundary_is_replaced_and_keeps_a_centre_inside_it(cli, tmp_path):
    assert cli("import-grids", write(tmp_path, FEATURES)).exit_code == 0
    grown = [feature("yongsheng", "东风社区", "第1网格", polygon(box(125.300, 43.335, 125.310, 43.350)))]
    out = cli("import-grids", write(tmp_path, grown, "grown.geojson"))
    assert out.exit_code == 0 and "boundaries set: 1" in out.output
    g = Grid.get(Grid.name == "第1网格")
    assert json.loads(g.boundary)["coordinates"][0][0] == [125.3, 43.335]
    assert (g.center_lat, g.center_lng) == pytest.approx((43.345, 125.305))  # still inside: kept


def test_every_error_names_its_feature_and_nothing_is_applied(cli, tmp_path):
    assert cli("import-grids", write(tmp_path, FEATURES[:4])).exit_code == 0
    before = snapshot()
    bowtie = polygon([[125.50, 43.50], [125.51, 43.51], [125.51, 43.50], [125.50, 43.51], [125.50, 43.50]])
    bad = [
        feature("yongsheng", "东风社区", "第3网格", polygon(box(125.320, 43.350, 125.330, 43.360))),  # fine
        feature("yongsheng", "东风社区", "第4网格", bowtie),
        feature("atlantis", "海底村", "一组", polygon(box(125.0, 43.0, 125.01, 43.01))),
        feature("yongsheng", "东风社区", "第5网格", polygon(box(125.305, 43.340, 125.315, 43.350))),  # half on 第1, 第2
        feature("yongsheng", "东风社区", "第3网格", polygon(box(125.320, 43.360, 125.330, 43.370))),  # twice
        feature("yongsheng", "东风社区", "远方网格", polygon(box(126.300, 43.340, 126.310, 43.350))),  # 80 km east
        feature("yongsheng", "", "无名网格", polygon(box(125.35, 43.34, 125.36, 43.35))),
        {"type": "Feature", "properties": {"township": "yongsheng", "community": "东风社区", "grid": "点"},
         "geometry": {"type": "Point", "coordinates": [125.3, 43.3]}},
    ]
    out = cli("import-grids", write(tmp_path, bad, "bad.geojson"))
    assert out.exit_code == 1
    assert "未做任何修改" in out.output
    lines = [line for line in out.output.splitlines() if line.startswith("feature ")]
    assert [line.split(":")[0] for line in lines] == [
        "feature 2 (yongsheng / 东风社区 / 第4网格)",
        "feature 3 (atlantis / 海底村 / 一组)",
        "feature 4 (永盛街道 / 东风社区 / 第5网格)",
        "feature 4 (永盛街道 / 东风社区 / 第5网格)",
        "feature 5 (永盛街道 / 东风社区 / 第3网格)",
        "feature 6 (永盛街道 / 东风社区 / 远方网格)",
        "feature 7 (yongsheng / 无名网格)",
        "feature 8 (yongsheng / 东风社区 / 点)",
    ]
    text = "\n".join(lines)
    assert "自相交" in lines[0] and "atlantis" in lines[1] and "不存在" in lines[1]
    assert "已有网格“永盛街道 / 东风社区 / 第1网格”重叠" in lines[2] and "第2网格”重叠" in lines[3]
    assert "与 feature 1 是同一个网格" in lines[4]
    assert "公里" in lines[5] and "WGS-84" in lines[5]
    assert "community 不能为空" in lines[6] and "Polygon 或 MultiPolygon" in lines[7]
    assert "50.0%" in text and "最多允许 1%" in text
    assert snapshot() == before  # all or nothing: feature 1 was fine, and is not applied either


def test_an_overlap_within_the_tolerance_is_accepted(cli, tmp_path):
    assert cli("import-grids", write(tmp_path, FEATURES)).exit_code == 0
    # 第3网格 reaches 0.00005° (0.5 % of its width) into 一组网格: a digitising sliver.
    sliver = [feature("yitong", "东尖山村", "二组网格", polygon(box(125.32995, 43.340, 125.340, 43.350)))]
    out = cli("import-grids", write(tmp_path, sliver, "sliver.geojson"))
    assert out.exit_code == 0, out.output
    two = [feature("yitong", "东尖山村", "三组网格", polygon(box(125.3395, 43.340, 125.350, 43.350)))]
    refused = cli("import-grids", write(tmp_path, two, "two.geojson"))
    assert refused.exit_code == 1 and "重叠" in refused.output and "二组网格" in refused.output


@pytest.mark.parametrize("content,words", [
    ("{nope", "不是有效的 JSON"),
    ('{"type": "Feature"}', "FeatureCollection"),
    ('{"type": "FeatureCollection", "features": []}', "没有任何 feature"),
    ('{"type": "FeatureCollection", "features": [], "crs": {"type": "name", "properties": {"name": "EPSG:3857"}}}',
     "WGS-84"),
])
def test_a_file_that_is_not_a_feature_collection(cli, tmp_path, content, words):
    path = tmp_path / "x.geojson"
    path.write_text(content, encoding="utf-8")
    out = cli("import-grids", str(path))
    assert out.exit_code == 1 and words in out.output, out.output


def test_the_admin_api_runs_the_same_checks(cli, client, tmp_path):
    assert cli("import-grids", write(tmp_path, FEATURES)).exit_code == 0
    second = Grid.get(Grid.name == "第2网格")
    over = "POLYGON ((125.300 43.340, 125.315 43.340, 125.315 43.350, 125.300 43.350, 125.300 43.340))"
    resp = client.put(f"/api/v1/admin/grids/{second.id}/geometry", json={"boundary": over}, headers=COUNTY)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "invalid_boundary"
    assert "第1网格" in resp.get_json()["error"]["message"]
    assert Grid.get_by_id(second.id).boundary == second.boundary
    ok = "POLYGON ((125.310 43.340, 125.320 43.340, 125.320 43.352, 125.310 43.352, 125.310 43.340))"
    resp = client.put(f"/api/v1/admin/grids/{second.id}/geometry", json={"boundary": ok}, headers=COUNTY)
    assert resp.status_code == 200, resp.get_json()
