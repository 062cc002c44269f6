"""``import-org``: the roster CSV of communities, grids and officials — all or nothing,
idempotent, every problem named by its line (line 1 is the header)."""
from __future__ import annotations

from pathlib import Path

import pytest

from miniapp_api import migrations
from miniapp_api.config import parse_settings
from miniapp_api.db import bind
from miniapp_api.db import database
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Township
from miniapp_api.org.roster_import import HEADER
from miniapp_api.org.roster_import import ImportFailed
from miniapp_api.org.roster_import import ImportResult
from miniapp_api.org.roster_import import export_org
from miniapp_api.org.roster_import import format_result
from miniapp_api.org.roster_import import import_org
from miniapp_api.seed import apply_config
from tests.conftest import make_settings_dict

ROSTER = Path(__file__).parent / "fixtures" / "org_roster.csv"
HEAD = ",".join(HEADER)


@pytest.fixture
def org_db(db_url, tmp_path):
    """A migrated database holding the test config's townships (two streets, one town)."""
    bind(db_url)
    database.connect(reuse_if_open=True)
    migrations.upgrade()
    apply_config(parse_settings(make_settings_dict(db_url, tmp_path, "http://127.0.0.1:9")))
    yield
    if not database.is_closed():
        database.close()


def csv_text(*rows: str) -> str:
    return "\n".join((HEAD, *rows)) + "\n"


def counts() -> tuple[int, int, int]:
    return Community.select().count(), Grid.select().count(), Official.select().count()


def snapshot() -> list:
    """Every row of the organisation tables, to show that nothing at all changed."""
    return [list(m.select().order_by(m.id).tuples()) for m in (Community, Grid, Official)]


def official(name: str) -> Official:
    return Official.get(Official.name == name)


def failure(text=None, **kw) -> ImportFailed:
    before = snapshot()
    with pytest.raises(ImportFailed) as info:
        import_org(text, **kw)
    assert snapshot() == before  # nothing of the file was applied
    return info.value


def messages_on(err: ImportFailed, line: int) -> str:
    return " | ".join(e.message for e in err.errors if e.line == line)


# --- success ------------------------------------------------------------------------------

def test_import_creates_the_organisation(org_db):
    result = import_org(path=ROSTER)
    assert (result.rows, result.communities_created, result.grids_created) == (7, 2, 4)
    assert (result.officials_created, result.officials_updated, result.officials_unchanged) == (6, 0, 0)
    assert result.errors == [] and result.ok

    renmin = Community.get(Community.name == "人民社区")
    assert renmin.township.code == "yongsheng" and renmin.kind == "neighborhood"  # a street's
    assert Community.get(Community.name == "东尖山村").kind == "village"  # a town's
    zhang = official("张伟")
    assert (zhang.township.code, zhang.community.name, zhang.grid.name) == ("yongsheng", "人民社区", "第一网格")
    assert (zhang.role, zhang.duty_post, zhang.dingtalk_user_id, zhang.mobile) == ("grid_leader", "A", "dt-zhangwei", "13800000001")
    assert official("王芳").mobile == "" and official("刘洋").dingtalk_user_id is None
    zhao = official("赵磊")
    assert zhao.role == "township_staff" and zhao.community is None and zhao.grid is None
    assert zhao.township.code == "yitong"


def test_reimporting_the_same_file_changes_nothing(org_db):
    import_org(path=ROSTER)
    before = snapshot()
    result = import_org(path=ROSTER)
    assert snapshot() == before
    assert (result.communities_created, result.grids_created, result.officials_created, result.officials_updated) == (0, 0, 0, 0)
    assert result.officials_unchanged == 6


def test_changed_fields_are_updated_in_place(org_db):
    import_org(path=ROSTER)
    zhang_id = official("张伟").id
    text = ROSTER.read_text(encoding="utf-8").replace("A,dt-zhangwei,13800000001", "A,dt-zhangwei-2,13900000001")
    result = import_org(text)
    assert (result.officials_created, result.officials_updated, result.officials_unchanged) == (0, 1, 5)
    zhang = Official.get_by_id(zhang_id)
    assert (zhang.dingtalk_user_id, zhang.mobile) == ("dt-zhangwei-2", "13900000001")


def test_file_with_bom_is_read(org_db, tmp_path):
    path = tmp_path / "roster.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ROSTER.read_bytes())
    assert import_org(path=path).officials_created == 6
    assert import_org("\ufeff" + ROSTER.read_text(encoding="utf-8")).officials_unchanged == 6


