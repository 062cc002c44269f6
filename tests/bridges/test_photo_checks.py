"""WeChat's image check of report photos (issue #14): mediaCheckAsync and its pushed verdict.

End to end over real HTTP: the resident uploads and reports through the API; the worker asks
the fake WeChat to check each photo (never the request); the fake pushes the verdict, signed
(plaintext or safe mode), to Tongxin served on a port; the group cards, the resident's API,
the official page, the console and ``/media`` follow the verdict.
"""
from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
import time
from pathlib import Path

import pytest
import requests
from PIL import Image
from wechatpy.crypto import PrpCrypto

from bridges.fakes.serve import serve_in_thread
from bridges.fakes.wechat import create_fake_wechat
from miniapp_api.config import ConfigError
from miniapp_api.config import parse_settings
from miniapp_api.db import database
from miniapp_api.models import Delivery
from miniapp_api.models import OutboxEvent
from miniapp_api.models import TimelineEntry
from miniapp_api.models import Upload
from miniapp_api.reports.links import signed_report_url
from tests.api.test_uploads import upload
from tests.bridges.test_ops import cli
from tests.bridges.test_ops import config_file  # noqa: F401  (fixture)
from tests.bridges.test_callbacks import group
from tests.bridges.test_callbacks import officials  # noqa: F401  (fixture)
from tests.bridges.test_callbacks import say  # noqa: F401  (fixture)
from tests.bridges.test_callbacks import submit
from tests.console.conftest import accounts  # noqa: F401  (fixture)
from tests.console.conftest import console  # noqa: F401  (fixture)
from tests.console.conftest import fast_hashes  # noqa: F401  (fixture)
from tests.conftest import APP_SECRET
from tests.conftest import APPID
from tests.conftest import REPORT_STATUS_FIELDS

TOKEN = "push-token-for-tests"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 letters and digits


@pytest.fixture
def fake_wechat():
    """The fake WeChat over real HTTP, with its state at hand (``.state``) for scripting."""
    app = create_fake_wechat(APPID, APP_SECRET, templates={"tmpl-report-status": REPORT_STATUS_FIELDS})
    server = serve_in_thread(app)
    server.state = app.extensions["fake_wechat"]
    yield server
    server.shutdown()


@pytest.fixture
def wx(fake_wechat, tongxin):
    """The fake WeChat pushing verdicts to Tongxin in plaintext mode, pushes held until released."""
    fake_wechat.state.configure_push(f"{tongxin.base_url}/callbacks/wechat", TOKEN)
    fake_wechat.state.hold_pushes()
    return fake_wechat.state


def photo(client, resident, colour=(200, 30, 30)) -> dict:
    """Upload a small JPEG of one colour (the same colour: the same content)."""
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), colour).save(buf, "JPEG")
    resp = upload(client, resident, buf.getvalue())
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def uploads_of(photo_id: str) -> Upload:
    database.connect(reuse_if_open=True)
    return Upload.get_by_id(photo_id)


def cards(fake_dingtalk, code: str, number: str) -> list[str]:
    return [m["payload"]["markdown"]["text"] for m in group(fake_dingtalk, code)
            if m["msgtype"] == "markdown" and number in m["text"]]


def signed(token: str = TOKEN, timestamp: str | None = None, nonce: str | None = None) -> dict:
    timestamp = timestamp or str(int(time.time()))
    nonce = nonce or str(secrets.randbelow(10**9))
    return {"timestamp": timestamp, "nonce": nonce,
            "signature": hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()}


def verdict(trace_id: str, suggest: str = "risky") -> dict:
    return {"ToUserName": "gh_x", "FromUserName": "o-x", "CreateTime": int(time.time()), "MsgType": "event",
            "Event": "wxa_media_check", "appid": APPID, "trace_id": trace_id, "version": 2, "errcode": 0,
            "errmsg": "ok", "result": {"suggest": suggest, "label": "20002"}, "detail": []}


def post_push(tongxin, query: dict, body) -> requests.Response:
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return requests.post(f"{tongxin.base_url}/callbacks/wechat", params=query, data=data,
                         headers={"Content-Type": "application/json"}, timeout=5)


# --------------------------------------------------------------------------- requested by the worker


