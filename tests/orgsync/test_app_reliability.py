"""The bridge issue's kill test, for app-sent groups: a ``tongxin worker`` process killed with
SIGKILL mid-delivery and restarted loses nothing. ``chat.send`` has no idempotency key, so
the one message that may have reached DingTalk just before the kill is sent again — marked
as a resend — and nothing else is ever shown twice. Counted on what the fake received."""
from __future__ import annotations

import collections
import signal
import subprocess

import pytest

from bridges.dingtalk.app_sender import RESEND_NOTE
from bridges.dingtalk.app_client import AppClient
from bridges.dingtalk.app_client import DingtalkAppSettings
from bridges.fakes.dingtalk import create_fake_dingtalk
from bridges.fakes.serve import serve_in_thread
from miniapp_api.config import parse_settings
from miniapp_api.db import database
from miniapp_api.models import Delivery
from miniapp_api.models.dingtalk import AppSend
from miniapp_api.tokens import DbTokenStore
from tests.bridges.conftest import numbers_in
from tests.bridges.helpers import kill_midway_and_restart
from tests.bridges.helpers import start_worker
from tests.bridges.helpers import wait_for
from tests.bridges.helpers import write_config
from tests.bridges.test_reliability import prepare_database
from tests.bridges.test_reliability import unfinished
from tests.conftest import DT_APP_KEY
from tests.conftest import DT_APP_SECRET
from tests.conftest import make_settings_dict
from tests.factories import make_report



def app_townships(n: int, fake_state) -> list[dict]:
    """``n`` townships whose groups the app created: chat_id, no robot."""
    out = []
    for i in range(1, n + 1):
        code = f"t{i:02d}"
        out.append({"code": code, "name": f"第{i}镇", "kind": "town",
                    "dingtalk": {"conversation_id": f"cid-{code}", "chat_id": f"chat{code}"}})
        fake_state.add_group(f"cid-{code}", f"第{i}镇", "", None, [], chat_id=f"chat{code}")
    return out


def app_msgs(state, code: str) -> list[dict]:
    return [m for m in state.messages(f"cid-{code}") if m["via"] == "app"]


def check_shown_once_or_marked(state, codes, expected) -> int:
    """Every report shown; a second showing only as a marked resend. Returns the resends."""
    resends = 0
    for code in codes:
        msgs = app_msgs(state, code)
        plain = [m for m in msgs if RESEND_NOTE not in m["text"]]
        marked = [m for m in msgs if RESEND_NOTE in m["text"]]
        resends += len(marked)
        shown = numbers_in(plain)
        dupes = [n for n, k in collections.Counter(shown).items() if k > 1]
        assert not dupes, f"{code}: shown twice without a resend mark: {dupes[:10]}\n" + _explain(msgs, dupes[0])
        assert sorted(set(shown + numbers_in(marked))) == sorted(expected[code]), f"{code}: missing reports"
    return resends


def _explain(msgs: list[dict], number: str) -> str:
    """Where ``number`` was shown, and its deliveries and app sends (for a failure message)."""
    from miniapp_api.models import OutboxEvent
    from miniapp_api.models import Report

    lines = [f"  shown: {m['time']:.3f} {m['title']!r} {m['message_id']}" for m in msgs if number in m["text"]]
    database.connect(reuse_if_open=True)
    report = Report.get(Report.number == number)
    for d in Delivery.select().join(OutboxEvent).where(OutboxEvent.report == report):
        lines.append(f"  delivery {d.id}: {d.state} attempts={d.attempts} digest={d.digest_id} uuid={d.msg_uuid} "
                     f"by={d.claimed_by} err={d.last_errcode}")
        for row in (Delivery.select().where(Delivery.id == d.digest_id) if d.digest_id else []):
            lines.append(f"    digest {row.id}: {row.state} attempts={row.attempts} uuid={row.msg_uuid} by={row.claimed_by}")
        for uid in [d.msg_uuid] + ([Delivery.get_by_id(d.digest_id).msg_uuid] if d.digest_id else []):
            a = AppSend.get_or_none(AppSend.msg_uuid == uid)
            if a:
                lines.append(f"    appsend {uid}: {a.state} attempts={a.attempts} doubt={a.in_doubt_resends} "
                             f"msg={a.message_id} started={a.started_at}")
    return "\n".join(lines)


