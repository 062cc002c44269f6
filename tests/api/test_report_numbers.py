"""Tracking numbers: unique and counted per local day under concurrent submissions, on both
databases. A process reserves the day's numbers in blocks (``NUMBER_BLOCK``), in a
transaction of its own that commits at once, so no submission holds the counter's lock while
it writes."""
from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import psycopg2
import pytest

from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.models import Counter
from miniapp_api.models import Report
from miniapp_api.reports.service import NUMBER_BLOCK
from miniapp_api.reports.service import next_number
from miniapp_api.reports.service import reserve_number
from tests.conftest import report_body


def _counter_seen_elsewhere(db_url: str, name: str):
    """The counter's value as another connection sees it (committed data only)."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.split("sqlite:///", 1)[1])
        row = conn.execute("SELECT value FROM counter WHERE name = ?", (name,)).fetchone()
    else:
        conn = psycopg2.connect(db_url)
        with conn.cursor() as cur:
            cur.execute("SELECT value FROM counter WHERE name = %s", (name,))
            row = cur.fetchone()
    conn.close()
    return row[0] if row else None


def test_concurrent_submissions_get_unique_numbers_counted_per_day(app, residents):
    people = [residents.login() for _ in range(4)]

    def submit(n: int) -> str:
        resp = app.test_client().post("/api/v1/reports", json=report_body(description=f"路灯不亮 {n}"),
                                      headers=people[n % len(people)]["headers"])
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["number"]

    with ThreadPoolExecutor(8) as pool:
        numbers = list(pool.map(submit, range(24)))
    assert len(set(numbers)) == 24
    by_day: dict[str, list[int]] = {}
    for number in numbers:
        day, seq = number.split("-")
        by_day.setdefault(day, []).append(int(seq))
    # Nothing failed, so no gaps: each day (one, unless the test ran across midnight in
    # China) counts 1, 2, 3, …
    assert all(sorted(seqs) == list(range(1, len(seqs) + 1)) for seqs in by_day.values())
    database.connect(reuse_if_open=True)
    assert sorted(r.number for r in Report.select()) == sorted(numbers)


def test_a_reserved_block_of_numbers_is_committed_at_once(app, db_url):
    now = datetime(2026, 12, 5, 3, 0, tzinfo=timezone.utc)  # 11:00 in China
    database.connect(reuse_if_open=True)
    assert reserve_number(now) == "R261205-0001"
    # The whole block is taken from the day's counter and committed at once.
    assert _counter_seen_elsewhere(db_url, "report:261205") == NUMBER_BLOCK
    assert [reserve_number(now) for _ in range(NUMBER_BLOCK - 1)][-1] == f"R261205-{NUMBER_BLOCK:04d}"
    assert _counter_seen_elsewhere(db_url, "report:261205") == NUMBER_BLOCK
    assert reserve_number(now) == f"R261205-{NUMBER_BLOCK + 1:04d}"  # the next block
    assert _counter_seen_elsewhere(db_url, "report:261205") == 2 * NUMBER_BLOCK
    # Another process, or a number taken inside a transaction (``next_number``), continues
    # after the blocks: never a duplicate.
    with write_tx():
        assert next_number(now) == f"R261205-{2 * NUMBER_BLOCK + 1:04d}"
    # A new local day starts its own count.
    assert reserve_number(now + timedelta(days=1)) == "R261206-0001"


def test_reserving_inside_a_transaction_is_refused(app):
    database.connect(reuse_if_open=True)
    with write_tx():
        with pytest.raises(RuntimeError, match="outside a transaction"):
            reserve_number(datetime(2026, 12, 5, tzinfo=timezone.utc))
    assert Counter.select().where(Counter.name.startswith("report:")).count() == 0
