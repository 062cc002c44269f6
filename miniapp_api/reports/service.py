"""Report use-cases for residents: submit, list, show, rate, reopen.

Services take explicit arguments (the resident, validated input, ``now``, the services
container) and never touch Flask's request. Status changes go through ``lifecycle``.
"""
from __future__ import annotations

import hashlib
import json
import logging
import threading
from datetime import datetime
from datetime import timedelta

from peewee import SQL
from peewee import IntegrityError
from peewee import JOIN
from peewee import fn

from miniapp_api import catalogue
from miniapp_api.reports import lifecycle
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.errors import Conflict
from miniapp_api.errors import NotFound
from miniapp_api.errors import ServiceUnavailable
from miniapp_api.errors import TooManyRequests
from miniapp_api.errors import ValidationFailed
from miniapp_api.paging import decode_cursor
from miniapp_api.paging import encode_cursor
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import Channel
from miniapp_api.models import Category
from miniapp_api.models import Community
from miniapp_api.models import Counter
from miniapp_api.models import Grid
from miniapp_api.models import IdempotencyKey
from miniapp_api.models import Report
from miniapp_api.models import ReportPhoto
from miniapp_api.models import ReportSupport
from miniapp_api.models import Resident
from miniapp_api.models import Township
from miniapp_api.models import Upload
from miniapp_api.reports.moderation import checked_text
from miniapp_api.reports import photo_checks
from miniapp_api.reports.uploads import shown
from miniapp_api.org import routing
from miniapp_api.prepared import Param
from miniapp_api.prepared import Prepared
from miniapp_api.time import LOCAL_TZ
from miniapp_api.reports.schemas import RatingIn
from miniapp_api.reports.schemas import ReopenIn
from miniapp_api.reports.schemas import ReportIn

log = logging.getLogger(__name__)


def resident_actor(resident: Resident) -> Actor:
    """Residents appear in timelines as 居民, never by openid or phone."""
    return Actor("resident", "居民", Channel.WECHAT, str(resident.id))


def body_hash(body: ReportIn) -> str:
    """A hash of a submission's content, to tell an idempotent replay from a different body."""
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# The submission path's queries, compiled once (see ``prepared``): submitting is the
# mini-program's busiest write.
_NEXT_SEQ = Prepared(lambda: Counter.insert(name=Param("name"), value=1)
                     .on_conflict(conflict_target=[Counter.name], update={Counter.value: Counter.value + 1})
                     .returning(Counter.value))


def _today(*also):
    """The resident's reports since ``since``, counted up to ``limit`` (the daily limit), with
    ``also`` selected beside the count. A resident at the limit is refused however many more
    there are, so the count never reads more than ``limit`` index entries."""
    up_to_limit = (Report.select(Report.id)
                   .where((Report.resident == Param("resident"))
                          & (Report.created_at >= Param("since", Report.created_at)))
                   .limit(Param("limit")))
    return Report.select(fn.COUNT(SQL("1")), *also).from_(up_to_limit.alias("today"))


_TODAY_COUNT = Prepared(lambda: _today())
# The first count also reads the catalogue's version (see ``catalogue``): one statement.
_TODAY_COUNT_AND_VERSION = Prepared(lambda: _today(catalogue.version_query()))
_BLOCK = Prepared(lambda: Counter.insert(name=Param("name"), value=Param("size"))
                  .on_conflict(conflict_target=[Counter.name], update={Counter.value: Counter.value + Param("size")})
                  .returning(Counter.value))
_REPLAY = Prepared(lambda: IdempotencyKey.select(IdempotencyKey.body_hash, IdempotencyKey.report)
                   .where((IdempotencyKey.resident == Param("resident")) & (IdempotencyKey.key == Param("key"))))


def next_number(now: datetime) -> str:
    """A tracking number like ``R261127-0042``: date (local) and a daily sequence.

    At most 32 characters of ``[0-9A-Za-z-]`` so it fits WeChat's ``character_string``.
    Must run inside the write transaction that inserts the report.
    """
    day = now.astimezone(LOCAL_TZ).strftime("%y%m%d")
    seq = _NEXT_SEQ.scalar(name=f"report:{day}")
    return f"R{day}-{seq:04d}"


