"""Each group's health: its last delivery, its backlog, and whether DingTalk is refusing it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from peewee import fn

from miniapp_api.models import Delivery
from miniapp_api.models import GroupMapping
from miniapp_api.models import TargetState
from miniapp_api.groups.owners import target_of


@dataclass
class Health:
    """One target's state on the mappings page: ok, warn, bad or none, and why."""

    target: str
    state: str  # ok | warn | bad | none
    label: str
    pending: int = 0
    dead: int = 0
    last_sent_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    blocked_until: datetime | None = None


def health(targets: list[str], now: datetime) -> dict[str, Health]:
    """Last delivery and state of each target, in three queries."""
    counts: dict[tuple[str, str], int] = {}
    for r in (Delivery.select(Delivery.target, Delivery.state, fn.COUNT(Delivery.id).alias("n"))
              .where(Delivery.target.in_(targets) & Delivery.state.in_(["pending", "sending", "dead"]))
              .group_by(Delivery.target, Delivery.state)):
        counts[(r.target, r.state)] = r.n
    last_sent = {r.target: r.at for r in (Delivery.select(Delivery.target, fn.MAX(Delivery.sent_at).alias("at"))
                                          .where(Delivery.target.in_(targets) & (Delivery.state == "sent"))
                                          .group_by(Delivery.target))}
    states = {r.target: r for r in TargetState.select().where(TargetState.target.in_(targets))}
    broken = {target_of(m.owner_kind, m.owner_code): m.broken_reason
              for m in GroupMapping.select().where(GroupMapping.broken_reason.is_null(False))}
    out = {}
    for t in targets:
        rs = states.get(t)
        sent_at = last_sent.get(t)
        if isinstance(sent_at, str) or (sent_at is not None and getattr(sent_at, "tzinfo", None) is None):
            sent_at = Delivery.sent_at.python_value(sent_at)
        if rs and rs.last_sent_at and (sent_at is None or rs.last_sent_at > sent_at):
            sent_at = rs.last_sent_at
        h = Health(t, "none", "暂无推送", pending=counts.get((t, "pending"), 0) + counts.get((t, "sending"), 0),
                   dead=counts.get((t, "dead"), 0), last_sent_at=sent_at,
                   last_error=rs.last_error if rs else None, last_error_at=rs.last_error_at if rs else None,
                   blocked_until=rs.blocked_until if rs and rs.blocked_until and rs.blocked_until > now else None)
        if broken.get(t):
            h.state, h.label = "bad", "群不可用（需重新绑定）"
            h.last_error = broken[t]
        elif h.blocked_until:
            h.state, h.label = "warn", "被钉钉限流中"
        elif h.dead:
            h.state, h.label = "bad", f"{h.dead} 条投递失败"
        elif h.last_error_at and (sent_at is None or h.last_error_at > sent_at):
            h.state, h.label = "warn", "最近一次出错"
        elif sent_at:
            h.state, h.label = "ok", "正常"
        out[t] = h
    return out