def test_each_photo_is_checked_by_the_worker_and_a_pass_is_recorded(client, resident, wx, run):
    p1, p2 = photo(client, resident), photo(client, resident, (10, 200, 10))
    number = submit(client, resident, photos=[p1["id"], p2["id"]])
    # Never inside the request: nothing was asked of WeChat yet.
    assert wx.snapshot_stats()["calls"].get("/wxa/media_check_async", 0) == 0
    assert uploads_of(p1["id"]).moderation == "unchecked"
    run()
    assert wx.snapshot_stats()["calls"]["/wxa/media_check_async"] == 2
    for p in (p1, p2):
        u = uploads_of(p["id"])
        assert u.moderation == "pending" and u.moderation_trace_id
    [result_1, result_2] = wx.release_pushes()
    assert result_1["status"] == 200 and result_1["answer"] == "success"
    assert result_2["status"] == 200
    assert {uploads_of(p["id"]).moderation for p in (p1, p2)} == {"pass"}
    run()  # nothing more to do: the check ran once
    assert wx.snapshot_stats()["calls"]["/wxa/media_check_async"] == 2
    assert len(client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()["photos"]) == 2


def test_a_photo_wechat_refuses_to_check_for_an_inactive_user_is_settled_as_review(client, resident, wx, run):
    # The check comes after the user stopped using the mini-program (an official's
    # completion photo days later, or a worker that was down): WeChat answers 61010. The
    # photo stays, as "review", instead of being asked for until the delivery dies.
    p = photo(client, resident)
    submit(client, resident, photos=[p["id"]])
    wx.advance(2 * 3600 + 60)
    run()
    assert uploads_of(p["id"]).moderation == "review"
    check = Delivery.get(Delivery.target == "system:photo_check")
    assert check.state == "sent" and check.attempts == 1
    asked = wx.snapshot_stats()["calls"]["/wxa/media_check_async"]
    run()
    assert wx.snapshot_stats()["calls"]["/wxa/media_check_async"] == asked  # not asked again


def test_photos_never_checked_are_asked_for_by_check_photos(client, resident, wx, run, config_file):
    old, new = photo(client, resident), photo(client, resident, (10, 200, 10))
    submit(client, resident, photos=[old["id"], new["id"]])
    run()
    assert [r["status"] for r in wx.release_pushes()] == [200, 200]
    # As if ``old`` had been stored before the checks existed (migration v010): never asked for.
    Upload.update(moderation="unchecked", moderation_trace_id=None).where(Upload.id == old["id"]).execute()
    asked = wx.snapshot_stats()["calls"]["/wxa/media_check_async"]

    dry = cli(config_file, "check-photos", "--dry-run")
    assert dry.exit_code == 0 and "would ask for 1 photos of 1 reports" in dry.output
    run()
    assert wx.snapshot_stats()["calls"]["/wxa/media_check_async"] == asked  # a dry run asks nothing

    done = cli(config_file, "check-photos")
    assert done.exit_code == 0 and "asked for 1 photos of 1 reports" in done.output
    run()
    assert wx.snapshot_stats()["calls"]["/wxa/media_check_async"] == asked + 1  # that photo only
    assert uploads_of(old["id"]).moderation == "pending" and uploads_of(new["id"]).moderation == "pass"
    assert [r["status"] for r in wx.release_pushes()] == [200]
    assert uploads_of(old["id"]).moderation == "pass"
    assert "asked for 0 photos of 0 reports" in cli(config_file, "check-photos").output


def test_the_card_links_a_photo_before_its_verdict_and_shows_it_after_a_pass(
        client, resident, wx, officials, say, fake_dingtalk, run):
    p = photo(client, resident)
    number = submit(client, resident, photos=[p["id"]])
    run()
    [card] = cards(fake_dingtalk, "yongsheng", number)
    key = p["url"].rsplit("/", 1)[-1]
    assert f"[照片1](https://tongxin.test/media/{key})" in card
    assert "![照片1]" not in card  # a link the official opens, not a picture in the group
    wx.release_pushes()
    assert uploads_of(p["id"]).moderation == "pass"
    say("yongsheng", "ys-a", f"转办 {number} 城管局")
    run()
    [transfer] = cards(fake_dingtalk, "chengguan", number)
    assert f"![照片1](https://tongxin.test/media/{key})" in transfer  # passed: shown as a picture


