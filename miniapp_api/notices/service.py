"""Notices (通知公告): publish, withdraw, the resident's scoped list, read receipts, the
units' acknowledgements (收到) and the statistics.

Publishing writes the notice, one :class:`NoticeUnit` per targeted unit and the
``notice.published`` outbox event in one transaction; the worker fans it out to the units'
DingTalk groups and to the residents in scope who granted a subscribe-message consent.
Withdrawal marks the notice, skips group messages not yet sent, and announces the withdrawal
(``notice.withdrawn``) in the groups that had received it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta

from peewee import fn

from miniapp_api import outbox
from miniapp_api.config import Settings
from miniapp_api.db import write_tx
from miniapp_api.errors import Conflict
from miniapp_api.errors import NotFound
from miniapp_api.errors import ValidationFailed
from miniapp_api.paging import decode_cursor
from miniapp_api.paging import encode_cursor
from miniapp_api.models import Community
from miniapp_api.models import Delivery
from miniapp_api.models import Grid
from miniapp_api.models import Resident
from miniapp_api.models import Township
from miniapp_api.models import Upload
from miniapp_api.models.community import Notice
from miniapp_api.models.community import NoticeRead
from miniapp_api.models.community import NoticeUnit
from miniapp_api.time import iso
from miniapp_api.org import places
from miniapp_api.time import local
from miniapp_api.community.common import next_code
from miniapp_api.community.links import signed_notice_url
from miniapp_api.community.links import target_label
from miniapp_api.notices.sanitize import clean_html
from miniapp_api.notices.sanitize import to_text

SUMMARY_CHARS = 80


@dataclass(frozen=True)
class Target:
    """Whom a notice is for: the level and the unit, community and grid it names."""

    level: str
    township: Township | None = None
    community: Community | None = None
    grid: Grid | None = None

    @property
    def township_code(self) -> str | None:
        """The unit's code (None for the county)."""
        return self.township.code if self.township else None


def resolve_target(level: str, township: str | None, community: int | None, grid: int | None,
                   prefix: str = "target.") -> Target:
    """Check a target and fill in the unit (and community) a narrower target lies in."""
    if level == "county":
        return Target("county")
    if level == "grid" and grid is None:
        raise ValidationFailed(f"{prefix}grid：请选择网格", field=f"{prefix}grid")
    if level == "community" and community is None:
        raise ValidationFailed(f"{prefix}community：请选择村/社区", field=f"{prefix}community")
    t, c, g = places.resolve_place(township, community if level in ("community", "grid") else None,
                                   grid if level == "grid" else None, prefix)
    return Target(level, t, c, g)


def media_prefix(settings: Settings) -> str:
    """The URL prefix of stored images, for notice bodies."""
    return f"{settings.server.public_base_url}/media/"


#: How far ahead a notice may be scheduled.
MAX_SCHEDULE_AHEAD = timedelta(days=90)


def draft(settings: Settings, *, title: str, body_html: str, image_ids: list[str], target: Target,
          pinned: bool, expires_at: datetime | None, ack_hours: float | None, publisher_kind: str,
          publisher_name: str, now: datetime, publish_at: datetime | None = None,
          ack_required: bool = True) -> tuple[Notice, list[Township]]:
    """Check a notice and build it, unsaved, as it would be published (``scheduled`` when
    ``publish_at`` lies ahead), with the units whose groups get it: what :func:`publish` stores
    and what the console's preview shows."""
    cfg = settings.notices
    if len(body_html) > cfg.body_max_chars:
        raise ValidationFailed(f"body_html：正文不能超过 {cfg.body_max_chars} 字符", field="body_html")
    scheduled = publish_at is not None and publish_at > now
    if scheduled and publish_at - now > MAX_SCHEDULE_AHEAD:
        raise ValidationFailed("publish_at：定时发布最多提前 90 天", field="publish_at")
    start = publish_at if scheduled else now
    if expires_at is not None and expires_at <= start:
        raise ValidationFailed("expires_at：过期时间应晚于发布时间", field="expires_at")
    ids = list(dict.fromkeys(image_ids))
    if ids and Upload.select().where(Upload.id.in_(ids)).count() != len(ids):
        raise ValidationFailed("images：图片不存在", field="images")
    clean = clean_html(body_html, media_prefix(settings))
    ack = timedelta(hours=ack_hours if ack_hours is not None else cfg.ack_hours)
    escalate = max(timedelta(hours=cfg.escalate_hours), ack * 2)
    units = list(Township.select().order_by(Township.sort_order, Township.id)) if target.level == "county" \
        else [target.township]
    notice = Notice(
        number="N0000", title=title, body_html=clean, body_text=to_text(clean), images=ids,
        level=target.level, township=target.township, community=target.community, grid=target.grid,
        pinned=pinned, expires_at=expires_at, status="scheduled" if scheduled else "published",
        publisher_kind=publisher_kind, publisher_name=publisher_name[:60], published_at=start,
        ack_due_at=start + ack if ack_required else None, escalate_at=start + escalate if ack_required else None,
    )
    return notice, units


