"""The app the benchmarks load: Tongxin itself plus two reference endpoints on the same
server and database, so every number is read against a baseline measured in the same run.

- ``GET /bench/bare``: a bare Flask JSON answer (the ceiling of the stack).
- ``POST /bench/insert``: insert one row with peewee and commit (the cost of one write).

Served by gunicorn exactly like production: ``gunicorn 'bench.app:create_bench_app()'``.
"""
from __future__ import annotations

from flask import Blueprint
from flask import jsonify
from peewee import CharField
from peewee import Model

from miniapp_api import create_app
from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.models import UtcDateTimeField
from miniapp_api.models import utcnow


class BenchRow(Model):
    note = CharField(max_length=64)
    created_at = UtcDateTimeField(default=utcnow)

    class Meta:
        database = database
        table_name = "bench_row"


bp = Blueprint("bench", __name__, url_prefix="/bench")


@bp.get("/bare")
def bare():
    return jsonify({"ok": True})


@bp.post("/insert")
def insert():
    with write_tx():
        row = BenchRow.create(note="reference")
    return jsonify({"id": row.id}), 201


def create_bench_app():
    app = create_app()
    app.register_blueprint(bp)
    return app
