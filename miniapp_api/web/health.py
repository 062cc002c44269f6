"""Liveness, readiness and Prometheus metrics."""
from __future__ import annotations

from flask import Flask
from flask import Response
from flask import jsonify

from miniapp_api.db import database


def init_app(app: Flask) -> None:
    @app.get("/healthz")
    def healthz():
        """The process is alive (no dependencies checked)."""
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    def readyz():
        """The database answers."""
        try:
            database.connect(reuse_if_open=True)
            database.execute_sql("SELECT 1").fetchone()
        except Exception:  # any driver error means "not ready", never a 500 page
            return jsonify({"status": "unavailable", "database": "error"}), 503
        return jsonify({"status": "ok", "database": "ok"})

    @app.get("/metrics")
    def metrics():
        """Prometheus metrics of the delivery machinery."""
        from prometheus_client import CONTENT_TYPE_LATEST

        from miniapp_api.web.metrics import render_metrics

        return Response(render_metrics(), mimetype=CONTENT_TYPE_LATEST.split(";")[0])
