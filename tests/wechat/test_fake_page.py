"""The fake WeChat's page shows each subscribe message as the resident reads it: the
template's labels (上报编号：…), never its keys (character_string1). Rendered by the page's own
script in a real browser (Debian's /usr/bin/chromium, via Playwright)."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.wechat.conftest import TEMPLATE
from tests.wechat.conftest import TEMPLATE_FIELDS
from tests.wechat.test_fake_server import active_user
from tests.wechat.test_fake_server import new_token
from tests.wechat.test_fake_server import send

CHROMIUM = "/usr/bin/chromium"
LABELS = {"character_string1": "上报编号", "thing2": "处理说明", "phrase3": "处理状态", "time4": "更新时间"}

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium: apt-get install -y chromium chromium-driver")


def _page_text(url: str) -> str:
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(url)
            page.wait_for_selector("#messages tr")
            return page.inner_text("#messages")
        finally:
            browser.close()


def test_messages_show_the_templates_labels(fake):
    fake.state.register_template(TEMPLATE, TEMPLATE_FIELDS, LABELS)
    openid = active_user(fake)
    fake.state.grant_consent(openid, TEMPLATE)
    assert send(fake, new_token(fake), openid)["errcode"] == 0
    text = _page_text(fake.url + "/")
    assert "上报编号：R-20250601_01" in text and "处理状态：处理中" in text
    assert "character_string1" not in text and "phrase3" not in text


def test_a_template_without_labels_is_still_named_in_words(fake):
    openid = active_user(fake)
    fake.state.grant_consent(openid, TEMPLATE)
    assert send(fake, new_token(fake), openid)["errcode"] == 0
    text = _page_text(fake.url + "/")
    assert "编号：R-20250601_01" in text and "character_string1" not in text
