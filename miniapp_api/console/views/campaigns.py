"""Volunteer campaigns (战地有我) in the console: the list, creating and changing one (time,
place and check-in radius, capacity, a linked report), the printable check-in poster, the
sign-ups with the waitlist and check-ins, marking no-shows, completing with hours,
cancelling, and CSV exports of the sign-ups and the hours ledger.

Forms are checked by the API's own ``CampaignIn`` / ``CampaignPatchIn`` and carried out by the
same services (``campaigns.service``), so the console and ``/api/v1/admin/campaigns`` refuse
the same things; every change is audited in its transaction.
"""
from __future__ import annotations

from flask import Response
from flask import flash
from flask import redirect
from flask import render_template
from flask import request
from flask import url_for

from miniapp_api import audit
from miniapp_api.campaigns import checkin as codes
from miniapp_api.campaigns import export
from miniapp_api.campaigns import service as campaigns
from miniapp_api.campaigns.schemas import CampaignIn
from miniapp_api.campaigns.schemas import CampaignPatchIn
from miniapp_api.community.common import mask_phone
from miniapp_api.community.common import time_range
from miniapp_api.community.links import signed_checkin_url
from miniapp_api.community.links import target_label
from miniapp_api.community.serialize import prime
from miniapp_api.console.core import Routes
from miniapp_api.console.core import admin
from miniapp_api.console.core import get_settings
from miniapp_api.console.core import township_scope
from miniapp_api.console.core import who
from miniapp_api.console.forms import api_error_to_form
from miniapp_api.console.forms import as_local_input
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
from miniapp_api.models.community import Campaign
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import Channel
from miniapp_api.validation import FormError

routes = Routes()

PAGE_SIZE = 30
STATUS = {"published": "进行中", "completed": "已结束", "cancelled": "已取消"}


def _visible():
    scope = township_scope()
    if scope is None:
        return Campaign.select()
    own = Township.get_or_none(Township.code == scope)
    return Campaign.select().where(Campaign.township == (own.id if own else -1))


def _get(number: str) -> Campaign:
    campaign = _visible().where(Campaign.number == number[:32]).first()
    if campaign is None:
        raise NotFound("找不到该志愿活动", code="campaign_not_found")
    return campaign


def _require_write(campaign: Campaign) -> None:
    admin().require(write=True, township=campaign.township.code)


def _actor() -> Actor:
    p = admin()
    return Actor("admin", p.name, Channel.CONSOLE, str(p.user_id or ""))


def _number(text: str) -> float | str | None:
    """A typed number (the model refuses what is not one); None when empty."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        return text


def _body(form, *, creating: bool) -> dict:
    """The API's JSON body from the campaign form (only the fields that were filled in)."""
    body: dict = {"title": form.get("title", "").strip() or None, "description": form.get("description", ""),
                  "starts_at": local_input(form.get("starts_at")), "ends_at": local_input(form.get("ends_at")),
                  "radius_m": _number(form.get("radius_m")), "capacity": _number(form.get("capacity")),
                  "hours": _number(form.get("hours")),
                  "skills": [s.strip() for s in (form.get("skills") or "").replace("，", ",").split(",") if s.strip()]}
    lat, lng = _number(form.get("lat")), _number(form.get("lng"))
    if lat is not None or lng is not None:
        body["place"] = {"name": form.get("place_name", ""), "lat": lat, "lng": lng}
    if creating:
        if form.get("scope"):
            body["scope"] = audience_body(form["scope"], "scope")
        body["report"] = form.get("report", "").strip() or None
    for key in ("radius_m", "capacity"):
        if isinstance(body[key], float) and body[key].is_integer():
            body[key] = int(body[key])
    return {k: v for k, v in body.items() if v is not None}


def _form_page(campaign: Campaign | None, form, errors=None, status=200):
    return render_template("console/campaign_form.html", c=campaign, form=form, errors=errors or {},
                           scopes=audience_choices(county=False),
                           defaults=get_settings().campaigns), status


def _form_of(c: Campaign) -> dict:
    return {"title": c.title, "description": c.description, "place_name": c.place_name,
            "lat": "" if c.lat is None else f"{c.lat:.6f}", "lng": "" if c.lng is None else f"{c.lng:.6f}",
            "radius_m": str(c.radius_m), "starts_at": as_local_input(c.starts_at), "ends_at": as_local_input(c.ends_at),
            "capacity": str(c.capacity), "hours": f"{c.hours:g}", "skills": ", ".join(c.skills or [])}


