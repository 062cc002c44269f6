"""The campaign steps of the scheduler pass (see :mod:`miniapp_api.community.scheduler`):

3. sign-up count — the group is told the count when it changed, at most every
   ``campaigns.count_interval_minutes`` (so a rush of sign-ups is one message, not fifty);
4. reminder — ``campaigns.reminder_hours`` before the start, confirmed volunteers get a
   subscribe message;
5. roster — at the start, the roster goes to the group (phone numbers masked);
6. completion — ``campaigns.complete_after_minutes`` after the end the campaign completes
   (hours credited, linked report resolved).

Each is done once: a conditional update of the column that records it, then the outbox event.
"""
from __future__ import annotations

from datetime import datetime
from datetime import timedelta

from miniapp_api import outbox
from miniapp_api.campaigns import service as campaigns
from miniapp_api.community.scheduler import BATCH
from miniapp_api.config import Settings
from miniapp_api.db import write_tx
from miniapp_api.errors import Conflict
from miniapp_api.models.community import Campaign
from miniapp_api.reports.lifecycle import Actor


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
    """Tell each group its campaign's sign-up count where it changed (see :func:`announce_count`)."""
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
    """``reminder_hours`` before the start, remind the confirmed volunteers (once)."""
    ahead = now + timedelta(hours=settings.campaigns.reminder_hours)
    return _once(Campaign.reminded_at, "campaign.reminder", (Campaign.starts_at <= ahead) & (Campaign.starts_at > now), now)


def rosters(now: datetime, settings: Settings) -> int:
    """At the start, send the roster to the group (once)."""
    return _once(Campaign.roster_sent_at, "campaign.roster", (Campaign.starts_at <= now) & (Campaign.ends_at > now), now)


def completions(now: datetime, settings: Settings) -> int:
    """``complete_after_minutes`` after the end, complete the campaign (hours, linked report)."""
    due = now - timedelta(minutes=settings.campaigns.complete_after_minutes)
    done = 0
    for c in Campaign.select().where((Campaign.status == "published") & (Campaign.ends_at <= due)).limit(BATCH):
        try:
            campaigns.complete(c, Actor.system("志愿活动结束"), now)
            done += 1
        except Conflict:
            pass  # another worker completed it first
    return done


STEPS = (campaign_counts, campaign_reminders, rosters, completions)
