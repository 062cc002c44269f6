"""One deterministic pass of the notice and campaign schedule, as if the time were ``now``.

The worker calls :func:`run_pass` on every pass (``bridges.registry.periodic_passes``). Each step looks
for work whose time has come and does it in its own transaction: a conditional update of
the column that records the step (``reminded_at``, ``escalated_at``, ``announced_changes``,
``roster_sent_at``, ``status``) and, only if that update changed the row, the outbox event.
So a step is done once, however many workers run and however often they restart.

The steps are the notices' (:mod:`miniapp_api.notices.scheduler`: reminders, escalations) and
the campaigns' (:mod:`miniapp_api.campaigns.scheduler`: counts, reminders, rosters,
completions), registered in that order by composition with :func:`add_steps`.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from miniapp_api.config import Settings
from miniapp_api.db import database

log = logging.getLogger(__name__)
#: Rows one step looks at per pass.
BATCH = 200

#: ``step(now, settings) -> how many done``, in the order they run.
Step = Callable[[datetime, Settings], int]
STEPS: list[Step] = []


def add_steps(*steps: Step) -> None:
    """Register steps of the pass (each once, however often registered), in order."""
    for step in steps:
        if step not in STEPS:
            STEPS.append(step)


def run_pass(now: datetime, settings: Settings) -> dict[str, int]:
    """Do every step that is due at ``now``; returns how many of each were done.

    A failing step is logged and the others still run: the worker's deliveries must not stop
    because of one bad row.
    """
    database.connect(reuse_if_open=True)
    out: dict[str, int] = {}
    for step in STEPS:
        try:
            out[step.__name__] = step(now, settings)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("community scheduler step %s failed", step.__name__)
            out[step.__name__] = -1
    return out
