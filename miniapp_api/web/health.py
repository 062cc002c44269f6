"""Liveness, readiness and Prometheus metrics (``/healthz``, ``/readyz``, ``/metrics``)."""
from __future__ import annotations

from flask import Blueprint
from flask import Response
from flask import jsonify
from flask import request
from prometheus_client import CONTENT_TYPE_LATEST

from miniapp_api.db import database
from miniapp_api.errors import Forbidden
from miniapp_api.web import collaborators
from miniapp_api.web.metrics import allowed
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
    """Prometheus metrics of the delivery machinery (to ``[metrics]`` allowed callers only)."""
    settings = collaborators.current().settings.metrics
    if not allowed(settings, request.remote_addr or "", request.headers.get("Authorization", "")):
        raise Forbidden("无权读取监控指标", code="metrics_forbidden")
    return Response(render_metrics(), mimetype=CONTENT_TYPE_LATEST.split(";")[0])
