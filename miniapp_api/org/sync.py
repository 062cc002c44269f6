"""``tongxin sync-dingtalk``: fill and keep the roster's DingTalk user ids from DingTalk itself.

Officials already exist in the county's DingTalk organisation; nobody should type 1,592 user
ids into a CSV. :func:`sync_dingtalk` reads every department and every member through the
app client (dingtalk-sdk's ``department.list`` and ``user.listbypage``), then, in one
transaction:

* **matches** each member to an official by mobile (``Official.mobile``, normalised like
  ``import-org`` does) and fills ``dingtalk_user_id``; an official already linked by id whose
  member changed phone gets the new mobile;
* marks officials who **left** the organisation — they had a ``dingtalk_user_id`` that is no
  longer there — inactive (``active = False``, ``left_org_at``). They are never deleted: their
  reports and timelines keep them. One who comes back is active again;
* **reports** what it matched, which members and officials it could not match, and every
  **conflict**: two officials with one mobile (a member matching several), two members with
  one mobile, a member whose id another official already holds, an official linked to another
  member who is still in the organisation.

All or nothing, like ``import-org``: any conflict and nothing is applied (the report says
why); ``dry_run`` checks and counts and applies nothing either way.

A sync that would mark more than ``[dingtalk] sync_max_left_share`` (10 %) of the active
officials as left is refused too, unless ``force`` (``tongxin sync-dingtalk --force``): an
app whose contact scope (通讯录权限范围) covers only part of the organisation, or a listing
that misses deeper departments, looks exactly like a mass departure.

:func:`handle_org_event` keeps the roster in sync between syncs: the worker runs it for each
``user_add_org`` / ``user_modify_org`` / ``user_leave_org`` / ``chat_disband`` event that
``POST /callbacks/dingtalk/events`` queued.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from typing import Callable
from typing import Protocol

from miniapp_api.config import Settings
from miniapp_api.db import write_tx
from miniapp_api.groups.broken import disbanded
from miniapp_api.models import Official
from miniapp_api.models import utcnow
from miniapp_api.models.dingtalk import OrgSyncRun
from miniapp_api.org.roster_import import _mobile

log = logging.getLogger(__name__)

#: How many unmatched members and officials a report lists by name (the counts are complete).
SAMPLE = 50
USER_EVENTS = ("user_add_org", "user_modify_org", "user_leave_org")
HANDLED_EVENTS = USER_EVENTS + ("chat_disband",)


class Directory(Protocol):
    """DingTalk's organisation as the sync reads it (the bridge's app client is one)."""

    def departments(self) -> list[dict]:
        """Every department (``id``, …)."""

    def users_in_department(self, department_id: int) -> list[dict]:
        """The members of one department (``userid``, ``name``, ``mobile``)."""

    def user(self, user_id: str) -> dict | None:
        """One member, or None when they are not in the organisation."""

    def close(self) -> None:
        """Release the connection."""


class _Reader:
    """How the sync opens the directory, and the errors that mean "DingTalk did not answer";
    composition registers them (the domain does not import the bridge)."""

    open: Callable[[Settings], Directory] | None = None
    unavailable: tuple[type[Exception], ...] = ()


def register_directory(open_directory: Callable[[Settings], Directory],
                       unavailable: tuple[type[Exception], ...]) -> None:
    """Install how to open DingTalk's directory for ``settings`` and its "unavailable" errors."""
    _Reader.open = open_directory
    _Reader.unavailable = unavailable


def mask(mobile: str) -> str:
    """``mobile`` with its middle four digits hidden."""
    return f"{mobile[:3]}****{mobile[-4:]}" if len(mobile) >= 7 else "****"


@dataclass
class Conflict:
    """One thing the sync cannot decide by itself (Chinese ``message`` for people)."""

    kind: str  # officials_share_mobile | users_share_mobile | user_id_taken | linked_elsewhere
    message: str
    mobile: str = ""
    user_ids: list[str] = field(default_factory=list)
    official_ids: list[int] = field(default_factory=list)


