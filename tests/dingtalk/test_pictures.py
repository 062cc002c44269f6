"""办结照片 from DingTalk (issue 15): pictures sent to the robot — in a ``picture`` message after
``办结 <编号>`` (within the window), or in a ``richText`` message with the number or the whole
办结 command — are downloaded with the robot message-file download from the fake over real
HTTP, re-encoded without EXIF, and shown apart from the resident's photos. A ``needs_proof``
category cannot be resolved without one. On SQLite and PostgreSQL."""
from __future__ import annotations

import io
import json
from datetime import timedelta

import pytest
import requests
from PIL import Image

from bridges.dingtalk.inbound import CallbackRejected
from bridges.dingtalk.inbound import CallbackRequest
from bridges.dingtalk.inbound import parse_callback
from miniapp_api.db import database
from miniapp_api.models import Category
from miniapp_api.models import Report
from miniapp_api.models import ReportPhoto
from miniapp_api.models import TimelineEntry
from tests.bridges.conftest import run  # noqa: F401  (fixture)
from tests.bridges.conftest import tongxin  # noqa: F401  (fixture)
from tests.bridges.conftest import worker  # noqa: F401  (fixture)
from tests.bridges.test_callbacks import officials  # noqa: F401  (fixture)
from tests.bridges.test_callbacks import replies
from tests.bridges.test_callbacks import say  # noqa: F401  (fixture)
from tests.conftest import DT_APP_SECRET
from tests.conftest import report_body

GPS_IFD = 0x8825


@pytest.fixture
def client(app):
    """The API's test client (this folder's conftest names the robot client ``client``)."""
    return app.test_client()


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[GPS_IFD] = {1: "N", 2: (43.0, 20.0, 42.0), 3: "E", 4: (125.0, 18.0, 18.0)}
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), (30, 30, 200)).save(buf, "JPEG", exif=exif.tobytes())
    return buf.getvalue()


