"""The notice steps of the scheduler pass (see :mod:`miniapp_api.community.scheduler`):

0. scheduled publication — a notice scheduled for later is published when its time comes;
1. notice reminder — a unit that has not acknowledged by ``ack_due_at`` is reminded in its group;
2. notice escalation — at ``escalate_at`` the county group hears which units are missing.

Each is done once: a conditional update of the column that records it, then the outbox event.
"""
from __future__ import annotations

from datetime import datetime

from miniapp_api import outbox
from miniapp_api.community.scheduler import BATCH
from miniapp_api.config import Settings
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.models import Township
from miniapp_api.models.community import Notice
from miniapp_api.models.community import NoticeUnit
from miniapp_api.notices import service as notices


def _lock_notice(notice_id: int) -> Notice:
    query = Notice.select().where(Notice.id == notice_id)
    if is_postgres():
        query = query.for_update()
    return query.get()


def scheduled_notices(now: datetime, settings: Settings) -> int:
    """Publish each scheduled notice whose time has come (the groups and residents then get it)."""
    ids = [n.id for n in Notice.select(Notice.id).where((Notice.status == "scheduled") & (Notice.published_at <= now))
           .order_by(Notice.published_at).limit(BATCH)]
    return sum(notices.publish_due(nid, now) for nid in ids)


def notice_reminders(now: datetime, settings: Settings) -> int:
    """Remind, in its group, each unit that has not acknowledged a notice by ``ack_due_at``."""
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
    """At ``escalate_at``, tell the county group which units have not acknowledged a notice."""
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


STEPS = (scheduled_notices, notice_reminders, notice_escalations)
