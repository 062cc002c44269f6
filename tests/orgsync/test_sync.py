"""``tongxin sync-dingtalk`` against the fake organisation over real HTTP: 1,600 members, some
unmatched, one conflict, one leaver; all or nothing; a token that expires in the middle."""
from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner

from miniapp_api.cli import main
from miniapp_api.config import parse_settings
from miniapp_api.models import Official
from miniapp_api.models import Township
from miniapp_api.models.dingtalk import OrgSyncRun
from miniapp_api.org.sync import SyncFailed
from miniapp_api.org.sync import format_result
from miniapp_api.org.sync import sync_dingtalk
from tests.bridges.helpers import write_config

USERS = 1600
WITHOUT_OFFICIAL = 10  # the last ten members have no official in the roster
DEPARTMENTS = 13


def mobile(i: int) -> str:
    return f"139{i:08d}"


def build_org(fake_app) -> None:
    depts = [fake_app.add_department(f"第{i}单位")["id"] for i in range(1, DEPARTMENTS + 1)]
    with fake_app.state.lock:
        for i in range(1, USERS + 1):
            fake_app.add_user(f"成员{i}", mobile(i), [depts[i % DEPARTMENTS]])
    # One member sits in two departments: counted once.
    fake_app.change_user("u00007", department=[depts[0], depts[1]])


def build_roster() -> dict[str, Official]:
    """1,590 officials matching members by mobile, one sharing a mobile (the conflict), one who
    left the organisation, two whose mobiles DingTalk does not know."""
    towns = list(Township.select().order_by(Township.id))
    rows = [{"township": towns[i % len(towns)].id, "name": f"成员{i}", "role": "grid_worker", "mobile": mobile(i)}
            for i in range(1, USERS - WITHOUT_OFFICIAL + 1)]
    for chunk in range(0, len(rows), 500):
        Official.insert_many(rows[chunk:chunk + 500]).execute()
    t = towns[0]
    return {
        "twin": Official.create(township=t, name="同号人员", role="grid_worker", mobile=mobile(5)),
        "leaver": Official.create(township=t, name="已离职", role="grid_worker", mobile="13800009999",
                                  dingtalk_user_id="gone-1"),
        "stranger1": Official.create(township=t, name="未入钉钉甲", role="township_staff", mobile="13700000001"),
        "stranger2": Official.create(township=t, name="未入钉钉乙", role="township_staff", mobile="13700000002"),
    }


def linked() -> int:
    return Official.select().where(Official.dingtalk_user_id.is_null(False)).count()


@pytest.fixture
def org(db, fake_app):
    build_org(fake_app)
    return build_roster()


def test_a_conflict_applies_nothing_and_reports_everything(settings, org, fake_app):
    with pytest.raises(SyncFailed) as err:
        sync_dingtalk(settings=settings)
    r = err.value.result
    assert (r.users, r.departments) == (USERS, DEPARTMENTS + 1)
    assert r.matched == USERS - WITHOUT_OFFICIAL - 1  # member 5 matches two officials
    assert r.filled == r.matched and r.unchanged == 0
    assert r.unmatched_users == WITHOUT_OFFICIAL
    assert {s["user_id"] for s in r.unmatched_user_samples} == {f"u{i:05d}" for i in range(1591, 1601)}
    assert r.unmatched_officials == 2
    assert r.left == 1 and r.left_samples[0]["name"] == "已离职"
    assert len(r.conflicts) == 1
    c = r.conflicts[0]
    assert c.kind == "officials_share_mobile" and c.user_ids == ["u00005"] and len(c.official_ids) == 2
    assert "139****0005" in c.message and "13900000005" not in c.message  # masked
    assert not r.applied
    # All or nothing: not one id filled, the leaver still active.
    assert linked() == 1
    assert Official.get_by_id(org["leaver"].id).active
    run = OrgSyncRun.select().order_by(OrgSyncRun.id.desc()).first()
    assert (run.applied, run.dry_run, run.summary["left"]) == (False, False, 1)


