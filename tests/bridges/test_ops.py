"""Operating the bridge: ``tongxin deliveries`` (list, re-queue), ``tongxin worker --drain``,
``/metrics`` in Prometheus format, ``/healthz`` and ``/readyz``."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client.parser import text_string_to_metric_families

from miniapp_api.cli import main as tongxin
from miniapp_api.db import database
from miniapp_api.models import Delivery
from miniapp_api.models import GroupMapping
from miniapp_api.models import TargetState
from tests.bridges.conftest import numbers_in
from tests.bridges.helpers import write_config
from tests.factories import OFFICIAL
from tests.factories import make_report

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config_file(app, settings_dict, tmp_path) -> Path:
    """The test configuration as a TOML file, for the ``tongxin`` command."""
    return write_config(tmp_path / "tongxin.toml", settings_dict)


def cli(config_file: Path, *args: str):
    result = CliRunner().invoke(tongxin, ["--config", str(config_file), *args], catch_exceptions=False)
    database.connect(reuse_if_open=True)  # the command bound its own connection
    return result


def group(fake, code: str) -> list[dict]:
    return fake.state.messages(f"cid-{code}")


def break_robot(fake, code: str) -> None:
    GroupMapping.update(webhook=f"{fake.base_url}/robot/send?access_token=revoked-{code}").where(
        GroupMapping.owner_code == code).execute()


def mend_robot(fake, code: str) -> None:
    GroupMapping.update(webhook=f"{fake.base_url}/robot/send?access_token=tok-{code}").where(
        GroupMapping.owner_code == code).execute()


# --------------------------------------------------------------------------- tongxin deliveries


def test_deliveries_lists_dead_letters_and_requeues_them(config_file, fake_dingtalk, run, clock):
    database.connect(reuse_if_open=True)
    break_robot(fake_dingtalk, "yongning")
    fine = make_report().number
    lost = make_report(township="yongning").number
    fake_dingtalk.state.set_outage("error500", count=1)  # the first delivery (yongsheng's) waits for a retry
    run()
    database.connect(reuse_if_open=True)
    dead = Delivery.get(Delivery.target == "dingtalk:township:yongning")
    waiting = Delivery.get(Delivery.target == "dingtalk:township:yongsheng")
    assert (dead.state, waiting.state) == ("dead", "pending")

    result = cli(config_file, "deliveries", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.split() == ["dead", "dingtalk", "1"] for line in lines), result.output
    assert any(line.split() == ["pending", "dingtalk", "1"] for line in lines), result.output
    [row] = [line for line in lines if line.startswith(f"#{dead.id}\t")]
    assert "\tdead\tdingtalk:township:yongning\t" in row
    assert "attempts=1" in row and "errcode=300001" in row and "token is not exist" in row
    assert "revoked" not in row  # the webhook's access token stays out of the listing
    assert f"#{waiting.id}\t" not in result.output  # the default listing is the dead letters

    pending = cli(config_file, "deliveries", "list", "--state", "pending")
    assert f"#{waiting.id}\tpending\t" in pending.output and "errcode=Unavailable" in pending.output
    assert f"#{dead.id}\t" not in pending.output

    # Someone fixes the robot in the console, then re-queues the dead letter.
    mend_robot(fake_dingtalk, "yongning")
    result = cli(config_file, "deliveries", "requeue", str(dead.id))
    assert result.exit_code == 0 and "re-queued 1" in result.output
    dead = Delivery.get_by_id(dead.id)
    assert (dead.state, dead.attempts) == ("pending", 0)
    clock.advance(60)
    run()
    assert numbers_in(group(fake_dingtalk, "yongning")) == [lost]
    assert numbers_in(group(fake_dingtalk, "yongsheng")) == [fine]
    assert Delivery.get_by_id(dead.id).state == "sent"
    assert "dead" not in cli(config_file, "deliveries", "list").output.split()


def test_requeue_all_dead_of_one_target(config_file, fake_dingtalk, run, clock):
    database.connect(reuse_if_open=True)
    break_robot(fake_dingtalk, "yongning")
    break_robot(fake_dingtalk, "yitong")
    make_report(township="yongning")
    make_report(township="yongning")
    make_report(township="yitong")
    run()
    database.connect(reuse_if_open=True)
    assert Delivery.select().where(Delivery.state == "dead").count() == 3

    assert cli(config_file, "deliveries", "requeue").exit_code == 2  # neither ids nor --all-dead
    result = cli(config_file, "deliveries", "requeue", "--all-dead", "--target", "dingtalk:township:yongning")
    assert result.exit_code == 0 and "re-queued 2" in result.output
    states = {d.target: d.state for d in Delivery.select()}
    assert states == {"dingtalk:township:yongning": "pending", "dingtalk:township:yitong": "dead"}
    # A delivery that is not dead is not touched by naming it.
    sent_or_pending = Delivery.get(Delivery.target == "dingtalk:township:yongning")
    assert "re-queued 0" in cli(config_file, "deliveries", "requeue", str(sent_or_pending.id)).output


def _run_cli(config_file: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN__")}
    return subprocess.run([sys.executable, "-m", "miniapp_api.cli", "--config", str(config_file), *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def test_worker_drain_delivers_everything_due_and_exits_0(config_file, fake_dingtalk, fake_wechat):
    from miniapp_api.reports import lifecycle
    from miniapp_api.models import utcnow

    database.connect(reuse_if_open=True)
    numbers = [make_report().number, make_report(township="yitong").number]
    report = make_report()
    lifecycle.apply(report, "accept", OFFICIAL, utcnow())
    numbers.append(report.number)
    database.close()

    proc = _run_cli(config_file, "worker", "--drain")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # 4 events: 3 cards, 1 update to the group; the resident has no consent: skipped, not failed.
    assert "drained: 4 events fanned out, 4 sent, 0 to retry, 0 dead, 1 skipped" in proc.stdout
    assert sorted(numbers_in(group(fake_dingtalk, "yongsheng")) + numbers_in(group(fake_dingtalk, "yitong"))) \
        == sorted(numbers)
    database.connect(reuse_if_open=True)
    assert {d.state for d in Delivery.select()} == {"sent", "skipped"}

    # Nothing left: a second drain does nothing and still exits 0.
    again = _run_cli(config_file, "worker", "--drain")
    assert again.returncode == 0 and "drained: 0 events fanned out, 0 sent" in again.stdout
    assert len(group(fake_dingtalk, "yongsheng")) == 3


# --------------------------------------------------------------------------- /metrics


def metrics(client) -> dict[str, dict[tuple, float]]:
    """``{sample name: {sorted label items: value}}`` from a scrape of ``/metrics``."""
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.content_type.startswith("text/plain")
    out: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for s in family.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def test_metrics_after_a_run(client, fake_dingtalk, run, clock):
    database.connect(reuse_if_open=True)
    break_robot(fake_dingtalk, "yongning")
    clock.t = time.time()  # reports are stamped with the real time; the worker runs on the clock
    make_report(township="yitong")                       # one 500, then sent
    make_report(township="yongning")                     # dead: 300001
    [make_report() for _ in range(3)]                    # sent
    fake_dingtalk.state.set_outage("error500", count=1)  # the first request (yitong's) fails
    clock.advance(3)  # three seconds from report to the first try
    run()
    clock.advance(30)
    run()  # yitong's retry, 5 s backoff long past
    # A DingTalk block (130101) on yongsheng: one rate-limit wait, nothing hammered.
    fake_dingtalk.state.groups["cid-yongsheng"].limiter.blocked_until = clock() + 600
    make_report()
    clock.advance(30)
    run()
    run()

    database.connect(reuse_if_open=True)
    rows = list(Delivery.select())
    assert sorted(d.state for d in rows) == ["dead", "pending", "sent", "sent", "sent", "sent"]
    m = metrics(client)
    depth = {dict(k)["state"]: v for k, v in m["tongxin_delivery_queue_depth"].items() if dict(k)["channel"] == "dingtalk"}
    assert depth.get("dead") == 1 and depth.get("pending") == 1
    assert depth.get("sending", 0) == 0 and depth.get("coalesced", 0) == 0
    assert m["tongxin_outbox_unfanned_events"][()] == 0

    attempts = m["tongxin_delivery_attempts_total"][(("channel", "dingtalk"),)]
    # yitong 2, yongning 1, three cards 1 each; a 130101 answer does not use up an attempt.
    assert attempts == sum(d.attempts for d in rows) == 2 + 1 + 3
    failures = {(dict(k)["errcode"], dict(k)["state"]): v for k, v in m["tongxin_delivery_last_errors"].items()}
    assert failures == {("300001", "dead"): 1, ("130101", "pending"): 1}  # yitong got through in the end

    waits = m["tongxin_rate_limit_waits_total"]
    assert waits[(("channel", "dingtalk"),)] == 1  # per channel: never a label per group or resident
    assert sum(waits.values()) == 1
    assert TargetState.get_by_id("dingtalk:township:yongsheng").rate_limit_waits == 1

    buckets = {float(dict(k)["le"]): v for k, v in m["tongxin_delivery_latency_seconds_bucket"].items()}
    count = m["tongxin_delivery_latency_seconds_count"][()]
    total = m["tongxin_delivery_latency_seconds_sum"][()]
    assert count == 4 == sum(1 for d in rows if d.state == "sent")
    assert buckets[float("inf")] == count
    values = [buckets[k] for k in sorted(buckets)]
    assert values == sorted(values)  # cumulative
    # Three cards sent 3 s after their report, yitong's after 33 s.
    assert (buckets[2], buckets[5], buckets[30], buckets[60]) == (0, 3, 3, 4)
    assert 3 * 3 + 33 - 1 <= total <= 3 * 3 + 33


def test_metrics_on_an_empty_queue(client):
    m = metrics(client)
    assert m["tongxin_delivery_latency_seconds_count"][()] == 0
    assert m["tongxin_outbox_unfanned_events"][()] == 0
    assert "tongxin_delivery_queue_depth" not in m or not any(m["tongxin_delivery_queue_depth"].values())


# --------------------------------------------------------------------------- /healthz, /readyz


def test_health_and_readiness(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200 and resp.get_json()["status"] == "ok"
    resp = client.get("/readyz")
    assert resp.status_code == 200 and resp.get_json() == {"status": "ok", "database": "ok"}


def test_readyz_says_503_when_the_database_is_unreachable(settings_dict, tmp_path):
    from miniapp_api import create_app
    from miniapp_api.config import parse_settings

    settings_dict = {**settings_dict, "database": {"url": "postgresql://postgres@127.0.0.1:1/nowhere"}}
    app = create_app(parse_settings(settings_dict))
    client = app.test_client()
    try:
        live = client.get("/healthz")
        ready = client.get("/readyz")
    finally:
        database.close()
    assert live.status_code == 200  # the process is alive: do not restart it for a database outage
    assert ready.status_code == 503
    assert ready.get_json() == {"status": "unavailable", "database": "error"}
