"""Operations on the delivery queue (``tongxin deliveries``, later the console)."""
from __future__ import annotations

from peewee import fn

from miniapp_api.db import write_tx
from miniapp_api.models import Delivery
from miniapp_api.models import utcnow


def summary() -> list[str]:
    """One line per (state, channel) with its count."""
    rows = (Delivery.select(Delivery.state, Delivery.channel, fn.COUNT(Delivery.id).alias("n"))
            .group_by(Delivery.state, Delivery.channel).order_by(Delivery.state, Delivery.channel))
    return [f"{r.state:<10} {r.channel:<9} {r.n}" for r in rows]


def list_deliveries(state: str, target: str | None, limit: int) -> list[Delivery]:
    query = Delivery.select().order_by(Delivery.id.desc()).limit(limit)
    if state != "all":
        query = query.where(Delivery.state == state)
    if target:
        query = query.where(Delivery.target == target)
    return list(query)


def requeue(ids: list[int], *, all_dead: bool = False, target: str | None = None) -> int:
    """Dead deliveries become pending, due now, with their attempts reset; returns how many."""
    cond = Delivery.state == "dead"
    if not all_dead:
        cond &= Delivery.id.in_(ids)
    if target:
        cond &= Delivery.target == target
    with write_tx():
        return (Delivery.update(state="pending", attempts=0, next_attempt_at=utcnow(), claimed_until=None)
                .where(cond).execute())