def test_crlf_blank_lines_and_spaces_are_tolerated(org_db):
    text = (HEAD + "\r\n" + " yongsheng , 人民社区 ,第一网格, 张伟 ,grid_leader,a,dt-zhangwei, 138 0000 0001\r\n"
            + "\r\n,,,,,,,\r\n" + "yongsheng,人民社区,第一网格,李娜,grid_worker,B,,+86 13800000002\r\n")
    result = import_org(text)
    assert result.officials_created == 2
    assert (official("张伟").duty_post, official("张伟").mobile) == ("A", "13800000001")
    assert official("李娜").mobile == "13800000002"


def test_empty_official_name_creates_only_the_grid(org_db):
    result = import_org(csv_text("yongning,新华社区,第三网格,,,,,"))
    assert (result.communities_created, result.grids_created, result.officials_created) == (1, 1, 0)
    assert Grid.get(Grid.name == "第三网格").community.township.code == "yongning"
    assert Official.select().count() == 0


def test_township_by_code_or_by_name(org_db):
    import_org(csv_text("yitong,西村,一网格,甲,grid_leader,A,,", "伊通镇,西村,一网格,乙,grid_worker,B,,"))
    assert official("甲").township.code == official("乙").township.code == "yitong"
    assert official("甲").grid_id == official("乙").grid_id  # same community and grid, not duplicates
    assert Community.select().count() == 1


def test_dry_run_applies_nothing_and_counts_what_would_change(org_db):
    before = counts()
    dry = import_org(path=ROSTER, dry_run=True)
    assert counts() == before == (0, 0, 0)
    assert dry.dry_run and (dry.communities_created, dry.grids_created, dry.officials_created) == (2, 4, 6)
    real = import_org(path=ROSTER)
    assert (real.communities_created, real.grids_created, real.officials_created) == (2, 4, 6)


def test_dry_run_still_reports_errors(org_db):
    err = failure(csv_text("yongsheng,人民社区,第一网格,张伟,boss,A,,"), dry_run=True)
    assert "role" in messages_on(err, 2)


def test_a_post_can_move_within_one_file(org_db):
    import_org(path=ROSTER)
    text = (ROSTER.read_text(encoding="utf-8")
            .replace("张伟,grid_leader,A", "张伟,grid_leader,B").replace("李娜,grid_worker,B", "李娜,grid_worker,A"))
    assert import_org(text).officials_updated == 2
    assert (official("张伟").duty_post, official("李娜").duty_post) == ("B", "A")


def test_export_round_trips(org_db):
    import_org(path=ROSTER)
    exported = export_org()
    assert exported.splitlines()[0] == HEAD
    assert "yitong,东尖山村,二组网格,,,,," in exported.splitlines()  # a grid without officials
    before = snapshot()
    result = import_org(exported)
    assert snapshot() == before and result.officials_unchanged == 6


def test_format_result_summarises(org_db):
    text = format_result(import_org(path=ROSTER, dry_run=True))
    assert "dry run" in text and "grids created: 4" in text and "created 6" in text
    err = failure(csv_text("yongsheng,人民社区,第一网格,张伟,boss,A,,"))
    assert "line 2" in format_result(err.result) and "nothing applied" in format_result(err.result)


# --- refused files: nothing applied -------------------------------------------------------

def test_bad_role_on_line_5_names_line_5_and_applies_nothing(org_db):
    text = csv_text(
        "yongsheng,人民社区,第一网格,张伟,grid_leader,A,dt-1,13800000001",  # line 2
        "yongsheng,人民社区,第一网格,李娜,grid_worker,B,dt-2,13800000002",  # line 3
        "yongsheng,人民社区,第二网格,王芳,grid_leader,A,dt-3,",              # line 4
        "yongsheng,人民社区,第二网格,刘洋,网格长,B,,",                        # line 5
    )
    assert counts() == (0, 0, 0)
    err = failure(text)
    assert [e.line for e in err.errors] == [5]
    assert "role" in err.errors[0].message and "网格长" in err.errors[0].message
    assert counts() == (0, 0, 0)


