"""The administrators' web console at ``/console/`` (issue 6), in Chinese.

Server-rendered pages (Flask + Jinja) whose every asset is served by Tongxin itself, for a
laptop and a phone. The package is split by concern:

* ``core`` — the blueprint, the session hook (which also sets ``g.console_admin`` for the
  admin API), CSRF, security headers and HTML error pages;
* ``security`` — passwords (argon2), sessions with idle expiry, lockout with back-off;
* ``audit`` — the append-only audit log;
* ``robots`` — staging group and mention policy, read by the DingTalk bridge at send time;
* ``groups``, ``queue``, ``rosters``, ``delivery_ops``, ``stats`` — the services behind
  each area;
* ``views/`` — one module of thin views per area (auth, mappings, roster, reports,
  deliveries, dashboard, audit).

This ``__init__`` stays import-light: the bridge imports ``console.robots`` in the worker.
"""
from __future__ import annotations


def init_app(app) -> None:
    """Register the console on ``app`` (called once by ``create_app``)."""
    from miniapp_api.console.core import install

    install(app)
