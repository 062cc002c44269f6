"""The transactional outbox: the only way a message to DingTalk or WeChat is asked for.

:func:`record` inserts an :class:`~miniapp_api.models.OutboxEvent` and must be called inside
the transaction that makes the change it reports, so either both are committed or neither.
The bridge worker (``bridges.worker``) fans each event out to one delivery per target and
sends them; no request ever calls a platform to deliver a message.
"""
from __future__ import annotations

from datetime import datetime

from peewee import Select

from miniapp_api.db import database
from miniapp_api.models import OutboxEvent
from miniapp_api.prepared import Param
from miniapp_api.prepared import Prepared
from miniapp_api.prepared import loaded

NORMAL = 0
URGENT = 10


# Every change writes one; compiled once (see ``prepared``).
_INSERT = Prepared(lambda: OutboxEvent.insert(
    kind=Param("kind"), payload=Param("payload", OutboxEvent.payload), report=Param("report", OutboxEvent.report),
    priority=Param("priority"), created_at=Param("created_at", OutboxEvent.created_at), fanned_out=False,
).returning(OutboxEvent.id))


def record(kind: str, payload: dict, *, now: datetime, report=None, priority: int = NORMAL) -> OutboxEvent:
    """Add an outbox event; the caller's transaction commits it together with the change."""
    if not database.in_transaction():
        raise RuntimeError("outbox.record must run inside the transaction of the change it reports")
    event_id = _INSERT.scalar(kind=kind, payload=payload, report=report, priority=priority, created_at=now)
    return loaded(OutboxEvent, dict(id=event_id, kind=kind, payload=payload, report=report, priority=priority,
                                    created_at=now, fanned_out=False))


def insert_for(source, report_id):
    """The insert of one event (``kind``, ``payload``, ``priority``, ``event_created_at``
    parameters) about the report whose id ``report_id`` is, a column of ``source`` (a CTE that
    inserts the report): for callers that write a change and its event in one statement (see
    ``lifecycle.submit``). Only a :class:`~miniapp_api.prepared.Prepared` builder calls it; its
    statement runs inside the change's transaction like :func:`record`."""
    return OutboxEvent.insert_from(
        Select((source,), [Param("kind"), Param("payload", OutboxEvent.payload), report_id, Param("priority"),
                           Param("event_created_at", OutboxEvent.created_at), False]),
        [OutboxEvent.kind, OutboxEvent.payload, OutboxEvent.report, OutboxEvent.priority, OutboxEvent.created_at,
         OutboxEvent.fanned_out])


def record_many(rows: list[dict]) -> int:
    """Add many events at once (``kind``, ``payload``, ``report``, ``priority``, ``created_at``
    each), inside the transaction of the changes they report; returns how many."""
    if not database.in_transaction():
        raise RuntimeError("outbox.record_many must run inside the transaction of the changes it reports")
    if rows:
        OutboxEvent.insert_many(rows).execute()
    return len(rows)
