"""The catalogue cache never serves what a change replaced, across processes (issue 17).

One process serves the API (``tongxin serve``, with its own cache); changes are made by other
processes through the real paths: ``tongxin import-org`` (the CLI) and the console (this test
process, logged in through its form). After each change, the server's very next submission
must follow it: the duty post on leave, the category's new hours, the category turned off, a
grid renamed or reshaped.
"""
from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from miniapp_api.db import database
from miniapp_api.models import Category
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.org import grid_import
from tests.conftest import report_body
from tests.org.conftest import grids  # noqa: F401 (the fixture)
from tests.test_demo import free_port
from tests.test_demo import wait_for

ROOT = Path(__file__).resolve().parents[2]

ROSTER = ("township,community,grid,official_name,role,duty_post,dingtalk_user_id,mobile\n"
          "yongsheng,,,王永盛,township_staff,A,ys-a,13900000001\n"
          "yongsheng,,,李备岗,township_staff,B,ys-b,13900000002\n")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return "[" + ", ".join(_toml_value(v) for v in value) + "]"


def _toml(table: dict, prefix: str = "") -> list[str]:
    """TOML for the test settings (tables, arrays of tables, scalars and lists of scalars)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in table.items()
             if not isinstance(v, dict) and not (isinstance(v, list) and v and isinstance(v[0], dict))]
    for key, value in table.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            lines += ["", f"[{name}]", *_toml(value, name + ".")]
        elif isinstance(value, list) and value and isinstance(value[0], dict):
            for item in value:
                lines += ["", f"[[{name}]]", *_toml(item, name + ".")]
    return lines


@pytest.fixture
def server(app, settings_dict, tmp_path):
    """``tongxin serve`` on the test database, in a process of its own; yields its base URL."""
    cfg = tmp_path / "config.toml"
    cfg.write_text("\n".join(_toml(settings_dict)) + "\n", encoding="utf-8")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "miniapp_api.cli", "--config", str(cfg), "serve", "--port",
                             str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: requests.get(f"{base}/readyz", timeout=1).status_code == 200, timeout=60)
        yield base, cfg
    finally:
        proc.terminate()
        try:
            proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


def test_another_process_sees_each_console_and_cli_change_on_its_next_request(server, residents, console, db):
    base, cfg = server
    code = residents.code()
    token = requests.post(f"{base}/api/v1/auth/wechat-login", json={"code": code}, timeout=10).json()["token"]
    headers = {"Authorization": f"Bearer {token}"}

    def submit():
        resp = requests.post(f"{base}/api/v1/reports", json=report_body(), headers=headers, timeout=10)
        if resp.status_code != 201:
            return resp
        database.connect(reuse_if_open=True)
        return Report.get(Report.number == resp.json()["number"])

    def b_covers_at_once(report: Report) -> bool:
        """The plan looks again at once when the A post is away and B can take over."""
        return report.next_step_at == report.created_at

    first = submit()  # the server has now cached the catalogue: no posts yet, 24 h to accept
    assert first.phase_hours == 24 and not b_covers_at_once(first)

    # The CLI (a third process) imports the township's A and B posts.
    roster = cfg.parent / "roster.csv"
    roster.write_text(ROSTER, encoding="utf-8")
    subprocess.run([sys.executable, "-m", "miniapp_api.cli", "--config", str(cfg), "import-org", str(roster)],
                   cwd=ROOT, check=True, capture_output=True, timeout=60)
    assert not b_covers_at_once(submit())  # A is there and can act

    # The console (this process) puts A on leave: the server's next plan must see it.
    c = console("county")
    a = Official.get(Official.name == "王永盛")
    assert c.post(f"/console/roster/officials/{a.id}/leave", {"on_leave": "1"}).status_code == 302
    assert b_covers_at_once(submit())
    assert c.post(f"/console/roster/officials/{a.id}/leave", {"on_leave": "0"}).status_code == 302
    assert not b_covers_at_once(submit())

    # The category's hours, then the category itself.
    form = {"name": "环境卫生", "level": "grid", "accept_hours": "12", "resolve_hours": "48", "active": "1"}
    assert c.post("/console/categories/sanitation", form).status_code == 302
    shorter = submit()
    assert shorter.phase_hours == 12
    assert shorter.accept_due_at - shorter.created_at <= timedelta(hours=12 + 48)  # working hours, at most a weekend
    del form["active"]
    assert c.post("/console/categories/sanitation", form).status_code == 302
    assert Category.get(Category.code == "sanitation").active is False
    refused = submit()
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "category"


def test_another_process_routes_by_each_grid_change_on_its_next_request(server, residents, grids):
    """Grid routing's index is part of the server's catalogue: a grid renamed or reshaped by
    another process, through the domain or by a plain UPDATE, routes its very next request."""
    base, _ = server
    token = requests.post(f"{base}/api/v1/auth/wechat-login", json={"code": residents.code()},
                          timeout=10).json()["token"]

    def locate() -> tuple:
        answer = requests.get(f"{base}/api/v1/locate?lat=43.345&lng=125.305&township=yongsheng",
                              headers={"Authorization": f"Bearer {token}"}, timeout=10).json()
        return (answer["grid"] or {}).get("name"), answer["rule"]

    assert locate() == ("第1网格", "boundary")  # the server has now built its index
    database.connect(reuse_if_open=True)
    Grid.update(name="东一网格").where(Grid.id == grids["第1网格"]).execute()  # not through the domain
    assert locate() == ("东一网格", "boundary")
    # The console's path: the boundary shrinks, leaving the point 243 m from its new centre.
    grid_import.save_geometry(Grid.get_by_id(grids["第1网格"]), "POLYGON ((125.300 43.340, 125.304 43.340, "
                              "125.304 43.350, 125.300 43.350, 125.300 43.340))")
    assert locate() == ("东一网格", "nearest_centre")
    Grid.update(boundary=None, center_lat=None, center_lng=None).where(Grid.id == grids["第1网格"]).execute()
    assert locate() == (None, "none")  # no other centre of the township within 500 m
