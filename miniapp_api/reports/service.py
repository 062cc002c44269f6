"""Report use-cases for residents: submit, list, show, rate, reopen.

Services take explicit arguments (the resident, validated input, ``now``, the services
container) and never touch Flask's request. Status changes go through ``lifecycle``.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime
from datetime import timedelta

from peewee import IntegrityError
from peewee import fn

from miniapp_api.reports import lifecycle
from miniapp_api.db import database
from miniapp_api.db import is_postgres
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.errors import Conflict
from miniapp_api.errors import NotFound
from miniapp_api.errors import TooManyRequests
from miniapp_api.errors import ValidationFailed
from miniapp_api.paging import decode_cursor
from miniapp_api.paging import encode_cursor
from miniapp_api.reports.lifecycle import Action
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import Channel
from miniapp_api.models import Category
from miniapp_api.models import Counter
from miniapp_api.models import IdempotencyKey
from miniapp_api.models import Report
from miniapp_api.models import ReportPhoto
from miniapp_api.models import Resident
from miniapp_api.models import Township
from miniapp_api.models import Upload
from miniapp_api.reports.moderation import checked_text
from miniapp_api.prepared import Param
from miniapp_api.prepared import Prepared
from miniapp_api.prepared import loaded
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
_TODAY_COUNT = Prepared(lambda: Report.select(fn.COUNT(Report.id))
                        .where((Report.resident == Param("resident"))
                               & (Report.created_at >= Param("since", Report.created_at))))
_CATEGORY_FIELDS = list(Category._meta.sorted_fields)
_TOWNSHIP_FIELDS = list(Township._meta.sorted_fields)
_PLACE = Prepared(lambda: Category.select(*_CATEGORY_FIELDS, *_TOWNSHIP_FIELDS)
                  .join(Township, on=(Township.code == Param("township")))
                  .where((Category.code == Param("category")) & (Category.active == True)))  # noqa: E712
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


def reserve_number(now: datetime) -> str:
    """:func:`next_number` in a transaction of its own that commits at once.

    Submissions use it on PostgreSQL. Bumping the day's counter locks its row until the
    transaction ends: inside the submission's transaction, every submission in the county
    waited for the one before to commit, its disk flush included. Here the lock lasts one
    statement, and the commit does not wait for the disk (``synchronous_commit = off``): the
    submission that uses the number commits durably afterwards, which makes the counter
    durable too, as PostgreSQL writes its log in order. A submission that fails after this
    leaves a gap in the day's numbers, never a duplicate. (On SQLite, where writers take
    turns anyway, the number is taken inside the submission's write.)

    Must not run inside another transaction: it would only be a savepoint there.
    """
    if database.in_transaction():
        raise RuntimeError("reserve_number() must run outside a transaction")
    with write_tx():
        if is_postgres():
            database.execute_sql("SET LOCAL synchronous_commit = off")
        return next_number(now)


def _check_daily_limit(resident: Resident, limit: int, now: datetime) -> None:
    local_midnight = now.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    count = _TODAY_COUNT.scalar(resident=resident.id, since=local_midnight)
    if count >= limit:
        raise TooManyRequests(f"今天已上报 {count} 条，已达每日上限，请明天再报", code="daily_limit_exceeded")


def _replay(resident: Resident, key: str, digest: str) -> Report | None:
    row = _REPLAY.one(resident=resident.id, key=key)
    if row is None:
        return None
    if row.body_hash != digest:
        raise Conflict("该 Idempotency-Key 已用于另一份不同的上报", code="idempotency_key_reused")
    return Report.get_by_id(row.report)


def _place(category_code: str, township_code: str) -> tuple[Category, Township]:
    """The active category and the unit a submission names (one query), or a 422 naming
    the field that is wrong."""
    row = _PLACE.one(category=category_code, township=township_code)
    if row is None:
        if Category.get_or_none((Category.code == category_code) & (Category.active == True)) is None:  # noqa: E712
            raise ValidationFailed("category：没有这个问题类别", field="category")
        raise ValidationFailed("township：没有这个乡镇/街道", field="township")
    n = len(_CATEGORY_FIELDS)
    return (loaded(Category, {f.name: v for f, v in zip(_CATEGORY_FIELDS, row[:n])}),
            loaded(Township, {f.name: v for f, v in zip(_TOWNSHIP_FIELDS, row[n:])}))


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
    category, township = _place(body.category, body.township)
    photo_ids = list(dict.fromkeys(body.photos))
    uploads = {u.id: u for u in Upload.select().where((Upload.id.in_(photo_ids)) & (Upload.resident == resident))} if photo_ids else {}
    if len(uploads) != len(photo_ids):
        raise ValidationFailed("photos：照片不存在或不是你上传的", field="photos")
    _check_daily_limit(resident, settings.daily_limit_per_resident, now)

    verdict = _content_verdict(svc, resident, body)
    if verdict == "risky":
        raise ApiError("内容包含不适宜发布的信息，请修改后再提交", code="content_rejected", status=422, field="description")

    report = Report(
        resident=resident, category=category, township=township, level=category.level,
        description=body.description, lat=body.location.lat, lng=body.location.lng,
        address=body.location.address, anonymous=body.anonymous, moderation=verdict,
        created_at=now, updated_at=now,
    )
    # The deadline plan only reads (policy, calendar, switch, duty posts): do it before
    # taking the write lock, which every other submission is waiting for.
    plan = lifecycle.plan_submission(report, now)
    number = reserve_number(now) if is_postgres() else None  # see reserve_number
    try:
        with write_tx():
            if idem_key:
                # Re-check inside the lock: a concurrent twin may have just committed.
                existing = _replay(resident, idem_key, digest)
                if existing:
                    return existing, photos_of(resident.id, [existing.id])[existing.id], False
            _check_daily_limit(resident, settings.daily_limit_per_resident, now)
            report.number = number or next_number(now)
            report = lifecycle.submit(report, resident_actor(resident), now, checked=verdict != "unchecked",
                                      plan=plan)
            for pos, pid in enumerate(photo_ids):
                ReportPhoto.create(report=report, upload=uploads[pid], position=pos)
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
)


def _page(*conditions):
    return (Report.select(*LIST_FIELDS).join(Category).switch(Report).join(Township)
            .where(*conditions).order_by(Report.id.desc()).limit(Param("limit")))


# "My reports" is the mini-program's most frequent call: both pages are compiled once.
_FIRST_PAGE = Prepared(lambda: _page(Report.resident == Param("resident")))
_NEXT_PAGE = Prepared(lambda: _page(Report.resident == Param("resident"), Report.id < Param("before")))

# The photos of a page: the resident's reports with ids in the page's range are the page.
_PAGE_PHOTOS = Prepared(lambda: (
    ReportPhoto.select(ReportPhoto.report.alias("report_id"), Upload.sha256, Upload.content_type)
    .join(Upload).switch(ReportPhoto).join(Report)
    .where((Report.resident == Param("resident")) & (ReportPhoto.report >= Param("lo"))
           & (ReportPhoto.report <= Param("hi")))
    .order_by(ReportPhoto.report, ReportPhoto.position)))


def list_own_reports(resident: Resident, cursor: str | None, limit: int) -> tuple[list, str | None]:
    """One page of the resident's reports, newest first, and the cursor of the next page."""
    if cursor:
        rows = _NEXT_PAGE.rows(resident=resident.id, before=decode_cursor(cursor, "r")[0], limit=limit + 1)
    else:
        rows = _FIRST_PAGE.rows(resident=resident.id, limit=limit + 1)
    next_cursor = encode_cursor("r", rows[limit - 1].id) if len(rows) > limit else None
    return rows[:limit], next_cursor


