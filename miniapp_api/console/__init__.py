"""The administrators' web console at ``/console/`` (issue 6), in Chinese.

Server-rendered pages (Flask + Jinja) whose every asset is served by Tongxin itself, for a
laptop and a phone. The console is the web layer: its views call the domain's services
(``miniapp_api.groups``, ``miniapp_api.org``, ``miniapp_api.audit``, …), never the other way
round. The package is split by concern:

* ``core`` — the blueprint, the session hook (which also sets ``g.console_admin`` for the
  admin API), CSRF, security headers and HTML error pages;
* ``security`` — passwords (argon2), sessions with idle expiry, lockout with back-off;
* ``queue``, ``delivery_ops``, ``stats`` — the console's own services behind those areas;
* ``views/`` — one module of thin views per area (auth, mappings, roster, reports,
  deliveries, dashboard, audit, DingTalk sync), each with its ``routes``; :data:`VIEWS`
  is the one list of them that ``init_app`` registers.
"""
from __future__ import annotations

from flask import Flask

from miniapp_api.console import core
from miniapp_api.console.views import audit
from miniapp_api.console.views import auth
from miniapp_api.console.views import campaigns
from miniapp_api.console.views import dashboard
from miniapp_api.console.views import deliveries
from miniapp_api.console.views import dingtalk_sync
from miniapp_api.console.views import grid_boundary
from miniapp_api.console.views import grids
from miniapp_api.console.views import mappings
from miniapp_api.console.views import notices
from miniapp_api.console.views import reports
from miniapp_api.console.views import roster

VIEWS = [auth.routes, dashboard.routes, reports.routes, mappings.routes, deliveries.routes, roster.routes, grids.routes, grid_boundary.routes,
         dingtalk_sync.routes, audit.routes, notices.routes, campaigns.routes]


def init_app(app: Flask) -> None:
    """Register the console and its views on ``app`` (called once by ``create_app``)."""
    core.install(app, VIEWS)
