"""The delivery worker: outbox events → deliveries → platform calls, with nothing lost.

One pass (:meth:`Worker.run_once`) does, for a given ``now``:

1. **Fan out** events not yet fanned out into one :class:`Delivery` per target
   (``bridges.routing``), in one transaction.
2. **Per target**, under that target's lock row (:class:`TargetState`; ``FOR UPDATE SKIP
   LOCKED`` on PostgreSQL, so several workers share the work and never take the same target):
   count what the robot already received in the rolling window, claim at most that many due
   deliveries (``state = sending`` with a lease), and, when the backlog is more than the
   budget can carry one message per report, merge new-report cards into digests.
3. **Send** the claimed deliveries outside the lock and record the outcome. The exception a
   bridge raises decides it: success → ``sent``; ``RateLimited`` → wait (the attempt is not
   counted; a DingTalk block pauses the whole target); ``RetryLater``/``Unavailable``/anything
   unexpected → backoff with jitter; ``PermanentFailure`` or too many attempts → ``dead``
   (kept, with its last error, for ``tongxin deliveries``); ``Skipped`` → ``skipped``.

A worker killed mid-send leaves rows in ``sending``; their lease runs out and the next pass
sends them again with the same ``msgUuid``, which DingTalk uses to drop the duplicate.
Time is a parameter everywhere, so tests step it instead of sleeping.

The worker knows no feature and no platform: composition (``bridges.registry.build_worker``)
hands it the channels' bridges and the periodic passes (the schedulers) it runs after fan-out.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from collections.abc import Iterable
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from datetime import timedelta

from peewee import fn

from miniapp_api.config import Settings
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.passes import PassCounts
from miniapp_api.models import Delivery
from miniapp_api.models import OutboxEvent
from miniapp_api.models import TargetState
from miniapp_api.models import utcnow

from bridges import retry
from bridges import routing
from bridges.routing import Reroute
from bridges.errors import PermanentFailure
from bridges.errors import RateLimited
from bridges.errors import RetryLater
from bridges.errors import Skipped
from bridges.errors import Unavailable

log = logging.getLogger(__name__)

#: DingTalk counts 20 a minute by its own clock; a little margin keeps us clear of the edge.
WINDOW_SECONDS = 62.0
#: A claimed delivery not finished within this time is taken up again (its worker died).
LEASE_SECONDS = 60.0

_MSG_UUID_NS = uuid.UUID("5b0c4b36-8f39-4f55-9c1c-7b2a3f1e9d10")


@dataclass
class PassResult(PassCounts):
    """What one pass did (or the sum of several, see :meth:`Worker.drain`)."""

    fanned_out: int = 0
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    coalesced: int = 0
    rate_limited: int = 0
    rerouted: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def did_something(self) -> bool:
        """Whether anything was fanned out, sent, retried, dead-lettered, skipped, merged or moved."""
        return any((self.fanned_out, self.sent, self.retried, self.dead, self.skipped, self.coalesced, self.rerouted))


def msg_uuid_for(delivery: Delivery) -> str:
    """A stable idempotency key for one delivery (DingTalk ``msgUuid``)."""
    return str(uuid.uuid5(_MSG_UUID_NS, f"{delivery.target}:{delivery.id}:{delivery.created_at.isoformat()}"))


def _host() -> str:
    return socket.gethostname()[:40]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    return True


def _due(now: datetime):
    return (((Delivery.state == "pending") & (Delivery.next_attempt_at <= now))
            | ((Delivery.state == "sending") & (Delivery.claimed_until < now)))


#: A periodic pass (a scheduler) the worker runs with the pass's time, after fan-out.
PeriodicPass = Callable[[datetime], object]


class Worker:
    """Delivers the outbox. Build one per process (or thread) with ``bridges.registry.build_worker``.

    ``bridges`` is ``{channel: bridge}``; ``passes`` are run on every pass, in order.
    """

    def __init__(self, settings: Settings, bridges: dict, *, passes: Iterable[PeriodicPass] = (),
                 worker_id: str | None = None, rand=None):
        self.settings = settings
        self.bridges = bridges
        self.passes: list[PeriodicPass] = list(passes)
        # host:pid:thread, within Delivery.claimed_by's 64 characters (pod names can be 63 long).
        self.worker_id = worker_id or f"{_host()}:{os.getpid()}:{threading.get_ident() % 100000}"
        self.rand = rand

    # --- 1. fan-out ------------------------------------------------------------------------

    def fan_out(self, now: datetime) -> int:
        """Turn new outbox events into deliveries; returns how many events were fanned out."""
        with write_tx():
            query = (OutboxEvent.select().where(OutboxEvent.fanned_out == False)  # noqa: E712
                     .order_by(OutboxEvent.id).limit(self.settings.worker.batch_size))
            if is_postgres():
                query = query.for_update("FOR UPDATE SKIP LOCKED")
            events = list(query)
            for event in events:
                for t in routing.targets_for(event, self.settings):
                    d = Delivery.create(event=event, channel=t.channel, target=t.target, priority=event.priority,
                                        next_attempt_at=now, created_at=now)
                    Delivery.update(msg_uuid=msg_uuid_for(d)).where(Delivery.id == d.id).execute()
            if events:
                OutboxEvent.update(fanned_out=True).where(OutboxEvent.id.in_([e.id for e in events])).execute()
        return len(events)

    # --- 2. claim ---------------------------------------------------------------------------

    def due_targets(self, now: datetime) -> list[str]:
        """Targets with deliveries due at ``now``, most urgent first."""
        rows = (Delivery.select(Delivery.target, fn.MAX(Delivery.priority).alias("p"), fn.MIN(Delivery.id).alias("first"))
                .where(_due(now)).group_by(Delivery.target)
                .order_by(fn.MAX(Delivery.priority).desc(), fn.MIN(Delivery.id)))
        return [r.target for r in rows]

    def _lock_target(self, target: str) -> TargetState | None:
        TargetState.insert(target=target).on_conflict_ignore().execute()
        query = TargetState.select().where(TargetState.target == target)
        if is_postgres():
            query = query.for_update("FOR UPDATE SKIP LOCKED")
        return query.first()

    def _window_used(self, target: str, now: datetime) -> int:
        since = now - timedelta(seconds=WINDOW_SECONDS)
        sent = (Delivery.select(fn.COUNT(Delivery.id))
                .where((Delivery.target == target) & (Delivery.state == "sent") & Delivery.digest.is_null()
                       & (Delivery.sent_at > since)).scalar())
        in_flight = (Delivery.select(fn.COUNT(Delivery.id))
                     .where((Delivery.target == target) & (Delivery.state == "sending")).scalar())
        return sent + in_flight

    def claim(self, target: str, now: datetime, result: PassResult) -> list[Delivery]:
        """Claim what ``target`` may receive now (maybe as digests); [] when it must wait."""
        bridge = self.bridges[target.split(":", 1)[0]]
        lease = now + timedelta(seconds=LEASE_SECONDS)
        with write_tx():
            state = self._lock_target(target)
            if state is None:
                return []  # another worker holds this target
            if state.blocked_until and state.blocked_until > now:
                return []
            due = list(Delivery.select().where((Delivery.target == target) & _due(now))
                       .order_by(Delivery.priority.desc(), Delivery.id).limit(self.settings.worker.batch_size * 10))
            if not due:
                return []
            limit = bridge.rate_limit(target)
            budget = len(due) if limit is None else max(0, limit - self._window_used(target, now))
            if budget == 0:
                TargetState.update(rate_limit_waits=TargetState.rate_limit_waits + 1).where(TargetState.target == target).execute()
                result.rate_limited += 1
                return []
            chosen = self._plan(bridge, target, due, budget, limit, now, result)
            if chosen:
                (Delivery.update(state="sending", claimed_until=lease, claimed_by=self.worker_id)
                 .where(Delivery.id.in_([d.id for d in chosen])).execute())
            return chosen

    def _plan(self, bridge, target: str, due: list[Delivery], budget: int, limit: int | None,
              now: datetime, result: PassResult) -> list[Delivery]:
        """Pick the deliveries to send now; merge new-report cards into digests when the
        backlog is more than the budget can carry one by one."""
        reserve = self.settings.dingtalk.digest_reserve if limit is not None else 0
        if len(due) <= max(0, budget - reserve) or limit is None:
            return due[:budget]
        # Only cards never put on the wire may be merged: one that was tried (a timeout, a 5xx,
        # a worker killed mid-send) may already be in the group, and only a resend under its own
        # msgUuid lets DingTalk drop the duplicate; inside a digest it would be shown twice.
        mergeable = [d for d in due if d.digest_id is None and d.payload is None and d.state == "pending"
                     and d.attempts == 0 and bridge.coalescible(d)]
        others = [d for d in due if d not in mergeable]
        chosen = others[:budget]
        budget -= len(chosen)
        if budget <= 0 or not mergeable:
            return chosen
        oldest = min(d.next_attempt_at for d in mergeable)
        if now - oldest < timedelta(seconds=self.settings.dingtalk.digest_wait_seconds) and budget > reserve:
            # Let a digest gather for a moment; single cards still flow while budget is ample.
            return chosen + mergeable[:budget - reserve]
        for members in bridge.digest_chunks(mergeable)[:budget]:
            if len(members) == 1:
                chosen.append(members[0])
                continue
            digest = Delivery.create(event=None, channel=bridge.channel, target=target,
                                     priority=max(m.priority for m in members), state="pending",
                                     payload={"members": [m.id for m in members]}, created_at=now,
                                     next_attempt_at=now)
            Delivery.update(msg_uuid=msg_uuid_for(digest)).where(Delivery.id == digest.id).execute()
            (Delivery.update(state="coalesced", digest=digest, claimed_until=None)
             .where(Delivery.id.in_([m.id for m in members])).execute())
            result.coalesced += len(members)
            chosen.append(Delivery.get_by_id(digest.id))
        return chosen

    # --- 3. send ----------------------------------------------------------------------------

    def send(self, delivery: Delivery, now: datetime, result: PassResult) -> str:
        """Deliver one claimed row, record the outcome and return it; never raises."""
        bridge = self.bridges[delivery.channel]
        # As claim() read it: a row already ``sending`` was taken over from a dead worker's
        # send and may have been shown (see _release).
        taken_over = delivery.state == "sending"
        delivery = Delivery.get_by_id(delivery.id)
        if delivery.state != "sending" or delivery.claimed_by != self.worker_id:
            # Our lease ran out while earlier sends of this pass were slow, and another worker
            # has taken the row over: it is theirs now, sending it too would show it twice.
            log.warning("delivery %s was taken over by %s; not sending it", delivery.id, delivery.claimed_by)
            return "lost"
        try:
            if delivery.payload and "members" in delivery.payload:
                members = list(Delivery.select().where(Delivery.id.in_(delivery.payload["members"])).order_by(Delivery.id))
                bridge.deliver_digest(delivery, members, now)
            else:
                bridge.deliver(delivery, now)
        except Reroute as err:
            with write_tx():
                (Delivery.update(state="pending", target=err.target, next_attempt_at=now, claimed_until=None,
                                 last_error=str(err)[:500])
                 .where(Delivery.id == delivery.id).execute())
            result.rerouted += 1
            return "rerouted"
        except Skipped as err:
            self._finish(delivery, "skipped", now, error=str(err))
            result.skipped += 1
            return "skipped"
        except RateLimited as err:
            self._rate_limited(delivery, err, now, in_doubt=taken_over)
            result.rate_limited += 1
            return "rate_limited"
        except PermanentFailure as err:
            self._finish(delivery, "dead", now, error=str(err), errcode=err.errcode, count_attempt=True)
            result.dead += 1
            result.errors[str(err.errcode)] = result.errors.get(str(err.errcode), 0) + 1
            return "dead"
        except (RetryLater, Unavailable, Exception) as err:  # noqa: B014 - unexpected errors retry too
            if not isinstance(err, (RetryLater, Unavailable)):
                log.exception("unexpected error delivering %s", delivery.id)
            errcode = getattr(err, "errcode", None) or type(err).__name__
            result.errors[str(errcode)] = result.errors.get(str(errcode), 0) + 1
            self._retry(delivery, err, now, result)
            return "retry"
        self._finish(delivery, "sent", now, count_attempt=True)
        result.sent += 1
        return "sent"

    def _finish(self, delivery: Delivery, state: str, now: datetime, *, error: str | None = None,
                errcode=None, count_attempt: bool = False) -> None:
        with write_tx():
            values = {"state": state, "claimed_until": None, "last_error": error,
                      "last_errcode": None if errcode is None else str(errcode)}
            if count_attempt:
                values["attempts"] = Delivery.attempts + 1
            if state == "sent":
                values["sent_at"] = now
            Delivery.update(**values).where(Delivery.id == delivery.id).execute()
            if state == "sent" and delivery.payload and "members" in delivery.payload:
                (Delivery.update(state="sent", sent_at=now, claimed_until=None)
                 .where(Delivery.id.in_(delivery.payload["members"])).execute())
            if state == "sent" and delivery.channel == "dingtalk":
                TargetState.update(last_sent_at=now).where(TargetState.target == delivery.target).execute()
            elif state == "dead":
                TargetState.insert(target=delivery.target).on_conflict_ignore().execute()
                (TargetState.update(last_error=error, last_error_at=now)
                 .where(TargetState.target == delivery.target).execute())

    def _rate_limited(self, delivery: Delivery, err: RateLimited, now: datetime, *, in_doubt: bool = False) -> None:
        until = now + timedelta(seconds=err.retry_after)
        with write_tx():
            # A platform block pauses the whole target: nobody hammers a blocked robot.
            (TargetState.update(blocked_until=until, rate_limit_waits=TargetState.rate_limit_waits + 1,
                               last_error=str(err), last_error_at=now)
             .where(TargetState.target == delivery.target).execute())
            # One that may have been shown stays in flight until then (never merged, see _release).
            (Delivery.update(state="sending" if in_doubt else "pending", next_attempt_at=until,
                             claimed_until=until if in_doubt else None, last_error=str(err),
                             last_errcode=None if err.errcode is None else str(err.errcode))
             .where(Delivery.id == delivery.id).execute())
        log.warning("target %s rate limited for %.0fs", delivery.target, err.retry_after)

    def _retry(self, delivery: Delivery, err: Exception, now: datetime, result: PassResult) -> None:
        attempts = delivery.attempts + 1
        cfg = self.settings.worker
        errcode = getattr(err, "errcode", None)
        if attempts >= cfg.max_attempts:
            self._finish(delivery, "dead", now, error=f"gave up after {attempts} attempts: {err}",
                         errcode=errcode or type(err).__name__, count_attempt=True)
            result.dead += 1
            return
        delay = getattr(err, "delay", None)
        when = (now + timedelta(seconds=delay)) if delay else retry.next_attempt_at(
            attempts, now, cfg.first_retry_seconds, cfg.max_retry_seconds, self.rand() if self.rand else None)
        with write_tx():
            (Delivery.update(state="pending", attempts=attempts, next_attempt_at=when, claimed_until=None,
                             last_error=str(err)[:500], last_errcode=str(errcode or type(err).__name__))
             .where(Delivery.id == delivery.id).execute())
        result.retried += 1

    # --- the loop ---------------------------------------------------------------------------

    def run_once(self, now: datetime | None = None, *, clock: Callable[[], datetime] | None = None) -> PassResult:
        """One pass: fan out, run the periodic passes, claim and send per target.

        The time is read from ``clock`` (the real clock by default) afresh for each target
        and each send: a pass that serves many robots takes seconds, and a robot's budget
        must count its messages from when they were sent, not from when the pass began, or
        DingTalk's own minute sees more than 20. ``now`` instead pins the whole pass to one
        instant (tests that step time by hand).
        """
        if clock is None:
            clock = (lambda: now) if now is not None else utcnow
        start = clock()
        result = PassResult()
        database.connect(reuse_if_open=True)
        result.fanned_out = self.fan_out(start)
        for periodic in self.passes:
            periodic(start)
        for target in self.due_targets(start):
            claimed = self.claim(target, clock(), result)
            for i, delivery in enumerate(claimed):
                if self.send(delivery, clock(), result) == "rate_limited":
                    self._release(claimed[i + 1:], clock())  # the robot is blocked: stop at once
                    break
        return result

    def _release(self, deliveries: list[Delivery], now: datetime) -> None:
        """Hand claimed-but-unsent deliveries back, due when the target's block ends."""
        if not deliveries:
            return
        target = deliveries[0].target
        state = TargetState.get_or_none(TargetState.target == target)
        when = state.blocked_until if state and state.blocked_until else now
        with write_tx():
            for d in deliveries:
                # ``d`` is the row as claim() read it, before marking it sending: one that was
                # ``sending`` already was taken over from a worker that died mid-send (a dead
                # send leaves attempts at 0), so it may have been shown.
                in_doubt = d.state == "sending"
                if d.payload and "members" in d.payload and d.attempts == 0 and not in_doubt:
                    # An unsent digest dissolves: its reports wait as single cards again. (One
                    # tried before may have been shown: it stays whole, for its msgUuid.)
                    (Delivery.update(state="pending", digest=None, next_attempt_at=when)
                     .where(Delivery.id.in_(d.payload["members"])).execute())
                    Delivery.delete().where(Delivery.id == d.id).execute()
                elif in_doubt:
                    # Stays in flight until ``when``: counted in the robot's minute, never merged
                    # into a digest, resent alone under its own msgUuid.
                    (Delivery.update(claimed_until=when, next_attempt_at=when)
                     .where(Delivery.id == d.id).execute())
                else:
                    (Delivery.update(state="pending", next_attempt_at=when, claimed_until=None)
                     .where(Delivery.id == d.id).execute())

    def expire_dead_leases(self, now: datetime) -> int:
        """Make rows claimed by workers of this host that no longer run due again at once.

        A worker killed mid-send (SIGKILL, OOM) leaves its claimed rows in ``sending``; waiting
        for their lease would hold each of those targets back for up to ``LEASE_SECONDS`` after
        every restart. Their lease is ended now instead. The rows stay ``sending`` until taken
        again, so they still count against the robot's minute (one may have reached DingTalk
        just before the kill), and the resend carries the same ``msgUuid``. Workers of other
        hosts, and processes that are still alive, are left to their lease.
        """
        database.connect(reuse_if_open=True)
        owners = (Delivery.select(Delivery.claimed_by).distinct()
                  .where((Delivery.state == "sending") & (Delivery.claimed_until >= now)
                         & Delivery.claimed_by.startswith(f"{_host()}:")))
        dead = []
        for row in owners:
            parts = row.claimed_by.rsplit(":", 2)
            if len(parts) != 3 or parts[0] != _host() or not parts[1].isdigit():
                continue
            pid = int(parts[1])
            if pid != os.getpid() and not _pid_alive(pid):
                dead.append(row.claimed_by)
        if not dead:
            return 0
        with write_tx():
            n = (Delivery.update(claimed_until=now - timedelta(seconds=1))
                 .where((Delivery.state == "sending") & Delivery.claimed_by.in_(dead)).execute())
        log.warning("took back %d deliveries claimed by dead workers %s", n, ", ".join(dead))
        return n

    def drain(self, max_passes: int = 10_000) -> PassResult:
        """Deliver everything due now (fan-out included) and return the totals."""
        total = PassResult()
        self.expire_dead_leases(utcnow())
        for _ in range(max_passes):
            r = self.run_once()
            total.add(r, ("fanned_out", "sent", "retried", "dead", "skipped", "coalesced", "rate_limited"))
            if not r.did_something:
                break
        return total

    def run_forever(self, stop: threading.Event | None = None) -> None:
        """Loop until ``stop`` is set; sleep only when a pass found nothing to do."""
        stop = stop or threading.Event()
        log.info("worker %s started", self.worker_id)
        try:
            self.expire_dead_leases(utcnow())
        except Exception:  # the database is not there yet: the leases will simply run out
            log.exception("could not take back the deliveries of dead workers")
        while not stop.is_set():
            try:
                r = self.run_once()
            except Exception:  # the database went away for a moment: keep the loop alive
                log.exception("worker pass failed")
                database.close()
                stop.wait(self.settings.worker.poll_seconds * 4)
                continue
            if not r.did_something:
                database.close()
                stop.wait(self.settings.worker.poll_seconds)
        log.info("worker %s stopped", self.worker_id)

