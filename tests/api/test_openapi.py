"""The OpenAPI document says what the server does: configured limits, the numbers' format,
authentication before validation, JSON only as JSON, strict types, JSON answers for long URLs.

Each test checks the document and the server through HTTP, on SQLite and PostgreSQL."""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from datetime import datetime
from datetime import timezone
from pathlib import Path

import pytest
import requests

from miniapp_api.community.common import next_code
from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.models import Report
from miniapp_api.reports.service import next_number
from tests.bridges.helpers import wait_for
from tests.bridges.helpers import write_config
from tests.conftest import report_body

ROOT = Path(__file__).resolve().parents[2]
ADMIN_TOKEN = "admin-api-token-for-openapi-tests-0123456789"


@pytest.fixture
def settings_dict(settings_dict):
    settings_dict["admin"] = {"api_token": ADMIN_TOKEN}
    settings_dict["reports"]["description_max_chars"] = 300
    settings_dict["reports"]["max_photos"] = 4
    return settings_dict


def _doc(client) -> dict:
    return client.get("/api/v1/openapi.json").get_json()


def _op(doc: dict, method: str, path: str) -> dict:
    return doc["paths"]["/api/v1" + path][method]


def test_the_document_states_the_configured_limits(client, resident):
    doc = _doc(client)
    props = doc["components"]["schemas"]["ReportIn"]["properties"]
    assert props["description"]["maxLength"] == 300
    assert props["photos"]["maxItems"] == 4
    assert "x-setting-limits" not in str(doc)
    at_limit = client.post("/api/v1/reports", headers=resident["headers"], json=report_body(description="路" * 300))
    assert at_limit.status_code == 201, at_limit.get_json()
    over = client.post("/api/v1/reports", headers=resident["headers"], json=report_body(description="路" * 301))
    assert over.status_code == 422 and over.get_json()["error"]["field"] == "description"


def test_numbers_in_paths_have_the_documented_format(client, resident):
    doc = _doc(client)
    patterns = {}
    for path, methods in doc["paths"].items():
        for entry in methods.values():
            for p in entry["parameters"]:
                if p["in"] == "path" and p["name"] == "number":
                    patterns.setdefault(path.split("/")[-2] if path.endswith("}") else path.split("/")[-3],
                                        set()).add(p["schema"]["pattern"])
                    assert "422" in entry["responses"], (path, entry["responses"].keys())
    assert set(patterns) >= {"reports", "notices", "campaigns"}
    assert all(len(v) == 1 for v in patterns.values()), patterns
    report = client.post("/api/v1/reports", headers=resident["headers"], json=report_body()).get_json()
    assert re.match(next(iter(patterns["reports"])), report["number"])
    assert re.match(next(iter(patterns["reports"])), "R261206-0001")
    database.connect(reuse_if_open=True)
    with write_tx():
        assert re.match(next(iter(patterns["reports"])), next_number(datetime(2026, 12, 6, tzinfo=timezone.utc)))
        assert re.match(next(iter(patterns["notices"])), next_code("N"))
        assert re.match(next(iter(patterns["campaigns"])), next_code("V"))
    for bad in ("YT-20240101-0001", "R2612060001", "r261206-0001"):
        answer = client.get(f"/api/v1/reports/{bad}", headers=resident["headers"])
        assert answer.status_code == 422 and answer.get_json()["error"]["field"] == "number", bad
    assert client.get(f"/api/v1/reports/{report['number']}", headers=resident["headers"]).status_code == 200
    assert client.get("/api/v1/notices/V0001", headers=resident["headers"]).status_code == 422


