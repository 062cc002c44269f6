"""The 转办 card: the department's group sees the report in full — its description and its
photos, escaped like every resident text — not just "已转办"; it @-mentions the department's
post on duty (A, B when A is on leave, the county standing in, said plainly, when the department
has nobody), while the township's copy mentions nobody of the department."""
from __future__ import annotations

import pytest

from miniapp_api.db import database
from miniapp_api.models import Official
from tests.factories import make_official
from tests.api.test_uploads import jpeg_with_gps
from tests.api.test_uploads import upload
from tests.bridges.test_callbacks import group
from tests.bridges.test_callbacks import officials  # noqa: F401  (fixture)
from tests.bridges.test_callbacks import say  # noqa: F401  (fixture)
from tests.bridges.test_callbacks import submit

HOSTILE = "井盖丢了 <b>危险</b> [假链接](javascript:alert(1)) @13800000000 # 标题"


def test_the_department_group_gets_the_description_and_photos(client, resident, officials, say, fake_dingtalk, run):
    photo = upload(client, resident, jpeg_with_gps()).get_json()
    number = submit(client, resident, description=HOSTILE, photos=[photo["id"]])
    run()
    say("yongsheng", "ys-a", f"转办 {number} 城管局")
    run()
    [card] = [m for m in group(fake_dingtalk, "chengguan") if number in m["text"]]
    text = card["payload"]["markdown"]["text"]
    assert "井盖丢了" in text and "**描述：**" in text
    assert "**上报照片：** [照片1](" in text and photo["url"].rsplit("/", 1)[-1].split(".")[0] in text
    assert "城管局" in text  # the whistle's note
    assert "转办人" in text and "王永盛" in text
    # Resident text cannot make links, headings, mentions or HTML in the department's group.
    assert "](javascript:" not in text and "<b>" not in text and "\n# 标题" not in text
    assert "@13800000000" not in text.replace("＠13800000000", "")
    assert card["at_mobiles"] == [] and card["payload"]["at"]["isAtAll"] is False


# --------------------------------------------------------------------------- who is asked to 报到

DEPT_A, DEPT_B, COUNTY_A = "13900000006", "13900000007", "13900000009"
ADMIN_TOKEN = "transfer-card-admin-token-0123456789"


@pytest.fixture
def settings_dict(settings_dict, fake_dingtalk):
    """The admin API on (emergency mode), and the county command centre's group."""
    settings_dict["admin"] = {"api_token": ADMIN_TOKEN}
    fake_dingtalk.state.add_group("cid-county", "县指挥中心群", "tok-county", "SEC-secret-county", [])
    settings_dict["county"] = {"name": "伊通县指挥中心", "dingtalk": {
        "webhook": f"{fake_dingtalk.base_url}/robot/send?access_token=tok-county",
        "secret": "SEC-secret-county", "conversation_id": "cid-county"}}
    return settings_dict


def _whistle(client, resident, say, run) -> str:
    number = submit(client, resident)
    run()
    say("yongsheng", "ys-a", f"转办 {number} 城管局")
    run()
    return number


def _transfer_cards(fake, code: str, number: str) -> list[dict]:
    return [m for m in group(fake, code) if m["msgtype"] == "markdown" and f"#### 转办：{number}" in m["text"]]


def _department_posts(*, a_on_leave: bool = False) -> None:
    database.connect(reuse_if_open=True)
    make_official("周部A", "cg-post-a", township=None, department="chengguan", role="department_staff",
                  duty_post="A", mobile=DEPT_A, on_leave=a_on_leave)
    make_official("吴部B", "cg-post-b", township=None, department="chengguan", role="department_staff",
                  duty_post="B", mobile=DEPT_B)


def _county_post() -> None:
    database.connect(reuse_if_open=True)
    make_official("郑县", "county-a", township=None, department=None, role="county_staff", duty_post="A",
                  mobile=COUNTY_A)


