"""``tongxin scheduler --once [--now]``, ``tongxin emergency on|off [--township]``, the
emergency endpoints and what ``tongxin init-db`` writes from ``[deadlines]`` and ``[county]``."""
from __future__ import annotations

import pytest
from click.testing import CliRunner

from miniapp_api.cli import main
from miniapp_api.db import database
from miniapp_api.models import GroupMapping
from miniapp_api.models import Township
from miniapp_api.models.deadlines import DeadlinePolicy
from miniapp_api.models.deadlines import EmergencySwitch
from miniapp_api.models.deadlines import EscalationStep
from miniapp_api.models.deadlines import Holiday
from tests.bridges.helpers import write_config
from tests.deadlines.conftest import T0
from tests.deadlines.conftest import submit

TOKEN = "emergency-admin-token-0123456789ab"


@pytest.fixture
def settings_dict(settings_dict):
    settings_dict["admin"] = {"api_token": TOKEN}
    settings_dict["deadlines"]["holidays"] = ["2026-12-31"]
    settings_dict["deadlines"]["workdays"] = ["2026-12-27"]
    return settings_dict


@pytest.fixture
def cli(settings_dict, tmp_path, app):
    path = write_config(tmp_path / "tongxin.toml", settings_dict)
    runner = CliRunner()

    def _cli(*args):
        result = runner.invoke(main, ["--config", str(path), *args])
        database.connect(reuse_if_open=True)
        return result

    yield _cli
    if not database.is_closed():
        database.close()


def test_init_db_writes_the_policy_the_calendar_and_the_county_group(cli):
    result = cli("init-db")
    assert result.exit_code == 0, result.output
    policy = DeadlinePolicy.get_by_id(1)
    assert (policy.working_days, policy.reminder_fractions, policy.whistle_report_hours) == (False, [0.5], 8)
    assert policy.duty_departments == {"parking": "chengguan"}
    assert {(str(h.day), h.kind) for h in Holiday.select()} == {("2026-12-31", "holiday"), ("2026-12-27", "workday")}
    assert GroupMapping.get((GroupMapping.owner_kind == "county") & (GroupMapping.owner_code == "county")).conversation_id == "cid-county"
    assert "0 rows changed" in cli("init-db").output  # idempotent


def test_scheduler_once_at_a_given_time(cli, org):
    report = submit(T0, "sanitation", grid=org.grid)
    result = cli("scheduler", "--once", "--now", "2026-11-23T11:00:00+08:00")
    assert result.exit_code == 0, result.output
    assert "2026-11-23T11:00:00+08:00" in result.output and "reminders=1" in result.output
    again = cli("scheduler", "--once", "--now", "2026-11-23T11:00:00+08:00")
    assert "reminders=0" in again.output
    assert "escalations=1" in cli("scheduler", "--once", "--now", "2026-11-23T13:00").output  # Beijing time
    assert [s.kind for s in EscalationStep.select().where(EscalationStep.report == report.id)
            .order_by(EscalationStep.id)] == ["remind", "escalate"]
    bad = cli("scheduler", "--once", "--now", "next tuesday")
    assert bad.exit_code == 2 and "ISO 8601" in bad.output


def test_emergency_switch_from_the_cli(cli, org):
    result = cli("emergency", "on")
    assert result.exit_code == 0, result.output
    assert "announced in 5 groups" in result.output and "county-wide emergency: on" in result.output
    assert "unchanged" in cli("emergency", "on").output
    assert cli("emergency", "on", "--township", "nowhere").exit_code == 1
    assert cli("emergency", "off").exit_code == 0
    result = cli("emergency", "on", "--township", "yongning")
    assert "announced in 2 groups" in result.output and "units in emergency mode: yongning" in result.output
    assert Township.get(Township.code == "yongning").emergency
    assert "county-wide emergency: off" in cli("emergency", "status").output
    assert [(e.scope, e.township, e.on) for e in EmergencySwitch.select().order_by(EmergencySwitch.id)] == [
        ("county", "", True), ("county", "", False), ("township", "yongning", True)]


def test_emergency_endpoints(client, org):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert client.post("/api/v1/admin/emergency", json={"on": True}).status_code == 401
    resp = client.post("/api/v1/admin/emergency", json={"on": True, "township": "yitong"}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["changed"] and body["townships"]["yitong"] and not body["county"] and body["announced"] == 2
    assert body["history"][0]["actor"] == "api-token"
    assert client.post("/api/v1/admin/emergency", json={"on": True, "township": "nowhere"},
                       headers=headers).status_code == 404
    assert client.post("/api/v1/admin/emergency", json={"on": "maybe"}, headers=headers).status_code == 422
    state = client.get("/api/v1/admin/emergency", headers=headers).get_json()
    assert state["townships"] == {"yongsheng": False, "yongning": False, "yitong": True} and not state["changed"]
    database.connect(reuse_if_open=True)
    from miniapp_api.models.console import AuditEntry

    [entry] = AuditEntry.select().where(AuditEntry.action == "emergency.on")
    assert entry.township == "yitong" and entry.after == {"emergency": True}
