"""Nothing is lost, nothing is shown twice: a worker process killed with SIGKILL mid-delivery,
platform outages and backoff, dead letters, several workers on PostgreSQL, urgent first.

Everything goes over real HTTP to the fake DingTalk; the counts asserted are what the fake
received, not what the worker believes it sent.
"""
from __future__ import annotations

import collections
import re
import signal
import subprocess
import threading
import time

import pytest

from bridges.fakes.dingtalk import create_fake_dingtalk
from bridges.fakes.serve import serve_in_thread
from bridges.registry import build_worker
from miniapp_api.config import parse_settings
from miniapp_api.db import bind
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.models import Delivery
from miniapp_api.models import GroupMapping
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import Township
from tests.bridges.conftest import numbers_in
from tests.bridges.helpers import add_groups
from tests.bridges.helpers import many_townships
from tests.bridges.helpers import kill_midway_and_restart
from tests.bridges.helpers import write_config
from tests.conftest import DT_APP_KEY
from tests.conftest import DT_APP_SECRET
from tests.conftest import make_settings_dict
from tests.conftest import report_body
from tests.factories import make_report

NUMBER = re.compile(r"R\d{6}-\d{4,}")


def group(fake, code: str) -> list[dict]:
    return fake.state.messages(f"cid-{code}")


def prepare_database(settings) -> None:
    """Migrate and load the organisation, as ``tongxin init-db`` does."""
    from miniapp_api import migrations
    from miniapp_api.seed import apply_config

    bind(settings.database.url)
    database.connect(reuse_if_open=True)
    migrations.upgrade()
    apply_config(settings)


def unfinished() -> int:
    """Deliveries not yet in a final state, plus events not yet fanned out."""
    database.connect(reuse_if_open=True)
    open_rows = Delivery.select().where(Delivery.state.in_(["pending", "sending", "coalesced"])).count()
    return open_rows + OutboxEvent.select().where(OutboxEvent.fanned_out == False).count()  # noqa: E712


def assert_digest_entries_complete(messages: list[dict], township_name: str) -> None:
    """Every report in a digest keeps its number, category, place and link."""
    for m in messages:
        if "汇总" not in m["title"]:
            continue
        for line in m["text"].splitlines():
            found = NUMBER.findall(line)
            if not found:
                continue
            n = found[0]
            assert "环境卫生" in line and township_name in line and "人民大街" in line, line
            assert f"/o/reports/{n}?sig=" in line, line


# --------------------------------------------------------------------------- the kill test

KILL_TOWNSHIPS = 10
KILL_REPORTS = 1000


@pytest.mark.slow
def test_a_killed_worker_loses_nothing_and_shows_nothing_twice(db_url, tmp_path):
    # The fake DingTalk on the real clock: the worker is a separate process with its own time.
    fake_app = create_fake_dingtalk(app_key=DT_APP_KEY, app_secret=DT_APP_SECRET)
    fake = serve_in_thread(fake_app)
    state = fake_app.extensions["fake_dingtalk"]
    procs: list[subprocess.Popen] = []
    try:
        data = make_settings_dict(db_url, tmp_path, "http://127.0.0.1:9", fake.base_url)
        data["townships"] = many_townships(KILL_TOWNSHIPS, fake.base_url)
        data["departments"] = []
        data["dingtalk"]["digest_wait_seconds"] = 1
        # Fan 1,000 events out in two passes: with 50 a pass, the robots' first minute would go
        # to single cards and small digests and the rest would wait a whole minute.
        data["worker"] = {"batch_size": 500, "poll_seconds": 0.1}
        add_groups(state, data["townships"])
        cfg = write_config(tmp_path / "tongxin.toml", data)
        settings = parse_settings(data)
        prepare_database(settings)
        codes = [t["code"] for t in data["townships"]]
        names = {t["code"]: t["name"] for t in data["townships"]}
        expected: dict[str, list[str]] = {c: [] for c in codes}
        for i in range(KILL_REPORTS):
            code = codes[i % len(codes)]
            expected[code].append(make_report(township=code).number)
        database.close()

        def received() -> int:
            return sum(r["accepted"] for r in state.stats()["robots"].values())

        log = tmp_path / "worker.log"
        kill_midway_and_restart(cfg, log, procs, received, unfinished, finish_timeout=45)
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(15) == 0, log.read_text(errors="replace")[-3000:]

        database.connect(reuse_if_open=True)
        states = collections.Counter(d.state for d in Delivery.select(Delivery.state))
        assert set(states) <= {"sent"}, states
        stats = state.stats()["robots"]
        for code in codes:
            msgs = state.messages(f"cid-{code}")
            shown = numbers_in(msgs)
            dupes = [n for n, k in collections.Counter(shown).items() if k > 1]
            assert not dupes, f"{code}: shown twice: {dupes[:10]}"
            assert sorted(shown) == sorted(expected[code]), f"{code}: missing {set(expected[code]) - set(shown)}"
            assert_digest_entries_complete(msgs, names[code])
            robot = stats[f"cid-{code}"]
            assert robot["max_in_60s"] <= 20, (code, robot)
            assert robot["rejected"] == {}, (code, robot)  # never 130101, never a bad signature
            assert len({m["msg_uuid"] for m in msgs}) == len(msgs)
        assert state.unknown_token == 0
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        database.close()
        fake.shutdown()