#: How many tracking numbers a process takes from the day's counter at a time.
NUMBER_BLOCK = 20


class _NumberBlock:
    """The numbers this process has reserved and not yet handed out: ``[next, end]`` of one day."""

    def __init__(self):
        self.lock = threading.Lock()
        self.db = None
        self.day = ""
        self.next = 1
        self.end = 0


_block = _NumberBlock()


def reserve_number(now: datetime) -> str:
    """A tracking number for a submission (like :func:`next_number`), from a block of
    :data:`NUMBER_BLOCK` numbers this process reserves at a time, in a transaction of its own
    that commits at once.

    Bumping the day's counter locks its row until the transaction ends: inside the
    submission's transaction, every submission in the county waited for the one before to
    commit, its disk flush included. Here one submission in :data:`NUMBER_BLOCK` bumps it, by
    a whole block, and the lock lasts one statement; on PostgreSQL the commit does not wait for
    the disk (``synchronous_commit = off``): the submission that uses a number commits
    durably afterwards, which makes the counter durable too, as PostgreSQL writes its log in
    order.

    Numbers stay unique and counted per local day, but not gapless nor in time order across
    processes: each process hands out its own block (process 1 may file ``-0003`` after
    process 2 filed ``-0021``), a process that stops loses what is left of its block, and a
    submission that fails after taking its number leaves that number unused.

    Must not run inside another transaction: it would only be a savepoint there, and a
    rollback of the caller's transaction would hand the block out twice.
    """
    if database.in_transaction():
        raise RuntimeError("reserve_number() must run outside a transaction")
    day = now.astimezone(LOCAL_TZ).strftime("%y%m%d")
    block = _block
    with block.lock:
        if block.db is not database.obj or block.day != day or block.next > block.end:
            with write_tx():
                if is_postgres():
                    database.execute_sql("SET LOCAL synchronous_commit = off")
                end = _BLOCK.scalar(name=f"report:{day}", size=NUMBER_BLOCK)
            block.db, block.day, block.next, block.end = database.obj, day, end - NUMBER_BLOCK + 1, end
        seq = block.next
        block.next += 1
    return f"R{day}-{seq:04d}"


def _midnight(now: datetime) -> datetime:
    return now.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)


def _check_count(count: int, limit: int) -> None:
    if count >= limit:
        # ``count`` stops at the limit (see ``_today``): name the limit, not a count.
        raise TooManyRequests(f"今天已上报 {limit} 条，已达每日上限，请明天再报", code="daily_limit_exceeded")


def _check_daily_limit(resident: Resident, limit: int, now: datetime) -> None:
    _check_count(_TODAY_COUNT.scalar(resident=resident.id, since=_midnight(now), limit=limit), limit)


def _count_today(resident: Resident, now: datetime, limit: int) -> tuple[int, catalogue.Snapshot]:
    """The resident's reports since local midnight (up to ``limit``), and the catalogue as of
    now (one query)."""
    count, version = _TODAY_COUNT_AND_VERSION.one(resident=resident.id, since=_midnight(now), limit=limit)
    return count, catalogue.at(version)


def _replay(resident: Resident, key: str, digest: str) -> Report | None:
    row = _REPLAY.one(resident=resident.id, key=key)
    if row is None:
        return None
    if row.body_hash != digest:
        raise Conflict("该 Idempotency-Key 已用于另一份不同的上报", code="idempotency_key_reused")
    return Report.get_by_id(row.report)


def _places() -> tuple[dict[str, Category], dict[str, Township], dict[int, Township]]:
    """The active categories by code, and the townships by code and by id."""
    categories = {c.code: c for c in Category.select().where(Category.active == True)}  # noqa: E712
    townships = list(Township.select())
    return categories, {t.code: t for t in townships}, {t.id: t for t in townships}


def _place(snapshot: catalogue.Snapshot, category_code: str, township_code: str) -> tuple[Category, Township]:
    """The active category and the unit a submission names (from the catalogue cache), or a
    422 naming the field that is wrong. The instances are shared: read them, never change them."""
    categories, townships, _ = snapshot.get("reports.places", _places)
    category = categories.get(category_code)
    if category is None:
        raise ValidationFailed("category：没有这个问题类别", field="category")
    township = townships.get(township_code)
    if township is None:
        raise ValidationFailed("township：没有这个乡镇/街道", field="township")
    return category, township


