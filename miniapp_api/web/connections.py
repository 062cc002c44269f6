"""A database connection per request: opened before the view, closed when the request ends."""
from __future__ import annotations

from flask import Flask
from flask import request

from miniapp_api.db import database
from miniapp_api.web.health import WITHOUT_DATABASE


def install(app: Flask) -> None:
    """Open a connection per request (except the health checks) and close it afterwards."""

    @app.before_request
    def _connect():
        if request.endpoint in WITHOUT_DATABASE:
            return
        database.connect(reuse_if_open=True)

    @app.teardown_appcontext
    def _close(exc):
        if not database.is_closed():
            database.close()