@pytest.mark.parametrize("method,path,body", [
    ("post", "/api/v1/admin/emergency", {}),
    ("post", "/api/v1/admin/emergency", {"on": "maybe", "junk": 1}),
    ("post", "/api/v1/admin/notices", {}),
    ("get", "/api/v1/admin/stats?from=nope", None),
])
def test_the_admin_api_authenticates_before_it_reads_the_request(client, method, path, body):
    anonymous = getattr(client, method)(path, json=body)
    assert anonymous.status_code == 401, anonymous.get_json()
    assert anonymous.get_json()["error"]["code"] == "admin_unauthorized"
    wrong = getattr(client, method)(path, json=body, headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    admin = getattr(client, method)(path, json=body, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
    assert admin.status_code == 422, admin.get_json()


def test_admin_operations_document_their_authentication(client):
    entry = _op(_doc(client), "post", "/admin/emergency")
    assert {"401", "403", "422"} <= set(entry["responses"])
    assert entry["security"] == [{"adminBearer": []}, {"consoleSession": []}]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_json_is_read_only_when_declared_as_json(client, resident, content_type):
    import json
    headers = dict(resident["headers"])
    if content_type:
        headers["Content-Type"] = content_type
    answer = client.post("/api/v1/reports", headers=headers, data=json.dumps(report_body()))
    assert answer.status_code == 415, answer.get_json()
    assert answer.get_json()["error"]["code"] == "unsupported_media_type"
    database.connect(reuse_if_open=True)
    assert Report.select().count() == 0
    assert "415" in _op(_doc(client), "post", "/reports")["responses"]
    charset = client.post("/api/v1/reports", headers={**resident["headers"], "Content-Type": "application/json; charset=utf-8"},
                          data=json.dumps(report_body()))
    assert charset.status_code == 201


@pytest.mark.parametrize("field,body", [
    ("location.lat", report_body(location={"lat": True, "lng": 125.305, "address": ""})),
    ("location.lng", report_body(location={"lat": 43.3, "lng": "125.305", "address": ""})),
    ("anonymous", report_body(anonymous=1)),
    ("anonymous", report_body(anonymous="yes")),
    ("description", report_body(description=123)),
])
def test_json_types_are_strict(client, resident, field, body):
    answer = client.post("/api/v1/reports", headers=resident["headers"], json=body)
    assert answer.status_code == 422, answer.get_json()
    assert answer.get_json()["error"]["field"] == field
    database.connect(reuse_if_open=True)
    assert Report.select().count() == 0


def test_an_integer_is_still_a_number(client, resident):
    body = report_body(location={"lat": 43, "lng": 125, "address": ""})
    assert client.post("/api/v1/reports", headers=resident["headers"], json=body).status_code == 201


def test_a_long_url_is_answered_in_json(client, resident):
    answer = client.get("/api/v1/reports?cursor=" + "a" * 5000, headers=resident["headers"])
    assert answer.status_code == 414
    assert answer.get_json()["error"]["code"] == "uri_too_long"
    assert client.get("/console/login?next=" + "a" * 5000).status_code == 414


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _readme_gunicorn_flags() -> list[str]:
    """The production gunicorn command of the README (its flags after the app)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"gunicorn 'miniapp_api:create_app\(\)'(.*?)\n(?!\s)", text, re.S).group(1)
    flags = block.replace("\\\n", " ").split()
    return [f for f in flags if not f.startswith("--bind") and not f.startswith("127.")]


def test_gunicorn_as_the_readme_runs_it_answers_long_urls_in_json(app, settings_dict, tmp_path):
    flags = _readme_gunicorn_flags()
    assert "--limit-request-line" in flags
    config = write_config(tmp_path / "config.toml", settings_dict)
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("TONGXIN")}, "TONGXIN_CONFIG": str(config)}
    flags = [f for f in flags if f not in ("--workers", "4", "--threads", "8")]
    proc = subprocess.Popen([str(Path(sys.executable).parent / "gunicorn"), "miniapp_api:create_app()", *flags,
                             "--workers", "1", "--threads", "2", "--bind", f"127.0.0.1:{port}"],
                            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _get(f"{base}/healthz"), timeout=30, what="gunicorn to answer")
        for length in (5000, 8000):
            answer = requests.get(f"{base}/api/v1/townships?x=" + "a" * length, timeout=5)
            assert answer.status_code == 414, (length, answer.text[:200])
            assert answer.json()["error"]["code"] == "uri_too_long"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _get(url: str):
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return None
