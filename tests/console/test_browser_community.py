"""Notices and campaigns in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright against Tongxin served over real HTTP, the fake DingTalk (groups, signed @robot
callbacks) and the fake WeChat (residents' logins). Screenshots go to ``tests/console/artifacts/``
(and ``docs/console/`` with ``TONGXIN_DOC_SCREENSHOTS=1``)."""
from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import requests

from miniapp_api.campaigns import checkin as codes
from miniapp_api.db import database
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Township
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import VolunteerHours
from tests.bridges.conftest import run  # noqa: F401  (fixtures)
from tests.bridges.conftest import worker  # noqa: F401
from tests.console.test_browser import browser  # noqa: F401
from tests.console.test_browser import db_url  # noqa: F401
from tests.console.test_browser import login
from tests.console.test_browser import page  # noqa: F401
from tests.console.test_browser import server  # noqa: F401
from tests.console.test_browser import settings_dict  # noqa: F401
from tests.console.test_browser import shot
from tests.console.test_notices import local_input as at
from tests.api.test_uploads import jpeg_with_gps
from tests.conftest import report_body
from tests.factories import make_official

SECRET = "test-secret-key-0123456789abcdef"  # tests.conftest: server.secret_key


def say(fake_dingtalk, server, clock, run, code: str, staff_id: str, text: str) -> str:  # noqa: F811
    """An official @-mentions the robot in their group (a signed callback); the reply they see."""
    before = len(fake_dingtalk.state.messages(f"cid-{code}"))
    answer = fake_dingtalk.state.deliver_callback(
        f"{server.base_url}/callbacks/dingtalk", fake_dingtalk.base_url, conversation_id=f"cid-{code}",
        staff_id=staff_id, text=text, timestamp_offset_ms=int((time.time() - clock()) * 1000))
    assert answer["status"] == 200, answer
    run()  # the reply goes out through the outbox
    replies = [m for m in fake_dingtalk.state.messages(f"cid-{code}")[before:] if m["via"] == "session"]
    assert len(replies) == 1, replies
    return replies[0]["text"]


def test_write_publish_acknowledge_and_withdraw_a_notice(page, server, fake_dingtalk, clock, run, tmp_path):  # noqa: F811
    database.connect(reuse_if_open=True)
    make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001")
    database.close()
    login(page)
    page.click("nav.wide >> text=通知")
    page.click("#new-notice")
    page.fill("input[name=title]", "寒潮防御通知")
    page.select_option("select[name=target]", "township:yongsheng")
    page.fill("textarea[name=body_html]", "<p>明日<strong>降温 12 度</strong></p><img src=x onerror=alert(1)>")
    # The live preview follows the typing (console's own script, no inline script).
    page.wait_for_selector("#preview-card")
    assert "降温 12 度" in page.inner_text("#preview-resident")
    assert "onerror" not in page.inner_html("#preview")
    assert "收到 N0000" in page.inner_text("#preview-card")
    # A picture from the phone: stored with 预览, then kept (ticked) for 发布.
    picture = tmp_path / "现场.jpg"
    picture.write_bytes(jpeg_with_gps())
    page.set_input_files("input[name=images]", str(picture))
    page.click("#notice-preview")
    page.wait_for_selector("#preview-resident img.notice-image")
    assert page.is_checked("#notice-images input[name=image]")
    assert page.input_value("input[name=title]") == "寒潮防御通知"  # the form came back as written
    shot(page, "15-notice-preview")
    page.click("#notice-publish")
    assert "已发布" in page.inner_text("#notice-status")
    assert page.locator("#preview-resident img.notice-image").count() == 1
    number = page.inner_text("h1").split()[0]
    run()  # the worker delivers the card to the unit's group
    cards = [m for m in fake_dingtalk.state.messages("cid-yongsheng") if m["via"] != "session"]
    assert cards and "寒潮防御通知" in cards[-1]["text"] and f"收到 {number}" in cards[-1]["text"]
    reply = say(fake_dingtalk, server, clock, run, "yongsheng", "ys-a", f"收到 {number}")
    assert "确认收到" in reply
    page.reload()
    assert "1/1" in page.inner_text("#acked") and "王永盛" in page.inner_text("#ack-table")
    shot(page, "16-notice-acks")
    page.fill("input[name=reason]", "时间有误，另行通知")
    page.click("#notice-withdraw")
    assert "已撤回" in page.inner_text("#notice-status")
    assert "时间有误" in page.inner_text("#withdraw-info")
    run()
    last = fake_dingtalk.state.messages("cid-yongsheng")[-1]
    assert "通知已撤回" in last["text"] and "时间有误" in last["text"]
    official = page.locator("a:has-text('群里链接打开的页面')").get_attribute("href")
    page.goto(official)
    assert "无需再确认收到" in page.inner_text("#ack-request")
    assert "已撤回" in say(fake_dingtalk, server, clock, run, "yongsheng", "ys-a", f"收到 {number}")
    assert page.console_errors == []


