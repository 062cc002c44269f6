"""A submission sends the statements its work needs and no more, counted at the driver on
both databases (issue 17). The catalogue (category, unit, policy, calendar, switch, duty
posts) comes from the per-process cache; tracking numbers come from a block the process
reserved earlier; the daily limit's first count reads the catalogue's version too."""
from __future__ import annotations

import re

import pytest

from miniapp_api.db import database
from miniapp_api.models import Grid
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import TimelineEntry
from miniapp_api.org import grid_import
from miniapp_api.reports.service import NUMBER_BLOCK
from tests.conftest import report_body
from tests.org.conftest import grids  # noqa: F401 (the fixture)
from tests.perf.statements import statements

# What one submission sends, once the process has its catalogue (grid routing's index
# included: routing sends nothing) and a block of numbers, by what each statement is for (see
# ``_label``). Then the answer's nearby reports: one compiled query, and one for their photos
# when any report is near (here always: the submissions before it are).
MINE = {
    "sqlite": ["token", "daily count + catalogue version", "BEGIN", "daily count", "INSERT report",
               "INSERT timeline_entry", "INSERT outbox_event", "COMMIT", "nearby reports", "nearby photos"],
    # data-modifying CTEs: the report, its entry and its event in one statement
    "postgresql": ["token", "daily count + catalogue version", "BEGIN", "daily count",
                   "INSERT report + timeline_entry + outbox_event", "COMMIT", "nearby reports", "nearby photos"],
}
# Reserving a block of tracking numbers, once per NUMBER_BLOCK submissions: its own
# transaction (which on PostgreSQL does not wait for the disk).
BLOCK = {"sqlite": ["BEGIN", "INSERT counter … RETURNING", "COMMIT"],
         "postgresql": ["BEGIN", "SET LOCAL synchronous_commit = off", "INSERT counter … RETURNING", "COMMIT"]}

_LABELS = [
    (r'^BEGIN', "BEGIN"),
    (r'^COMMIT', "COMMIT"),
    (r'^SET LOCAL synchronous_commit', "SET LOCAL synchronous_commit = off"),
    (r'FROM "auth_session"', "token"),
    (r'^SELECT COUNT\(1\), \(SELECT "t1"."value" FROM "counter".* FROM "report" .* LIMIT \S+\) AS "today"$',
     "daily count + catalogue version"),
    (r'^SELECT COUNT\(1\) FROM \(SELECT "t1"."id" FROM "report" .* LIMIT \S+\) AS "today"$', "daily count"),
    (r'^WITH "new_report" AS \(INSERT INTO "report".*INSERT INTO "timeline_entry".*INSERT INTO "outbox_event"',
     "INSERT report + timeline_entry + outbox_event"),
    (r'^INSERT INTO "counter" .*RETURNING', "INSERT counter … RETURNING"),
    (r'^INSERT INTO "(\w+)"', None),  # INSERT <table>
    (r'^SELECT "t1"."id", "t1"."name", "t2"."name", "t3"."id".* FROM "grid"', "grid routing"),
    (r'FROM "grid"', "the answer's grid name"),
    (r'FROM "report" .*"lat" BETWEEN', "nearby reports"),
    (r'FROM "report_photo"', "nearby photos"),
]


def _labels(seen: list[str]) -> list[str]:
    """What each statement is for. On PostgreSQL, ``EXECUTE name`` reads as the statement
    ``PREPARE name AS …`` prepared (seen earlier in the same list); PREPAREs themselves are
    skipped (they are sent once per connection)."""
    prepared, out = {}, []
    for sql in seen:
        m = re.match(r"PREPARE (\w+) AS (.*)", sql, re.S)
        if m:
            prepared[m.group(1)] = m.group(2)
            continue
        m = re.match(r"EXECUTE (\w+)", sql)
        sql = prepared[m.group(1)] if m else sql
        for pattern, label in _LABELS:
            found = re.search(pattern, sql, re.S)
            if found:
                out.append(label or f"INSERT {found.group(1)}")
                break
        else:
            out.append(sql)
    return out


def _check(labels: list[str], kind: str, times: int = 1) -> None:
    """``labels`` are exactly those of ``times`` submissions."""
    assert labels == MINE[kind] * times, labels


@pytest.fixture
def settings_dict(settings_dict):
    """More submissions a day than a block of numbers holds."""
    settings_dict["reports"]["daily_limit_per_resident"] = 10 * NUMBER_BLOCK
    return settings_dict


