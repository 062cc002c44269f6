"""Notices (通知公告) in the console: the list, writing one (with up to nine pictures) with a
preview of what residents and each group will see, publishing now or at a set time, each
unit's acknowledgement with its reminder state and the read rate, and withdrawal with a reason.

The form is checked by the API's own ``NoticeIn`` and published by the same service, so the
console and ``/api/v1/admin/notices`` agree; every change is audited in its transaction.
"""
from __future__ import annotations

import re

from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from bridges.dingtalk import render_community
from miniapp_api import audit
from miniapp_api.console.core import Routes
from miniapp_api.console.core import admin
from miniapp_api.console.core import get_settings
from miniapp_api.console.core import township_scope
from miniapp_api.console.core import who
from miniapp_api.console.forms import api_error_to_form
from miniapp_api.console.forms import audience_body
from miniapp_api.console.forms import audience_choices
from miniapp_api.console.forms import checked
from miniapp_api.console.forms import listing
from miniapp_api.console.forms import local_input
from miniapp_api.db import write_tx
from miniapp_api.errors import ApiError
from miniapp_api.errors import NotFound
from miniapp_api.models import Township
from miniapp_api.models import utcnow
from miniapp_api.models import Upload
from miniapp_api.models.community import Notice
from miniapp_api.notices import service as notices
from miniapp_api.notices.schemas import NoticeIn
from miniapp_api.notices.serialize import notice_out
from miniapp_api.reports.uploads import photo_out
from miniapp_api.reports.uploads import save_upload
from miniapp_api.community.links import target_label
from miniapp_api.community.links import signed_notice_url
from miniapp_api.community.serialize import prime
from miniapp_api.time import local
from miniapp_api.validation import FormError
from miniapp_api.web import collaborators

routes = Routes()

PAGE_SIZE = 30
STATUS = {"scheduled": "定时发布", "published": "已发布", "withdrawn": "已撤回"}
#: Pictures a notice may carry (as the API's ``NoticeIn.images``).
MAX_IMAGES = 9
_UPLOAD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
DELIVERY = {"pending": "待发送", "sending": "发送中", "sent": "已送达", "dead": "发送失败", "skipped": "未发送", None: "—"}


def _visible():
    """The notices this administrator may see: a unit's own and the county-wide ones."""
    scope = township_scope()
    if scope is None:
        return Notice.select()
    own = Township.get_or_none(Township.code == scope)
    return Notice.select().where((Notice.level == "county") | (Notice.township == (own.id if own else -1)))


def _get(number: str) -> Notice:
    notice = _visible().where(Notice.number == number[:32]).first()
    if notice is None:
        raise NotFound("找不到该通知", code="notice_not_found")
    return notice


def _unit_of(notice: Notice) -> str | None:
    return notice.township.code if notice.township_id else None


def _can_change(notice: Notice) -> bool:
    p = admin()
    return p.role == "county_admin" if notice.level == "county" else p.can_write(_unit_of(notice))


def _checked_form(form) -> NoticeIn:
    body = {"title": form.get("title", ""), "body_html": form.get("body_html", ""),
            "target": audience_body(form.get("target", ""), "target"), "pinned": form.get("pinned") == "1",
            "ack_required": form.get("ack_required") == "1",
            "expires_at": local_input(form.get("expires_at")), "publish_at": local_input(form.get("publish_at"))}
    if (form.get("ack_hours") or "").strip():
        body["ack_hours"] = form["ack_hours"].strip()
    return checked(NoticeIn, body)


