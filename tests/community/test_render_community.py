"""Group messages of notices and campaigns: hostile text stays inert, links are ours only,
phones are masked, nobody is @-mentioned by text, and every payload passes the fake's checks."""
from __future__ import annotations

import json
import re

import pytest

from bridges.dingtalk import render_community as render
from bridges.fakes.dingtalk import parse_robot_message

HOSTILE = "[点我](http://evil.com) ![x](http://e/x.png) # 标题 @13800000000 @所有人 <script>alert(1)</script> **粗**"
LINK = "https://tongxin.example.gov.cn/o/campaigns/V0001/checkin?sig=abc"


def _check(payload: dict) -> str:
    body, problem = parse_robot_message(json.dumps(payload).encode())
    assert problem is None, problem
    text = payload["markdown"]["text"]
    assert payload["at"]["isAtAll"] is False
    assert "](http://evil" not in text and "<script" not in text and "@所有人" not in text
    assert "@13800000000" not in text and "**粗**" not in text
    assert all(u.startswith("https://tongxin.example.gov.cn/") for u in re.findall(r"\]\(([^)]*)\)", text))
    return text


def test_every_message_escapes_what_people_typed():
    view = render.CampaignView(number="V0001", title=HOSTILE, description=HOSTILE, time_text="2026-11-28 09:00~12:00",
                               place=HOSTILE, scope_label="永盛街道", capacity=10, taken=3, hours=3, link=LINK,
                               skills=[HOSTILE], report_number="R261127-0001")
    roster = [render.RosterEntry(HOSTILE, "139****5678", "已签到")]
    payloads = [
        render.render_notice(render.NoticeView("N0001", HOSTILE, "全县", HOSTILE, HOSTILE, "11-27 09:00", "11-28 09:00",
                                               LINK.replace("campaigns", "notices"), image_count=2)),
        render.render_notice_withdrawn("N0001", HOSTILE, HOSTILE, HOSTILE),
        render.render_ack_reminder("N0001", HOSTILE, HOSTILE, "11-27", LINK, ["13900000001"]),
        render.render_ack_escalation("N0001", HOSTILE, [HOSTILE, "伊通镇"], "48", LINK),
        render.render_campaign(view), render.render_campaign(view, updated=True),
        render.render_campaign_count("V0001", HOSTILE, 3, 10, 2),
        render.render_roster("V0001", HOSTILE, "2026-11-28 09:00~12:00", HOSTILE, roster, 1, LINK),
        render.render_campaign_cancelled("V0001", HOSTILE, HOSTILE, HOSTILE),
        render.render_campaign_completed("V0001", HOSTILE, 2, 6, "R261127-0001"),
    ]
    texts = [_check(p) for p in payloads]
    assert "139＊＊＊＊5678" in texts[7]
    reminder = payloads[2]
    assert reminder["at"]["atMobiles"] == ["13900000001"] and "@13900000001" in reminder["markdown"]["text"]


def test_a_long_roster_fits_one_message():
    entries = [render.RosterEntry(f"志愿者{i:03d}", "139****5678", "") for i in range(400)]
    payload = render.render_roster("V0001", "大型活动", "2026-11-28 09:00~12:00", "广场", entries, 0, LINK)
    text = payload["markdown"]["text"]
    assert len(text) <= render.MAX_DIGEST_CHARS and "其余" in text and "志愿者000" in text


@pytest.mark.parametrize("bad", ["V 1", "", "x" * 33, "V0001)"])
def test_numbers_and_links_are_checked(bad):
    with pytest.raises(ValueError):
        render.render_campaign_count(bad, "t", 1, 2, 0)
    with pytest.raises(ValueError):
        render.render_ack_escalation("N0001", "t", [], "1", "javascript:alert(1)")
