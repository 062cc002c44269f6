"""Notices (通知公告) and volunteer campaigns (战地有我), with residents' home places.

* ``places`` — home place (unit, community, grid) and locating a grid from coordinates;
* ``notices`` — publish, withdraw, scoped lists, read receipts, acknowledgements, statistics;
* ``campaigns`` — sign-up with capacity and waitlist, check-in, completion, linked reports;
* ``hours`` — the volunteer hours ledger and each unit's leaderboard;
* ``checkin`` — the rotating check-in code and its QR; ``sanitize`` — notice HTML;
* ``scheduler.run_pass`` — reminders, escalations, counts, rosters, completions (worker hook);
* ``commands`` — ``收到`` and ``发起志愿`` in DingTalk groups;
* ``views`` / ``admin_views`` — the API; ``pages`` — signed pages for officials.

The group messages and subscribe messages of these event kinds are registered in
``bridges/features/community.py``. See docs/community.md.
"""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Declare the routes (before the API blueprint is registered) and serve the pages."""
    from miniapp_api.web import admin_community as admin_views  # noqa: F401  (declares its routes)
    from miniapp_api.web import pages
    from miniapp_api.web import community as views  # noqa: F401  (declares its routes)

    app.register_blueprint(pages.bp)


def run_pass(now, settings):
    """The scheduler pass (see :mod:`.scheduler`); the worker calls it on every pass."""
    from miniapp_api.community.scheduler import run_pass as _run_pass

    return _run_pass(now, settings)