#: What the WeChat client raises when it cannot answer (registered by composition with
#: :func:`defer_content_check_on`): the submission is then stored ``unchecked``.
_UNAVAILABLE: list[type[Exception]] = []


def defer_content_check_on(*errors: type[Exception]) -> None:
    """Register the client errors on which a submission's content check is left to the worker."""
    _UNAVAILABLE[:] = list(errors)


def _content_verdict(svc, resident: Resident, body: ReportIn) -> str:
    """Ask WeChat msgSecCheck v2; ``unchecked`` when it cannot answer in time."""
    try:
        verdict = svc.wechat.msg_sec_check(openid=resident.openid,
                                           content=checked_text(body.description, body.location.address), scene=3,
                                           timeout=svc.settings.wechat.content_check_timeout_seconds)
    except tuple(_UNAVAILABLE) as err:
        # Nothing a resident writes is lost: store it, and the worker checks it later.
        log.warning("content check deferred: %s", type(err).__name__)
        return "unchecked"
    return verdict.suggest


def route_report(svc, resident: Resident, township: Township, body: ReportIn) -> routing.Route:
    """The routing step of a submission: which grid (and, by its location, which township) the
    report goes to, and by which rule (``miniapp_api.org.routing``; reads only)."""
    return routing.route(body.location.lat, body.location.lng, township=township,
                         home_grid_id=resident.home_grid_id,
                         max_metres=svc.settings.routing.nearest_grid_max_metres)


def create_report(svc, resident: Resident, body: ReportIn, idem_key: str | None,
                  now: datetime) -> tuple[Report, list, bool]:
    """Submit a report; returns ``(report, photos, created)``: its photos' uploads in order,
    and whether it is new (False on an idempotent replay)."""
    settings = svc.settings.reports
    digest = body_hash(body) if idem_key else ""
    if idem_key:
        existing = _replay(resident, idem_key, digest)
        if existing:
            return existing, photos_of(resident.id, [existing.id])[existing.id], False
    if len(body.description) > settings.description_max_chars:
        raise ValidationFailed(f"description：问题描述不能超过 {settings.description_max_chars} 字", field="description")
    if len(body.photos) > settings.max_photos:
        raise ValidationFailed(f"photos：最多上传 {settings.max_photos} 张照片", field="photos")
    count, snapshot = _count_today(resident, now, settings.daily_limit_per_resident)
    category, township = _place(snapshot, body.category, body.township)
    photo_ids = list(dict.fromkeys(body.photos))
    uploads = {u.id: u for u in Upload.select().where((Upload.id.in_(photo_ids)) & (Upload.resident == resident))} if photo_ids else {}
    if len(uploads) != len(photo_ids):
        raise ValidationFailed("photos：照片不存在或不是你上传的", field="photos")
    _check_count(count, settings.daily_limit_per_resident)

    verdict = _content_verdict(svc, resident, body)
    if verdict == "risky":
        raise ApiError("内容包含不适宜发布的信息，请修改后再提交", code="content_rejected", status=422, field="description")

    with catalogue.using(snapshot):  # routing's grid index is in the same cached catalogue
        routed = route_report(svc, resident, township, body)
    if routed.moved:  # the location lies in another township's grid: the location wins
        moved_to = snapshot.get("reports.places", _places)[2].get(routed.township.id)
        township = moved_to or Township.get_by_id(routed.township.id)
    report = Report(
        resident=resident, category=category, township=township, level=category.level,
        grid=routed.grid.id if routed.grid else None,
        description=body.description, lat=body.location.lat, lng=body.location.lng,
        address=body.location.address, anonymous=body.anonymous, moderation=verdict,
        created_at=now, updated_at=now,
    )
    # The deadline plan only reads (policy, calendar, switch, duty posts): do it before
    # taking the write lock, which every other submission is waiting for.
    with catalogue.using(snapshot):  # the planner reads the same cached catalogue
        plan = lifecycle.plan_submission(report, now)
    number = reserve_number(now)
    try:
        with write_tx():
            if idem_key:
                # Re-check inside the lock: a concurrent twin may have just committed.
                existing = _replay(resident, idem_key, digest)
                if existing:
                    return existing, photos_of(resident.id, [existing.id])[existing.id], False
            _check_daily_limit(resident, settings.daily_limit_per_resident, now)
            report.number = number
            report = lifecycle.submit(report, resident_actor(resident), now, checked=verdict != "unchecked",
                                      plan=plan, note=routed.note())
            for pos, pid in enumerate(photo_ids):
                ReportPhoto.create(report=report, upload=uploads[pid], position=pos)
            photo_checks.ask_for_checks(report, [uploads[pid] for pid in photo_ids], now)  # WeChat's image check
            if idem_key:
                IdempotencyKey.create(resident=resident, key=idem_key, body_hash=digest, report=report, created_at=now)
    except IntegrityError:
        # Two requests with one Idempotency-Key raced past the first check (PostgreSQL).
        if idem_key:
            existing = _replay(resident, idem_key, digest)
            if existing:
                return existing, photos_of(resident.id, [existing.id])[existing.id], False
        raise
    return report, [uploads[pid] for pid in photo_ids], True


