"""Liveness, readiness and Prometheus metrics (``/healthz``, ``/readyz``, ``/metrics``)."""
from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from miniapp_api.db import database
from miniapp_api.web.metrics import render_metrics

bp = Blueprint("health", __name__)

# The health checks decide for themselves whether the database answers (see web.connections).
WITHOUT_DATABASE = ("health.healthz", "health.readyz")


@bp.get("/healthz")
def healthz():
    """The process is alive (no dependencies checked)."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz():
    """The database answers."""
    try:
        database.connect(reuse_if_open=True)
        database.execute_sql("SELECT 1").fetchone()
    except Exception:  # any driver error means "not ready", never a 500 page
        return jsonify({"status": "unavailable", "database": "error"}), 503
    return jsonify({"status": "ok", "database": "ok"})


@bp.get("/metrics")
def metrics():
    """Prometheus metrics of the delivery machinery."""
    return Response(render_metrics(), mimetype=CONTENT_TYPE_LATEST.split(";")[0])