@dataclass
class SyncResult:
    """What a sync did (or, with ``dry_run`` or conflicts, would have done)."""

    dry_run: bool = False
    applied: bool = False
    departments: int = 0
    users: int = 0
    matched: int = 0
    filled: int = 0
    unchanged: int = 0
    reactivated: int = 0
    mobiles_updated: int = 0
    left: int = 0
    unmatched_users: int = 0
    unmatched_officials: int = 0
    unmatched_user_samples: list[dict] = field(default_factory=list)
    unmatched_official_samples: list[dict] = field(default_factory=list)
    left_samples: list[dict] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    active_officials: int = 0
    #: Set when more officials would be marked as left than the configured share allows.
    too_many_left: str = ""

    @property
    def ok(self) -> bool:
        """True when nothing conflicted and the share of leavers is within the limit."""
        return not self.conflicts and not self.too_many_left

    def as_dict(self) -> dict:
        """The report as a JSON-able dict."""
        d = asdict(self)
        d["ok"] = self.ok
        return d


class SyncFailed(Exception):
    """The sync could not run (DingTalk unreachable, empty organisation) or found conflicts;
    nothing was applied. ``result`` holds the report when there is one."""

    def __init__(self, message: str, result: SyncResult | None = None):
        self.result = result
        super().__init__(message)


class _Rollback(Exception):
    pass


# --- reading DingTalk -------------------------------------------------------------------------


@dataclass
class Member:
    """One member of the DingTalk organisation."""
    user_id: str
    name: str
    mobile: str  # normalised 11 digits, or ""


def _member(u: dict) -> Member | None:
    uid = str(u.get("userid") or "").strip()
    if not uid or len(uid) > 64:
        return None
    return Member(uid, str(u.get("name") or "")[:40], _mobile(str(u.get("mobile") or "")) or "")


def read_organisation(client: Directory) -> tuple[int, dict[str, Member]]:
    """(number of departments, members by user id) of the whole organisation."""
    depts = client.departments()
    members: dict[str, Member] = {}
    for d in depts:
        for u in client.users_in_department(int(d["id"])):
            m = _member(u)
            if m is not None:
                members.setdefault(m.user_id, m)  # one member may sit in several departments
    return len(depts), members


# --- matching ---------------------------------------------------------------------------------


def _candidates() -> list[Official]:
    """Officials a member may match: the active ones, and those the sync marked as left."""
    return list(Official.select().where(Official.active | Official.left_org_at.is_null(False)).order_by(Official.id))


def _official_sample(o: Official) -> dict:
    return {"id": o.id, "name": o.name, "mobile": mask(o.mobile) if o.mobile else "", "role": o.role}