def test_every_bad_row_is_reported_at_once(org_db):
    err = failure(csv_text(
        "atlantis,人民社区,第一网格,张伟,grid_leader,A,,",         # 2 unknown township
        "yongsheng,人民社区,第一网格,李娜,grid_worker,C,,12345",    # 3 duty post and mobile
        "yongsheng,,,王芳,grid_leader,,,",                          # 4 grid role without grid
        "yongsheng,人民社区,第一网格,刘洋,grid_worker",             # 5 too few columns
        "yongsheng,,第一网格,,,,,",                                 # 6 grid without community
        "yongsheng,人民社区,第一网格,,,A,,",                        # 7 grid-only row with a duty post
        "yongsheng,人民社区,第一网格,=HYPERLINK(1),grid_worker,,,",  # 8 formula
        f"yongsheng,人民社区,第一网格,赵,grid_worker,,{'x' * 65},",  # 9 id too long
        "yongsheng,人民社区,第一网格,钱,,,,",                        # 10 no role
    ))
    assert sorted({e.line for e in err.errors}) == [2, 3, 4, 5, 6, 7, 8, 9, 10]
    assert "atlantis" in messages_on(err, 2)
    assert "duty_post" in messages_on(err, 3) and "mobile" in messages_on(err, 3)
    assert "grid" in messages_on(err, 4)
    assert "8 列" in messages_on(err, 5)
    assert "community" in messages_on(err, 6)
    assert "duty_post" in messages_on(err, 7)
    assert "=" in messages_on(err, 8)
    assert "dingtalk_user_id" in messages_on(err, 9)
    assert "role" in messages_on(err, 10)


def test_line_numbers_count_physical_lines(org_db):
    # A quoted cell spanning two lines: the bad row after it is still on line 4.
    err = failure(HEAD + '\nyongsheng,"人民\n社区",第一网格,张伟,grid_leader,,,\nyongsheng,人民社区,第一网格,李娜,boss,,,\n')
    assert [e.line for e in err.errors] == [4]


@pytest.mark.parametrize("text,fragment", [
    ("", "表头"),
    ("township,community,grid,name,role,duty_post,dingtalk_user_id,mobile\n", "表头"),
    ("yongsheng,人民社区,第一网格,张伟,grid_leader,A,,\n", "表头"),
    ("community,township,grid,official_name,role,duty_post,dingtalk_user_id,mobile\nx\n", "表头"),
])
def test_wrong_or_missing_header(org_db, tmp_path, text, fragment):
    path = tmp_path / "bad.csv"
    path.write_text(text, encoding="utf-8")
    err = failure(path=path)
    assert [e.line for e in err.errors] == [1] and fragment in err.errors[0].message


def test_duplicate_rows_are_refused(org_db):
    err = failure(csv_text(
        "yongsheng,人民社区,第一网格,张伟,grid_leader,A,,",
        "yongsheng,人民社区,第一网格,李娜,grid_worker,B,,",
        "永盛街道,人民社区,第一网格,张伟,grid_leader,A,,",  # the same official, township by name
    ))
    assert [e.line for e in err.errors] == [4] and "第 2 行" in err.errors[0].message


def test_same_dingtalk_id_on_two_officials_in_the_file(org_db):
    err = failure(csv_text(
        "yongsheng,人民社区,第一网格,张伟,grid_leader,A,dt-same,",
        "yongsheng,人民社区,第二网格,李娜,grid_leader,A,dt-same,",
    ))
    assert [e.line for e in err.errors] == [3]
    assert "dt-same" in err.errors[0].message and "张伟" in err.errors[0].message


def test_dingtalk_id_already_held_by_another_official(org_db):
    import_org(path=ROSTER)
    err = failure(csv_text("yongning,新华社区,第一网格,周明,grid_leader,,dt-zhangwei,"))
    assert [e.line for e in err.errors] == [2] and "张伟" in err.errors[0].message


def test_two_a_posts_in_one_grid(org_db):
    err = failure(csv_text(
        "yongsheng,人民社区,第一网格,张伟,grid_leader,A,,",
        "yongsheng,人民社区,第一网格,李娜,grid_worker,A,,",
    ))
    assert [e.line for e in err.errors] == [3] and "A 岗" in err.errors[0].message


def test_second_a_post_next_to_an_existing_one(org_db):
    import_org(path=ROSTER)  # 张伟 holds A in 人民社区/第一网格
    err = failure(csv_text("yongsheng,人民社区,第一网格,孙丽,grid_worker,A,,"))
    assert [e.line for e in err.errors] == [2]
    assert "张伟" in err.errors[0].message and "孙丽" in err.errors[0].message


