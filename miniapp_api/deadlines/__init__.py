"""Deadlines and escalation (issue 4): the county's rules, run by themselves.

* :mod:`.calendar` — working time on the county's holiday calendar;
* :mod:`.policy` — the ladder policy and calendar, written from ``[deadlines]`` by init-db;
* :mod:`.ladder` — the levels (grid → community → township → county) and the A/B posts;
* :mod:`.planner` — deadline clocks, started and stopped with every status change (lifecycle
  hooks, registered by composition: :func:`.planner.register_hooks`);
* :mod:`.mode` — whether emergency mode is in force for a unit (what new clocks read);
* :mod:`.steps` — reminders, A→B handovers, escalations, overdue notices, redo (once each);
* :mod:`.scheduler` — one deterministic pass at a given ``now`` (the worker runs it);
* :mod:`.emergency` — 平战一键转换; :mod:`.digest` — the daily digest;
* :mod:`.stats` — statistics for the console; :mod:`miniapp_api.web.admin_deadlines` — the admin endpoints.

Administrators' guide: ``docs/deadlines.md``.
"""