# --------------------------------------------------------------------------- outages and dead letters


def _outage_requests_seen(fake, budget: int) -> int:
    """How many requests an ``error500`` outage of ``budget`` requests has answered so far."""
    with fake.state.lock:
        o = fake.state.current_outage()
        return budget if o is None else budget - o["count"]


def test_an_outage_is_ridden_out_with_backoff(app, fake_dingtalk, run, clock):
    database.connect(reuse_if_open=True)
    numbers = {"yongsheng": [make_report().number for _ in range(3)],
               "yongning": [make_report(township="yongning").number for _ in range(2)]}
    budget = 10_000
    fake_dingtalk.state.set_outage("error500", count=budget)  # every send fails until we say so
    t0 = clock.now()
    for _ in range(100):  # 100 s of outage, one pass a second
        run(step=1)
    database.connect(reuse_if_open=True)
    rows = list(Delivery.select().where(Delivery.channel == "dingtalk"))
    assert len(rows) == 5
    # Backoff 5·2^(n−1) s (no jitter in tests): attempts at 0, 5, 15, 35 and 75 s, the next at 155 s;
    # not one attempt per pass.
    for d in rows:
        assert (d.state, d.attempts, d.last_errcode) == ("pending", 5, "Unavailable"), d.__data__
        assert abs((d.next_attempt_at - t0).total_seconds() - 155) < 0.01
    assert _outage_requests_seen(fake_dingtalk, budget) == 5 * 5
    assert all(group(fake_dingtalk, c) == [] for c in numbers)

    fake_dingtalk.state.set_outage("off")  # DingTalk is back
    run(passes=54, step=1)  # up to t = 153 s: still waiting for the backoff
    assert all(group(fake_dingtalk, c) == [] for c in numbers)
    clock.advance(2)
    run()
    for code, expected in numbers.items():
        assert sorted(numbers_in(group(fake_dingtalk, code))) == sorted(expected)
    for d in Delivery.select().where(Delivery.channel == "dingtalk"):
        assert (d.state, d.attempts) == ("sent", 6)
    assert Delivery.get(Delivery.channel == "dingtalk").last_errcode is None


def test_timeouts_are_retried_and_shown_once(settings_dict, request, fake_dingtalk, clock):
    settings_dict["dingtalk"]["request_timeout_seconds"] = 0.3
    request.getfixturevalue("app")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    numbers = [make_report().number for _ in range(2)]
    # Two attempts each time out; the slow platform still takes the message after 0.6 s.
    fake_dingtalk.state.set_outage("timeout", count=4, seconds=0.6)
    run()
    database.connect(reuse_if_open=True)
    assert {(d.state, d.attempts, d.last_errcode) for d in Delivery.select()} == {("pending", 1, "Unavailable")}
    clock.advance(5)
    run()
    time.sleep(0.8)  # let the held requests finish on the fake's side
    clock.advance(10)
    run()
    assert {(d.state, d.attempts) for d in Delivery.select()} == {("sent", 3)}
    msgs = group(fake_dingtalk, "yongsheng")
    assert sorted(numbers_in(msgs)) == sorted(numbers)  # each once, though sent three times
    assert fake_dingtalk.state.stats()["robots"]["cid-yongsheng"]["deduplicated"] == 4


