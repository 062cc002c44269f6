"""The app the benchmarks load: Tongxin itself plus three reference endpoints on the same
server and database, so every number is read against a baseline measured in the same run.

- ``GET /bench/bare``: a bare Flask JSON answer (the ceiling of the stack).
- ``POST /bench/insert``: insert one row with peewee and commit (the cost of one write).
- ``POST /bench/check``: only the content check a submission makes (msgSecCheck v2 through
  our WeChat client, answered by the fake WeChat).
- ``POST /bench/checked-insert``: that content check, then one peewee insert and commit: the
  checked-insert floor a submission is measured against (issue 17). A submission cannot cost
  less than that.

Served by gunicorn exactly like production: ``gunicorn 'bench.app:create_bench_app()'``.
"""
from __future__ import annotations

from flask import Blueprint
from flask import jsonify
from peewee import CharField
from peewee import Model

from bench.common import BODY
from miniapp_api import create_app
from miniapp_api.web import collaborators
from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.models import UtcDateTimeField
from miniapp_api.models import utcnow
from miniapp_api.reports.moderation import checked_text


class BenchRow(Model):
    """The row the insert reference endpoint writes."""

    note = CharField(max_length=64)
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        """Kept in Tongxin's database, in its own table."""

        database = database
        table_name = "bench_row"


bp = Blueprint("bench", __name__, url_prefix="/bench")

# What a submission of bench.common.BODY sends to msgSecCheck.
CHECK_TEXT = checked_text(BODY["description"], BODY["location"]["address"])


@bp.get("/bare")
def bare():
    """A bare Flask JSON answer."""
    return jsonify({"ok": True})


@bp.post("/insert")
def insert():
    """Insert one row and commit."""
    with write_tx():
        row = BenchRow.create(note="reference")
    return jsonify({"id": row.id}), 201


@bp.post("/check")
def check():
    """Only the content check a submission makes."""
    # The same call, text and timeout as a submission's (reports.service._content_verdict),
    # for a resident the benchmark logged in.
    svc = collaborators.current()
    verdict = svc.wechat.msg_sec_check(openid="o-bench-0", content=CHECK_TEXT, scene=3,
                                       timeout=svc.settings.wechat.content_check_timeout_seconds)
    return jsonify({"suggest": verdict.suggest})


@bp.post("/checked-insert")
def checked_insert():
    """The content check a submission makes, then one insert: the floor a submission is read against."""
    svc = collaborators.current()
    verdict = svc.wechat.msg_sec_check(openid="o-bench-0", content=CHECK_TEXT, scene=3,
                                       timeout=svc.settings.wechat.content_check_timeout_seconds)
    with write_tx():
        row = BenchRow.create(note=verdict.suggest[:64])
    return jsonify({"id": row.id}), 201


def create_bench_app():
    """Tongxin's app plus the reference endpoints (for gunicorn)."""
    app = create_app()
    app.register_blueprint(bp)
    return app
