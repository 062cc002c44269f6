"""The report page's 首办层级 is the level the report started at (its category's duty list),
and stays so after the ladder escalates it; the current level is shown beside it."""
from __future__ import annotations

from datetime import timedelta

from miniapp_api.deadlines.scheduler import run_pass
from miniapp_api.models import Report
from miniapp_api.org.levels import LEVEL_LABELS
from tests.factories import make_report


def test_the_first_level_survives_escalation(console, db, settings):
    report = make_report()
    first = report.category.level
    run_pass(settings, report.created_at + timedelta(days=30))
    escalated = Report.get_by_id(report.id)
    assert escalated.level != first  # the ladder has raised it
    body = console("county").text(f"/console/reports/{report.number}")
    assert f'首办层级：<span id="first-level">{LEVEL_LABELS[first]}</span>' in body
    assert f'当前层级：<span id="current-level">{LEVEL_LABELS[escalated.level]}</span>' in body