def photos_of(resident_id: int, report_ids: list[int]) -> dict[int, list]:
    """The photos (rows with ``sha256`` and ``content_type``) of some of a resident's
    reports, in order, by report id: one query for a whole page."""
    out: dict[int, list] = {rid: [] for rid in report_ids}
    if report_ids:
        for row in _PAGE_PHOTOS.rows(resident=resident_id, lo=min(report_ids), hi=max(report_ids)):
            if row.report_id in out:
                out[row.report_id].append(row)
    return out


def rate_report(resident: Resident, number: str, body: RatingIn, now: datetime) -> Report:
    """The resident rates a resolved report, which closes it; a low rating (up to the policy's
    ``redo_max_score``, 2 by default) sends it back to the same level instead (重办)."""
    report = get_own_report(resident, number)
    note = f"{body.score} 星" + (f"：{body.comment}" if body.comment else "")
    action = Action.REOPEN if lifecycle.is_redo(body.score) else Action.RATE
    return lifecycle.apply(report, action, resident_actor(resident), now, note=note,
                           changes={"rating_score": body.score, "rating_comment": body.comment})


def reopen_report(resident: Resident, number: str, body: ReopenIn, reopen_days: int, now: datetime) -> Report:
    """The resident says a resolved report is not fixed; allowed within ``reopen_days``."""
    report = get_own_report(resident, number)
    if report.status == lifecycle.Status.RESOLVED and report.resolved_at and \
            now - report.resolved_at > timedelta(days=reopen_days):
        raise lifecycle.InvalidTransition(f"办结已超过 {reopen_days} 天，不能再要求重新办理")
    return lifecycle.apply(report, Action.REOPEN, resident_actor(resident), now, note=body.reason)