def get_own_report(resident: Resident, number: str) -> Report:
    """The resident's report by number; 404 for anyone else's, with no hint that it exists."""
    report = (Report.select(Report, Category, Township).join(Category).switch(Report).join(Township)
              .where((Report.number == number) & (Report.resident == resident)).first())
    if report is None:
        raise NotFound("找不到这条上报", code="report_not_found")
    return report


# What a list item shows: reading only these columns keeps "my reports" cheap.
LIST_FIELDS = (
    Report.id, Report.number, Report.status, Report.description, Report.lat, Report.lng, Report.address,
    Report.anonymous, Report.created_at, Report.updated_at, Report.reply, Report.rating_score,
    Report.rating_comment, Category.code.alias("category_code"), Category.name.alias("category_name"),
    Township.code.alias("township_code"), Township.name.alias("township_name"),
    Grid.name.alias("grid_name"), Community.name.alias("grid_community"),
    Report.supporters, Report.merged_into.alias("merged_into_id"),
)


def _page(*conditions):
    return (Report.select(*LIST_FIELDS).join(Category).switch(Report).join(Township)
            .switch(Report).join(Grid, JOIN.LEFT_OUTER).join(Community, JOIN.LEFT_OUTER)
            .where(*conditions).order_by(Report.id.desc()).limit(Param("limit")))


# "My reports" is the mini-program's most frequent call: both pages are compiled once.
_FIRST_PAGE = Prepared(lambda: _page(Report.resident == Param("resident")))
_NEXT_PAGE = Prepared(lambda: _page(Report.resident == Param("resident"), Report.id < Param("before")))

# The photos of a page: the resident's reports with ids in the page's range are the page.
_PAGE_PHOTOS = Prepared(lambda: (
    ReportPhoto.select(ReportPhoto.report.alias("report_id"), ReportPhoto.position, Upload.sha256,
                       Upload.content_type)
    .join(Upload).switch(ReportPhoto).join(Report)
    .where((Report.resident == Param("resident")) & (ReportPhoto.report >= Param("lo"))
           & (ReportPhoto.report <= Param("hi")) & shown())
    .order_by(ReportPhoto.report, ReportPhoto.position)))


# The reports a resident follows (我也遇到), in the same shape and order as their own. The
# query starts from the follows, newest first along their (resident, report) index, so a
# county-sized report table is never scanned for a resident's few follows.
def _followed(*conditions):
    return (Report.select(*LIST_FIELDS).join(Category).switch(Report).join(Township)
            .switch(Report).join(Grid, JOIN.LEFT_OUTER).join(Community, JOIN.LEFT_OUTER)
            .switch(Report).join(ReportSupport, on=(ReportSupport.report == Report.id))
            .where(ReportSupport.resident == Param("resident"), *conditions)
            .order_by(ReportSupport.report.desc()).limit(Param("limit")))


_FOLLOWED_FIRST = Prepared(lambda: _followed())
_FOLLOWED_NEXT = Prepared(lambda: _followed(ReportSupport.report < Param("before")))