def _plan(members: dict[str, Member], result: SyncResult, now: datetime) -> list[tuple[str, dict, Official]]:
    """The updates the organisation asks for, and every conflict, in ``result``."""
    officials = _candidates()
    by_mobile: dict[str, list[Official]] = defaultdict(list)
    holders: dict[str, list[Official]] = defaultdict(list)
    for o in officials:
        m = _mobile(o.mobile or "")
        if m:
            by_mobile[m].append(o)
        if o.dingtalk_user_id:
            holders[o.dingtalk_user_id].append(o)
    users_by_mobile: dict[str, list[Member]] = defaultdict(list)
    for u in members.values():
        if u.mobile:
            users_by_mobile[u.mobile].append(u)

    updates: list[tuple[str, dict, Official]] = []
    matched_officials: set[int] = set()
    for mobile, users in sorted(users_by_mobile.items()):
        if len(users) > 1:
            result.conflicts.append(Conflict(
                "users_share_mobile", f"钉钉中 {len(users)} 个成员使用同一手机号 {mask(mobile)}："
                + "、".join(f"{u.name}（{u.user_id}）" for u in users), mobile=mask(mobile),
                user_ids=[u.user_id for u in users]))
            continue
        user = users[0]
        found = by_mobile.get(mobile, [])
        if not found:
            continue
        if len(found) > 1:
            result.conflicts.append(Conflict(
                "officials_share_mobile", f"手机号 {mask(mobile)}（钉钉成员 {user.name}）对应 {len(found)} 名人员："
                + "、".join(f"{o.name}（#{o.id}）" for o in found) + "；请先在花名册里改正手机号",
                mobile=mask(mobile), user_ids=[user.user_id], official_ids=[o.id for o in found]))
            matched_officials.update(o.id for o in found)
            continue
        official = found[0]
        matched_officials.add(official.id)
        others = [o for o in holders.get(user.user_id, []) if o.id != official.id]
        if others:
            result.conflicts.append(Conflict(
                "user_id_taken", f"钉钉成员 {user.name}（{user.user_id}）的手机号对应 {official.name}（#{official.id}），"
                f"但这个钉钉 ID 已属于 " + "、".join(f"{o.name}（#{o.id}）" for o in others),
                mobile=mask(mobile), user_ids=[user.user_id], official_ids=[official.id] + [o.id for o in others]))
            continue
        if official.dingtalk_user_id and official.dingtalk_user_id != user.user_id \
                and official.dingtalk_user_id in members:
            result.conflicts.append(Conflict(
                "linked_elsewhere", f"{official.name}（#{official.id}）已绑定钉钉成员 {official.dingtalk_user_id}，"
                f"该成员仍在组织中；手机号 {mask(mobile)} 却属于钉钉成员 {user.name}（{user.user_id}）",
                mobile=mask(mobile), user_ids=[user.user_id, official.dingtalk_user_id], official_ids=[official.id]))
            continue
        result.matched += 1
        values: dict = {}
        if official.dingtalk_user_id != user.user_id:
            values["dingtalk_user_id"] = user.user_id
        if not official.active:
            values.update(active=True, left_org_at=None)
            result.reactivated += 1
        if "dingtalk_user_id" in values:
            result.filled += 1
        elif not values:
            result.unchanged += 1
        if values:
            updates.append(("match", values, official))

    # Linked by id, but DingTalk has a new mobile nobody in the roster has: the roster follows
    # (a changed phone must not make them drift). Another official's mobile is left alone:
    # that case was reported as a conflict above.
    active_mobiles = {_mobile(o.mobile or "") for o in officials if o.active}
    linked_users: set[str] = set()
    for u in members.values():
        holders_of_u = holders.get(u.user_id, [])
        if not holders_of_u:
            continue
        linked_users.add(u.user_id)
        if len(holders_of_u) == 1 and u.mobile and u.mobile not in by_mobile and u.mobile not in active_mobiles:
            o = holders_of_u[0]
            if _mobile(o.mobile or "") != u.mobile:
                result.mobiles_updated += 1
                updates.append(("mobile", {"mobile": u.mobile}, o))
    unmatched = [u for u in members.values()
                 if (not u.mobile or u.mobile not in by_mobile) and u.user_id not in linked_users]
    result.unmatched_users = len(unmatched)
    result.unmatched_user_samples = [{"user_id": u.user_id, "name": u.name, "mobile": mask(u.mobile) if u.mobile else ""}
                                     for u in sorted(unmatched, key=lambda u: u.user_id)[:SAMPLE]]
    # Officials with a mobile nobody in DingTalk has, and no DingTalk id (those with an id
    # are either still linked to their member or, below, have left).
    lost = [o for o in officials if o.active and o.id not in matched_officials and o.mobile
            and not o.dingtalk_user_id]
    result.unmatched_officials = len(lost)
    result.unmatched_official_samples = [_official_sample(o) for o in lost[:SAMPLE]]

    # Left the organisation: linked to a member who is gone. Kept, marked inactive.
    for o in officials:
        # (One matched by mobile just now had a stale id: it was relinked above, not gone.)
        if o.active and o.dingtalk_user_id and o.dingtalk_user_id not in members and o.id not in matched_officials:
            result.left += 1
            if len(result.left_samples) < SAMPLE:
                result.left_samples.append(_official_sample(o))
            updates.append(("left", {"active": False, "left_org_at": now}, o))
    # Came back under the id they had (no mobile match needed): active again.
    for o in officials:
        if not o.active and o.left_org_at is not None and o.dingtalk_user_id in members \
                and o.id not in matched_officials:
            result.reactivated += 1
            updates.append(("back", {"active": True, "left_org_at": None}, o))
    return updates


DEFAULT_MAX_LEFT_SHARE = 0.10


