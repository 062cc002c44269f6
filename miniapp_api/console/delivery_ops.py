"""The delivery queue as the console shows it: per-target backlog, dead letters with their
errors, re-queue and discard (both audited).

A unit administrator sees and acts on their own unit's group target and on the deliveries
of their unit's reports (the residents' WeChat messages); county roles see everything.
"""
from __future__ import annotations

from datetime import datetime

from peewee import JOIN
from peewee import fn

from miniapp_api.db import write_tx
from miniapp_api.models import Delivery
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api import audit
from miniapp_api.audit import Who
from miniapp_api.validation import FormError

STATES = {"pending": "待发送", "sending": "发送中", "dead": "失败", "sent": "已发送", "skipped": "已跳过",
          "coalesced": "已合并", "discarded": "已丢弃"}
PAGE_SIZE = 100


def _scope_clause(scope: str | None):
    if scope is None:
        return None
    township = Township.get_or_none(Township.code == scope)
    return (Delivery.target == f"dingtalk:township:{scope}") | (Report.township == (township.id if township else -1))


def _scoped(scope: str | None):
    query = (Delivery.select(Delivery).join(OutboxEvent, JOIN.LEFT_OUTER)
             .join(Report, JOIN.LEFT_OUTER, on=(OutboxEvent.report == Report.id)))
    clause = _scope_clause(scope)
    return query.where(clause) if clause is not None else query


def targets(scope: str | None) -> list[dict]:
    """Per target: counts of pending, sending and dead deliveries (only targets with some)."""
    query = (Delivery.select(Delivery.target, Delivery.state, fn.COUNT(Delivery.id).alias("n"))
             .join(OutboxEvent, JOIN.LEFT_OUTER).join(Report, JOIN.LEFT_OUTER, on=(OutboxEvent.report == Report.id))
             .where(Delivery.state.in_(["pending", "sending", "dead"])))
    clause = _scope_clause(scope)
    if clause is not None:
        query = query.where(clause)
    out: dict[str, dict] = {}
    for r in query.group_by(Delivery.target, Delivery.state).order_by(Delivery.target):
        out.setdefault(r.target, {"target": r.target, "pending": 0, "sending": 0, "dead": 0})[r.state] = r.n
    return list(out.values())


def listing(scope: str | None, state: str, target: str, page: int = 1) -> list[Delivery]:
    """One page of deliveries in the administrator's scope, filtered by state and target."""
    query = _scoped(scope)
    if state in STATES:
        query = query.where(Delivery.state == state)
    if target:
        query = query.where(Delivery.target == target)
    return list(query.order_by(Delivery.id.desc()).paginate(max(1, page), PAGE_SIZE))


def _chosen(scope: str | None, ids: list[int], target: str, states: list[str]) -> list[Delivery]:
    if not ids and not target:
        raise FormError("请勾选要处理的投递，或选择一个目标")
    query = _scoped(scope).where(Delivery.state.in_(states))
    query = query.where(Delivery.id.in_(ids)) if ids else query.where(Delivery.target == target)
    rows = list(query)
    if not rows:
        raise FormError("没有可处理的投递（可能已被处理，或不在你的权限范围内）")
    return rows


def requeue(who: Who, scope: str | None, ids: list[int], target: str, now: datetime) -> int:
    """Dead deliveries become pending, due now, with a fresh set of attempts."""
    rows = _chosen(scope, ids, target, ["dead"])
    with write_tx():
        n = (Delivery.update(state="pending", attempts=0, next_attempt_at=now, claimed_until=None)
             .where(Delivery.id.in_([d.id for d in rows]) & (Delivery.state == "dead")).execute())
        audit.record(who, "delivery.requeue", target=target or "deliveries", township=scope,
                     after={"ids": [d.id for d in rows][:200], "count": n}, now=now)
    return n


def discard(who: Who, scope: str | None, ids: list[int], target: str, now: datetime) -> int:
    """Dead or pending deliveries are given up: ``discarded``, never sent."""
    rows = _chosen(scope, ids, target, ["dead", "pending"])
    with write_tx():
        n = (Delivery.update(state="discarded", claimed_until=None,
                             last_error=fn.COALESCE(Delivery.last_error, "") .concat(f" [已由 {who.name} 丢弃]"))
             .where(Delivery.id.in_([d.id for d in rows]) & Delivery.state.in_(["dead", "pending"])).execute())
        audit.record(who, "delivery.discard", target=target or "deliveries", township=scope,
                     after={"ids": [d.id for d in rows][:200], "count": n}, now=now)
    return n
