"""Notices through HTTP: publishing rights, sanitised bodies, home-place scoping, read
receipts and statistics, withdrawal in the mini-program and in the groups."""
from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from PIL import Image

from miniapp_api.notices.sanitize import clean_html
from miniapp_api.db import database
from miniapp_api.models import Delivery
from miniapp_api.models import Upload
from miniapp_api.models import utcnow
from miniapp_api.models.community import NoticeUnit
from miniapp_api.time import iso
from tests.community.conftest import COUNTY
from tests.community.conftest import unit_admin
from tests.community.conftest import wechat_messages
from tests.api.test_uploads import jpeg_with_gps


def publish(client, target: dict, headers=COUNTY, **fields) -> dict:
    body = {"title": "停水通知", "body_html": "<p>明天 8:00–12:00 停水，请提前储水。</p>", "target": target, **fields}
    resp = client.post("/api/v1/admin/notices", json=body, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def numbers(client, who) -> list[str]:
    return [n["number"] for n in client.get("/api/v1/notices", headers=who["headers"]).get_json()["items"]]


EVIL = """<p style="background:url(https://evil.example/x.png)" onclick="steal()">开会<script>alert(1)</script></p>
<iframe src="https://evil.example/frame">iframe text</iframe>
<a href="javascript:alert(document.cookie)">点我</a> <a href="https://www.gov.cn/">政府网</a>
<style>@import url(https://evil.example/x.css); body{display:none}</style>
<link rel="stylesheet" href="https://evil.example/y.css"><img src="https://evil.example/pixel.gif">
<img src="https://tongxin.test/media/abc.jpg" onerror="alert(1)" style="position:fixed">
<svg onload="alert(1)"><script>alert(2)</script></svg><a href=" JaVaScRiPt:alert(3)">x</a>
<p><b>重要</b> &lt;不是标签&gt;</p><form action="https://evil.example"><input name="pw"></form>"""


def test_sanitisation_strips_script_iframe_js_links_and_styles():
    out = clean_html(EVIL, "https://tongxin.test/media/")
    low = out.lower()
    for bad in ("<script", "alert(", "<iframe", "iframe text", "javascript:", "style", "<link", "evil.example",
                "onerror", "onclick", "onload", "<svg", "<form", "<input", "@import"):
        assert bad not in low, (bad, out)
    assert '<a href="https://www.gov.cn/" rel="noopener noreferrer nofollow">政府网</a>' in out
    assert '<img src="https://tongxin.test/media/abc.jpg">' in out
    assert "<p><b>重要</b> &lt;不是标签&gt;</p>" in out and "开会" in out


def test_published_body_is_sanitised(client, people, org):
    who = people.at(org["东风一网格"])
    n = publish(client, {"level": "county"}, body_html=EVIL)
    assert "<script" not in n["body_html"] and "javascript" not in n["body_html"].lower()
    detail = client.get(f"/api/v1/notices/{n['number']}", headers=who["headers"]).get_json()
    assert detail["body_html"] == n["body_html"]
    assert "alert" not in detail["summary"] and "开会" in detail["summary"]


def test_grid_notice_reaches_only_that_grid(client, people, org, fake_wechat, run):
    inside, neighbour, elsewhere = people.at(org["东风一网格"]), people.at(org["东风二网格"]), people.at(org["南山一网格"])
    unit_only = people.at(township="yongsheng")
    for who in (inside, neighbour, elsewhere, unit_only):
        people.consent(who, "tmpl-notice")
    grid_notice = publish(client, {"level": "grid", "grid": org["东风一网格"]}, title="网格通知")
    community_notice = publish(client, {"level": "community", "community": org["东风社区"]}, title="社区通知")
    unit_notice = publish(client, {"level": "township", "township": "yongsheng"}, title="街道通知")
    county_notice = publish(client, {"level": "county"}, title="全县通知")
    g, c, u, k = (x["number"] for x in (grid_notice, community_notice, unit_notice, county_notice))
    assert numbers(client, inside) == [k, u, c, g]
    assert numbers(client, neighbour) == [k, u, c]
    assert numbers(client, unit_only) == [k, u]
    assert numbers(client, elsewhere) == [k]
    assert client.get(f"/api/v1/notices/{g}", headers=neighbour["headers"]).status_code == 404
    assert client.post(f"/api/v1/notices/{g}/read", headers=elsewhere["headers"]).status_code == 404
    assert grid_notice["target"]["grid"]["name"] == "东风一网格"
    assert grid_notice["target"]["township"]["code"] == "yongsheng"
    run()
    # Subscribe messages: each resident had one consent, used by the first notice in their scope.
    got = {m["touser"]: m["data"]["thing1"] for m in wechat_messages(fake_wechat, "tmpl-notice")}
    assert got == {inside["openid"]: "网格通知", neighbour["openid"]: "社区通知", unit_only["openid"]: "街道通知",
                   elsewhere["openid"]: "全县通知"}


def test_an_official_of_one_unit_cannot_publish_for_another(client, org):
    mine = unit_admin("yongsheng", "王主任")
    for target in ({"level": "township", "township": "yongning"}, {"level": "grid", "grid": org["南山一网格"]},
                   {"level": "county"}):
        resp = client.post("/api/v1/admin/notices", json={"title": "t", "target": target}, headers=mine)
        assert resp.status_code == 403, target
        assert resp.get_json()["error"]["code"] == "forbidden"
    own = publish(client, {"level": "community", "community": org["东风社区"]}, headers=mine)
    assert own["target"]["township"]["code"] == "yongsheng"
    other = publish(client, {"level": "township", "township": "yongning"})
    # They cannot see, withdraw or count another unit's notice either.
    assert client.get(f"/api/v1/admin/notices/{other['number']}", headers=mine).status_code == 404
    assert client.post(f"/api/v1/admin/notices/{other['number']}/withdraw", json={}, headers=mine).status_code == 404
    listed = client.get("/api/v1/admin/notices", headers=mine).get_json()["items"]
    assert [n["number"] for n in listed] == [own["number"]]
    resp = client.post("/api/v1/admin/notices", json={"title": "t", "target": {"level": "county"}})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "admin_unauthorized"


@pytest.mark.parametrize("body,field", [
    ({"title": "", "target": {"level": "county"}}, "title"),
    ({"title": "x" * 61, "target": {"level": "county"}}, "title"),
    ({"title": "t", "target": {"level": "planet"}}, "target.level"),
    ({"title": "t", "target": {"level": "grid"}}, "target.grid"),
    ({"title": "t", "target": {"level": "township", "township": "atlantis"}}, "target.township"),
    ({"title": "t", "target": {"level": "township"}}, "target.township"),
    ({"title": "t", "target": {"level": "county"}, "images": ["nope"]}, "images"),
    ({"title": "t", "target": {"level": "county"}, "expires_at": "2001-01-01T00:00:00"}, "expires_at"),
    ({"title": "t", "target": {"level": "county"}, "expires_at": "tomorrow"}, "expires_at"),
    ({"title": "t", "target": {"level": "county"}, "pinned": "maybe"}, "pinned"),
])
def test_bad_notice_is_422_in_chinese(client, org, body, field):
    resp = client.post("/api/v1/admin/notices", json=body, headers=COUNTY)
    assert resp.status_code == 422, resp.get_json()
    err = resp.get_json()["error"]
    assert err["code"] == "validation_failed" and err["field"] == field
    assert re.search(r"[\u4e00-\u9fff]", err["message"])


def test_pinned_first_expired_hidden_and_paged(client, people, org):
    who = people.at(org["东风一网格"])
    old = publish(client, {"level": "county"}, title="旧通知")["number"]
    pinned = publish(client, {"level": "county"}, title="置顶", pinned=True)["number"]
    soon = (utcnow() + timedelta(seconds=2)).isoformat()
    expiring = publish(client, {"level": "county"}, title="快过期", expires_at=soon)["number"]
    newer = [publish(client, {"level": "county"}, title=f"通知{i}")["number"] for i in range(3)]
    page1 = client.get("/api/v1/notices?limit=3", headers=who["headers"]).get_json()
    assert [n["number"] for n in page1["items"]] == [pinned, newer[2], newer[1]]
    page2 = client.get(f"/api/v1/notices?limit=3&cursor={page1['next_cursor']}", headers=who["headers"]).get_json()
    assert [n["number"] for n in page2["items"]] == [newer[0], expiring, old]
    assert client.get("/api/v1/notices?cursor=@@", headers=who["headers"]).status_code == 422
    database.connect(reuse_if_open=True)
    from miniapp_api.models.community import Notice

    Notice.update(expires_at=utcnow() - timedelta(seconds=1)).where(Notice.number == expiring).execute()
    assert expiring not in numbers(client, who)


def test_read_receipts_and_ack_statistics(client, people, org):
    readers = [people.at(org["东风一网格"]) for _ in range(3)]
    people.at(org["东风二网格"])  # in scope, does not read
    people.at(org["南山一网格"])  # out of scope
    n = publish(client, {"level": "township", "township": "yongsheng"})["number"]
    assert client.get(f"/api/v1/notices/{n}", headers=readers[0]["headers"]).get_json()["read"] is False
    first = client.post(f"/api/v1/notices/{n}/read", headers=readers[0]["headers"]).get_json()
    again = client.post(f"/api/v1/notices/{n}/read", headers=readers[0]["headers"]).get_json()
    assert first == again  # one receipt, the first time kept
    client.post(f"/api/v1/notices/{n}/read", headers=readers[1]["headers"])
    assert client.get(f"/api/v1/notices/{n}", headers=readers[0]["headers"]).get_json()["read"] is True
    assert client.get("/api/v1/notices", headers=readers[0]["headers"]).get_json()["items"][0]["read"] is True
    stats = client.get(f"/api/v1/admin/notices/{n}/stats", headers=COUNTY).get_json()
    assert (stats["audience"], stats["reads"], stats["read_rate"]) == (4, 2, 0.5)
    assert stats["units_total"] == 1 and stats["units_acked"] == 0
    assert stats["units"][0]["township"]["code"] == "yongsheng" and stats["units"][0]["acked_at"] is None
    county = client.post("/api/v1/admin/notices", json={"title": "全县", "target": {"level": "county"}},
                         headers=COUNTY).get_json()
    assert county["stats"]["units_total"] == 3 and county["stats"]["audience"] == 5


def test_withdrawal_propagates(client, people, org, fake_dingtalk, run, clock):
    who = people.at(org["东风一网格"])
    database.connect(reuse_if_open=True)
    n = publish(client, {"level": "county"}, title="错误的通知", pinned=True)["number"]
    # 永宁's robot is blocked: its copy is still waiting when the notice is withdrawn.
    fake_dingtalk.state.groups["cid-yongning"].limiter.blocked_until = clock() + 600
    run()
    assert "错误的通知" in fake_dingtalk.state.messages("cid-yongsheng")[0]["text"]
    resp = client.post(f"/api/v1/admin/notices/{n}/withdraw", json={"reason": "内容有误，以新通知为准"}, headers=COUNTY)
    assert resp.status_code == 200 and resp.get_json()["status"] == "withdrawn"
    again = client.post(f"/api/v1/admin/notices/{n}/withdraw", json={}, headers=COUNTY)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "notice_withdrawn"
    # The mini-program: still listed, marked, no body, no longer pinned.
    item = client.get("/api/v1/notices", headers=who["headers"]).get_json()["items"][0]
    assert (item["number"], item["status"], item["pinned"], item["summary"]) == (n, "withdrawn", False, "")
    detail = client.get(f"/api/v1/notices/{n}", headers=who["headers"]).get_json()
    assert detail["body_html"] == "" and detail["withdraw_reason"] == "内容有误，以新通知为准"
    assert detail["withdrawn_at"]
    # The groups that had it hear of the withdrawal; the blocked one never gets the notice.
    clock.advance(700)
    run()
    for code in ("yongsheng", "yitong"):
        texts = [m["text"] for m in fake_dingtalk.state.messages(f"cid-{code}")]
        assert len(texts) == 2 and "撤回" in texts[1] and "内容有误" in texts[1], code
    assert fake_dingtalk.state.messages("cid-yongning") == []
    database.connect(reuse_if_open=True)
    skipped = Delivery.get(Delivery.target == "dingtalk:township:yongning")
    assert skipped.state == "skipped" and "撤回" in skipped.last_error
    assert client.get(f"/api/v1/admin/notices/{n}/stats", headers=COUNTY).get_json()["units"][1]["delivery"] == "skipped"
    # Acknowledging a withdrawn notice is pointless: nobody gets reminded of it.
    clock.advance(3 * 24 * 3600)
    run()
    assert NoticeUnit.select().where(NoticeUnit.reminded_at.is_null(False)).count() == 0


def test_group_message_is_escaped_and_links_to_the_notice(client, org, fake_dingtalk, run):
    publish(client, {"level": "township", "township": "yongsheng"}, title="[点我](https://evil.example) @所有人",
            body_html="<p>**加粗** [链接](javascript:alert(1)) @13900000001</p>")
    run()
    [msg] = fake_dingtalk.state.messages("cid-yongsheng")
    assert not msg["is_at_all"] and msg["at_mobiles"] == []
    assert "](https://evil" not in msg["text"] and "javascript:" not in msg["text"] and "@所有人" not in msg["text"]
    links = re.findall(r"\]\(([^)]*)\)", msg["text"])
    assert len(links) == 1 and links[0].startswith("https://tongxin.test/o/notices/N")
    assert "收到 N" in msg["text"]


def test_signed_notice_page(client, org, app):
    n = publish(client, {"level": "county"}, title="页面通知", body_html="<p>正文<b>加粗</b></p>")
    from miniapp_api.web.pages import signed_notice_url

    with app.app_context():
        from miniapp_api.web import collaborators

        url = signed_notice_url(collaborators.current().settings, n["number"])
    page = client.get(url.replace("https://tongxin.test", ""))
    assert page.status_code == 200 and "正文<b>加粗</b>" in page.get_data(as_text=True)
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    forged = client.get(f"/o/notices/{n['number']}?sig=0000")
    assert forged.status_code == 404 and forged.get_json()["error"]["code"] == "not_found"


def test_times_have_offsets(client, org):
    n = publish(client, {"level": "county"}, expires_at="2099-01-01T08:00:00")
    assert n["expires_at"] == "2099-01-01T08:00:00+08:00"
    assert n["published_at"].endswith("+08:00") and iso(utcnow())[:4] == n["published_at"][:4]


class _Queries:
    """Counts the SQL statements peewee runs (its DEBUG log has one record per query)."""

    def __init__(self):
        import logging

        self.n = 0
        self.logger = logging.getLogger("peewee")

    def __enter__(self):
        import logging

        self.handler = logging.Handler()
        self.handler.emit = lambda record: setattr(self, "n", self.n + 1)
        self.old = self.logger.level
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self.handler)
        return self

    def __exit__(self, *exc):
        self.logger.removeHandler(self.handler)
        self.logger.setLevel(self.old)


