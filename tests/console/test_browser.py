"""The console in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright, against Tongxin served over real HTTP and the fake DingTalk.

Screenshots are saved in ``tests/console/artifacts/`` (ignored by git). With
``TONGXIN_DOC_SCREENSHOTS=1`` they are also copied to ``docs/console/`` for the guide.

Skipped, with the reason, only when ``/usr/bin/chromium`` is not installed
(``apt-get install -y chromium chromium-driver``).
"""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

from bridges.fakes.serve import serve_in_thread
from miniapp_api.db import database
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Township
from miniapp_api.models.console import AuditEntry
from tests.conftest import report_body
from tests.console.conftest import PASSWORD
from tests.factories import make_official
from tests.factories import make_report

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).parent / "artifacts"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "console"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="needs Debian's chromium: apt-get install -y chromium chromium-driver")


@pytest.fixture
def db_url(tmp_path) -> str:
    """Browser tests run on SQLite only: the server-side tests cover both databases."""
    return f"sqlite:///{tmp_path / 'tongxin.db'}"


@pytest.fixture
def settings_dict(settings_dict):
    # Served over plain http on 127.0.0.1 (the cookie must not be Secure-only here), on a port
    # chosen now, so that links and pictures point at the server the browser talks to.
    settings_dict["server"]["public_base_url"] = f"http://127.0.0.1:{_free_port()}"
    return settings_dict


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM,
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def server(app, accounts):
    s = serve_in_thread(app, port=urlparse(app.config["TONGXIN_SETTINGS"].server.public_base_url).port)
    yield s
    s.shutdown()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN", base_url=server.base_url)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    errors = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.console_errors = errors
    yield pg
    context.close()


