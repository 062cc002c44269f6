"""The roster: import with a dry-run preview, errors per row, idempotent re-import, unit
scope, export, on leave; categories and deadlines."""
from __future__ import annotations

import io

from miniapp_api.models import Category
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models.console import AuditEntry
from miniapp_api.org.roster_import import HEADER

HEAD = ",".join(HEADER)
GOOD = (f"{HEAD}\n"
        "yongsheng,人民社区,第一网格,王永盛,grid_worker,A,ys-a,13900000001\n"
        "yongsheng,人民社区,第一网格,李备岗,grid_worker,B,ys-b,13900000002\n"
        "yongsheng,人民社区,第二网格,,,,,\n")
BAD = GOOD + "yongsheng,人民社区,第三网格,张三,boss,A,,123\n"


def upload(c, text: str, mode: str = "preview", name: str = "roster.csv"):
    return c.post("/console/roster/import", {"mode": mode, "file": (io.BytesIO(text.encode("utf-8")), name)},
                  content_type="multipart/form-data")


def test_preview_then_confirm_then_reimport(console, db):
    c = console("county")
    resp = upload(c, GOOD)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "预览（试运行，未写入）：3 行" in body and "新建网格：2" in body
    assert Grid.select().count() == 0 and Official.select().count() == 0
    resp = c.post("/console/roster/import", {"mode": "apply", "csv_text": GOOD})
    assert resp.status_code == 302
    assert Grid.select().count() == 2 and Official.select().count() == 2
    assert "导入完成" in c.text("/console/roster")
    entry = AuditEntry.get(AuditEntry.action == "roster.import")
    assert entry.after["officials_created"] == 2
    # The same file again changes nothing.
    resp = upload(c, GOOD, "apply")
    assert resp.status_code == 302
    assert "未变 2" in c.text("/console/roster")
    assert Official.select().count() == 2


def test_a_bad_row_is_reported_by_line_and_nothing_is_applied(console, db):
    c = console("county")
    resp = upload(c, BAD, "apply")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "导入失败，没有做任何修改" in body and "第 5 行" in body and "role “boss” 无效" in body and "mobile" in body
    assert Grid.select().count() == 0 and Official.select().count() == 0
    resp = upload(c, "name,x\n1,2\n")
    assert resp.status_code == 422 and "表头应为" in resp.get_data(as_text=True)
    resp = upload(c, "")
    assert resp.status_code == 422
    resp = c.post("/console/roster/import", {"mode": "apply", "file": (io.BytesIO("汉字".encode("gbk")), "x.csv")},
                  content_type="multipart/form-data")
    assert resp.status_code == 422 and "UTF-8" in resp.get_data(as_text=True)
    assert AuditEntry.select().where(AuditEntry.action == "roster.import").count() == 0


def test_unit_admin_imports_only_their_unit(console, db):
    c = console("yn_admin")
    resp = upload(c, GOOD, "apply")
    assert resp.status_code == 422 and "只能导入本单位（永宁街道）的数据" in resp.get_data(as_text=True)
    assert Official.select().count() == 0
    mine = f"{HEAD}\nyongning,新华社区,一网格,赵永宁,grid_leader,A,yn-a,13900000003\n"
    assert upload(c, mine, "apply").status_code == 302
    assert Official.get(Official.name == "赵永宁").township.code == "yongning"
    assert console("auditor").post("/console/roster/import", {"mode": "apply", "csv_text": mine}).status_code == 403


def test_export_is_scoped_and_round_trips(console, db):
    c = console("county")
    c.post("/console/roster/import", {"mode": "apply", "csv_text": GOOD})
    c.post("/console/roster/import", {"mode": "apply", "csv_text": f"{HEAD}\nyongning,新华社区,一网格,赵永宁,grid_leader,A,yn-a,13900000003\n"})
    text = c.get("/console/roster/export.csv").get_data(as_text=True)
    assert text.startswith("\ufeff" + HEAD) and "王永盛" in text and "赵永宁" in text
    unit = console("yn_admin").get("/console/roster/export.csv").get_data(as_text=True)
    assert "赵永宁" in unit and "王永盛" not in unit
    # Re-importing the export changes nothing.
    resp = upload(c, text.lstrip("\ufeff"))
    assert "新建 0，更新 0" in resp.get_data(as_text=True)
    assert AuditEntry.select().where(AuditEntry.action == "roster.export").count() == 2