def test_list_queries_do_not_grow_with_the_page(client, people, org):
    who = people.at(org["东风一网格"])
    publish(client, {"level": "grid", "grid": org["东风一网格"]})
    with _Queries() as one:
        assert len(client.get("/api/v1/notices", headers=who["headers"]).get_json()["items"]) == 1
    for i in range(9):
        publish(client, {"level": "grid" if i % 2 else "community", "grid": org["东风一网格"],
                         "community": org["东风社区"]})
    with _Queries() as ten:
        assert len(client.get("/api/v1/notices", headers=who["headers"]).get_json()["items"]) == 10
    assert ten.n <= one.n + 1, (one.n, ten.n)


# --- pictures uploaded by administrators --------------------------------------------------------

def _phone_photo():
    return (io.BytesIO(jpeg_with_gps()), "现场.jpg")


def test_an_administrator_uploads_pictures_for_a_notice(client, people, org):
    up = client.post("/api/v1/admin/uploads", data={"file": _phone_photo()}, headers=COUNTY)
    assert up.status_code == 201, up.get_json()
    picture = up.get_json()
    assert set(picture) == {"id", "url", "thumbnail_url"}
    assert Upload.get_by_id(picture["id"]).resident_id is None  # an administrator's, kept for good
    stored = client.get("/" + picture["url"].split("://", 1)[1].split("/", 1)[1])
    assert stored.status_code == 200 and not Image.open(io.BytesIO(stored.data)).getexif()  # no GPS, no camera
    by_unit = client.post("/api/v1/admin/uploads", data={"file": _phone_photo()}, headers=unit_admin("yongsheng"))
    assert by_unit.status_code == 201

    n = publish(client, {"level": "county"}, images=[picture["id"], by_unit.get_json()["id"]])
    who = people.at(org["东风一网格"])
    detail = client.get(f"/api/v1/notices/{n['number']}", headers=who["headers"]).get_json()
    assert [i["url"] for i in detail["images"]] == [picture["url"], by_unit.get_json()["url"]]


def test_admin_uploads_refuse_the_anonymous_the_read_only_and_bad_files(client):
    before = Upload.select().count()
    nobody = client.post("/api/v1/admin/uploads", data={"file": _phone_photo()})
    assert nobody.status_code == 401 and nobody.get_json()["error"]["code"] == "admin_unauthorized"
    auditor = client.post("/api/v1/admin/uploads", data={"file": _phone_photo()}, headers={"X-Test-Console": "auditor::审计"})
    assert auditor.status_code == 403 and auditor.get_json()["error"]["code"] == "forbidden"
    no_file = client.post("/api/v1/admin/uploads", data={}, headers=COUNTY)
    assert no_file.status_code == 422 and no_file.get_json()["error"]["field"] == "file"
    not_a_picture = client.post("/api/v1/admin/uploads", data={"file": (io.BytesIO(b"%PDF-1.4"), "a.jpg")},
                                headers=COUNTY)
    assert not_a_picture.status_code in (415, 422)
    assert not_a_picture.get_json()["error"]["code"] in ("unsupported_media_type", "invalid_image")
    assert Upload.select().count() == before
