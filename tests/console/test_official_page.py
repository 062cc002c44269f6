"""The officials' signed page (``/o/reports/<number>?sig=…``, linked from every group card) shows
the resident's photos (上报照片) and the completion photos (办结照片) under their own headings,
the same ones the resident's API gives apart; and the supporters and the report a duplicate was
merged into. Over HTTP, on SQLite and PostgreSQL."""
from __future__ import annotations

import io
import re
from urllib.parse import urlsplit

from PIL import Image

from miniapp_api.reports.links import signed_report_url
from tests.conftest import report_body

BASE = "https://tongxin.test"


def _jpeg(colour) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (36, 24), colour).save(buf, "JPEG")
    return buf.getvalue()


def _upload(client, who, colour) -> str:
    resp = client.post("/api/v1/uploads", data={"file": (io.BytesIO(_jpeg(colour)), "a.jpg")},
                       headers=who["headers"], content_type="multipart/form-data")
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["id"]


def _page(client, settings, number: str) -> str:
    url = urlsplit(signed_report_url(settings, number))
    resp = client.get(f"{url.path}?{url.query}")
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return resp.get_data(as_text=True)


def _section(page: str, section_id: str) -> str:
    match = re.search(r'<div class="card photos" id="' + section_id + r'">(.*?)</div>', page, re.S)
    return match.group(1) if match else ""


def _paths(photos: list[dict]) -> list[str]:
    return [p["url"].removeprefix(BASE) for p in photos]


def test_the_official_page_shows_report_and_completion_photos_apart(console, client, residents, settings, db):
    alice = residents.login()
    photos = [_upload(client, alice, (0, 150, 0)), _upload(client, alice, (0, 0, 150))]
    number = client.post("/api/v1/reports", json=report_body(photos=photos), headers=alice["headers"]).get_json()["number"]
    before = _page(client, settings, number)
    assert "<h2>上报照片</h2>" in before and 'id="completion-photos"' not in before and "办结照片" not in before

    c = console("ys_admin")
    assert c.post(f"/console/reports/{number}/act", {"action": "accept"}).status_code == 302
    resp = c.post(f"/console/reports/{number}/act",
                  {"action": "resolve", "text": "已清理", "photo": (io.BytesIO(_jpeg((200, 0, 0))), "done.jpg")},
                  content_type="multipart/form-data")
    assert resp.status_code == 302

    seen = client.get(f"/api/v1/reports/{number}", headers=alice["headers"]).get_json()
    assert len(seen["photos"]) == 2 and len(seen["completion_photos"]) == 1
    page = _page(client, settings, number)
    own, done = _section(page, "report-photos"), _section(page, "completion-photos")
    assert "<h2>上报照片</h2>" in own and "<h2>办结照片</h2>" in done
    assert re.findall(r'<a href="([^"]+)">', own) == _paths(seen["photos"])
    assert re.findall(r'<a href="([^"]+)">', done) == _paths(seen["completion_photos"])
    # Each link is a real picture: the resident's green ones above, the official's red one below.
    for path, colour in ((_paths(seen["photos"])[0], (0, 150, 0)), (_paths(seen["completion_photos"])[0], (200, 0, 0))):
        picture = Image.open(io.BytesIO(client.get(path).data)).convert("RGB")
        assert all(abs(a - b) < 40 for a, b in zip(picture.getpixel((10, 10)), colour)), (path, picture.getpixel((10, 10)))
    assert alice["openid"] not in page


def test_the_official_page_shows_supporters_and_the_main_report(console, client, residents, settings, db):
    alice, bob, carol = residents.login(), residents.login(), residents.login()
    main = client.post("/api/v1/reports", json=report_body(), headers=alice["headers"]).get_json()["number"]
    duplicate = client.post("/api/v1/reports", json=report_body(), headers=bob["headers"]).get_json()["number"]
    assert client.post(f"/api/v1/reports/{main}/support", headers=carol["headers"]).status_code == 200
    assert re.search(r'id="supporters">1 位居民', _page(client, settings, main))
    assert console("ys_admin").post(f"/console/reports/{duplicate}/act",
                                    {"action": "merge", "text": main}).status_code == 302
    assert re.search(r'id="supporters">2 位居民', _page(client, settings, main))
    page = _page(client, settings, duplicate)
    link = re.search(r'id="merged-into"><a href="([^"]+)">' + main + "</a>", page)
    assert link and "已合并" in page
    assert client.get(link.group(1)).status_code == 200  # the main report's own signed link
    assert client.get(f"/o/reports/{main}?sig=" + "0" * 32).status_code == 404
