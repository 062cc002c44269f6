"""The lifecycle table, exercised for every (status, action) pair against a real database."""
from __future__ import annotations

import itertools

import pytest

from miniapp_api.reports import lifecycle
from miniapp_api.db import database
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import InvalidTransition
from miniapp_api.reports.lifecycle import Status
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.models import utcnow
from tests.factories import OFFICIAL
from tests.factories import make_report

EXPECTED = {
    ("pending", "accept"): "accepted",
    ("transferred", "accept"): "accepted",
    ("accepted", "resolve"): "resolved",
    ("pending", "reject"): "rejected",
    ("accepted", "reject"): "rejected",
    ("pending", "transfer"): "transferred",
    ("accepted", "transfer"): "transferred",
    ("resolved", "rate"): "closed",
    ("resolved", "reopen"): "accepted",
    ("resolved", "close"): "closed",
    # 合并 (issue #15): an open duplicate goes on as another report
    ("pending", "merge"): "merged",
    ("accepted", "merge"): "merged",
    ("transferred", "merge"): "merged",
}
ACTIONS = [a for a in Action if a != Action.SUBMIT]



def test_table_matches_design():
    assert {(s.value, a.value): t.value for (s, a), t in lifecycle.TRANSITIONS.items()} == EXPECTED


@pytest.mark.parametrize("status,action", list(itertools.product([s.value for s in Status], [a.value for a in ACTIONS])))
def test_every_status_action_pair(db, status, action):
    report = make_report(status)
    events_before = OutboxEvent.select().count()
    timeline_before = TimelineEntry.select().where(TimelineEntry.report == report).count()
    now = utcnow()
    if (status, action) in EXPECTED:
        updated = lifecycle.apply(report, action, OFFICIAL, now, note="说明")
        assert updated.status == EXPECTED[(status, action)]
        entry = TimelineEntry.select().where(TimelineEntry.report == report).order_by(TimelineEntry.id.desc()).get()
        assert (entry.action, entry.status, entry.channel, entry.actor_name, entry.note) == (
            action, updated.status, "dingtalk", "张网格", "说明")
        event = OutboxEvent.select().order_by(OutboxEvent.id.desc()).get()
        assert event.kind == "report.status_changed"
        assert event.payload["from"] == status and event.payload["to"] == updated.status
        assert OutboxEvent.select().count() == events_before + 1
    else:
        with pytest.raises(InvalidTransition) as info:
            lifecycle.apply(report, action, OFFICIAL, now)
        assert info.value.status == 409 and info.value.code == "invalid_transition"
        assert Report.get_by_id(report.id).status == status
        assert OutboxEvent.select().count() == events_before
        assert TimelineEntry.select().where(TimelineEntry.report == report).count() == timeline_before


def test_stale_copy_loses_the_race(db):
    """Two officials press 受理 on the same pending report: one wins, one is told."""
    report = make_report("pending")
    stale = Report.get_by_id(report.id)
    lifecycle.apply(report, "accept", OFFICIAL, utcnow())
    with pytest.raises(InvalidTransition):
        lifecycle.apply(stale, "accept", OFFICIAL, utcnow())
    assert TimelineEntry.select().where((TimelineEntry.report == report) & (TimelineEntry.action == "accept")).count() == 1


def test_outbox_refuses_outside_a_transaction(db):
    from miniapp_api import outbox

    with pytest.raises(RuntimeError):
        outbox.record("report.created", {}, now=utcnow())
