"""Restarts never repeat a step: the same pass twice, a pass killed half way and run again,
two schedulers at once."""
from __future__ import annotations

import threading

import pytest

from miniapp_api.db import database
from miniapp_api.deadlines import steps
from miniapp_api.models import OutboxEvent
from miniapp_api.models import TimelineEntry
from miniapp_api.models.deadlines import EscalationStep
from tests.deadlines.conftest import T0
from tests.deadlines.conftest import act
from tests.deadlines.conftest import hours
from tests.deadlines.conftest import submit


def snapshot() -> tuple[int, int, int, list]:
    return (EscalationStep.select().count(), TimelineEntry.select().count(), OutboxEvent.select().count(),
            sorted((s.report_id, s.step) for s in EscalationStep.select()))


def busy_county(org) -> list:
    """Reports at every stage: due for a reminder, a handover, an escalation, an overdue."""
    reports = [submit(T0 + hours(i * 0.25), "sanitation", grid=org.grid) for i in range(8)]
    act(reports[0], "accept", org.posts[("grid", "A")], T0 + hours(1))
    return reports


@pytest.mark.parametrize("at", [2.5, 3.3, 4.5, 9, 30])
def test_the_same_pass_twice_does_it_once(org, scheduler, at):
    busy_county(org)
    first = scheduler(T0 + hours(at))
    assert first.looked > 0
    after_first = snapshot()
    second = scheduler(T0 + hours(at))
    assert snapshot() == after_first
    assert (second.reminders, second.handovers, second.escalations, second.overdue) == (0, 0, 0, 0)


@pytest.mark.parametrize("tx_batch", [1, 100])
def test_a_pass_killed_half_way_and_run_again_repeats_nothing(org, scheduler, monkeypatch, tx_batch):
    from miniapp_api.deadlines import scheduler as scheduler_module

    monkeypatch.setattr(scheduler_module, "TX_BATCH", tx_batch)
    busy_county(org)
    real = steps.remind
    calls = {"n": 0}

    def dying_remind(*args, **kwargs):
        real(*args, **kwargs)  # the step's rows are written…
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("killed")  # …and the process dies before the commit

    monkeypatch.setattr(steps, "remind", dying_remind)
    with pytest.raises(SystemExit):
        scheduler(T0 + hours(3))
    database.close()  # the dead process's connection goes with it
    database.connect()
    partial = snapshot()
    # Committed one report at a time: the first two stay done, the third rolls back; in one
    # batch: the whole batch rolls back.
    assert len(partial[3]) == (2 if tx_batch == 1 else 0)
    monkeypatch.setattr(steps, "remind", real)
    scheduler(T0 + hours(3))
    done = snapshot()
    scheduler(T0 + hours(3))
    assert snapshot() == done
    assert set(partial[3]) <= set(done[3])
    per_report = {}
    for report_id, step in done[3]:
        per_report.setdefault(report_id, []).append(step)
    assert all(len(v) == len(set(v)) for v in per_report.values())
    # A timeline entry and an outbox event for each step, no more.
    reminders = TimelineEntry.select().where(TimelineEntry.action == "remind").count()
    assert reminders == EscalationStep.select().where(EscalationStep.kind == "remind").count()


def test_two_schedulers_at_once_do_each_step_once(org, settings, db):
    from miniapp_api.deadlines.scheduler import run_pass

    busy_county(org)
    database.close()
    results, errors = [], []

    def one():
        try:
            results.append(run_pass(settings, T0 + hours(4.5)))
        except Exception as err:  # pragma: no cover - reported below
            errors.append(err)
        finally:
            database.close()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    database.connect(reuse_if_open=True)
    done = snapshot()
    assert sum(r.escalations + r.reminders + r.handovers for r in results) == done[0]
    assert TimelineEntry.select().where(TimelineEntry.channel == "system").count() == done[0]