def _check_left_share(result: SyncResult, max_share: float, force: bool) -> None:
    """Note in ``result`` when the sync would mark too many active officials as left."""
    result.active_officials = Official.select().where(Official.active == True).count()  # noqa: E712
    if result.left and result.left > max_share * result.active_officials:
        result.too_many_left = (
            f"本次同步会把 {result.left} 名在职人员（共 {result.active_officials} 名，超过 {max_share:.0%}）"
            "标记为已离开组织；这通常是应用的通讯录权限范围不全。请先检查权限范围"
            + ("（已用 --force 强制执行）" if force else "；确认无误请用 tongxin sync-dingtalk --force"))


def sync_dingtalk(dry_run: bool = False, *, client: Directory | None = None, settings=None,
                  source: str = "cli", actor: str = "", now: datetime | None = None,
                  force: bool = False) -> SyncResult:
    """Read the organisation from DingTalk and apply it to the roster, all or nothing.

    :param dry_run: read, match and count; apply nothing.
    :param force: apply even when more than ``[dingtalk] sync_max_left_share`` of the active
        officials would be marked as left.
    :returns: the report (``applied`` tells whether it was written).
    :raises SyncFailed: DingTalk could not be read, the organisation looks empty, there are
        conflicts, or too many officials would be marked as left without ``force``
        (``err.result`` holds the full report); nothing was applied.
    """
    max_share = settings.dingtalk.sync_max_left_share if settings is not None else DEFAULT_MAX_LEFT_SHARE
    now = now or utcnow()
    own = client is None
    if own:
        if settings is None:
            raise ValueError("give a client or the settings")
        if _Reader.open is None:
            raise RuntimeError("no DingTalk directory registered: composition registers the app client")
        client = _Reader.open(settings)
    result = SyncResult(dry_run=dry_run)
    try:
        # Read everything before the transaction: the token store takes its own write lock,
        # and nothing is held while DingTalk answers.
        result.departments, members = read_organisation(client)
    except _Reader.unavailable as err:
        _record(source, actor, dry_run, result, now, error=str(err))
        raise SyncFailed(f"无法读取钉钉通讯录：{err}") from None
    finally:
        if own:
            client.close()
    result.users = len(members)
    if not members:
        _record(source, actor, dry_run, result, now, error="empty organisation")
        raise SyncFailed("钉钉通讯录里没有任何成员（应用的通讯录权限范围可能不对）；没有做任何修改", result)
    try:
        with write_tx():
            plan = _plan(members, result, now)
            _check_left_share(result, max_share, force)
            for _kind, values, official in plan:
                Official.update(**values).where(Official.id == official.id).execute()
            if dry_run or result.conflicts or (result.too_many_left and not force):
                raise _Rollback
            result.applied = True
    except _Rollback:
        pass
    _record(source, actor, dry_run, result, now)
    if result.conflicts and not dry_run:
        raise SyncFailed(f"发现 {len(result.conflicts)} 处冲突，没有做任何修改", result)
    if result.too_many_left and not force and not dry_run:
        raise SyncFailed(f"{result.too_many_left}；没有做任何修改", result)
    return result


def _record(source: str, actor: str, dry_run: bool, result: SyncResult, now: datetime, error: str = "") -> None:
    summary = result.as_dict()
    if error:
        summary["error"] = error[:500]
    with write_tx():
        OrgSyncRun.create(started_at=now, finished_at=utcnow(), source=source, actor=actor[:40], dry_run=dry_run,
                          applied=result.applied, summary=summary)


def last_runs(limit: int = 5) -> list[OrgSyncRun]:
    """The latest sync runs, newest first."""
    return list(OrgSyncRun.select().order_by(OrgSyncRun.id.desc()).limit(limit))


def format_result(result: SyncResult) -> str:
    """A short bilingual summary for the command line."""
    if result.conflicts and not result.dry_run:
        head = f"同步失败，未做任何修改 / sync failed, nothing applied: {len(result.conflicts)} 处冲突 / conflicts"
    elif result.too_many_left and not result.dry_run and not result.applied:
        head = "同步被拒绝，未做任何修改 / sync refused, nothing applied: too many officials would be marked as left"
    elif result.dry_run:
        head = "试运行，未写入任何数据 / dry run, nothing written"
    else:
        head = "同步完成 / sync done"
    lines = [
        head,
        f"  钉钉部门 departments: {result.departments}, 成员 members: {result.users}",
        f"  匹配 matched: {result.matched} (新填钉钉ID filled {result.filled}, 未变 unchanged {result.unchanged}, "
        f"恢复在职 reactivated {result.reactivated}, 更新手机号 mobiles updated {result.mobiles_updated})",
        f"  未匹配的钉钉成员 unmatched members: {result.unmatched_users}",
        f"  钉钉中找不到的人员 officials not in DingTalk: {result.unmatched_officials}",
        f"  已离开组织，标记停用 left (marked inactive): {result.left}",
        f"  冲突 conflicts: {len(result.conflicts)}",
    ]
    lines += [f"    - {c.message}" for c in result.conflicts]
    if result.too_many_left:
        lines.append(f"  注意 / warning: {result.too_many_left}")
    if result.left_samples:
        lines.append("  离开组织 / left: " + "、".join(s["name"] for s in result.left_samples))
    return "\n".join(lines)