def publish(settings: Settings, *, title: str, body_html: str, image_ids: list[str], target: Target,
            pinned: bool, expires_at: datetime | None, ack_hours: float | None, publisher_kind: str,
            publisher_name: str, now: datetime, publish_at: datetime | None = None,
            ack_required: bool = True) -> Notice:
    """Publish a notice to ``target`` (already in the outbox), or schedule it for ``publish_at``
    (the scheduler publishes it then); ``ack_required=False`` asks no unit for 收到."""
    notice, units = draft(settings, title=title, body_html=body_html, image_ids=image_ids, target=target,
                          pinned=pinned, expires_at=expires_at, ack_hours=ack_hours, publisher_kind=publisher_kind,
                          publisher_name=publisher_name, now=now, publish_at=publish_at, ack_required=ack_required)
    with write_tx():
        notice.number = next_code("N")
        notice.save(force_insert=True)
        for unit in units:
            NoticeUnit.create(notice=notice, township=unit)
        if notice.status == "published":
            event = outbox.record("notice.published", {"number": notice.number}, now=now)
            Notice.update(publish_event_id=event.id).where(Notice.id == notice.id).execute()
    return Notice.get_by_id(notice.id)


def publish_due(notice_id: int, now: datetime) -> bool:
    """Publish a scheduled notice whose time has come (once; in its own transaction)."""
    with write_tx():
        changed = (Notice.update(status="published")
                   .where((Notice.id == notice_id) & (Notice.status == "scheduled") & (Notice.published_at <= now))
                   .execute())
        if changed:
            number = Notice.select(Notice.number).where(Notice.id == notice_id).scalar()
            event = outbox.record("notice.published", {"number": number}, now=now)
            Notice.update(publish_event_id=event.id).where(Notice.id == notice_id).execute()
    return bool(changed)


def acks_required(notice: Notice) -> bool:
    """Whether the targeted units are asked to acknowledge (收到) the notice."""
    return notice.ack_due_at is not None


def withdraw(notice: Notice, *, by: str, reason: str, now: datetime) -> Notice:
    """Withdraw (撤回) a published or scheduled notice everywhere; 409 when it already was.
    A scheduled notice withdrawn before its time is never published anywhere."""
    with write_tx():
        changed = (Notice.update(status="withdrawn", withdrawn_at=now, withdrawn_by=by[:60],
                                 withdraw_reason=reason, pinned=False)
                   .where((Notice.id == notice.id) & Notice.status.in_(("published", "scheduled"))).execute())
        if not changed:
            raise Conflict("该通知已撤回", code="notice_withdrawn")
        notice = Notice.get_by_id(notice.id)
        if not notice.publish_event_id:
            return notice  # withdrawn before its scheduled time: nobody was told, nobody to tell
        # Group messages still waiting (say, behind a rate limit) are never sent.
        (Delivery.update(state="skipped", last_error="通知已撤回", claimed_until=None)
         .where((Delivery.event == notice.publish_event_id) & (Delivery.state == "pending")).execute())
        outbox.record("notice.withdrawn", {"number": notice.number, "reason": reason, "by": by}, now=now)
    return Notice.get_by_id(notice.id)


def card_fields(notice: Notice, settings: Settings) -> dict:
    """What a group's card of ``notice`` shows (the fields of the bridges' ``NoticeView``);
    ``ack_due`` is empty when no unit has to acknowledge it."""
    return dict(number=notice.number, title=notice.title,
                unit_label=target_label(notice.level, notice.township, notice.community, notice.grid),
                summary=notice.body_text, publisher=notice.publisher_name, published_at=local(notice.published_at),
                ack_due=local(notice.ack_due_at) if acks_required(notice) else "",
                link=signed_notice_url(settings, notice.number), expires_at=local(notice.expires_at),
                image_count=len(notice.images or []))


# --- who sees what --------------------------------------------------------------------------

def visible_to(resident: Resident):
    """The notices a resident's home place puts in scope (county-wide ones for everybody);
    never a scheduled one, nor one withdrawn before it was published."""
    cond = Notice.level == "county"
    if resident.home_township_id:
        cond |= (Notice.level == "township") & (Notice.township == resident.home_township_id)
    if resident.home_community_id:
        cond |= (Notice.level == "community") & (Notice.community == resident.home_community_id)
    if resident.home_grid_id:
        cond |= (Notice.level == "grid") & (Notice.grid == resident.home_grid_id)
    shown = (Notice.status == "published") | ((Notice.status == "withdrawn") & Notice.publish_event_id.is_null(False))
    return cond & shown


def audience(notice: Notice):
    """The residents a notice reaches (its scope by home place)."""
    query = Resident.select()
    if notice.level == "township":
        query = query.where(Resident.home_township == notice.township_id)
    elif notice.level == "community":
        query = query.where(Resident.home_community == notice.community_id)
    elif notice.level == "grid":
        query = query.where(Resident.home_grid == notice.grid_id)
    return query