@routes.get("/campaigns")
def campaigns_list():
    """GET the campaigns this administrator may see, newest first."""
    rows, total, page = listing(_visible(), Campaign, STATUS, PAGE_SIZE, request.args)
    prime(rows)
    waiting = campaigns.waitlisted_counts([c.id for c in rows])
    return render_template("console/campaigns.html", rows=rows, waiting=waiting, total=total, page=page,
                           page_size=PAGE_SIZE, args=request.args, STATUS=STATUS, when=time_range,
                           label=target_label, can_create=admin().role != "auditor")


@routes.get("/campaigns/new")
def campaign_new():
    """GET the form to create a campaign (``?report=`` links a report)."""
    if admin().role == "auditor":
        admin().require(write=True)
    return _form_page(None, {"report": request.args.get("report", "")[:32]})[0]


@routes.post("/campaigns/new")
def campaign_create():
    """POST the form: create the campaign (the unit's group gets its card)."""
    if admin().role == "auditor":
        admin().require(write=True)
    form = request.form
    now = utcnow()
    try:
        body = checked(CampaignIn, _body(form, creating=True))
        planned = campaigns.plan(get_settings(), body, now)
        admin().require(write=True, township=planned["scope"][1].code)
        if planned["report"] is not None:
            admin().require(write=True, township=planned["report"].township.code)
        with write_tx():
            c = campaigns.create(get_settings(), **planned, actor=_actor(), now=now,
                                 publisher_kind="official" if admin().role == "unit_admin" else "admin",
                                 publisher_name=admin().name)
            audit.record(who(), "campaign.create", target=f"campaign:{c.number}", township=c.township.code,
                         after={"title": c.title, "starts_at": c.starts_at.isoformat(), "capacity": c.capacity,
                                "report": planned["report"].number if planned["report"] else None}, now=now)
    except FormError as err:
        return _form_page(None, form, err.errors, 422)
    except campaigns.CampaignRefused as err:
        return _form_page(None, form, {"report": str(err)}, 409)
    except ApiError as err:
        if err.status == 403:
            raise
        return _form_page(None, form, api_error_to_form(err).errors, err.status)
    flash(f"志愿活动 {c.number} 已发起，本单位钉钉群会收到活动卡片", "ok")
    return redirect(url_for("console.campaign_detail", number=c.number))


def _detail_page(c: Campaign, errors=None, status=200):
    c = prime([Campaign.get_by_id(c.id)])[0]
    rows = export.roster(c)
    now = utcnow()
    return render_template("console/campaign.html", c=c, rows=rows, STATUS=STATUS, LABELS=export.SIGNUP_LABELS,
                           mask=mask_phone, when=time_range(c.starts_at, c.ends_at), now=now,
                           started=now >= c.starts_at, can_change=admin().can_write(c.township.code),
                           scope=target_label(c.level, c.township, c.community, c.grid),
                           present=sum(1 for s in rows if s.checked_in_at), errors=errors or {},
                           waiting=sum(1 for s in rows if s.status == "waitlisted")), status


@routes.get("/campaigns/<number>")
def campaign_detail(number: str):
    """GET one campaign: its facts, sign-ups, waitlist and check-ins, and what can be done."""
    return _detail_page(_get(number))


@routes.get("/campaigns/<number>/edit")
def campaign_edit(number: str):
    """GET the form to change a campaign."""
    c = _get(number)
    _require_write(c)
    return _form_page(c, _form_of(c))[0]


@routes.post("/campaigns/<number>/edit")
def campaign_update(number: str):
    """POST changes of time, place, radius, capacity, …: a larger capacity promotes the waitlist;
    a new time without new hours recalculates them."""
    c = _get(number)
    _require_write(c)
    form = request.form
    now = utcnow()
    body = _body(form, creating=False)
    if (form.get("hours") or "").strip() == f"{c.hours:g}":
        body.pop("hours", None)  # unchanged: hours follow the (new) time
    try:
        changes = campaigns.changes_of(checked(CampaignPatchIn, body))
        with write_tx():
            before = {k: str(getattr(c, k)) for k in changes if hasattr(c, k)}
            new = campaigns.update(c, changes, now)
            audit.record(who(), "campaign.update", target=f"campaign:{c.number}", township=c.township.code,
                         before=before, after={k: str(getattr(new, k)) for k in changes if hasattr(new, k)}, now=now)
    except FormError as err:
        return _form_page(c, form, err.errors, 422)
    except ApiError as err:
        if err.status == 403:
            raise
        return _form_page(c, form, api_error_to_form(err).errors, err.status)
    flash(f"已保存，本单位钉钉群会收到「活动信息已更新」（记入时长 {new.hours:g} 小时）", "ok")
    return redirect(url_for("console.campaign_detail", number=c.number))


