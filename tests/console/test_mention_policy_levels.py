"""The mention policy ``duty_ab`` (A 岗和 B 岗都提醒) follows the report's level: the grid's posts
for a grid-level report, the community's 村（社区）网格长 for a community-level one, the township
staff on duty for a township-level one — through the console, the worker and the fake DingTalk."""
from __future__ import annotations

import pytest

from bridges.registry import build_worker
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Township
from tests.console.test_mappings import form
from tests.factories import make_official
from tests.factories import make_report

MOBILES = {
    "grid A": "13911110001", "grid B": "13911110002",
    "other grid A": "13911110003",
    "community A": "13911110011", "community B": "13911110012",
    "other community A": "13911110013",
    "township A": "13911110021", "township B": "13911110022",
}


@pytest.fixture
def org(db):
    """永盛街道: 人民社区 with 第一网格 and 第二网格, 西城社区, and A/B posts at each level."""
    township = Township.get(Township.code == "yongsheng")
    community = Community.create(township=township, name="人民社区", kind="neighborhood")
    other_community = Community.create(township=township, name="西城社区", kind="neighborhood")
    grid = Grid.create(community=community, name="第一网格")
    other_grid = Grid.create(community=community, name="第二网格")
    people = {}
    for key, post, role, where in (
        ("grid A", "A", "grid_worker", {"community": community, "grid": grid}),
        ("grid B", "B", "grid_worker", {"community": community, "grid": grid}),
        ("other grid A", "A", "grid_worker", {"community": community, "grid": other_grid}),
        ("community A", "A", "community_leader", {"community": community}),
        ("community B", "B", "community_leader", {"community": community}),
        ("other community A", "A", "community_leader", {"community": other_community}),
        ("township A", "A", "township_staff", {}),
        ("township B", "B", "township_staff", {}),
    ):
        people[key] = make_official(key, f"staff-{MOBILES[key][-3:]}", role=role, duty_post=post,
                                    mobile=MOBILES[key], **where)
    return {"grid": grid, "people": people}


def mentions_of_a_new_report(settings, clock, fake_dingtalk, **fields) -> list[str]:
    """Submit a report, let the worker deliver its card, and read whom the card @-mentions."""
    make_report(**fields)
    build_worker(settings, worker_id="policy-test").run_once(clock.now())
    return fake_dingtalk.state.messages("cid-yongsheng")[-1]["rendered_mentions"]


def test_duty_ab_mentions_both_posts_of_the_reports_own_level(console, db, org, fake_dingtalk, settings, clock):
    c = console("county")
    assert c.post("/console/mappings/township/yongsheng", form(mention_policy="duty_ab")).status_code == 302
    db.connect(reuse_if_open=True)
    grid = org["grid"]
    cases = [
        ({"level": "grid", "grid": grid}, ["grid A", "grid B"]),
        ({"level": "community", "grid": grid}, ["community A", "community B"]),
        ({"level": "township", "grid": grid}, ["township A", "township B"]),
        # 待指派网格: no grid, so no community either; the township's posts stand in.
        ({"level": "grid", "grid": None}, ["township A", "township B"]),
    ]
    for fields, expected in cases:
        got = mentions_of_a_new_report(settings, clock, fake_dingtalk, **fields)
        assert got == [MOBILES[k] for k in expected], (fields["level"], got)


def test_duty_ab_skips_who_is_away_and_stands_in_when_a_level_is_empty(console, db, org, fake_dingtalk,
                                                                       settings, clock):
    c = console("county")
    assert c.post("/console/mappings/township/yongsheng", form(mention_policy="duty_ab")).status_code == 302
    db.connect(reuse_if_open=True)
    people, grid = org["people"], org["grid"]
    people["grid A"].on_leave = True
    people["grid A"].save()
    assert mentions_of_a_new_report(settings, clock, fake_dingtalk, level="grid", grid=grid) == [MOBILES["grid B"]]
    # Nobody left at the community: the township answers for it, as on the default policy's card.
    for key in ("community A", "community B"):
        people[key].on_leave = True
        people[key].save()
    got = mentions_of_a_new_report(settings, clock, fake_dingtalk, level="community", grid=grid)
    assert got == [MOBILES["township A"], MOBILES["township B"]]


def test_default_policy_mentions_only_the_levels_a_post(console, db, org, fake_dingtalk, settings, clock):
    # The contrast with duty_ab: the default (duty) mentions the A post of the same level alone.
    got = mentions_of_a_new_report(settings, clock, fake_dingtalk, level="community", grid=org["grid"])
    assert got == [MOBILES["community A"]]