def test_the_robots_hint_names_the_console_page(page, server, fake_wechat, fake_dingtalk, clock, run):  # noqa: F811
    database.connect(reuse_if_open=True)
    make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001")
    database.close()
    code = requests.post(f"{fake_wechat.base_url}/_fake/login-code", json={"openid": "o-reporter"}, timeout=5).json()["code"]
    token = requests.post(f"{server.base_url}/api/v1/auth/wechat-login", json={"code": code}, timeout=5).json()["token"]
    report = requests.post(f"{server.base_url}/api/v1/reports", json=report_body(),
                           headers={"Authorization": f"Bearer {token}"}, timeout=10).json()["number"]
    reply = say(fake_dingtalk, server, clock, run, "yongsheng", "ys-a", f"发起志愿 {report}")
    path = re.search(r"可在管理后台修改：http://127\.0\.0\.1:\d+(/console/campaigns/V\d{4})", reply).group(1)
    login(page, "ys_admin")
    page.goto(path)
    assert "志愿协助" in page.inner_text("h1") and report in page.inner_text("main")


def test_create_fill_check_in_and_complete_a_campaign(page, server, fake_wechat, fake_dingtalk, run):  # noqa: F811
    database.connect(reuse_if_open=True)
    ys = Township.get(Township.code == "yongsheng")
    grid = Grid.create(community=Community.create(township=ys, name="东风社区", kind="neighborhood"), name="东风一网格")
    database.close()
    login(page, "ys_admin")
    page.click("nav.wide >> text=志愿活动")
    page.click("#new-campaign")
    page.fill("input[name=title]", "清扫积雪")
    page.select_option("select[name=scope]", f"grid:{grid.id}")
    page.fill("input[name=starts_at]", at(timedelta(minutes=-20)))
    page.fill("input[name=ends_at]", at(timedelta(minutes=45)))
    page.fill("input[name=capacity]", "2")
    page.fill("input[name=place_name]", "东风桥")
    page.fill("input[name=lat]", "43.345")
    page.fill("input[name=lng]", "125.305")
    page.click("#save-campaign")
    assert "进行中" in page.inner_text("#campaign-status")
    number = page.inner_text("h1").split()[0]
    # Residents sign up through the API, as the mini-program does.
    volunteers = []
    for openid in ("o-vol-1", "o-vol-2", "o-vol-3"):
        code = requests.post(f"{fake_wechat.base_url}/_fake/login-code", json={"openid": openid}, timeout=5).json()["code"]
        token = requests.post(f"{server.base_url}/api/v1/auth/wechat-login", json={"code": code}, timeout=5).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        assert requests.put(f"{server.base_url}/api/v1/me/home", json={"grid": grid.id}, headers=headers,
                            timeout=5).status_code == 200
        signed = requests.post(f"{server.base_url}/api/v1/campaigns/{number}/signup",
                               json={"name": f"志愿者{openid[-1]}", "phone": "13912345678"}, headers=headers, timeout=5)
        assert signed.status_code == 201
        volunteers.append(headers)
    page.reload()
    assert "已报名 2/2，候补 1，已签到 0" in page.inner_text("#campaign-counts")
    page.click("#print-poster")
    assert page.locator("#poster svg").count() == 1
    shot(page, "17-campaign-poster")
    database.connect(reuse_if_open=True)
    printed = codes.qr_text(number, codes.print_code(SECRET, number, Campaign.get(Campaign.number == number).starts_at))
    database.close()
    checked = requests.post(f"{server.base_url}/api/v1/campaigns/{number}/checkin",
                            json={"code": printed, "lat": 43.3451, "lng": 125.3052}, headers=volunteers[0], timeout=5)
    assert checked.status_code == 200, checked.text
    page.goto(f"/console/campaigns/{number}")
    assert "已签到 1" in page.inner_text("#campaign-counts")
    page.check("#roster tr[data-status=confirmed] input[type=checkbox]")
    page.click("#mark-no-show")
    assert "未到" in page.inner_text("#roster")
    shot(page, "18-campaign-roster")
    page.click("#complete-campaign")
    assert "已结束" in page.inner_text("#campaign-status")
    database.connect(reuse_if_open=True)
    assert VolunteerHours.select().count() == 1
    database.close()
    hours = requests.get(f"{server.base_url}/api/v1/me/volunteer-hours", headers=volunteers[0], timeout=5).json()
    assert hours["total_hours"] == pytest.approx(1.08) and hours["items"][0]["campaign"] == number
    run()
    assert any("清扫积雪" in m["text"] for m in fake_dingtalk.state.messages("cid-yongsheng"))
    assert page.console_errors == []