def test_a_permanent_error_is_dead_lettered_after_one_attempt(app, fake_dingtalk, run, clock):
    database.connect(reuse_if_open=True)
    GroupMapping.update(webhook=f"{fake_dingtalk.base_url}/robot/send?access_token=revoked").where(
        GroupMapping.owner_code == "yongning").execute()
    lost = make_report(township="yongning").number
    fine = make_report().number
    for _ in range(30):
        run(step=60)  # half an hour of passes
    database.connect(reuse_if_open=True)
    dead = Delivery.get(Delivery.target == "dingtalk:township:yongning")
    assert (dead.state, dead.attempts, dead.last_errcode) == ("dead", 1, "300001")
    assert "token is not exist" in dead.last_error
    assert fake_dingtalk.state.unknown_token == 1  # asked once, never again
    assert numbers_in(group(fake_dingtalk, "yongsheng")) == [fine]
    assert lost not in str(fake_dingtalk.state.stats())


def test_too_many_failures_end_in_a_dead_letter(settings_dict, request, fake_dingtalk, clock):
    settings_dict["worker"] = {"max_attempts": 3}
    request.getfixturevalue("app")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    make_report()
    budget = 10_000
    fake_dingtalk.state.set_outage("error500", count=budget)
    for _ in range(40):
        run(step=30)  # 20 minutes
    database.connect(reuse_if_open=True)
    d = Delivery.get(Delivery.channel == "dingtalk")
    assert (d.state, d.attempts, d.last_errcode) == ("dead", 3, "Unavailable")
    assert d.last_error.startswith("gave up after 3 attempts") and "HTTP 500" in d.last_error
    assert _outage_requests_seen(fake_dingtalk, budget) == 3


# --------------------------------------------------------------------------- several workers


def test_several_workers_never_send_a_delivery_twice(db_url, tmp_path, fake_wechat, fake_dingtalk, clock):
    """PostgreSQL: three workers (threads, each on its own connection) drain 300 deliveries
    together, claiming with FOR UPDATE SKIP LOCKED. SQLite runs one worker, by design."""
    data = make_settings_dict(db_url, tmp_path, fake_wechat.base_url, fake_dingtalk.base_url)
    data["townships"] = many_townships(10, fake_dingtalk.base_url)
    data["departments"] = []
    add_groups(fake_dingtalk.state, data["townships"])
    settings = parse_settings(data)
    prepare_database(settings)
    n_workers = 3 if is_postgres() else 1
    codes = [t["code"] for t in data["townships"]]
    expected: dict[str, list[str]] = {c: [] for c in codes}
    for i in range(300):
        code = codes[i % len(codes)]
        expected[code].append(make_report(township=code).number)
    database.close()

    workers = [build_worker(settings, worker_id=f"test-w{i}") for i in range(n_workers)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop(w):
        w.rand = lambda: 0.5
        try:
            while not stop.is_set():
                w.run_once(clock=clock.now)  # the clock runs on while a pass sends
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)
        finally:
            database.close()

    threads = [threading.Thread(target=loop, args=(w,), name=w.worker_id) for w in workers]
    for t in threads:
        t.start()
    try:
        # About 12 s alone; the loop ends as soon as all is delivered, so the bound only
        # has to survive a CI machine whose other test process is busy (it once took > 60 s).
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not errors:
            time.sleep(0.025)
            clock.advance(0.25)  # ten test seconds a real second: digests gather, leases hold
            if unfinished() == 0:
                break
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not errors, errors
    database.connect(reuse_if_open=True)
    assert unfinished() == 0
    stats = fake_dingtalk.state.stats()["robots"]
    for code in codes:
        msgs = fake_dingtalk.state.messages(f"cid-{code}")
        shown = numbers_in(msgs)
        assert sorted(shown) == sorted(expected[code]), code  # every report, none twice
        assert len({m["msg_uuid"] for m in msgs}) == len(msgs)
        assert stats[f"cid-{code}"]["deduplicated"] == 0  # no delivery was even attempted twice
        assert stats[f"cid-{code}"]["rejected"] == {}
        assert stats[f"cid-{code}"]["max_in_60s"] <= 20
    senders = {d.claimed_by for d in Delivery.select().where((Delivery.state == "sent") & Delivery.digest.is_null())}
    assert len(senders) == 1 if n_workers == 1 else len(senders) >= 2, senders  # they did share the work
    assert all(d.attempts <= 1 for d in Delivery.select())


