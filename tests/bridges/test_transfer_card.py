"""The 转办 card: the department's group sees the report in full — its description and its
photos, escaped like every resident text — not just "已转办"."""
from __future__ import annotations

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