def page(query, cursor: str | None, limit: int) -> tuple[list[Notice], str | None]:
    """Pinned first, then newest first; cursor-paged."""
    if cursor:
        pinned, nid = decode_cursor(cursor, "n", flags=1)
        query = query.where((Notice.pinned < bool(pinned)) | ((Notice.pinned == bool(pinned)) & (Notice.id < nid)))
    rows = list(query.order_by(Notice.pinned.desc(), Notice.id.desc()).limit(limit + 1))
    nxt = encode_cursor("n", rows[limit - 1].id, rows[limit - 1].pinned) if len(rows) > limit else None
    return rows[:limit], nxt


def list_for(resident: Resident, now: datetime, cursor: str | None, limit: int) -> tuple[list[Notice], str | None]:
    """The resident's notices: in scope, not expired; withdrawn ones stay, marked."""
    query = Notice.select().where(visible_to(resident) & (Notice.expires_at.is_null() | (Notice.expires_at > now)))
    return page(query, cursor, limit)


def get_for(resident: Resident, number: str) -> Notice:
    """One notice in the resident's scope; 404 for anything else (no hint that it exists)."""
    notice = Notice.select().where((Notice.number == number) & visible_to(resident)).first()
    if notice is None:
        raise NotFound("找不到该通知", code="notice_not_found")
    return notice


def read_ids(resident: Resident, notice_ids: list[int]) -> set[int]:
    """Which of ``notice_ids`` the resident has read."""
    if not notice_ids:
        return set()
    rows = NoticeRead.select(NoticeRead.notice).where((NoticeRead.resident == resident) & NoticeRead.notice.in_(notice_ids))
    return {r.notice_id for r in rows}


def mark_read(resident: Resident, notice: Notice, now: datetime) -> datetime:
    """Record the read receipt (once; later calls return the first time)."""
    with write_tx():
        NoticeRead.insert(notice=notice, resident=resident, read_at=now).on_conflict_ignore().execute()
    return NoticeRead.get((NoticeRead.notice == notice) & (NoticeRead.resident == resident)).read_at


# --- acknowledgements and statistics --------------------------------------------------------

class AckRefused(Exception):
    """The acknowledgement cannot be recorded; the message is the Chinese reply."""


def acknowledge(number: str, township: Township, official_name: str, official_id: str, now: datetime) -> str:
    """A unit acknowledges (收到) a notice from its group; returns the reply. Idempotent."""
    notice = Notice.get_or_none(Notice.number == number)
    row = NoticeUnit.get_or_none((NoticeUnit.notice == notice) & (NoticeUnit.township == township)) if notice else None
    if row is None or notice.status == "scheduled":
        raise AckRefused(f"找不到发给{township.name}的通知 {number}。")
    if notice.status == "withdrawn":
        raise AckRefused(f"通知 {number} 已撤回，无需确认。")
    if not acks_required(notice):
        raise AckRefused(f"通知 {number} 仅供知悉，无需确认收到。")
    if row.acked_at is not None:
        return f"{township.name}已于 {_hm(row.acked_at)} 由 {row.acked_by_name} 确认收到通知 {number}，无需重复确认。"
    with write_tx():
        (NoticeUnit.update(acked_at=now, acked_by_name=official_name[:60], acked_by_id=official_id[:64])
         .where((NoticeUnit.id == row.id) & NoticeUnit.acked_at.is_null()).execute())
    return f"已记录：{township.name}确认收到通知 {number}（{official_name}，{_hm(now)}）。"


def _hm(dt: datetime) -> str:
    return local(dt, "%m-%d %H:%M")


def stats(notice: Notice) -> dict:
    """Reads and per-unit acknowledgements of a notice, with each group message's state."""
    reads = NoticeRead.select(fn.COUNT(NoticeRead.id)).where(NoticeRead.notice == notice).scalar() or 0
    people = audience(notice).count()
    units = list(NoticeUnit.select(NoticeUnit, Township).join(Township)
                 .where(NoticeUnit.notice == notice).order_by(Township.sort_order, Township.id))
    states: dict[str, str] = {}
    if notice.publish_event_id:
        for d in Delivery.select(Delivery.target, Delivery.state).where(
                (Delivery.event == notice.publish_event_id) & (Delivery.channel == "dingtalk")):
            states[d.target.rsplit(":", 1)[-1]] = d.state
    return {
        "number": notice.number,
        "status": notice.status,
        "audience": people,
        "reads": reads,
        "read_rate": round(reads / people, 4) if people else 0.0,
        "units_total": len(units),
        "units_acked": sum(1 for u in units if u.acked_at),
        "units": [{
            "township": {"code": u.township.code, "name": u.township.name},
            "acked_at": iso(u.acked_at), "acked_by": u.acked_by_name,
            "reminded_at": iso(u.reminded_at), "escalated_at": iso(u.escalated_at),
            "delivery": states.get(u.township.code),
        } for u in units],
    }