def shot(page, name: str, *, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    if os.environ.get("TONGXIN_DOC_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS / path.name)


def login(page, username: str = "county") -> None:
    page.goto("/console/")
    assert "/console/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")


def test_login_and_dashboard_with_charts(page):
    page.goto("/console/login")
    shot(page, "01-login")
    page.fill("input[name=username]", "county")
    page.fill("input[name=password]", "wrong-password-9")
    page.click("button[type=submit]")
    assert "用户名或密码错误" in page.inner_text("main")
    database.connect(reuse_if_open=True)
    make_report()
    make_report("accepted", township="yongning")
    make_report("closed", rating_score=5)
    database.close()
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/")
    assert "各单位办理情况" in page.inner_text("h1")
    # Chart.js (served by Tongxin) drew both charts.
    assert page.evaluate("() => !!(window.Chart && Chart.getChart('chart-status') && Chart.getChart('chart-rates'))")
    assert page.console_errors == []
    shot(page, "02-dashboard")
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/console/")
    shot(page, "03-dashboard-phone")


def test_edit_a_mapping_and_send_a_test_message(page, fake_dingtalk):
    fake_dingtalk.state.add_group("cid-browser", "浏览器测试群", "tok-browser", "SEC-browser-secret-01", [])
    login(page)
    page.goto("/console/mappings")
    shot(page, "04-mappings")
    page.click("a[href='/console/mappings/township/yongsheng']")
    page.fill("input[name=webhook]", f"{fake_dingtalk.base_url}/robot/send?access_token=tok-browser")
    page.fill("input[name=secret]", "SEC-browser-secret-01")
    page.fill("input[name=conversation_id]", "cid-browser")
    page.click("#test-typed")
    assert "测试发送成功" in page.inner_text("#test-result")
    assert len(fake_dingtalk.state.messages("cid-browser")) == 1
    page.fill("input[name=webhook]", f"{fake_dingtalk.base_url}/robot/send?access_token=tok-browser")
    page.fill("input[name=secret]", "SEC-browser-secret-01")
    page.fill("input[name=conversation_id]", "cid-browser")
    page.fill("input[name=note]", "换到新群")
    page.click("#save-mapping")
    assert "已保存（版本 2）" in page.inner_text("main")
    page.click("#test-saved")
    assert "errcode = 0" in page.inner_text("#test-result")
    messages = fake_dingtalk.state.messages("cid-browser")
    assert len(messages) == 2 and "连接测试" in messages[-1]["text"]
    assert "SEC-browser-secret-01" not in page.content()
    shot(page, "05-mapping-test-send")


def test_routing_dry_run(page):
    database.connect(reuse_if_open=True)
    t = Township.get(Township.code == "yongsheng")
    c = Community.create(township=t, name="人民社区", kind="neighborhood")
    g = Grid.create(community=c, name="第一网格", center_lat=43.34, center_lng=125.30)
    make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001", grid=g, community=c, role="grid_worker")
    database.close()
    login(page)
    page.goto("/console/routing")
    page.select_option("select[name=township]", "yongsheng")
    page.select_option("select[name=category]", "sanitation")
    page.fill("input[name=lat]", "43.341")
    page.fill("input[name=lng]", "125.301")
    page.click("button.primary")
    result = page.inner_text("#dry-run-result")
    assert "第一网格" in result and "王永盛" in result and "永盛街道 钉钉群" in result
    shot(page, "06-routing-dry-run")


HEAD = "township,community,grid,official_name,role,duty_post,dingtalk_user_id,mobile"
GOOD = (f"{HEAD}\nyongsheng,人民社区,第一网格,王永盛,grid_worker,A,ys-a,13900000001\n"
        "yongsheng,人民社区,第一网格,李备岗,grid_worker,B,ys-b,13900000002\n")
BAD = GOOD + "yongsheng,人民社区,第二网格,张三,boss,A,,12345\n"


def _upload(page, text: str) -> None:
    page.set_input_files("#import-form input[name=file]",
                         files=[{"name": "roster.csv", "mimeType": "text/csv", "buffer": text.encode("utf-8")}])


def test_import_a_grid_csv_with_a_bad_row_then_a_good_one(page):
    login(page)
    page.goto("/console/roster")
    _upload(page, BAD)
    page.click("#import-form button[value=preview]")
    errors = page.inner_text("#import-errors")
    assert "第 4 行" in errors and "boss" in errors
    shot(page, "07-roster-import-errors")
    database.connect(reuse_if_open=True)
    assert Official.select().count() == 0
    database.close()
    _upload(page, GOOD)
    page.click("#import-form button[value=preview]")
    assert "预览（试运行，未写入）：2 行" in page.inner_text("#import-preview")
    shot(page, "08-roster-import-preview")
    page.click("#confirm-import")
    assert "导入完成" in page.inner_text("main")
    assert "王永盛" in page.inner_text("table")
    shot(page, "09-roster")
    database.connect(reuse_if_open=True)
    assert Official.select().count() == 2
    database.close()


def test_act_on_a_report_and_the_resident_sees_it(page, server, fake_wechat):
    code = requests.post(f"{fake_wechat.base_url}/_fake/login-code", json={"openid": "o-browser-resident"}, timeout=5).json()["code"]
    token = requests.post(f"{server.base_url}/api/v1/auth/wechat-login", json={"code": code}, timeout=5).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    resp = requests.post(f"{server.base_url}/api/v1/reports", json=report_body(description="楼道灯坏了一周"),
                         headers=headers, timeout=10)
    number = resp.json()["number"]
    login(page, "ys_admin")
    page.goto("/console/reports")
    shot(page, "10-report-queue")
    page.click(f"text={number}")
    assert "居民(已实名)" in page.inner_text("#reporter")
    page.click("#act-accept")
    assert "已受理" in page.inner_text("#report-status")
    page.fill("form:has(#act-resolve) textarea[name=text]", "已更换灯泡，感谢反映")
    page.click("#act-resolve")
    assert "已办结" in page.inner_text("#report-status")
    shot(page, "11-report-resolved")
    seen = requests.get(f"{server.base_url}/api/v1/reports/{number}", headers=headers, timeout=5).json()
    assert seen["status"] == "resolved" and seen["reply"] == "已更换灯泡，感谢反映"
    assert [e["channel"] for e in seen["timeline"]][-2:] == ["console", "console"]
    page.click("text=查看身份（会记入审计）")
    assert "o-browser-resident" in page.inner_text("#identity")
    database.connect(reuse_if_open=True)
    assert AuditEntry.select().where(AuditEntry.action == "report.reveal_reporter").count() == 1
    database.close()


def test_deliveries_and_audit_pages(page):
    login(page)
    page.goto("/console/deliveries")
    assert "钉钉群推送状态" in page.inner_text("main")
    shot(page, "12-deliveries")
    page.goto("/console/audit")
    assert "登录" in page.inner_text("table")
    shot(page, "13-audit")
    page.goto("/console/")
    page.click("button:has-text('永盛街道：进入应急')")
    assert "确认" in page.inner_text("h1")
    shot(page, "14-emergency-confirm")
    page.click("text=确认切换")
    assert "已进入应急模式" in page.inner_text("main")