@pytest.fixture(params=["hold", "inline"])
def mode(request, settings_dict) -> str:
    """``[wechat] photos_before_check`` set before the app is built."""
    settings_dict["wechat"]["photos_before_check"] = request.param
    return request.param


def test_what_a_card_shows_before_the_verdict_is_configurable(mode, client, resident, wx, fake_dingtalk, run):
    p = photo(client, resident)
    number = submit(client, resident, photos=[p["id"]])
    run()
    [card] = cards(fake_dingtalk, "yongsheng", number)
    key = p["url"].rsplit("/", 1)[-1]
    if mode == "hold":
        assert key not in card and "1 张照片待微信内容安全检测" in card
    else:
        assert f"![照片1](https://tongxin.test/media/{key})" in card


# --------------------------------------------------------------------------- a risky photo


def test_a_risky_photo_is_withdrawn_hidden_everywhere_and_the_resident_is_told(
        app, settings, client, resident, wx, fake_dingtalk, run, console):
    wx.script_media_verdict("risky", match="")
    good_data, bad = photo(client, resident, (10, 10, 200)), photo(client, resident)
    wx.script_media_verdict("pass", match=good_data["url"].rsplit("/", 1)[-1])
    number = submit(client, resident, photos=[good_data["id"], bad["id"]])
    assert client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl-report-status"]},
                       headers=resident["headers"]).status_code == 200
    wx.grant_consent(resident["openid"], "tmpl-report-status")
    run()
    [card] = cards(fake_dingtalk, "yongsheng", number)
    bad_key = bad["url"].rsplit("/", 1)[-1]
    assert bad_key in card
    before = client.get(f"/media/{bad_key}")
    assert before.status_code == 200  # WeChat must be able to fetch it
    # Until the verdict, browsers and proxies keep it for minutes only: a withdrawal reaches them.
    assert before.headers["Cache-Control"] == "public, max-age=300"
    results = wx.release_pushes()
    assert [r["status"] for r in results] == [200, 200]
    assert uploads_of(bad["id"]).moderation == "risky" and uploads_of(good_data["id"]).moderation == "pass"

    # Hidden from every view: the resident's API, the official page, the console, /media.
    body = client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()
    assert [x["url"] for x in body["photos"]] == [good_data["url"]]
    assert body["timeline"][-1]["action"] == "withdraw_photo"
    assert "未通过微信内容安全检测" in body["timeline"][-1]["note"]
    listed = client.get("/api/v1/reports", headers=resident["headers"]).get_json()["items"][0]
    assert [x["url"] for x in listed["photos"]] == [good_data["url"]]
    for path in (f"/media/{bad_key}", f"/media/{bad_key.split('.')[0]}_thumb.jpg"):
        resp = client.get(path)
        assert resp.status_code == 410 and resp.get_json()["error"]["code"] == "photo_withdrawn"
    good = client.get(f"/media/{good_data['url'].rsplit('/', 1)[-1]}")
    assert good.status_code == 200
    # Passed: it will not change, so it may be cached for good.
    assert good.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    page = client.get(signed_report_url(settings, number).replace("https://tongxin.test", ""))
    assert page.status_code == 200
    sha = bad_key.split(".")[0]
    assert sha not in page.get_data(as_text=True)
    assert good_data["url"].rsplit("/", 1)[-1].split(".")[0] in page.get_data(as_text=True)
    console_page = console("county").text(f"/console/reports/{number}")
    assert sha not in console_page

    # Withdrawn from the group, and the resident told (subscribe message: a consent was held).
    run()
    [withdrawn] = [t for t in cards(fake_dingtalk, "yongsheng", number) if "照片已撤下" in t]
    assert "未通过微信内容安全检测" in withdrawn and bad_key not in withdrawn
    [message] = [m for m in wx.sent_messages() if m["touser"] == resident["openid"]]
    assert message["data"]["thing3"].startswith("照片未通过内容安全检测")
    assert message["page"] == f"pages/report/detail?number={number}"
    # Its files are gone from the server.
    assert not Path(settings.uploads.dir, sha[:2], bad_key).exists()
    assert Path(settings.uploads.dir, good_data["url"].rsplit("/", 1)[-1][:2]).exists()


