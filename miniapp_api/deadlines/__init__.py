"""Deadlines and escalation (issue 4): the county's rules, run by themselves.

* :mod:`.calendar` — working time on the county's holiday calendar;
* :mod:`.policy` — the ladder policy and calendar, written from ``[deadlines]`` by init-db;
* :mod:`.ladder` — the levels (grid → community → township → county) and the A/B posts;
* :mod:`.planner` — deadline clocks, started and stopped with every status change;
* :mod:`.steps` — reminders, A→B handovers, escalations, overdue notices, redo (once each);
* :mod:`.scheduler` — one deterministic pass at a given ``now`` (the worker runs it);
* :mod:`.emergency` — 平战一键转换; :mod:`.digest` — the daily digest;
* :mod:`.stats` — statistics for the console; :mod:`.views` — the admin endpoints.

Administrators' guide: ``docs/deadlines.md``.
"""


def init_app(app) -> None:
    """Declare the admin endpoints on the API blueprint (before it is registered)."""
    from miniapp_api.web import admin_deadlines as views  # noqa: F401