def test_dry_run_reports_and_writes_nothing(settings, org):
    r = sync_dingtalk(dry_run=True, settings=settings)
    assert r.dry_run and not r.applied and len(r.conflicts) == 1 and r.filled == USERS - WITHOUT_OFFICIAL - 1
    assert linked() == 1
    text = format_result(r)
    assert "试运行" in text and "冲突 conflicts: 1" in text


def test_once_fixed_it_applies_keeps_history_and_follows_changes(settings, org, fake_app):
    Official.update(mobile="13600000000").where(Official.id == org["twin"].id).execute()
    r = sync_dingtalk(settings=settings)
    assert r.applied and r.ok
    assert (r.matched, r.filled, r.left, r.unmatched_users, r.unmatched_officials) == (1590, 1590, 1, 10, 3)
    assert Official.get(Official.mobile == mobile(42)).dingtalk_user_id == "u00042"
    leaver = Official.get_by_id(org["leaver"].id)
    assert not leaver.active and leaver.left_org_at is not None  # kept, marked inactive
    assert leaver.dingtalk_user_id == "gone-1"

    again = sync_dingtalk(settings=settings)  # idempotent
    assert (again.filled, again.unchanged, again.left, again.reactivated) == (0, 1590, 0, 0)

    # Someone changes phone, someone leaves, the leaver comes back.
    fake_app.change_user("u00010", mobile="13500000010")
    fake_app.remove_user("u00011")
    fake_app.add_user("已离职", "13800009999", [1], "gone-1")
    r = sync_dingtalk(settings=settings)
    assert r.applied
    assert r.left == 1 and not Official.get(Official.name == "成员11").active
    assert r.reactivated == 1 and Official.get_by_id(org["leaver"].id).active
    assert Official.get_by_id(org["leaver"].id).left_org_at is None
    # 成员10 changed phone: still linked by id, and the roster takes the new mobile.
    ten = Official.get(Official.name == "成员10")
    assert (ten.dingtalk_user_id, ten.mobile, ten.active) == ("u00010", "13500000010", True)
    assert r.mobiles_updated == 1 and r.unmatched_users == 10


def test_a_token_that_expires_mid_run_is_refreshed_once(settings, org, fake_app):
    Official.update(mobile="13600000000").where(Official.id == org["twin"].id).execute()
    requests.post(f"{settings.dingtalk.api_base_url}/_fake/app/token", json={"expire_after_calls": 10}, timeout=5)
    r = sync_dingtalk(settings=settings)
    assert r.applied and r.filled == 1590
    stats = fake_app.stats()
    assert stats["gettoken_calls"] == 2  # the first token and exactly one refresh
    assert stats["token_errors"] == {"42001": 1}
    pages = stats["calls"]["/user/list"]
    assert pages == 1 + DEPARTMENTS * 2 + 1  # the root, two pages per unit, one retried call


def test_empty_or_unreachable_organisation_changes_nothing(settings, db, fake_app, fake_dingtalk):
    Official.create(township=Township.get(), name="甲", role="grid_worker", mobile="13900000001",
                    dingtalk_user_id="u1")
    with pytest.raises(SyncFailed, match="没有任何成员"):
        sync_dingtalk(settings=settings)
    assert Official.get().active  # nobody is marked as having left an empty organisation
    fake_dingtalk.state.set_outage("error500", count=5)
    fake_app.add_user("甲", "13900000001", [1], "u1")
    with pytest.raises(SyncFailed, match="无法读取"):
        sync_dingtalk(settings=settings)


def test_the_command_line(settings_dict, settings, org, tmp_path):
    cfg = write_config(tmp_path / "tongxin.toml", settings_dict)
    runner = CliRunner()
    res = runner.invoke(main, ["--config", str(cfg), "sync-dingtalk", "--dry-run"])
    assert res.exit_code == 0, res.output
    assert "试运行" in res.output and "冲突 conflicts: 1" in res.output
    res = runner.invoke(main, ["--config", str(cfg), "sync-dingtalk"])
    assert res.exit_code == 1
    assert "未做任何修改" in res.output
    from miniapp_api.db import bind

    bind(settings.database.url)
    assert linked() == 1


