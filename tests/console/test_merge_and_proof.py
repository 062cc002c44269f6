"""合并 and 办结照片 in the console (issue 15): the merge form on a report's page (done, refused,
scoped by unit, CSRF), the supporters in the report list and page, and the categories'
``needs_proof`` flag (set by a county administrator, audited, then enforced on 办结). Over
HTTP, on SQLite and PostgreSQL."""
from __future__ import annotations

import io
import re

from PIL import Image

from miniapp_api.models import Category
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import ReportSupport
from miniapp_api.models import TimelineEntry
from miniapp_api.models.console import AuditEntry
from tests.conftest import report_body
from tests.factories import make_report


def _submit(client, who, **overrides) -> str:
    resp = client.post("/api/v1/reports", json=report_body(**overrides), headers=who["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["number"]


def _merge(c, number: str, main: str, **kw):
    return c.post(f"/console/reports/{number}/act", {"action": "merge", "text": main}, **kw)


def _row(body: str, number: str) -> str:
    """The report list's table row of ``number``."""
    match = re.search(r"<tr>\s*<td><a href=\"/console/reports/" + number + r"\">.*?</tr>", body, re.S)
    assert match, number
    return match.group(0)


def _state() -> list:
    """What a refused merge must leave as it was."""
    return [sorted((r.number, r.status, r.merged_into_id, r.supporters) for r in Report.select()),
            ReportSupport.select().count(), TimelineEntry.select().count(), OutboxEvent.select().count(),
            AuditEntry.select().where(AuditEntry.action == "report.merge").count()]


def test_merge_from_the_console_moves_followers_and_shows_supporters(console, client, residents, db):
    alice, bob, carol = residents.login(), residents.login(), residents.login()
    main = _submit(client, alice)
    duplicate = _submit(client, bob)
    assert client.post(f"/api/v1/reports/{duplicate}/support", headers=carol["headers"]).status_code == 200
    c = console("ys_admin")
    page = c.text(f"/console/reports/{duplicate}")
    assert 'id="act-merge"' in page and re.search(r'id="supporters">1 位居民', page)

    resp = _merge(c, duplicate, main)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    dup_row, main_row = Report.get(Report.number == duplicate), Report.get(Report.number == main)
    assert dup_row.status == "merged" and dup_row.merged_into_id == main_row.id
    assert main_row.supporters == 2  # bob (the duplicate's reporter) and carol (who followed it)
    entry = AuditEntry.get(AuditEntry.action == "report.merge")
    assert entry.target == f"report:{duplicate}" and entry.township == "yongsheng"
    assert entry.before == {"status": "pending"} and entry.after["status"] == "merged"
    steps = TimelineEntry.select().where((TimelineEntry.report == main_row.id) & (TimelineEntry.action == "merge"))
    assert [s.channel for s in steps] == ["console"] and duplicate in steps[0].note

    # The page and the list show the count; the duplicate's page names the main report.
    assert re.search(r'id="supporters">2 位居民', c.text(f"/console/reports/{main}"))
    dup_page = c.text(f"/console/reports/{duplicate}")
    assert f'href="/console/reports/{main}">{main}</a>' in dup_page and 'id="act-merge"' not in dup_page
    listing = c.text("/console/reports")
    assert "也遇到" in listing
    assert re.search(r'class="num supporters">2</td>', _row(listing, main))
    assert re.search(r'class="num supporters">1</td>', _row(listing, duplicate))  # as it was when merged
    alone = _submit(client, alice)
    assert re.search(r'class="num supporters"></td>', _row(c.text("/console/reports"), alone))

    # Residents see it: bob's own report is merged into the main one, which he now follows.
    mine = {i["number"]: i for i in client.get("/api/v1/reports?mine=true", headers=bob["headers"]).get_json()["items"]}
    assert mine[duplicate]["status"] == "merged" and mine[duplicate]["merged_into"] == main
    assert mine[main]["relation"] == "following" and mine[duplicate]["relation"] == "own"


def test_merge_refusals_change_nothing(console, client, residents, db):
    alice = residents.login()
    a = _submit(client, alice)
    b = _submit(client, alice)
    other_unit = _submit(client, alice, township="yongning",
                         location={"lat": 43.31, "lng": 125.26, "address": "永宁"})
    closed = make_report("closed")
    resolved = make_report("resolved")
    unit, county = console("ys_admin"), console("county")
    before = _state()
    cases = [
        (unit, a, a, "合并到它自己"),
        (unit, a, closed.number, "不能合并到已办结或已关闭"),
        (unit, a, resolved.number, "不能合并到已办结或已关闭"),
        (unit, closed.number, a, "只能合并未办结"),
        (unit, a, other_unit, "不属于您管理的单位"),  # a unit administrator cannot see another unit's report
        (county, a, other_unit, "不能跨单位合并"),     # nor can a county administrator merge across units
        (unit, a, "R000000-0000", "找不到主编号"),
        (unit, a, "", "找不到主编号"),
        (unit, a, "<script>", "找不到主编号"),
    ]
    for c, number, main, message in cases:
        resp = _merge(c, number, main)
        text = resp.get_data(as_text=True)
        assert resp.status_code == 422 and message in text, (number, main, text[:300])
        assert "<script>" not in text
    # Another unit's report is not even there for a unit administrator (no hint it exists).
    assert _merge(console("yn_admin"), a, b).status_code == 404
    assert console("auditor").post(f"/console/reports/{a}/act", {"action": "merge", "text": b}).status_code == 403
    assert _state() == before
    # And then it works, once.
    assert _merge(unit, a, b).status_code == 302
    assert Report.get(Report.number == a).status == "merged"
    assert _merge(unit, a, b).status_code == 422  # already merged


def test_merge_needs_csrf(console, client, residents, db):
    alice = residents.login()
    a, b = _submit(client, alice), _submit(client, alice)
    c = console("ys_admin")
    before = _state()
    assert _merge(c, a, b, csrf=False).status_code == 400
    assert c.post(f"/console/reports/{a}/act", {"action": "merge", "text": b, "csrf_token": "forged"},
                  csrf=False).status_code == 400
    assert _state() == before
    assert _merge(c, a, b).status_code == 302


def test_merge_into_a_merged_report_goes_on_to_its_main_one(console, client, residents, db):
    alice = residents.login()
    a, b, d = _submit(client, alice), _submit(client, alice), _submit(client, alice)
    c = console("county")
    assert _merge(c, b, a).status_code == 302
    assert _merge(c, d, b).status_code == 302  # b was merged into a: d goes on as a
    assert Report.get(Report.number == d).merged_into_id == Report.get(Report.number == a).id


# --- needs_proof ------------------------------------------------------------------------------

CATEGORY_FORM = {"name": "环境卫生", "level": "grid", "accept_hours": "24", "resolve_hours": "72", "active": "1"}


def _jpeg() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (40, 160, 40)).save(buf, "JPEG")
    return buf.getvalue()


def test_needs_proof_is_set_in_the_category_editor_audited_and_enforced(console, db):
    c = console("county")
    page = c.text("/console/categories")
    assert 'name="needs_proof"' in page and "办结须附办结照片" in page
    assert c.post("/console/categories/sanitation", dict(CATEGORY_FORM, needs_proof="1")).status_code == 302
    assert Category.get(Category.code == "sanitation").needs_proof is True
    entry = AuditEntry.get(AuditEntry.action == "category.updated")
    assert entry.before["needs_proof"] is False and entry.after["needs_proof"] is True
    page = c.text("/console/categories")
    assert re.search(r"<code>sanitation</code>.*?<td class=\"needs-proof\">必须</td>", page, re.S)

    # 办结 of such a report in the console needs a photo; the form says so.
    r = make_report("accepted")
    assert "本类别必须上传" in c.text(f"/console/reports/{r.number}")
    resp = c.post(f"/console/reports/{r.number}/act", {"action": "resolve", "text": "已清理"},
                  content_type="multipart/form-data")
    assert resp.status_code == 422 and "「环境卫生」类问题办结需要附办结照片" in resp.get_data(as_text=True)
    assert Report.get_by_id(r.id).status == "accepted"
    resp = c.post(f"/console/reports/{r.number}/act",
                  {"action": "resolve", "text": "已清理", "photo": (io.BytesIO(_jpeg()), "done.jpg")},
                  content_type="multipart/form-data")
    assert resp.status_code == 302 and Report.get_by_id(r.id).status == "resolved"

    # Unticked, the flag goes off again (audited too), and 办结 needs no photo.
    assert c.post("/console/categories/sanitation", CATEGORY_FORM).status_code == 302
    assert Category.get(Category.code == "sanitation").needs_proof is False
    last = AuditEntry.select().where(AuditEntry.action == "category.updated").order_by(AuditEntry.id.desc()).first()
    assert last.before["needs_proof"] is True and last.after["needs_proof"] is False
    r2 = make_report("accepted")
    assert c.post(f"/console/reports/{r2.number}/act", {"action": "resolve", "text": "已清理"},
                  content_type="multipart/form-data").status_code == 302


def test_needs_proof_on_a_new_category_and_only_by_county_administrators(console, db):
    c = console("county")
    form = dict(CATEGORY_FORM, code="manhole", name="井盖", needs_proof="1")
    assert c.post("/console/categories", form).status_code == 302
    assert Category.get(Category.code == "manhole").needs_proof is True
    entry = AuditEntry.get(AuditEntry.action == "category.created")
    assert entry.after["needs_proof"] is True
    for who in ("ys_admin", "auditor"):
        resp = console(who).post("/console/categories/manhole", CATEGORY_FORM)
        assert resp.status_code == 403
    assert Category.get(Category.code == "manhole").needs_proof is True
    # A form with errors keeps what was ticked.
    resp = c.post("/console/categories/manhole", dict(CATEGORY_FORM, name="", needs_proof="1"))
    assert resp.status_code == 422
    assert re.search(r'name="needs_proof" value="1" checked', resp.get_data(as_text=True))
