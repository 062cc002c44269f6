"""Tongxin's API: the Flask app for the mini-program, the console and inbound callbacks.

``create_app(settings=None)`` is the only place the app is assembled. Without arguments it
reads the TOML file named by ``TONGXIN_CONFIG`` (that is how gunicorn runs it:
``gunicorn 'miniapp_api:create_app()'``).
"""
from __future__ import annotations

import logging

from flask import Flask

from miniapp_api.config import Settings
from miniapp_api.config import load_settings

__all__ = ["create_app"]


def create_app(settings: Settings | None = None) -> Flask:
    """Build the app from ``settings`` (or the configured TOML file)."""
    from miniapp_api.web import api
    from miniapp_api.web import callbacks
    from miniapp_api.web import auth
    from miniapp_api import db
    from miniapp_api import errors
    from miniapp_api.web import health
    from miniapp_api.web import officialview
    from miniapp_api import reports
    from miniapp_api.web import residents
    from miniapp_api.web import context as services
    from miniapp_api.reports import uploads

    settings = settings or load_settings()
    from miniapp_api.web.json_provider import OrjsonProvider

    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config["TONGXIN_SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.uploads.max_bytes + 64 * 1024
    logging.getLogger("miniapp_api").setLevel(logging.INFO)

    db.bind(settings.database.url)
    db.init_app(app)
    services.init_app(app, settings)
    errors.register_error_handlers(app)

    # Each module adds its operations to the api blueprint when imported.
    auth.init_app(app)
    reports.init_app(app)
    residents.init_app(app)
    uploads.init_app(app)
    from miniapp_api import community  # notices and campaigns: routes first, then the blueprint

    community.init_app(app)
    from miniapp_api import deadlines  # statistics and the emergency switch (admin endpoints)

    deadlines.init_app(app)
    app.register_blueprint(api.bp)
    health.init_app(app)
    callbacks.init_app(app)
    officialview.init_app(app)
    from miniapp_api import console  # the administrators' web console at /console/

    console.init_app(app)
    return app
