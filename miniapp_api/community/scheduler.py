"""One deterministic pass of the notice and campaign schedule, as if the time were ``now``.

The worker calls :func:`run_pass` on every pass (``Worker.scheduler_hooks``). Each step looks
for work whose time has come and does it in its own transaction: a conditional update of
the column that records the step (``reminded_at``, ``escalated_at``, ``announced_changes``,
``roster_sent_at``, ``status``) and, only if that update changed the row, the outbox event.
So a step is done once, however many workers run and however often they restart.

Steps:

1. notice reminder — a unit that has not acknowledged by ``ack_due_at`` is reminded in its group;
2. notice escalation — at ``escalate_at`` the county group hears which units are missing;
3. sign-up count — the group is told the count when it changed, at most every
   ``campaigns.count_interval_minutes`` (so a rush of sign-ups is one message, not fifty);
4. reminder — ``campaigns.reminder_hours`` before the start, confirmed volunteers get a
   subscribe message;
5. roster — at the start, the roster goes to the group (phone numbers masked);
6. completion — ``campaigns.complete_after_minutes`` after the end the campaign completes
   (hours credited, linked report resolved).
"""
from __future__ import annotations

import logging
from datetime import datetime
from datetime import timedelta

from miniapp_api import outbox
from miniapp_api.config import Settings
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.errors import Conflict
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.models import Township
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Notice
from miniapp_api.models.community import NoticeUnit
from miniapp_api.campaigns import service as campaigns

log = logging.getLogger(__name__)
BATCH = 200


def _lock_notice(notice_id: int) -> Notice:
    query = Notice.select().where(Notice.id == notice_id)
    if is_postgres():
        query = query.for_update()
    return query.get()


def notice_reminders(now: datetime, settings: Settings) -> int:
    rows = list(NoticeUnit.select(NoticeUnit, Notice, Township)
                .join(Notice).switch(NoticeUnit).join(Township)
                .where((Notice.status == "published") & (Notice.ack_due_at <= now)
                       & NoticeUnit.acked_at.is_null() & NoticeUnit.reminded_at.is_null())
                .order_by(NoticeUnit.id).limit(BATCH))
    done = 0
    for row in rows:
        with write_tx():
            changed = (NoticeUnit.update(reminded_at=now)
                       .where((NoticeUnit.id == row.id) & NoticeUnit.reminded_at.is_null()
                              & NoticeUnit.acked_at.is_null()).execute())
            if changed:
                outbox.record("notice.ack_reminder", {"number": row.notice.number, "township": row.township.code},
                              now=now)
                done += 1
    return done


def notice_escalations(now: datetime, settings: Settings) -> int:
    ids = [n.id for n in Notice.select(Notice.id).where(
        (Notice.status == "published") & (Notice.escalate_at <= now)
        & Notice.id.in_(NoticeUnit.select(NoticeUnit.notice).where(
            NoticeUnit.acked_at.is_null() & NoticeUnit.escalated_at.is_null()))).limit(BATCH)]
    done = 0
    for nid in ids:
        with write_tx():
            notice = _lock_notice(nid)
            missing = list(NoticeUnit.select().where((NoticeUnit.notice == nid) & NoticeUnit.acked_at.is_null()
                                                     & NoticeUnit.escalated_at.is_null()))
            if not missing:
                continue
            NoticeUnit.update(escalated_at=now).where(NoticeUnit.id.in_([u.id for u in missing])).execute()
            codes = [u.township.code for u in missing]
            outbox.record("notice.ack_escalated", {"number": notice.number, "townships": codes}, now=now)
            done += 1
    return done


def announce_count(campaign_id: int, now: datetime, settings: Settings) -> bool:
    """Tell the group the sign-up count if it changed and the interval has passed."""
    interval = timedelta(minutes=settings.campaigns.count_interval_minutes)
    with write_tx():
        c = Campaign.get_or_none(Campaign.id == campaign_id)
        if c is None or c.status != "published" or c.signup_changes == c.announced_changes or now >= c.ends_at:
            return False
        if c.announced_at is not None and now - c.announced_at < interval:
            return False
        changed = (Campaign.update(announced_changes=c.signup_changes, announced_at=now)
                   .where((Campaign.id == c.id) & (Campaign.announced_changes == c.announced_changes)).execute())
        if changed:
            outbox.record("campaign.count", {"number": c.number, "taken": c.taken, "capacity": c.capacity}, now=now)
        return bool(changed)


def campaign_counts(now: datetime, settings: Settings) -> int:
    since = now - timedelta(minutes=settings.campaigns.count_interval_minutes)
    ids = [c.id for c in Campaign.select(Campaign.id).where(
        (Campaign.status == "published") & (Campaign.signup_changes != Campaign.announced_changes)
        & (Campaign.ends_at > now) & (Campaign.announced_at.is_null() | (Campaign.announced_at <= since))).limit(BATCH)]
    return sum(announce_count(cid, now, settings) for cid in ids)


def _once(column, kind: str, where, now: datetime) -> int:
    ids = [c.id for c in Campaign.select(Campaign.id).where((Campaign.status == "published") & column.is_null() & where)
           .limit(BATCH)]
    done = 0
    for cid in ids:
        with write_tx():
            changed = (Campaign.update({column: now})
                       .where((Campaign.id == cid) & column.is_null() & (Campaign.status == "published")).execute())
            if changed:
                number = Campaign.get_by_id(cid).number
                outbox.record(kind, {"number": number}, now=now)
                done += 1
    return done


def campaign_reminders(now: datetime, settings: Settings) -> int:
    ahead = now + timedelta(hours=settings.campaigns.reminder_hours)
    return _once(Campaign.reminded_at, "campaign.reminder", (Campaign.starts_at <= ahead) & (Campaign.starts_at > now), now)


def rosters(now: datetime, settings: Settings) -> int:
    return _once(Campaign.roster_sent_at, "campaign.roster", (Campaign.starts_at <= now) & (Campaign.ends_at > now), now)


def completions(now: datetime, settings: Settings) -> int:
    due = now - timedelta(minutes=settings.campaigns.complete_after_minutes)
    done = 0
    for c in Campaign.select().where((Campaign.status == "published") & (Campaign.ends_at <= due)).limit(BATCH):
        try:
            campaigns.complete(c, Actor.system("志愿活动结束"), now)
            done += 1
        except Conflict:
            pass  # another worker completed it first
    return done


STEPS = (notice_reminders, notice_escalations, campaign_counts, campaign_reminders, rosters, completions)


def run_pass(now: datetime, settings: Settings) -> dict[str, int]:
    """Do every step that is due at ``now``; returns how many of each were done.

    A failing step is logged and the others still run: the worker's deliveries must not stop
    because of one bad row.
    """
    database.connect(reuse_if_open=True)
    out: dict[str, int] = {}
    for step in STEPS:
        try:
            out[step.__name__] = step(now, settings)
        except Exception:  # noqa: BLE001 - see the docstring
            log.exception("community scheduler step %s failed", step.__name__)
            out[step.__name__] = -1
    return out