def _submit(client, resident, n: int):
    resp = client.post("/api/v1/reports", json=report_body(description=f"路灯不亮 {n}"), headers=resident["headers"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["number"]


def _kind(db_url: str) -> str:
    return "postgresql" if db_url.startswith("postgres") else "sqlite"


def test_a_submission_sends_only_the_statements_its_work_needs(client, resident, db_url):
    kind = _kind(db_url)
    with statements() as seen:
        _submit(client, resident, 0)  # fills the catalogue cache and reserves a block of numbers
        first = len(seen)
        _submit(client, resident, 1)
    labels = _labels(seen)
    _check(labels[len(_labels(seen[:first])):], kind)
    # What those statements wrote: the report, its one entry and its one event.
    database.connect(reuse_if_open=True)
    report = Report.select().order_by(Report.id.desc()).get()
    entries = list(TimelineEntry.select().where(TimelineEntry.report == report.id))
    events = list(OutboxEvent.select().where(OutboxEvent.report == report.id))
    assert [(e.action, e.status, e.actor_kind) for e in entries] == [("submit", "pending", "resident")]
    assert [(e.kind, e.payload) for e in events] == [("report.created", {"number": report.number})]
    assert events[0].created_at == entries[0].at == report.created_at


def test_tracking_numbers_are_reserved_once_per_block(client, resident, db_url):
    kind = _kind(db_url)
    with statements() as seen:
        numbers = [_submit(client, resident, 0)]
        first = len(seen)
        numbers += [_submit(client, resident, n) for n in range(1, NUMBER_BLOCK + 1)]
    labels = _labels(seen)[len(_labels(seen[:first])):]
    # The first submission reserved 1..NUMBER_BLOCK; the last one here reserves the next
    # block, before its own statements: one reservation in NUMBER_BLOCK + 1 submissions.
    assert labels.count("INSERT counter … RETURNING") == 1
    at = labels.index("INSERT counter … RETURNING")
    reservation = labels[at - len(BLOCK[kind]) + 2:at + 2]
    assert reservation == BLOCK[kind], labels[at - 6:at + 3]
    _check(labels[:at - len(BLOCK[kind]) + 2] + labels[at + 2:], kind, NUMBER_BLOCK)
    day = numbers[0].split("-")[0]
    assert numbers == [f"{day}-{i:04d}" for i in range(1, NUMBER_BLOCK + 2)]
    database.connect(reuse_if_open=True)
    assert Report.select().count() == NUMBER_BLOCK + 1


def test_grid_routing_sends_nothing_until_a_grid_changes(client, resident, grids, db_url):
    """With grid boundaries, routing a submission reads nothing while the grids stay as they
    are; after a change it reads them once, and routes by the new boundary."""
    kind = _kind(db_url)
    marks = []
    with statements() as seen:  # one block: on PostgreSQL, EXECUTEs name PREPAREs sent earlier
        _submit(client, resident, 0)  # the catalogue, the routing index among it, is loaded
        marks.append(len(seen))
        _submit(client, resident, 1)
        marks.append(len(seen))
        # The grid shrinks to its western part: the point (125.305) is left outside, 243 m
        # from its new centre.
        grid_import.save_geometry(Grid.get_by_id(grids["第1网格"]), "POLYGON ((125.300 43.340, 125.304 43.340, "
                                  "125.304 43.350, 125.300 43.350, 125.300 43.340))")
        marks.append(len(seen))
        _submit(client, resident, 2)  # reloads the catalogue (the version moved), the grids once
        marks.append(len(seen))
        _submit(client, resident, 3)
    labels = _labels(seen)
    at = [len(_labels(seen[:m])) for m in marks]
    second, after_change, fourth = labels[at[0]:at[1]], labels[at[2]:at[3]], labels[at[3]:]
    for one in (second, fourth):
        # The answer names the report's grid (``service.grid_names``): one read, after the commit.
        assert one.count("the answer's grid name") == 1, one
        _check([x for x in one if x != "the answer's grid name"], kind)
    assert after_change.count("grid routing") == 1, after_change  # the index rebuilt once, after the change
    database.connect(reuse_if_open=True)
    reports = list(Report.select().order_by(Report.id))
    assert [r.grid_id for r in reports] == [grids["第1网格"]] * 4
    notes = [TimelineEntry.get(TimelineEntry.report == r.id).note for r in reports]
    assert ["网格的边界内" in n for n in notes] == [True, True, False, False], notes
    assert ["中心点最近" in n for n in notes] == [False, False, True, True], notes