def _assert_township_copy_mentions_nobody(fake, number: str) -> None:
    [card] = _transfer_cards(fake, "yongsheng", number)
    text = card["text"]
    assert card["at_mobiles"] == [] and card["rendered_mentions"] == [] and card["is_at_all"] is False
    assert "**报到部门：** 城管局" in text and "请报到" not in text
    for mobile in (DEPT_A, DEPT_B, COUNTY_A):
        assert mobile not in text
    assert "周部A" not in text and "吴部B" not in text


def test_the_department_group_card_mentions_its_a_post(client, resident, officials, say, fake_dingtalk, run):
    _department_posts()
    _county_post()
    number = _whistle(client, resident, say, run)
    [card] = _transfer_cards(fake_dingtalk, "chengguan", number)
    assert card["at_mobiles"] == [DEPT_A] and card["rendered_mentions"] == [DEPT_A]
    assert "**请报到：** 周部A" in card["text"] and card["text"].rstrip().endswith(f"@{DEPT_A}")
    assert DEPT_B not in card["text"] and COUNTY_A not in card["text"] and card["is_at_all"] is False
    _assert_township_copy_mentions_nobody(fake_dingtalk, number)
    assert _transfer_cards(fake_dingtalk, "county", number) == []  # the department answers: no county copy


def test_with_the_a_post_on_leave_the_b_post_is_mentioned(client, resident, officials, say, fake_dingtalk, run):
    _department_posts(a_on_leave=True)
    number = _whistle(client, resident, say, run)
    [card] = _transfer_cards(fake_dingtalk, "chengguan", number)
    assert card["at_mobiles"] == [DEPT_B] and card["rendered_mentions"] == [DEPT_B]
    assert "**请报到：** 吴部B" in card["text"] and DEPT_A not in card["text"]
    _assert_township_copy_mentions_nobody(fake_dingtalk, number)


def test_a_department_with_nobody_says_so_and_mentions_the_county(client, resident, officials, say, fake_dingtalk,
                                                                 run):
    # 孙城管 (the fixture's) is department staff without a duty post: nobody holds A or B.
    _county_post()
    number = _whistle(client, resident, say, run)
    [card] = _transfer_cards(fake_dingtalk, "chengguan", number)
    assert "**请报到：** 县直部门未登记A/B岗，由县指挥中心（郑县）处理" in card["text"]
    assert card["at_mobiles"] == [COUNTY_A] and card["rendered_mentions"] == [COUNTY_A]
    # Never a township official named or mentioned as if they were the department.
    assert "13900000001" not in card["text"] and "13900000005" not in card["text"]
    _assert_township_copy_mentions_nobody(fake_dingtalk, number)
    # The county stands in, so its own group sees the same card with the same mention.
    [county_card] = _transfer_cards(fake_dingtalk, "county", number)
    assert county_card["at_mobiles"] == [COUNTY_A] and "由县指挥中心（郑县）处理" in county_card["text"]


def test_with_nobody_anywhere_the_card_says_nobody_can_be_reminded(client, resident, officials, say, fake_dingtalk,
                                                                  run):
    number = _whistle(client, resident, say, run)
    [card] = _transfer_cards(fake_dingtalk, "chengguan", number)
    assert "**请报到：** 县直部门未登记A/B岗、县指挥中心未登记A/B岗，无人可提醒" in card["text"]
    assert card["at_mobiles"] == [] and "@1" not in card["text"]


def test_in_emergency_mode_both_department_posts_are_mentioned(client, resident, officials, say, fake_dingtalk, run):
    _department_posts()
    resp = client.post("/api/v1/admin/emergency", json={"on": True},
                       headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert resp.status_code == 200, resp.get_json()
    number = _whistle(client, resident, say, run)
    [card] = _transfer_cards(fake_dingtalk, "chengguan", number)
    assert card["at_mobiles"] == [DEPT_A, DEPT_B] and card["rendered_mentions"] == [DEPT_A, DEPT_B]
    assert "**请报到：** 周部A、吴部B" in card["text"]
    _assert_township_copy_mentions_nobody(fake_dingtalk, number)
