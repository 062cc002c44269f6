"""The roster import never reads a server file from what a console user typed, checks a unit
administrator's scope on the rows themselves, audits dry runs, never echoes a file's content,
and refuses a mobile number shared by two officials (issue #14, security 1 and import-org)."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from miniapp_api.cli import main as tongxin
from miniapp_api.db import database
from miniapp_api.models import Official
from miniapp_api.models.console import AuditEntry
from miniapp_api.org.roster_import import HEADER
from miniapp_api.org.roster_import import ImportFailed
from miniapp_api.org.roster_import import import_org
from tests.bridges.helpers import write_config

HEAD = ",".join(HEADER)
SECRET = "TONGXIN_TEST_SECRET=hunter2-do-not-show"
COUNTY_ROSTER = (f"{HEAD}\n"
                 "yongsheng,人民社区,第一网格,王永盛,grid_leader,A,ys-a,13900000001\n"
                 "yongning,新华社区,一网格,赵永宁,grid_leader,A,yn-a,13900000003\n")


def preview(c, text: str, mode: str = "preview"):
    return c.post("/console/roster/import", {"mode": mode, "csv_text": text})


@pytest.fixture
def secret_file(tmp_path):
    """A server file whose first line is a secret (like /proc/self/environ or a password file)."""
    path = tmp_path / "admin-password.txt"
    path.write_text(SECRET + "\nsecond line\n", encoding="utf-8")
    return path


@pytest.fixture
def county_file(tmp_path):
    """A county-wide roster lying on the server."""
    path = tmp_path / "county.csv"
    path.write_text(COUNTY_ROSTER, encoding="utf-8")
    return path


def test_a_path_typed_into_the_console_is_never_read(console, db, secret_file):
    c = console("county")
    for text in (str(secret_file), "/proc/self/environ"):
        resp = preview(c, text)
        body = resp.get_data(as_text=True)
        assert resp.status_code == 422 and "表头应为" in body
        assert "hunter2" not in body and "PATH=" not in body and str(secret_file) not in body
    assert Official.select().count() == 0


def test_the_header_error_never_echoes_the_first_line(console, db):
    with pytest.raises(ImportFailed) as info:
        import_org(SECRET + "\nx,y\n")
    message = str(info.value)
    assert "hunter2" not in message and "TONGXIN_TEST_SECRET" not in message
    assert "第 1 列应为 township" in message
    body = preview(console("county"), SECRET + "\n").get_data(as_text=True)
    assert "hunter2" not in body and "第 1 列应为 township" in body


def test_text_and_paths_are_different_parameters(app, db, secret_file, county_file):
    # A one-line string is CSV text, whatever it looks like; files come only through path=.
    with pytest.raises(ImportFailed) as info:
        import_org(str(county_file), dry_run=True)
    assert [e.line for e in info.value.errors] == [1]
    assert import_org(path=county_file, dry_run=True).officials_created == 2
    with pytest.raises(TypeError):
        import_org(county_file)  # a path given where the text goes
    with pytest.raises(TypeError):
        import_org(COUNTY_ROSTER, path=county_file)


def test_unit_scope_is_checked_on_the_rows(console, db, county_file):
    c = console("yn_admin")
    # Naming a county-wide file on the server no longer previews (or imports) it.
    for mode in ("preview", "apply"):
        resp = preview(c, str(county_file), mode)
        assert resp.status_code == 422 and "王永盛" not in resp.get_data(as_text=True)
    # The rows of another unit are refused by line, however the unit is written.
    text = COUNTY_ROSTER + "永盛街道,人民社区,第二网格,李永盛,grid_leader,A,,\n"
    resp = preview(c, text, "apply")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "第 2 行：只能导入本单位（永宁街道）的数据" in body and "第 4 行：只能导入本单位（永宁街道）的数据" in body
    assert "第 3 行" not in body
    assert Official.select().count() == 0
    mine = f"{HEAD}\nyongning,新华社区,一网格,赵永宁,grid_leader,A,yn-a,13900000003\n"
    assert preview(c, mine, "apply").status_code == 302
    assert [o.name for o in Official.select()] == ["赵永宁"]


def test_dry_runs_are_audited(console, db):
    c = console("ys_admin")
    ok = f"{HEAD}\nyongsheng,人民社区,第一网格,王永盛,grid_leader,A,ys-a,13900000001\n"
    assert preview(c, ok).status_code == 200
    entry = AuditEntry.get(AuditEntry.action == "roster.preview")
    assert entry.actor == "ys_admin" and entry.township == "yongsheng" and entry.after["officials_created"] == 1
    assert preview(c, "/etc/passwd").status_code == 422
    refused = AuditEntry.get(AuditEntry.action == "roster.import_refused")
    assert refused.after == {"dry_run": True, "errors": 1}
    assert Official.select().count() == 0
    assert "预览花名册导入" in c.text("/console/audit")


def test_a_duplicate_mobile_is_refused_with_its_lines(app, settings_dict, tmp_path, db):
    roster = tmp_path / "roster.csv"
    roster.write_text(f"{HEAD}\n"
                      "yongsheng,人民社区,第一网格,王永盛,grid_leader,A,,13900000001\n"
                      "yongsheng,人民社区,第一网格,李备岗,grid_worker,B,,139 0000 0002\n"
                      "yongning,新华社区,一网格,赵永宁,grid_leader,A,,+86 139-0000-0001\n", encoding="utf-8")
    config = write_config(tmp_path / "tongxin.toml", settings_dict)
    result = CliRunner().invoke(tongxin, ["--config", str(config), "import-org", str(roster)])
    database.connect(reuse_if_open=True)
    assert result.exit_code == 1
    assert "line 4: mobile “13900000001” 同时属于多名人员：王永盛（第 2 行）、赵永宁（第 4 行）" in result.output
    assert Official.select().count() == 0
    # Against the officials already imported, too.
    roster.write_text(f"{HEAD}\nyongsheng,人民社区,第一网格,王永盛,grid_leader,A,,13900000001\n", encoding="utf-8")
    assert CliRunner().invoke(tongxin, ["--config", str(config), "import-org", str(roster)]).exit_code == 0
    roster.write_text(f"{HEAD}\nyongning,新华社区,一网格,赵永宁,grid_leader,A,,13900000001\n", encoding="utf-8")
    result = CliRunner().invoke(tongxin, ["--config", str(config), "import-org", str(roster)])
    database.connect(reuse_if_open=True)
    assert result.exit_code == 1 and "王永盛（系统中已有的人员）" in result.output
    assert [o.name for o in Official.select()] == ["王永盛"]


def test_full_width_digits_are_no_mobile(app, db):
    # \d matched them: a mobile of full-width digits was stored, and never matched DingTalk's.
    with pytest.raises(ImportFailed) as info:
        import_org(f"{HEAD}\nyongsheng,人民社区,第一网格,王永盛,grid_leader,A,,13９０００００００１\n")
    assert [e.line for e in info.value.errors] == [2] and "mobile" in info.value.errors[0].message