def test_a_stale_id_from_an_old_csv_is_relinked_not_treated_as_leaving(settings, db, fake_app):
    t = Township.get(Township.code == "yongsheng")
    fake_app.add_user("王一", "13900000001", [1], "real-1")
    o = Official.create(township=t, name="王一", role="grid_worker", mobile="139 0000 0001", dingtalk_user_id="typo-1")
    r = sync_dingtalk(settings=settings)
    assert (r.matched, r.filled, r.left) == (1, 1, 0)
    o = Official.get_by_id(o.id)
    assert (o.dingtalk_user_id, o.active) == ("real-1", True)


# --- a partial listing must not look like everyone leaving ------------------------------------------


def _deep_org(fake_app) -> list[Official]:
    """Twenty linked officials, ten of them in a sub-department two levels down."""
    t = Township.get(Township.code == "yongsheng")
    top = fake_app.add_department("县委")["id"]
    deep = fake_app.add_department("网格办", parentid=fake_app.add_department("社会治理部", parentid=top)["id"])["id"]
    officials = []
    for i in range(20):
        uid = f"d{i:03d}"
        fake_app.add_user(f"干部{i}", mobile(9000 + i), [deep if i % 2 else top], uid)
        officials.append(Official.create(township=t, name=f"干部{i}", role="grid_worker", mobile=mobile(9000 + i),
                                         dingtalk_user_id=uid))
    return officials


def test_deeper_departments_are_listed_and_the_fake_is_strict_about_fetch_child(settings, db, fake_app):
    _deep_org(fake_app)
    base = settings.dingtalk.api_base_url
    token = requests.get(f"{base}/gettoken", params={"appkey": settings.dingtalk.app_key,
                                                     "appsecret": settings.dingtalk.app_secret}, timeout=5).json()
    ask = {"access_token": token["access_token"], "id": 1}
    # Python's True, as the SDK would spell it, is refused rather than guessed at.
    assert requests.get(f"{base}/department/list", params={**ask, "fetch_child": "True"}, timeout=5).json()["errcode"] == 40035
    assert len(requests.get(f"{base}/department/list", params={**ask, "fetch_child": "true"},
                            timeout=5).json()["department"]) == 3

    r = sync_dingtalk(settings=settings)
    assert (r.departments, r.users, r.matched, r.left) == (4, 20, 20, 0)
    assert Official.select().where(Official.active == True).count() == 20  # noqa: E712


def test_a_sync_that_would_retire_too_many_officials_needs_force(settings_dict, settings, db, fake_app, tmp_path):
    officials = _deep_org(fake_app)
    for o in officials[:3]:  # three of twenty (15 %) leave: more than the default 10 %
        fake_app.remove_user(o.dingtalk_user_id)

    with pytest.raises(SyncFailed, match="--force") as err:
        sync_dingtalk(settings=settings)
    assert err.value.result.left == 3 and not err.value.result.applied
    assert Official.select().where(Official.active == True).count() == 20  # noqa: E712
    preview = sync_dingtalk(dry_run=True, settings=settings)
    assert preview.too_many_left and "注意" in format_result(preview)

    cfg = write_config(tmp_path / "tongxin.toml", settings_dict)
    runner = CliRunner()
    res = runner.invoke(main, ["--config", str(cfg), "sync-dingtalk"])
    assert res.exit_code == 1 and "--force" in res.output
    res = runner.invoke(main, ["--config", str(cfg), "sync-dingtalk", "--force"])
    assert res.exit_code == 0, res.output
    from miniapp_api.db import bind

    bind(settings.database.url)
    assert Official.select().where(Official.active == True).count() == 17  # noqa: E712


def test_the_share_is_configurable(settings_dict, db, fake_app):
    officials = _deep_org(fake_app)
    for o in officials[:3]:
        fake_app.remove_user(o.dingtalk_user_id)
    settings_dict["dingtalk"]["sync_max_left_share"] = 0.2
    r = sync_dingtalk(settings=parse_settings(settings_dict))
    assert r.applied and r.left == 3