def _images(form, files=None) -> list[str]:
    """The notice's pictures: those kept from an earlier preview (checkboxes ``image``), then
    the files chosen now (``images``), each checked, re-encoded without its EXIF data and
    stored as residents' photos are. The live preview passes no ``files``: it shows the kept
    pictures only, and never stores a file on every keystroke."""
    kept = form.getlist("image")
    if not all(_UPLOAD_ID.fullmatch(i) for i in kept):
        raise FormError({"images": "图片参数不正确，请重新选择图片"})
    kept = list(dict.fromkeys(kept))
    chosen = [f for f in files.getlist("images") if f and f.filename] if files is not None else []
    if len(kept) + len(chosen) > MAX_IMAGES:
        raise FormError({"images": f"最多 {MAX_IMAGES} 张图片（已选 {len(kept) + len(chosen)} 张）"})
    if kept and Upload.select().where(Upload.id.in_(kept)).count() != len(kept):
        raise FormError({"images": "图片已不存在，请重新选择"})
    svc = collaborators.current()
    ids = list(kept)
    for file in chosen:
        try:
            ids.append(save_upload(svc.storage, svc.settings.uploads, None, file.stream).id)
        except ApiError as err:
            raise FormError({"images": f"图片「{file.filename[:40]}」无法使用：{err.message}"}) from None
    return ids


def _draft(form, image_ids: list[str]) -> tuple[NoticeIn, notices.Target, Notice, list[Township]]:
    """Check the form, the target and the rights; build the notice as it would be published."""
    body = _checked_form(form)
    t = body.target
    try:
        target = notices.resolve_target(t.level, t.township, t.community, t.grid)
        if target.level == "county":
            admin().require(write=True, county=True)
        else:
            admin().require(write=True, township=target.township_code)
        notice, units = notices.draft(
            get_settings(), title=body.title, body_html=body.body_html, image_ids=image_ids, target=target,
            pinned=body.pinned, expires_at=body.expires_at, ack_hours=body.ack_hours,
            publisher_kind=_publisher_kind(), publisher_name=admin().name, now=utcnow(),
            publish_at=body.publish_at, ack_required=body.ack_required)
    except ApiError as err:
        if err.status == 403:
            raise
        raise api_error_to_form(err) from None
    return body, target, notice, units


def _publisher_kind() -> str:
    return "official" if admin().role == "unit_admin" else "admin"


def preview(notice: Notice, units: list[Township]) -> dict:
    """What residents and each group will see of ``notice`` (a draft or a stored one)."""
    settings = get_settings()
    card = render_community.render_notice(render_community.NoticeView(**notices.card_fields(notice, settings)))
    return {"notice": notice, "summary": notice_out(notice)["summary"] if notice.body_text else "",
            "card_title": card["markdown"]["title"], "card_text": card["markdown"]["text"],
            "units": units, "asks_ack": notices.acks_required(notice), "images": _image_urls(notice),
            "audience": notices.audience(notice).count(),
            "target": target_label(notice.level, notice.township, notice.community, notice.grid)}


def _image_urls(notice: Notice) -> list[dict]:
    """``{"id", "url", "thumbnail_url"}`` of a notice's pictures, in order."""
    ids = list(notice.images or [])
    uploads = {u.id: u for u in Upload.select().where(Upload.id.in_(ids))} if ids else {}
    base = get_settings().server.public_base_url
    return [{"id": i, **photo_out(uploads[i], base)} for i in ids if i in uploads]


def _form_page(form=None, errors=None, shown=None, status=200, images=()):
    admin().require(write=True, township=township_scope()) if township_scope() else None
    base = get_settings().server.public_base_url
    kept = {u.id: u for u in Upload.select().where(Upload.id.in_(list(images)))} if images else {}
    return render_template("console/notice_new.html", form=form or {"ack_required": "1"}, errors=errors or {},
                           targets=audience_choices(county=True), preview=shown, max_images=MAX_IMAGES,
                           images=[{"id": i, **photo_out(kept[i], base)} for i in images if i in kept],
                           default_ack_hours=get_settings().notices.ack_hours), status


@routes.get("/notices")
def notices_list():
    """GET the notices this administrator may see, newest first."""
    rows, total, page = listing(_visible(), Notice, STATUS, PAGE_SIZE, request.args)
    prime(rows)
    stats = {n.id: notices.stats(n) for n in rows}
    return render_template("console/notices.html", rows=rows, stats=stats, total=total, page=page,
                           page_size=PAGE_SIZE, args=request.args, STATUS=STATUS,
                           can_publish=admin().role != "auditor", label=target_label)


@routes.get("/notices/new")
def notice_new():
    """GET the form to write a notice."""
    if admin().role == "auditor":
        admin().require(write=True)
    return _form_page()


