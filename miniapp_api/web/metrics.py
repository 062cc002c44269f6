"""``/metrics`` in Prometheus format, read from the database at scrape time.

The worker may run in other processes (or hosts), so delivery figures come from the
delivery rows every process shares rather than from in-process counters. Every label takes a
bounded set of values (channels, states, errcodes): never one per resident or per group.
Only callers ``[metrics]`` allows may read them (:func:`allowed`).
"""
from __future__ import annotations

import hmac
import ipaddress
from datetime import timedelta

from prometheus_client import CollectorRegistry
from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.core import HistogramMetricFamily
from peewee import fn

from miniapp_api.config import MetricsSettings
from miniapp_api.models import Delivery
from miniapp_api.models import OutboxEvent
from miniapp_api.models import TargetState
from miniapp_api.models import utcnow

LATENCY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800)
#: The channels a target name starts with (``dingtalk:township:yongsheng``, ``wechat:resident:42``).
CHANNELS = ("dingtalk", "wechat", "system")


def allowed(settings: MetricsSettings, address: str, authorization: str) -> bool:
    """Whether a caller from ``address`` with this ``Authorization`` header may read the metrics:
    an address in ``[metrics] allow``, or the bearer ``[metrics] token``."""
    scheme, _, given = authorization.partition(" ")
    if settings.token and scheme.lower() == "bearer" \
            and hmac.compare_digest(given.strip().encode("utf-8", "replace"), settings.token.encode()):
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(net, strict=False) for net in settings.allow)


class DeliveryCollector:
    """Queue depth, attempts, failures by errcode, latency and rate-limit waits."""

    def collect(self):
        """The delivery metrics, read from the database now."""
        depth = GaugeMetricFamily("tongxin_delivery_queue_depth", "Deliveries by state and channel",
                                  labels=["state", "channel"])
        for r in (Delivery.select(Delivery.state, Delivery.channel, fn.COUNT(Delivery.id).alias("n"))
                  .where(Delivery.state.in_(["pending", "sending", "dead", "coalesced"]))
                  .group_by(Delivery.state, Delivery.channel)):
            depth.add_metric([r.state, r.channel], r.n)
        yield depth

        backlog = GaugeMetricFamily("tongxin_outbox_unfanned_events", "Outbox events not yet fanned out")
        backlog.add_metric([], OutboxEvent.select().where(OutboxEvent.fanned_out == False).count())  # noqa: E712
        yield backlog

        attempts = CounterMetricFamily("tongxin_delivery_attempts", "Delivery attempts made", labels=["channel"])
        for r in Delivery.select(Delivery.channel, fn.SUM(Delivery.attempts).alias("n")).group_by(Delivery.channel):
            attempts.add_metric([r.channel], r.n or 0)
        yield attempts

        failures = GaugeMetricFamily("tongxin_delivery_last_errors", "Deliveries whose last attempt failed, by errcode",
                                     labels=["channel", "errcode", "state"])
        for r in (Delivery.select(Delivery.channel, Delivery.last_errcode, Delivery.state, fn.COUNT(Delivery.id).alias("n"))
                  .where(Delivery.last_errcode.is_null(False))
                  .group_by(Delivery.channel, Delivery.last_errcode, Delivery.state)):
            failures.add_metric([r.channel, r.last_errcode, r.state], r.n)
        yield failures

        waits = CounterMetricFamily("tongxin_rate_limit_waits", "Times a target had to wait for its rate limit, by channel",
                                    labels=["channel"])
        total = 0
        for channel in CHANNELS:
            n = (TargetState.select(fn.SUM(TargetState.rate_limit_waits))
                 .where(TargetState.target.startswith(f"{channel}:")).scalar() or 0)
            waits.add_metric([channel], n)
            total += n
        other = (TargetState.select(fn.SUM(TargetState.rate_limit_waits)).scalar() or 0) - total
        if other:
            waits.add_metric(["other"], other)
        yield waits

        yield self._latency()

    def _latency(self):
        """Outbox event → sent, for deliveries sent in the last hour."""
        since = utcnow() - timedelta(hours=1)
        rows = (Delivery.select(Delivery.sent_at, OutboxEvent.created_at.alias("ev_at"))
                .join(OutboxEvent).where((Delivery.state == "sent") & (Delivery.sent_at > since)).namedtuples())
        counts = [0] * len(LATENCY_BUCKETS)
        total, n = 0.0, 0
        for r in rows:
            ev_at = OutboxEvent.created_at.python_value(r.ev_at)
            seconds = max(0.0, (r.sent_at - ev_at).total_seconds())
            total += seconds
            n += 1
            for i, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    counts[i] += 1
        buckets = [(str(b), c) for b, c in zip(LATENCY_BUCKETS, counts)] + [("+Inf", n)]
        h = HistogramMetricFamily("tongxin_delivery_latency_seconds",
                                  "Seconds from outbox event to delivery, sent in the last hour")
        h.add_metric([], buckets, total)
        return h


def render_metrics() -> bytes:
    """The Prometheus text of the delivery metrics."""
    registry = CollectorRegistry()
    registry.register(DeliveryCollector())
    return generate_latest(registry)