@routes.post("/campaigns/<number>/no-show")
def campaign_no_show(number: str):
    """POST: mark the chosen volunteers (who have not checked in) as absent, or undo it."""
    c = _get(number)
    _require_write(c)
    ids = [int(x) for x in request.form.getlist("signup") if x.isdigit() and len(x) < 10]
    absent = request.form.get("absent") != "0"
    if not ids:
        return _detail_page(c, {"signup": "请先勾选志愿者"}, 422)
    now = utcnow()
    try:
        with write_tx():
            changed = campaigns.mark_no_show(c, ids, absent, now)
            audit.record(who(), "campaign.no_show", target=f"campaign:{c.number}", township=c.township.code,
                         after={"signups": ids, "absent": absent, "changed": changed}, now=now)
    except ApiError as err:
        return _detail_page(c, {"signup": err.message}, err.status)
    flash(f"已{'标记' if absent else '取消'} {changed} 人未到", "ok")
    return redirect(url_for("console.campaign_detail", number=c.number))


def _close(c: Campaign, action: str, close, note: dict):
    """Complete or cancel ``c`` with ``close(now)`` and audit it in the same transaction; a refusal
    is shown on the campaign's page."""
    now = utcnow()
    try:
        with write_tx():
            done = close(now)
            audit.record(who(), f"campaign.{action}", target=f"campaign:{c.number}", township=c.township.code,
                         before={"status": c.status}, after={"status": done.status, **note}, now=now)
    except ApiError as err:
        return None, _detail_page(c, {"_": err.message}, err.status)
    return done, None


@routes.post("/campaigns/<number>/complete")
def campaign_complete(number: str):
    """POST: complete the campaign (hours for those who checked in; a linked report is resolved)."""
    c = _get(number)
    _require_write(c)
    done, refused = _close(c, "complete", lambda now: campaigns.complete(c, _actor(), now), {"hours": c.hours})
    if refused:
        return refused
    flash(f"志愿活动 {c.number} 已结束，已签到的志愿者各记 {done.hours:g} 小时", "ok")
    return redirect(url_for("console.campaign_detail", number=c.number))


@routes.post("/campaigns/<number>/cancel")
def campaign_cancel(number: str):
    """POST: cancel the campaign with a reason (the group and the signed-up residents are told)."""
    c = _get(number)
    _require_write(c)
    reason = (request.form.get("reason") or "").strip()
    if not reason or len(reason) > 200 or "\x00" in reason:
        return _detail_page(c, {"reason": "请填写取消原因（200 字以内），报名的居民会看到"}, 422)
    _, refused = _close(c, "cancel", lambda now: campaigns.cancel(c, _actor(), reason, now), {"reason": reason})
    if refused:
        return refused
    flash(f"志愿活动 {c.number} 已取消", "ok")
    return redirect(url_for("console.campaign_detail", number=c.number))


@routes.get("/campaigns/<number>/poster")
def campaign_poster(number: str):
    """GET the printable check-in poster: a QR valid for the whole check-in window."""
    c = _get(number)
    _require_write(c)
    settings = get_settings()
    text = codes.qr_text(c.number, codes.print_code(settings.server.secret_key, c.number, c.starts_at))
    return render_template("console/campaign_poster.html", c=c, qr=codes.qr_svg(text, scale=10),
                           when=time_range(c.starts_at, c.ends_at), live_url=signed_checkin_url(settings, c.number),
                           early=settings.campaigns.checkin_early_minutes)


def _csv(c: Campaign | None, kind: str, text: str, filename: str) -> Response:
    now = utcnow()
    with write_tx():
        audit.record(who(), "campaign.export", target=f"campaign:{c.number}" if c else "campaign:*",
                     township=c.township.code if c else township_scope(), after={"export": kind}, now=now)
    return Response(text, mimetype="text/csv", headers={"Content-Disposition": f"attachment; filename={filename}"})


@routes.get("/campaigns/<number>/signups.csv")
def campaign_signups_csv(number: str):
    """GET a campaign's sign-ups as CSV (phones masked; cells never run as formulas)."""
    c = _get(number)
    return _csv(c, "signups", export.signups_csv(c), f"{c.number}-signups.csv")


@routes.get("/campaigns/hours.csv")
def campaigns_hours_csv():
    """GET the volunteer hours ledger of the units this administrator may see, as CSV."""
    number = request.args.get("campaign", "")
    c = _get(number) if number else None
    text = export.hours_csv(township_scope(), c)
    return _csv(c, "hours", text, f"{c.number}-hours.csv" if c else "volunteer-hours.csv")