def test_two_a_posts_in_one_community(org_db):
    # Each village or community has one 村（社区）网格长 on its A post; a grid's A post below it
    # and a B post beside it are no conflict.
    err = failure(csv_text(
        "yongsheng,人民社区,,周敏,community_leader,A,,",
        "yongsheng,人民社区,第一网格,张伟,grid_leader,A,,",
        "yongsheng,人民社区,,吴刚,community_leader,B,,",
        "yongsheng,人民社区,,郑洁,community_leader,A,,",
    ))
    assert [e.line for e in err.errors] == [5], err.errors
    message = err.errors[0].message
    assert "人民社区" in message and "周敏（第 2 行）" in message and "郑洁（第 5 行）" in message
    assert "A 岗" in message and "张伟" not in message


def test_one_a_post_per_community_holds_across_communities_and_imports(org_db):
    import_org(text=csv_text("yongsheng,人民社区,,周敏,community_leader,A,,",
                             "yongsheng,人民社区,,吴刚,community_leader,B,,",
                             "yitong,东尖山村,,郑洁,community_leader,A,,"))
    # Re-importing the same posts changes nothing; a second A beside the stored one is refused.
    assert import_org(text=csv_text("yongsheng,人民社区,,周敏,community_leader,A,,")).officials_unchanged == 1
    err = failure(csv_text("yongsheng,人民社区,,孙丽,community_leader,A,,"))
    assert [e.line for e in err.errors] == [2]
    assert "周敏（系统中已有的人员）" in err.errors[0].message and "孙丽" in err.errors[0].message
    # Moving the A post is done by making the old holder B in the same file.
    result = import_org(text=csv_text("yongsheng,人民社区,,周敏,community_leader,B,,",
                                      "yongsheng,人民社区,,孙丽,community_leader,A,,"))
    assert result.officials_created == 1 and result.officials_updated == 1
    assert official("孙丽").duty_post == "A" and official("周敏").duty_post == "B"


def test_one_a_post_per_township_department_and_county(org_db):
    # The duty ladder asks the A post of a report's level; two at one level would leave it to
    # chance which one is asked. B posts beside them, and another township's A, are no conflict.
    err = failure(csv_text(
        "yongsheng,,,甲,township_staff,A,,",
        "yongsheng,,,乙,township_staff,B,,",
        "yongsheng,,,丙,township_staff,A,,",
        "yitong,,,丁,township_staff,A,,",
        "chengguan,,,戊,department_staff,A,,",
        "chengguan,,,己,department_staff,A,,",
        "county,,,庚,county_staff,A,,",
        "county,,,辛,county_staff,A,,",
    ))
    assert sorted(e.line for e in err.errors) == [4, 7, 9], err.errors
    messages = {e.line: e.message for e in err.errors}
    assert "甲（第 2 行）" in messages[4] and "丙（第 4 行）" in messages[4] and "乙" not in messages[4]
    assert "戊（第 6 行）" in messages[7] and "己（第 7 行）" in messages[7]
    assert "县指挥中心" in messages[9] and "庚（第 8 行）" in messages[9] and "辛（第 9 行）" in messages[9]


def test_a_second_township_a_post_next_to_a_stored_one_is_refused_and_moving_it_works(org_db):
    import_org(text=csv_text("yongsheng,,,甲,township_staff,A,,", "county,,,庚,county_staff,A,,"))
    err = failure(csv_text("yongsheng,,,丙,township_staff,A,,", "county,,,辛,county_staff,A,,"))
    assert sorted(e.line for e in err.errors) == [2, 3]
    assert all("（系统中已有的人员）" in e.message for e in err.errors)
    result = import_org(text=csv_text("yongsheng,,,甲,township_staff,B,,", "yongsheng,,,丙,township_staff,A,,"))
    assert result.officials_created == 1 and result.officials_updated == 1
    assert official("丙").duty_post == "A" and official("甲").duty_post == "B"


def test_file_not_in_utf8_is_refused(org_db, tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes(csv_text("yongsheng,人民社区,第一网格,张伟,grid_leader,A,,").encode("gbk"))
    err = failure(path=path)
    assert [e.line for e in err.errors] == [2] and "UTF-8" in err.errors[0].message


def test_missing_file_is_reported(org_db, tmp_path):
    err = failure(path=tmp_path / "nope.csv")
    assert err.errors[0].line == 0 and "nope.csv" in err.errors[0].message


def test_result_of_a_failure_carries_the_errors(org_db):
    err = failure(csv_text("yongsheng,人民社区,第一网格,张伟,boss,A,,"))
    assert isinstance(err.result, ImportResult) and err.result.errors == err.errors and not err.result.ok
    assert Township.select().count() == 3  # the config's units are untouched