# --------------------------------------------------------------------------- urgent first


def test_urgent_reports_go_before_older_normal_ones(client, resident, fake_dingtalk, run, clock):
    database.connect(reuse_if_open=True)
    older = [make_report().number for _ in range(3)]
    # DingTalk blocks the robot (someone else flooded it): the backlog waits out the block.
    fake_dingtalk.state.groups["cid-yongsheng"].limiter.blocked_until = clock() + 600
    run()
    assert fake_dingtalk.state.stats()["robots"]["cid-yongsheng"]["rejected"] == {"130101": 1}
    # 平战转换: the township switches to emergency mode; its new reports are urgent.
    Township.update(emergency=True).where(Township.code == "yongsheng").execute()
    resp = client.post("/api/v1/reports", json=report_body(description="燃气泄漏，楼道里有很大的气味"),
                       headers=resident["headers"])
    assert resp.status_code == 201
    urgent = resp.get_json()["number"]
    database.connect(reuse_if_open=True)
    report = Report.get(Report.number == urgent)
    assert report.urgent
    assert OutboxEvent.get((OutboxEvent.kind == "report.created") & (OutboxEvent.report == report)).priority == 10
    clock.advance(601)
    run()
    msgs = group(fake_dingtalk, "yongsheng")
    assert numbers_in(msgs) == [urgent] + older
    assert msgs[0]["title"].startswith("【紧急】")


def test_urgent_status_changes_go_before_a_normal_backlog(app, fake_dingtalk, run, clock):
    from miniapp_api.reports import lifecycle
    from tests.factories import OFFICIAL

    database.connect(reuse_if_open=True)
    normal = [make_report().number for _ in range(4)]
    urgent = make_report(urgent=True)
    clock.advance(1)
    lifecycle.apply(urgent, "accept", OFFICIAL, clock.now())
    run()
    titles = [m["title"] for m in group(fake_dingtalk, "yongsheng")]
    # The urgent report's card and its update come first, then the older normal cards.
    assert titles[0].startswith("【紧急】新上报") and titles[1].startswith("受理")
    assert numbers_in(group(fake_dingtalk, "yongsheng"))[1:] == normal


def test_a_card_that_may_have_arrived_is_never_merged_into_a_digest(settings_dict, request, fake_dingtalk, clock):
    settings_dict["dingtalk"]["request_timeout_seconds"] = 0.3
    settings_dict["dingtalk"]["digest_wait_seconds"] = 0
    request.getfixturevalue("app")
    run = request.getfixturevalue("run")
    database.connect(reuse_if_open=True)
    first = make_report().number
    fake_dingtalk.state.set_outage("timeout", count=1, seconds=0.6)
    run()  # the client gives up, the slow platform shows the card anyway
    time.sleep(0.8)
    assert numbers_in(group(fake_dingtalk, "yongsheng")) == [first]
    database.connect(reuse_if_open=True)
    backlog = [make_report().number for _ in range(30)]  # now the group's backlog is merged
    clock.advance(5)
    for _ in range(4):
        run(step=30)
    msgs = group(fake_dingtalk, "yongsheng")
    assert any("汇总" in m["title"] for m in msgs)
    assert sorted(numbers_in(msgs)) == sorted([first] + backlog)  # the retried card alone, deduplicated
    assert fake_dingtalk.state.stats()["robots"]["cid-yongsheng"]["deduplicated"] == 1