@pytest.fixture
def fake_real_clock():
    app = create_fake_dingtalk(app_key=DT_APP_KEY, app_secret=DT_APP_SECRET)
    server = serve_in_thread(app)
    server.state = app.extensions["fake_dingtalk"]
    yield server
    server.shutdown()


def _setup(db_url, tmp_path, fake, n_townships: int, **dingtalk):
    data = make_settings_dict(db_url, tmp_path, "http://127.0.0.1:9", fake.base_url)
    data["townships"] = app_townships(n_townships, fake.state)
    data["departments"] = []
    data["dingtalk"].update(digest_wait_seconds=1, **dingtalk)
    data["worker"] = {"batch_size": 500, "poll_seconds": 0.1}
    cfg = write_config(tmp_path / "tongxin.toml", data)
    settings = parse_settings(data)
    prepare_database(settings)
    return cfg, settings, [t["code"] for t in data["townships"]]


def test_a_worker_killed_inside_chat_send_resends_that_one_message_marked(db_url, tmp_path, fake_real_clock):
    """Deterministic: DingTalk holds the first chat/send; the worker is killed while waiting;
    DingTalk then shows the message. The restarted worker sends it again, saying so."""
    fake = fake_real_clock
    procs: list[subprocess.Popen] = []
    try:
        cfg, settings, codes = _setup(db_url, tmp_path, fake, 1)
        expected = {codes[0]: [make_report(township=codes[0]).number for _ in range(3)]}
        with AppClient(DingtalkAppSettings.from_config(settings.dingtalk), DbTokenStore()) as c:
            c.access_token()  # in the database: the worker process uses it, fetches nothing
        database.close()
        fake.state.set_outage("timeout", count=1, seconds=3)
        log = tmp_path / "worker.log"
        procs.append(start_worker(cfg, log))
        wait_for(lambda: fake.state.current_outage() is None, timeout=30, what="the held chat/send")
        procs[0].send_signal(signal.SIGKILL)
        procs[0].wait(10)
        wait_for(lambda: app_msgs(fake.state, codes[0]), timeout=10, what="DingTalk to show it anyway")
        procs.append(start_worker(cfg, log))
        wait_for(lambda: unfinished() == 0, timeout=60, interval=0.2, what="every delivery to be sent")
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(15) == 0, log.read_text(errors="replace")[-3000:]
        database.connect(reuse_if_open=True)
        assert check_shown_once_or_marked(fake.state, codes, expected) == 1
        assert sum(a.in_doubt_resends for a in AppSend.select()) == 1
        assert {d.state for d in Delivery.select()} <= {"sent", "coalesced"}
        assert fake.state.app.stats()["gettoken_calls"] == 1  # the token was shared, not fetched again
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        database.close()


@pytest.mark.slow
def test_a_killed_worker_loses_nothing_on_the_app_channel(db_url, tmp_path, fake_real_clock):
    fake = fake_real_clock
    procs: list[subprocess.Popen] = []
    try:
        # 600 a minute for the app (10 a second: under the fake's 20 qps), 60 per group.
        cfg, settings, codes = _setup(db_url, tmp_path, fake, 10, app_rate_limit_per_minute=600)
        expected: dict[str, list[str]] = {c: [] for c in codes}
        for i in range(1000):
            code = codes[i % len(codes)]
            expected[code].append(make_report(township=code).number)
        database.close()

        def received() -> int:
            return sum(r["app_accepted"] for r in fake.state.stats()["robots"].values())

        log = tmp_path / "worker.log"
        kill_midway_and_restart(cfg, log, procs, received, unfinished, finish_timeout=120)
        procs[1].send_signal(signal.SIGTERM)
        assert procs[1].wait(15) == 0, log.read_text(errors="replace")[-3000:]

        database.connect(reuse_if_open=True)
        assert {d.state for d in Delivery.select(Delivery.state)} <= {"sent"}
        resends = check_shown_once_or_marked(fake.state, codes, expected)
        assert resends <= 1  # at most the one request in flight when the worker died
        assert resends == sum(a.in_doubt_resends for a in AppSend.select())
        for code in codes:
            robot = fake.state.stats()["robots"][f"cid-{code}"]
            assert robot["app_max_in_60s"] <= settings.dingtalk.app_chat_rate_limit_per_minute, (code, robot)
        assert fake.state.app.stats()["chat_rejected"] == {}
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
        database.close()