def test_without_a_consent_the_resident_is_told_in_the_timeline(client, resident, wx, fake_dingtalk, run):
    wx.script_media_verdict("risky")
    bad = photo(client, resident)
    number = submit(client, resident, photos=[bad["id"]])
    run()
    wx.release_pushes()
    run()
    database.connect(reuse_if_open=True)
    step = TimelineEntry.select().where(TimelineEntry.action == "withdraw_photo").get()
    assert step.report.number == number and step.channel == "system"
    event = OutboxEvent.get(OutboxEvent.kind == "report.photo_withdrawn")
    [to_resident] = [d for d in Delivery.select().where(Delivery.event == event) if d.channel == "wechat"]
    assert to_resident.state == "skipped"  # no consent: the timeline tells them
    assert wx.sent_messages() == []


def test_the_same_picture_again_takes_the_verdict_without_a_new_request(client, resident, wx, run):
    wx.script_media_verdict("risky")
    first = photo(client, resident)
    submit(client, resident, photos=[first["id"]])
    run()
    wx.release_pushes()
    again = photo(client, resident)  # the same pixels: the same content
    assert again["url"] == first["url"]
    submit(client, resident, photos=[again["id"]], description="同一张照片再报一次")
    run()
    assert wx.snapshot_stats()["calls"]["/wxa/media_check_async"] == 1
    assert uploads_of(again["id"]).moderation == "risky"


# --------------------------------------------------------------------------- the push endpoint


def test_a_forged_push_changes_nothing(client, resident, wx, tongxin, run):
    p = photo(client, resident)
    submit(client, resident, photos=[p["id"]])
    run()
    trace_id = uploads_of(p["id"]).moderation_trace_id
    for query in (signed(token="not-the-token"), {k: v for k, v in signed().items() if k != "signature"},
                  signed(timestamp=str(int(time.time()) - 3600)), {**signed(), "signature": "ｆ" * 40}):
        resp = post_push(tongxin, query, verdict(trace_id))
        assert resp.status_code in (400, 401), (query, resp.text)
        assert resp.json()["error"]["code"] in ("invalid_signature", "stale_timestamp", "bad_callback")
    assert uploads_of(p["id"]).moderation == "pending"
    assert post_push(tongxin, signed(), b"[" * 50_000).status_code == 400  # deep JSON: a clean 4xx
    assert post_push(tongxin, signed(), b" " * 100_000).status_code == 413  # too large: never read
    assert uploads_of(p["id"]).moderation == "pending"


def test_the_url_check_echoes_only_for_the_right_signature(tongxin):
    ok = requests.get(f"{tongxin.base_url}/callbacks/wechat", params={**signed(), "echostr": "4375120948345356249"},
                      timeout=5)
    assert ok.status_code == 200 and ok.text == "4375120948345356249"
    bad = requests.get(f"{tongxin.base_url}/callbacks/wechat",
                       params={**signed(token="wrong"), "echostr": "4375120948345356249"}, timeout=5)
    assert bad.status_code == 401 and "4375120948345356249" not in bad.text


def test_a_replayed_push_has_one_effect_and_a_reused_signature_carries_no_other_body(
        client, resident, wx, tongxin, fake_dingtalk, run):
    wx.script_media_verdict("risky")
    p, other = photo(client, resident), photo(client, resident, (1, 2, 3))
    number = submit(client, resident, photos=[p["id"], other["id"]])
    run()
    [first, _] = wx.release_pushes()
    assert first["status"] == 200
    again = wx.replay_push(0)  # WeChat's retry: byte for byte
    assert again["status"] == 200 and again["answer"] == "success"
    database.connect(reuse_if_open=True)
    assert TimelineEntry.select().where(TimelineEntry.action == "withdraw_photo").count() == 2  # one per photo
    # A captured (timestamp, nonce, signature) with another body (plaintext mode): refused.
    forged = verdict(uploads_of(other["id"]).moderation_trace_id, "pass")
    resp = post_push(tongxin, first["query"], forged)
    assert resp.status_code == 401 and resp.json()["error"]["code"] == "replayed_signature"
    assert uploads_of(other["id"]).moderation == "risky"
    # A fresh, genuine push of a verdict already applied: acknowledged, nothing changes.
    resp = post_push(tongxin, signed(), verdict(uploads_of(p["id"]).moderation_trace_id, "pass"))
    assert resp.status_code == 200 and resp.text == "success"
    assert uploads_of(p["id"]).moderation == "risky"
    run()
    # One message per withdrawn photo (each verdict came once), none for the replays.
    assert len([t for t in cards(fake_dingtalk, "yongsheng", number) if "照片已撤下" in t]) == 2


