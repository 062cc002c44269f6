"""Notices in the console over HTTP, on SQLite and PostgreSQL: writing with a preview of what
residents and the groups see, publishing now or later, each unit's acknowledgement, withdrawal
with a reason; who may do what (county, unit administrator, auditor); CSRF."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from miniapp_api.community.links import signed_notice_url
from miniapp_api.community.scheduler import run_pass
from miniapp_api.db import database
from miniapp_api.models import Upload
from miniapp_api.models import utcnow
from miniapp_api.models.community import Notice
from miniapp_api.models.community import NoticeUnit
from miniapp_api.models.console import AuditEntry
from miniapp_api.notices import service as notice_service
from miniapp_api.reports.uploads import photo_out
from miniapp_api.time import LOCAL_TZ
from tests.api.test_uploads import jpeg_with_gps

NUMBER = re.compile(r"/console/notices/(N\d{4})")


def form(**fields) -> dict:
    body = {"title": "防汛通知", "body_html": "<p>今晚有<strong>暴雨</strong></p><script>alert(1)</script>",
            "target": "county", "ack_required": "1", "action": "publish"}
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def local_input(delta: timedelta) -> str:
    return (utcnow() + delta).astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def publish(c, **fields) -> str:
    resp = c.post("/console/notices/new", form(**fields))
    assert resp.status_code == 302, resp.get_data(as_text=True)[:2000]
    return NUMBER.search(resp.headers["Location"]).group(1)


def notice(number: str) -> Notice:
    database.connect(reuse_if_open=True)
    return Notice.get(Notice.number == number)


def test_preview_shows_what_residents_and_groups_see_and_stores_nothing(console, db):
    c = console("county")
    page = c.post("/console/notices/new", form(action="preview", target="township:yongsheng"))
    html = page.get_data(as_text=True).split('id="preview"')[1]
    assert page.status_code == 200
    assert "<strong>暴雨</strong>" in html and "alert(1)" not in html  # the sanitised body
    assert "请各单位在" in html and "收到 N0000" in html  # the group card asks for 收到
    assert "发送到：永盛街道" in html
    assert Notice.select().count() == 0
    live = c.post("/console/notices/preview", form(ack_required=None))
    assert live.status_code == 200 and "仅供知悉，无需回复收到" in live.get_data(as_text=True)
    bad = c.post("/console/notices/preview", form(title=""))
    assert bad.status_code == 422 and "title" in bad.get_data(as_text=True)


def test_publish_then_watch_acks_and_reads(console, db, residents, client):
    c = console("county")
    number = publish(c)
    n = notice(number)
    assert n.status == "published" and n.publish_event_id and "<script" not in n.body_html
    assert NoticeUnit.select().where(NoticeUnit.notice == n).count() == 3
    reader = residents.login()
    assert client.post(f"/api/v1/notices/{number}/read", headers=reader["headers"]).status_code == 200
    notice_service.acknowledge(number, n.units[0].township, "王永盛", "ys-a", utcnow())
    detail = c.text(f"/console/notices/{number}")
    assert 'id="acked">1/3<' in detail and "王永盛" in detail and "待提醒" in detail
    assert 'id="read-rate">100%<' in detail
    assert "防汛通知" in c.text("/console/notices")
    entry = AuditEntry.get(AuditEntry.action == "notice.publish")
    assert entry.target == f"notice:{number}" and entry.actor == "county"


def test_scheduled_notice_waits_for_its_time(console, db, residents, client, settings):
    c = console("county")
    number = publish(c, publish_at=local_input(timedelta(hours=3)))
    assert notice(number).status == "scheduled" and notice(number).publish_event_id is None
    reader = residents.login()
    listed = client.get("/api/v1/notices", headers=reader["headers"]).get_json()["items"]
    assert listed == []
    assert client.get(f"/api/v1/notices/{number}", headers=reader["headers"]).status_code == 404
    assert "定时" in c.text(f"/console/notices/{number}")
    run_pass(utcnow() + timedelta(hours=1), settings)
    assert notice(number).status == "scheduled"
    run_pass(utcnow() + timedelta(hours=3, minutes=1), settings)
    assert notice(number).status == "published" and notice(number).publish_event_id
    assert [i["number"] for i in client.get("/api/v1/notices", headers=reader["headers"]).get_json()["items"]] == [number]
    too_far = c.post("/console/notices/new", form(publish_at=local_input(timedelta(days=100))))
    assert too_far.status_code == 422 and "90 天" in too_far.get_data(as_text=True)


def test_withdrawn_before_its_time_is_never_seen(console, db, residents, client, settings):
    c = console("county")
    number = publish(c, publish_at=local_input(timedelta(hours=3)))
    assert c.post(f"/console/notices/{number}/withdraw", {"reason": "改期"}).status_code == 302
    run_pass(utcnow() + timedelta(hours=4), settings)
    assert notice(number).status == "withdrawn" and notice(number).publish_event_id is None
    reader = residents.login()
    assert client.get("/api/v1/notices", headers=reader["headers"]).get_json()["items"] == []


def test_withdrawal_needs_a_reason_and_ends_the_requests_for_acks(console, db, app, settings):
    c = console("county")
    number = publish(c)
    page_url = signed_notice_url(settings, number).replace(settings.server.public_base_url, "")
    official_page = app.test_client().get(page_url).get_data(as_text=True)
    assert "@机器人 发送：收到 " + number in official_page
    empty = c.post(f"/console/notices/{number}/withdraw", {"reason": "  "})
    assert empty.status_code == 422 and "撤回理由" in empty.get_data(as_text=True)
    assert notice(number).status == "published"
    assert c.post(f"/console/notices/{number}/withdraw", {"reason": "内容有误"}).status_code == 302
    n = notice(number)
    assert n.status == "withdrawn" and n.withdraw_reason == "内容有误" and n.withdrawn_by == "县管理员"
    official_page = app.test_client().get(page_url).get_data(as_text=True)
    assert "收到 " + number not in official_page.replace("收到（", "")
    assert "已撤回，无需再确认收到" in official_page
    with pytest.raises(notice_service.AckRefused, match="已撤回"):
        notice_service.acknowledge(number, n.units[0].township, "王永盛", "ys-a", utcnow())
    again = c.post(f"/console/notices/{number}/withdraw", {"reason": "再撤一次"})
    assert again.status_code == 409 and "已撤回" in again.get_data(as_text=True)


def test_a_notice_for_information_only_asks_nobody(console, db, app, settings):
    c = console("county")
    number = publish(c, ack_required=None)
    n = notice(number)
    assert n.ack_due_at is None and n.escalate_at is None
    with pytest.raises(notice_service.AckRefused, match="无需确认"):
        notice_service.acknowledge(number, n.units[0].township, "王永盛", "ys-a", utcnow())
    page_url = signed_notice_url(settings, number).replace(settings.server.public_base_url, "")
    assert "仅供知悉" in app.test_client().get(page_url).get_data(as_text=True)
    assert run_pass(utcnow() + timedelta(days=5), settings)["notice_reminders"] == 0


def test_unit_admin_is_kept_to_their_unit(console, db):
    county_number = publish(console("county"))
    other_unit = publish(console("county"), target="township:yongning")
    ys = console("ys_admin")
    new = ys.text("/console/notices/new")
    assert 'value="township:yongsheng"' in new and 'value="county"' not in new and "yongning" not in new
    assert ys.post("/console/notices/new", form()).status_code == 403
    assert ys.post("/console/notices/new", form(target="township:yongning")).status_code == 403
    own = publish(ys, target="township:yongsheng")
    listed = ys.text("/console/notices")
    assert own in listed and county_number in listed and other_unit not in listed
    assert ys.get(f"/console/notices/{other_unit}").status_code == 404
    assert ys.post(f"/console/notices/{other_unit}/withdraw", {"reason": "x"}).status_code == 404
    assert ys.post(f"/console/notices/{county_number}/withdraw", {"reason": "x"}).status_code == 403
    assert notice(county_number).status == "published"
    assert 'id="notice-withdraw"' not in ys.text(f"/console/notices/{county_number}")
    assert Notice.select().count() == 3


def test_auditor_reads_only(console, db):
    number = publish(console("county"))
    a = console("auditor")
    assert number in a.text("/console/notices") and "写通知" not in a.text("/console/notices")
    assert a.get("/console/notices/new").status_code == 403
    assert a.post("/console/notices/new", form()).status_code == 403
    assert a.post("/console/notices/preview", form()).status_code == 403
    assert a.post(f"/console/notices/{number}/withdraw", {"reason": "x"}).status_code == 403
    assert Notice.select().count() == 1 and notice(number).status == "published"


def test_forms_need_the_csrf_token_and_bad_input_changes_nothing(console, db):
    c = console("county")
    assert c.post("/console/notices/new", form(), csrf=False).status_code == 400
    for bad in (form(target="grid:99999"), form(target="nonsense"), form(title="x" * 61),
                form(expires_at=local_input(timedelta(hours=-1))), form(ack_hours="abc"),
                form(publish_at="tomorrow"), form(target="community:" + "9" * 30)):
        resp = c.post("/console/notices/new", bad)
        assert resp.status_code == 422, (bad, resp.status_code)
    assert Notice.select().count() == 0
    assert c.get("/console/notices/N9999").status_code == 404
    assert c.get("/console/notices?page=99999999999999999999999").status_code == 200


# --- pictures ---------------------------------------------------------------------------------

def _picture(colour=(200, 30, 30), name="现场.jpg"):
    """A JPEG as a phone takes it (GPS position and camera in its EXIF), as a file field."""
    data = jpeg_with_gps() if colour == (200, 30, 30) else _plain_jpeg(colour)
    return (io.BytesIO(data), name)


def _plain_jpeg(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 20), colour).save(buf, "JPEG")
    return buf.getvalue()


def _kept(html: str) -> list[str]:
    return re.findall(r'name="image" value="([^"]+)" checked', html)


def test_pictures_are_cleaned_kept_across_the_preview_and_shown_to_residents(console, db, residents, client):
    c = console("county")
    page = c.post("/console/notices/new", form(action="preview", images=[_picture()]))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and Notice.select().count() == 0
    ids = _kept(html)
    assert len(ids) == 1
    assert 'class="notice-image"' in html.split('id="preview"')[1]  # what residents will see
    upload = Upload.get_by_id(ids[0])
    assert upload.resident_id is None  # an administrator's picture, never removed as an orphan
    stored = client.get(photo_out(upload, "")["url"])
    assert stored.status_code == 200
    assert not Image.open(io.BytesIO(stored.data)).getexif()  # no GPS position, no camera

    # The live preview shows the kept picture and stores no file, whatever the form holds.
    before = Upload.select().count()
    live = c.post("/console/notices/preview", form(image=ids[0], images=[_picture((1, 2, 3))]))
    assert live.status_code == 200 and 'class="notice-image"' in live.get_data(as_text=True)
    assert Upload.select().count() == before

    number = publish(c, image=ids[0], images=[_picture((30, 30, 200), "第二张.jpg")])
    n = notice(number)
    assert len(n.images) == 2 and n.images[0] == ids[0]
    reader = residents.login()
    detail = client.get(f"/api/v1/notices/{number}", headers=reader["headers"]).get_json()
    paths = [photo_out(Upload.get_by_id(i), "")["url"] for i in n.images]  # the URLs without the host
    assert len(detail["images"]) == 2
    assert all(img["url"].endswith(path) for img, path in zip(detail["images"], paths))
    # Unticked, a picture is left out.
    dropped = publish(c, title="第二份通知")
    assert notice(dropped).images == []


def test_bad_pictures_are_refused_and_change_nothing(console, db):
    c = console("county")
    too_many = c.post("/console/notices/new", form(images=[_picture((i, 0, 0)) for i in range(10)]))
    assert too_many.status_code == 422 and "最多 9 张图片" in too_many.get_data(as_text=True)
    not_a_picture = c.post("/console/notices/new", form(images=[(io.BytesIO(b"%PDF-1.4 nope"), "x.jpg")]))
    assert not_a_picture.status_code == 422 and "无法使用" in not_a_picture.get_data(as_text=True)
    forged = c.post("/console/notices/new", form(image="../../etc/passwd"))
    assert forged.status_code == 422 and "图片参数不正确" in forged.get_data(as_text=True)
    unknown = c.post("/console/notices/new", form(image="abcdefghijklmnop"))
    assert unknown.status_code == 422 and "图片已不存在" in unknown.get_data(as_text=True)
    assert Notice.select().count() == 0 and Upload.select().count() == 0
    # A form sent back for another error keeps the pictures already stored.
    back = c.post("/console/notices/new", form(title="", images=[_picture()]))
    assert back.status_code == 422 and len(_kept(back.get_data(as_text=True))) == 1
    assert Notice.select().count() == 0
