"""The fake DingTalk's page shows cards as the DingTalk client does: markdown rendered (and
resident text still harmless), every time in Beijing time whatever the machine's zone."""
from __future__ import annotations

import re
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from bridges.dingtalk.render import ReportCard
from bridges.dingtalk.render import render_new_report
from tests.dingtalk.conftest import CID
from tests.dingtalk.test_fake_server import raw_send

LINK = "https://tongxin.example.gov.cn/o/reports/R261206-0001?sig=abc"


@pytest.fixture
def utc_machine(monkeypatch):
    """This process's local zone is UTC, like a server's: Beijing time must not come from it."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _message_item(page: str, marker: str) -> str:
    return next(item for item in page.split('<li><div class="meta">') if marker in item)


def test_markdown_cards_are_rendered(fake):
    card = render_new_report(ReportCard("R261206-0001", "环境卫生", "永盛街道", "人民大街18号",
                                        "垃圾 **没人** 清理 <img src=x onerror=alert(1)> [点我](javascript:alert(1))",
                                        link=LINK))
    assert raw_send(fake, card)["errcode"] == 0
    item = _message_item(fake.get("/").text, "R261206-0001")
    assert "<strong>" in item or "<h" in item  # the card's own emphasis and title, rendered
    assert f'<a href="{LINK.replace("&", "&amp;")}">' in item  # the details link is a link
    assert "**" not in item.split("</div>", 1)[1]  # no raw markdown markers on the card
    assert "<img src=x" not in item  # the resident's HTML is shown as text
    assert 'href="javascript:' not in item
    assert "<script" not in item


def test_action_card_buttons_are_links(fake):
    raw_send(fake, {"msgtype": "actionCard", "actionCard": {"title": "t", "text": "### 待办\n- 第一条\n- 第二条",
                                                             "btnOrientation": "1",
                                                             "btns": [{"title": "受理", "actionURL": LINK}]}})
    item = _message_item(fake.get("/").text, "待办")
    assert "<h3>待办</h3>" in item and "<li>第一条</li>" in item
    assert re.search(r'<a href="[^"]+">受理</a>', item)


def test_plain_text_stays_text(fake):
    raw_send(fake, {"msgtype": "text", "text": {"content": "**不是markdown** <b>x</b>"}})
    item = _message_item(fake.get("/").text, "不是markdown")
    assert "<pre>**不是markdown** &lt;b&gt;x&lt;/b&gt;</pre>" in item


def test_times_are_beijing_time_on_a_utc_machine(fake, utc_machine):
    raw_send(fake, {"msgtype": "text", "text": {"content": "几点了"}})
    sent = fake.state.groups[CID].messages[-1]["time"]
    beijing = datetime.fromtimestamp(sent, ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M:%S")
    utc = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(sent))
    assert beijing != utc
    page = fake.get("/").text
    assert beijing in _message_item(page, "几点了")
    assert utc not in page
    assert "北京时间" in page