def list_followed_reports(resident: Resident, cursor: str | None, limit: int) -> list:
    """Up to ``limit + 1`` of the reports the resident follows, newest first, from ``cursor``
    on (rows of :data:`LIST_FIELDS`, as :func:`list_own_reports` gives)."""
    if cursor:
        return _FOLLOWED_NEXT.rows(resident=resident.id, before=decode_cursor(cursor, "r")[0], limit=limit + 1)
    return _FOLLOWED_FIRST.rows(resident=resident.id, limit=limit + 1)


def list_own_reports(resident: Resident, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """One page of the resident's reports, newest first, and the cursor of the next page."""
    if cursor:
        rows = _NEXT_PAGE.rows(resident=resident.id, before=decode_cursor(cursor, "r")[0], limit=limit + 1)
    else:
        rows = _FIRST_PAGE.rows(resident=resident.id, limit=limit + 1)
    next_cursor = encode_cursor("r", rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def grid_names(report: Report) -> tuple[str, str] | None:
    """``(grid name, community name)`` of the grid a report was routed to, or None."""
    if not report.grid_id:
        return None
    return (Grid.select(Grid.name, Community.name).join(Community)
            .where(Grid.id == report.grid_id).tuples().first())


def photos_of(resident_id: int, report_ids: list[int]) -> dict[int, list]:
    """The photos (rows with ``sha256`` and ``content_type``) of some of a resident's
    reports, in order, by report id: one query for a whole page."""
    out: dict[int, list] = {rid: [] for rid in report_ids}
    if report_ids:
        for row in _PAGE_PHOTOS.rows(resident=resident_id, lo=min(report_ids), hi=max(report_ids)):
            if row.report_id in out:
                out[row.report_id].append(row)
    return out


def check_resident_text(svc, resident: Resident, text: str, field: str) -> None:
    """WeChat msgSecCheck (scene 2, comment) of a short text a resident typed (a rating comment,
    a reopen reason), before anything is stored: risky is 422 ``content_rejected``; when WeChat
    cannot answer in time, 503 ``wechat_unavailable`` (nothing stored, the resident sends again).
    Unlike a report's description, such a text is not kept to be checked later."""
    if not text.strip():
        return
    try:
        verdict = svc.wechat.msg_sec_check(openid=resident.openid, content=text[:2500], scene=2,
                                           timeout=svc.settings.wechat.content_check_timeout_seconds)
    except tuple(_UNAVAILABLE) as err:
        log.warning("content check of a %s unavailable: %s", field, type(err).__name__)
        raise ServiceUnavailable("微信内容安全检测暂时不可用，请稍后再提交", code="wechat_unavailable") from None
    if verdict.suggest == "risky":
        raise ApiError("内容包含不适宜发布的信息，请修改后再提交", code="content_rejected", status=422, field=field)


def rate_report(resident: Resident, number: str, body: RatingIn, now: datetime, svc=None) -> Report:
    """The resident rates a resolved report, which closes it; a low rating (up to the policy's
    ``redo_max_score``, 2 by default) sends it back to the same level instead (重办).
    With ``svc`` (the API always passes it) the comment is content-checked first."""
    report = get_own_report(resident, number)
    if svc is not None and body.comment:
        check_resident_text(svc, resident, body.comment, "comment")
    note = f"{body.score} 星" + (f"：{body.comment}" if body.comment else "")
    action = Action.REOPEN if lifecycle.is_redo(body.score) else Action.RATE
    return lifecycle.apply(report, action, resident_actor(resident), now, note=note,
                           changes={"rating_score": body.score, "rating_comment": body.comment})


def reopen_report(resident: Resident, number: str, body: ReopenIn, reopen_days: int, now: datetime,
                  svc=None) -> Report:
    """The resident says a resolved report is not fixed; allowed within ``reopen_days``.
    With ``svc`` (the API always passes it) the reason is content-checked first."""
    report = get_own_report(resident, number)
    if svc is not None:
        check_resident_text(svc, resident, body.reason, "reason")
    if report.status == lifecycle.Status.RESOLVED and report.resolved_at and \
            now - report.resolved_at > timedelta(days=reopen_days):
        raise lifecycle.InvalidTransition(f"办结已超过 {reopen_days} 天，不能再要求重新办理")
    return lifecycle.apply(report, Action.REOPEN, resident_actor(resident), now, note=body.reason)
