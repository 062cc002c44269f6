"""The Flask app for the mini-program, the console and inbound callbacks, assembled.

``create_app(settings=None)`` is the only place the app is assembled (``miniapp_api.create_app``
calls it). Every blueprint is registered here, in one list, and the domain's hooks once.
"""
from __future__ import annotations

import logging

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from miniapp_api import console
from miniapp_api import db
from miniapp_api.config import Settings
from miniapp_api.config import load_settings
from miniapp_api.web import admin_community
from miniapp_api.web import admin_deadlines
from miniapp_api.web import api
from miniapp_api.web import auth
from miniapp_api.web import callbacks
from miniapp_api.web import collaborators
from miniapp_api.web import community
from miniapp_api.web import connections
from miniapp_api.web import dingtalk_push
from miniapp_api.web import wechat_push
from miniapp_api.web import health
from miniapp_api.web import locate
from miniapp_api.web import officialview
from miniapp_api.web import pages
from miniapp_api.web import reports
from miniapp_api.web import residents
from miniapp_api.web import uploads
from miniapp_api.web.errors import register_error_handlers
from miniapp_api.web.json_provider import OrjsonProvider
from miniapp_api.wiring import build_collaborators
from miniapp_api.wiring import register_domain_hooks

__all__ = ["create_app"]

# Every blueprint of the app. The ``/api/v1`` ones (ApiBlueprint) also make up the OpenAPI
# document, in this order.
BLUEPRINTS = [
    api.bp,                 # /api/v1/openapi.json and /api/v1/docs
    auth.bp,                # /api/v1/auth/…: WeChat login, logout
    residents.bp,           # /api/v1/townships, /categories, /me, /me/subscriptions
    uploads.bp,             # /api/v1/uploads
    reports.bp,             # /api/v1/reports…
    locate.bp,              # /api/v1/locate (which township and grid a point is routed to)
    community.bp,           # /api/v1: home place, notices, campaigns, hours
    admin_community.bp,     # /api/v1/admin/notices, /admin/campaigns, /admin/grids
    admin_deadlines.bp,     # /api/v1/admin/stats, /admin/emergency
    uploads.media_bp,       # /media/<key>
    health.bp,              # /healthz, /readyz, /metrics
    callbacks.bp,           # /callbacks/dingtalk (group robot commands)
    dingtalk_push.bp,     # /callbacks/dingtalk/events (event subscription)
    wechat_push.bp,         # /callbacks/wechat (message push: image check verdicts)
    officialview.bp,        # /o/reports/<number> (signed pages for officials)
    pages.bp,               # /o/notices/…, /o/campaigns/…/checkin
]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from ``settings`` (or the configured TOML file)."""
    settings = settings or load_settings()

    app = Flask("miniapp_api")
    if settings.server.trusted_proxies:  # the client's address from X-Forwarded-For, only through our own proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.server.trusted_proxies)
    app.json = OrjsonProvider(app)
    app.config["TONGXIN_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.uploads.max_bytes + 64 * 1024
    logging.getLogger("miniapp_api").setLevel(logging.INFO)

    register_domain_hooks()
    db.bind(settings.database.url)
    connections.install(app)
    collaborators.install(app, build_collaborators(settings))
    register_error_handlers(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)
    console.init_app(app)  # the administrators' web console at /console/
    return app