def _submit(client, resident, **overrides) -> str:
    resp = client.post("/api/v1/reports", json=report_body(**overrides), headers=resident["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["number"]


def _last_reply(run, fake) -> str:  # noqa: F811
    run()
    return replies(fake, "yongsheng")[-1]["text"]


def _completion(number: str) -> list[ReportPhoto]:
    database.connect(reuse_if_open=True)
    report = Report.get(Report.number == number)
    return list(ReportPhoto.select().where((ReportPhoto.report == report.id) & (ReportPhoto.position >= 100)))


def test_inbound_parses_picture_and_rich_text_messages(fake_dingtalk):
    state = fake_dingtalk.state
    headers, body, _ = state.build_callback(conversation_id="cid-yongsheng", staff_id="ys-a", text="",
                                            base_url=fake_dingtalk.base_url, pictures=[b"x"])
    msg = parse_callback(CallbackRequest(headers, body), DT_APP_SECRET, int(headers["timestamp"]))
    assert msg.msgtype == "picture" and len(msg.picture_codes) == 1 and msg.text == "" and msg.robot_code
    headers, body, _ = state.build_callback(conversation_id="cid-yongsheng", staff_id="ys-a", text="R261206-0001",
                                            base_url=fake_dingtalk.base_url, pictures=[b"x", b"y"])
    msg = parse_callback(CallbackRequest(headers, body), DT_APP_SECRET, int(headers["timestamp"]))
    assert msg.msgtype == "richText" and len(msg.picture_codes) == 2 and msg.text == "R261206-0001"
    payload = json.loads(body)
    payload["content"] = {"richText": [{"type": "picture"}, {"text": " 查询 R1"}, "junk"]}
    msg = parse_callback(CallbackRequest(headers, json.dumps(payload).encode()), DT_APP_SECRET,
                         int(headers["timestamp"]))
    assert msg.picture_codes == () and msg.text == "查询 R1"  # a picture without a code is left out
    with pytest.raises(CallbackRejected) as err:  # still verified before anything is read
        parse_callback(CallbackRequest({**headers, "sign": "x"}, body), DT_APP_SECRET, int(headers["timestamp"]))
    assert err.value.status == 401


def test_fake_download_needs_a_valid_token_and_code(fake_dingtalk):
    code = fake_dingtalk.state.app.add_message_file(b"abc")
    url = f"{fake_dingtalk.base_url}/v1.0/robot/messageFiles/download"
    resp = requests.post(url, json={"downloadCode": code, "robotCode": "x"}, timeout=5)
    assert resp.status_code == 401
    token = requests.get(f"{fake_dingtalk.base_url}/gettoken",
                         params={"appkey": fake_dingtalk.state.app_key, "appsecret": DT_APP_SECRET}, timeout=5).json()
    headers = {"x-acs-dingtalk-access-token": token["access_token"]}
    bad = requests.post(url, json={"downloadCode": "nope", "robotCode": fake_dingtalk.state.app_key},
                        headers=headers, timeout=5)
    assert bad.status_code == 400
    ok = requests.post(url, json={"downloadCode": code, "robotCode": fake_dingtalk.state.app_key},
                       headers=headers, timeout=5)
    assert requests.get(ok.json()["downloadUrl"], timeout=5).content == b"abc"


def test_picture_after_resolve_becomes_a_completion_photo_without_exif(
        client, resident, say, officials, run, fake_dingtalk):  # noqa: F811
    number = _submit(client, resident)
    say("yongsheng", "ys-a", f"受理 {number}")
    say("yongsheng", "ys-a", f"办结 {number} 已清理完毕")
    say("yongsheng", "ys-a", "", pictures=[jpeg_with_gps()])
    assert f"已为 {number} 附上办结照片 1 张" in _last_reply(run, fake_dingtalk)
    [photo] = _completion(number)
    stored = Image.open(io.BytesIO(client.get(
        client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()
        ["completion_photos"][0]["url"].replace("https://tongxin.test", "")).data))
    assert not stored.getexif().get_ifd(GPS_IFD) and not stored.getexif().get(0x010F)
    detail = client.get(f"/api/v1/reports/{number}", headers=resident["headers"]).get_json()
    assert detail["photos"] == [] and len(detail["completion_photos"]) == 1
    assert detail["timeline"][-1]["action"] == "proof" and detail["timeline"][-1]["channel"] == "dingtalk"
    # The resolved card in the group shows 上报照片 and 办结照片 apart (a later 办结 shows both).
    cards = [m for m in fake_dingtalk.state.messages("cid-yongsheng") if m["msgtype"] == "markdown"]
    assert any("办结" in m["title"] for m in cards)


def test_a_picture_long_after_resolve_or_naming_nothing_is_refused(
        client, resident, say, officials, run, fake_dingtalk):  # noqa: F811
    number = _submit(client, resident)
    say("yongsheng", "ys-a", f"受理 {number}")
    say("yongsheng", "ys-a", f"办结 {number} 已清理完毕")
    database.connect(reuse_if_open=True)
    _age_resolve(number)
    say("yongsheng", "ys-a", "", pictures=[jpeg_with_gps()])
    assert "不知道是哪条上报" in _last_reply(run, fake_dingtalk)
    say("yongsheng", "ys-a", "R999999-9999", pictures=[jpeg_with_gps()])
    assert "找不到编号为 R999999-9999" in _last_reply(run, fake_dingtalk)
    assert _completion(number) == []
    # With the number in the same message it is attached whenever it comes.
    say("yongsheng", "ys-a", f"{number} 现场照片", pictures=[jpeg_with_gps()])
    assert f"已为 {number} 附上办结照片 1 张" in _last_reply(run, fake_dingtalk)


def _age_resolve(number: str) -> None:
    report = Report.get(Report.number == number)
    entry = TimelineEntry.get((TimelineEntry.report == report.id) & (TimelineEntry.action == "resolve"))
    TimelineEntry.update(at=entry.at - timedelta(minutes=11)).where(TimelineEntry.id == entry.id).execute()


def test_needs_proof_category_is_resolved_only_with_a_completion_photo(
        client, resident, say, officials, run, fake_dingtalk, worker):  # noqa: F811
    database.connect(reuse_if_open=True)
    Category.update(needs_proof=True).where(Category.code == "sanitation").execute()
    number = _submit(client, resident)
    say("yongsheng", "ys-a", f"受理 {number}")
    say("yongsheng", "ys-a", f"办结 {number} 已清理完毕")
    assert "办结需要附办结照片" in _last_reply(run, fake_dingtalk)
    assert Report.get(Report.number == number).status == "accepted"
    say("yongsheng", "ys-a", f"办结 {number} 已清理完毕", pictures=[jpeg_with_gps()])
    assert "已附办结照片 1 张" in _last_reply(run, fake_dingtalk)
    assert Report.get(Report.number == number).status == "resolved" and len(_completion(number)) == 1
    resolved = [m for m in fake_dingtalk.state.messages("cid-yongsheng")
                if m["msgtype"] == "markdown" and "办结" in m["title"]][-1]
    assert "办结照片" in resolved["text"]