# --- events between syncs ---------------------------------------------------------------------


def apply_member(user_id: str, user: dict | None, now: datetime) -> str:
    """Bring the roster in line with one member as DingTalk shows them now (``None``: gone).

    Returns what happened (``left``, ``linked``, ``updated``, ``unchanged``, ``unmatched``,
    ``conflict``). Runs in its own transaction; order-independent and idempotent, because it
    always applies DingTalk's current state, never the event's claim.
    """
    with write_tx():
        holders = list(Official.select().where(Official.dingtalk_user_id == user_id).order_by(Official.id))
        if user is None:
            gone = [o for o in holders if o.active]
            if gone:
                (Official.update(active=False, left_org_at=now)
                 .where(Official.id.in_([o.id for o in gone])).execute())
            return "left" if gone else "unchanged"
        member = _member(user)
        mobile = member.mobile if member else ""
        if holders:
            outcome = "unchanged"
            for o in holders:
                values: dict = {}
                if not o.active and o.left_org_at is not None:
                    values.update(active=True, left_org_at=None)
                if mobile and mobile != o.mobile:
                    taken = Official.select().where((Official.mobile == mobile) & Official.active
                                                    & (Official.id != o.id)).exists()
                    if taken:
                        log.warning("dingtalk member %s changed mobile to one another official has", user_id)
                        outcome = "conflict"
                    else:
                        values["mobile"] = mobile
                if values:
                    Official.update(**values).where(Official.id == o.id).execute()
                    outcome = "updated" if outcome != "conflict" else outcome
            return outcome
        if not mobile:
            return "unmatched"
        found = [o for o in _candidates() if _mobile(o.mobile or "") == mobile]
        if len(found) != 1:
            if found:
                log.warning("dingtalk member %s matches %d officials by mobile: left to a full sync", user_id, len(found))
            return "conflict" if found else "unmatched"
        o = found[0]
        values = {"dingtalk_user_id": user_id}
        if not o.active:
            values.update(active=True, left_org_at=None)
        Official.update(**values).where(Official.id == o.id).execute()
        return "linked"


def handle_org_event(payload: dict, client: Directory, now: datetime) -> dict:
    """Run one queued DingTalk organisation event (the worker's ``system:dingtalk_org`` task).

    User events look each member up (``user/get``) and apply what DingTalk shows now, so a
    late or repeated event does no harm. ``chat_disband`` marks the group's mapping broken.
    Raises ``bridges.errors`` when DingTalk cannot answer (the worker retries).
    """
    kind = payload.get("type")
    outcomes: dict[str, str] = {}
    if kind in USER_EVENTS:
        for uid in payload.get("user_ids") or []:
            uid = str(uid)[:64]
            user = client.user(uid)  # None when they are not in the organisation (any more)
            outcomes[uid] = apply_member(uid, user, now)
    elif kind == "chat_disband":
        chat_id = str(payload.get("chat_id") or "")
        mapping = disbanded(chat_id, now) if chat_id else None
        outcomes[chat_id] = "broken" if mapping else "unknown_chat"
    else:
        log.info("dingtalk org event %s ignored", kind)
        return {}
    log.info("dingtalk org event %s: %s", kind, outcomes)
    if kind in USER_EVENTS:
        with write_tx():
            OrgSyncRun.create(started_at=now, finished_at=utcnow(), source="event", actor=str(kind)[:40],
                              dry_run=False, applied=True, summary={"event": kind, "outcomes": outcomes})
    return outcomes