def test_on_leave(console, db):
    c = console("county")
    c.post("/console/roster/import", {"mode": "apply", "csv_text": GOOD})
    a = Official.get(Official.name == "王永盛")
    body = c.text("/console/roster")
    assert "139****0001" in body and "13900000001" not in body
    assert c.post(f"/console/roster/officials/{a.id}/leave", {"on_leave": "1"}).status_code == 302
    assert Official.get_by_id(a.id).on_leave is True
    assert "王永盛" in c.text("/console/roster?on_leave=1")
    entry = AuditEntry.get(AuditEntry.action == "official.on_leave")
    assert entry.before["on_leave"] is False and entry.after["on_leave"] is True
    assert console("yn_admin").post(f"/console/roster/officials/{a.id}/leave", {"on_leave": "0"}).status_code == 403
    assert console("ys_admin").post(f"/console/roster/officials/{a.id}/leave", {"on_leave": "0"}).status_code == 302
    assert Official.get_by_id(a.id).on_leave is False
    assert c.post("/console/roster/officials/99999/leave", {"on_leave": "1"}).status_code == 404


def test_categories(console, db):
    c = console("county")
    body = c.text("/console/categories")
    assert "环境卫生" in body
    bad = [({"name": "", "level": "grid", "accept_hours": "1", "resolve_hours": "2"}, "名称不能为空"),
           ({"name": "x", "level": "moon", "accept_hours": "1", "resolve_hours": "2"}, "首办层级"),
           ({"name": "x", "level": "grid", "accept_hours": "0", "resolve_hours": "2"}, "受理时限"),
           ({"name": "x", "level": "grid", "accept_hours": "abc", "resolve_hours": "2"}, "受理时限"),
           ({"name": "x", "level": "grid", "accept_hours": "5", "resolve_hours": "2"}, "办结时限不能短于"),
           ({"name": "x", "level": "grid", "accept_hours": "1", "resolve_hours": "2", "sort_order": "z"}, "排序")]
    before = [(x.name, x.accept_hours, x.resolve_hours) for x in Category.select().order_by(Category.id)]
    for data, message in bad:
        resp = c.post("/console/categories/sanitation", data)
        assert resp.status_code == 422 and message in resp.get_data(as_text=True), data
    assert [(x.name, x.accept_hours, x.resolve_hours) for x in Category.select().order_by(Category.id)] == before
    resp = c.post("/console/categories/sanitation", {"name": "环境卫生", "level": "grid", "accept_hours": "12",
                                                     "resolve_hours": "48", "active": "1"})
    assert resp.status_code == 302
    cat = Category.get(Category.code == "sanitation")
    assert (cat.accept_hours, cat.resolve_hours) == (12, 48)
    entry = AuditEntry.get(AuditEntry.action == "category.updated")
    assert entry.before["accept_hours"] == 24 and entry.after["accept_hours"] == 12
    resp = c.post("/console/categories", {"code": "Bad Code", "name": "新", "level": "grid", "accept_hours": "1",
                                          "resolve_hours": "2"})
    assert resp.status_code == 422 and "代码为小写字母开头" in resp.get_data(as_text=True)
    resp = c.post("/console/categories", {"code": "sanitation", "name": "新", "level": "grid", "accept_hours": "1",
                                          "resolve_hours": "2"})
    assert resp.status_code == 422 and "已存在" in resp.get_data(as_text=True)
    resp = c.post("/console/categories", {"code": "snow", "name": "积雪清扫", "level": "community",
                                          "accept_hours": "2", "resolve_hours": "12", "active": "1"})
    assert resp.status_code == 302 and Category.get(Category.code == "snow").name == "积雪清扫"
    assert console("ys_admin").post("/console/categories/snow", {"name": "x", "level": "grid", "accept_hours": "1",
                                                                 "resolve_hours": "2"}).status_code == 403