@routes.post("/notices/new")
def notice_publish():
    """POST the notice form: preview it (``action=preview``), or publish / schedule it."""
    if admin().role == "auditor":
        admin().require(write=True)
    form = request.form
    kept = [i for i in form.getlist("image") if _UPLOAD_ID.fullmatch(i)]
    try:
        # Pictures first: once stored, a form sent back with an error keeps them.
        image_ids = kept = _images(form, request.files)
        body, target, draft, units = _draft(form, image_ids)
    except FormError as err:
        return _form_page(form, err.errors, status=422, images=kept)
    if form.get("action") == "preview":
        return _form_page(form, shown=preview(draft, units), images=image_ids)
    now = utcnow()
    try:
        with write_tx():  # the notice and its audit entry commit together
            notice = notices.publish(
                get_settings(), title=body.title, body_html=body.body_html, image_ids=image_ids, target=target,
                pinned=body.pinned, expires_at=body.expires_at, ack_hours=body.ack_hours,
                publisher_kind=_publisher_kind(), publisher_name=admin().name, now=now,
                publish_at=body.publish_at, ack_required=body.ack_required)
            audit.record(who(), "notice.schedule" if notice.status == "scheduled" else "notice.publish",
                         target=f"notice:{notice.number}", township=_unit_of(notice),
                         after={"title": notice.title, "level": notice.level, "status": notice.status,
                                "ack_required": notices.acks_required(notice)}, now=now)
    except ApiError as err:
        return _form_page(form, api_error_to_form(err).errors, status=422, images=image_ids)
    if notice.status == "scheduled":
        flash(f"通知 {notice.number} 已定时，将于 {local(notice.published_at)} 发布", "ok")
    else:
        flash(f"通知 {notice.number} 已发布，正在推送到 {len(units)} 个单位的钉钉群", "ok")
    return redirect(url_for("console.notice_detail", number=notice.number))


@routes.post("/notices/preview")
def notice_preview():
    """POST the form (live preview, from console.js): the preview fragment, or the errors."""
    if admin().role == "auditor":
        admin().require(write=True)
    try:
        _, _, draft, units = _draft(request.form, _images(request.form))
    except FormError as err:
        return render_template("console/_notice_preview.html", preview=None, errors=err.errors), 422
    return render_template("console/_notice_preview.html", preview=preview(draft, units), errors={})


def _detail_page(notice: Notice, errors=None, status=200):
    units = [Township.get_by_id(u.township_id) for u in notice.units]
    return render_template("console/notice.html", n=notice, stats=notices.stats(notice), STATUS=STATUS,
                           DELIVERY=DELIVERY, shown=preview(notice, units), can_change=_can_change(notice),
                           page_url=signed_notice_url(get_settings(), notice.number), errors=errors or {}), status


@routes.get("/notices/<number>")
def notice_detail(number: str):
    """GET one notice: what was sent, each unit's acknowledgement and reminders, the read rate."""
    return _detail_page(_get(number))


@routes.post("/notices/<number>/withdraw")
def notice_withdraw(number: str):
    """POST: withdraw a notice, with a reason (the groups are told; nobody is asked for 收到 any more)."""
    notice = _get(number)
    if notice.level == "county":
        admin().require(write=True, county=True)
    else:
        admin().require(write=True, township=_unit_of(notice))
    reason = (request.form.get("reason") or "").strip()
    if not reason or len(reason) > 200 or "\x00" in reason:
        return _detail_page(notice, {"reason": "请填写撤回理由（200 字以内），各群和居民都会看到"}, 422)
    now = utcnow()
    with write_tx():
        before = notice.status
        notice = notices.withdraw(notice, by=admin().name, reason=reason, now=now)
        audit.record(who(), "notice.withdraw", target=f"notice:{notice.number}", township=_unit_of(notice),
                     before={"status": before}, after={"status": notice.status, "reason": reason}, now=now)
    flash(f"通知 {notice.number} 已撤回", "ok")
    return redirect(url_for("console.notice_detail", number=notice.number))