def test_an_unknown_trace_id_is_acknowledged_and_ignored(client, resident, wx, tongxin, run):
    p = photo(client, resident)
    submit(client, resident, photos=[p["id"]])
    run()
    resp = post_push(tongxin, signed(), verdict("no-such-trace-id", "risky"))
    assert resp.status_code == 200 and resp.text == "success"
    other_event = {"ToUserName": "gh_x", "MsgType": "event", "Event": "debug_demo", "debug_str": "hello"}
    assert post_push(tongxin, signed(), other_event).text == "success"
    assert uploads_of(p["id"]).moderation == "pending"
    database.connect(reuse_if_open=True)
    assert TimelineEntry.select().where(TimelineEntry.action == "withdraw_photo").count() == 0


# --------------------------------------------------------------------------- safe mode


@pytest.fixture
def safe_settings(settings_dict):
    settings_dict["wechat"]["push_aes_key"] = AES_KEY
    return settings_dict


def test_safe_mode_pushes_are_decrypted_and_plaintext_ones_refused(safe_settings, client, resident, fake_wechat,
                                                                   tongxin, run):
    state = fake_wechat.state
    state.configure_push(f"{tongxin.base_url}/callbacks/wechat", TOKEN, AES_KEY)
    state.hold_pushes()
    state.script_media_verdict("risky")
    p, q = photo(client, resident), photo(client, resident, (9, 9, 9))
    submit(client, resident, photos=[p["id"], q["id"]])
    run()
    [pushed, _] = state.release_pushes()
    assert pushed["query"]["encrypt_type"] == "aes" and "Encrypt" in json.loads(pushed["body"])
    assert "trace_id" not in pushed["body"]  # the verdict travels encrypted
    assert pushed["status"] == 200 and uploads_of(p["id"]).moderation == "risky"

    # With a key configured a plaintext push is refused, even correctly signed.
    trace_q = uploads_of(q["id"]).moderation_trace_id
    Upload.update(moderation="pending").where(Upload.id == q["id"]).execute()
    resp = post_push(tongxin, signed(), verdict(trace_q, "pass"))
    assert resp.status_code == 400 and uploads_of(q["id"]).moderation == "pending"
    # A ciphertext under a wrong msg_signature, or encrypted with another key: refused.
    text = json.dumps(verdict(trace_q, "pass"))
    for key, sign_ok in ((AES_KEY, False), ("Z" * 43, True)):
        encrypt = PrpCrypto(base64.b64decode(key + "=")).encrypt(text, APPID).decode()
        query = signed()
        query.update(encrypt_type="aes", msg_signature=hashlib.sha1("".join(sorted(
            [TOKEN, query["timestamp"], query["nonce"], encrypt if sign_ok else encrypt[:-4]])).encode()).hexdigest())
        resp = post_push(tongxin, query, {"ToUserName": "gh_x", "Encrypt": encrypt})
        assert resp.status_code in (400, 401), resp.text
    assert uploads_of(q["id"]).moderation == "pending"
    # The same ciphertext, correctly signed: applied.
    encrypt = PrpCrypto(base64.b64decode(AES_KEY + "=")).encrypt(text, APPID).decode()
    query = signed()
    query.update(encrypt_type="aes", msg_signature=hashlib.sha1("".join(sorted(
        [TOKEN, query["timestamp"], query["nonce"], encrypt])).encode()).hexdigest())
    resp = post_push(tongxin, query, {"ToUserName": "gh_x", "Encrypt": encrypt})
    assert resp.status_code == 200 and uploads_of(q["id"]).moderation == "pass"


def test_a_placeholder_push_aes_key_is_refused(settings_dict):
    settings_dict["wechat"]["push_aes_key"] = "changeme" + "x" * 35
    with pytest.raises(ConfigError, match="push_aes_key: is a placeholder"):
        parse_settings(settings_dict)
    settings_dict["wechat"]["push_aes_key"] = "too-short"
    with pytest.raises(ConfigError, match="push_aes_key"):
        parse_settings(settings_dict)
    settings_dict["wechat"]["photos_before_check"] = "sometimes"
    with pytest.raises(ConfigError, match="photos_before_check"):
        parse_settings(settings_dict)
