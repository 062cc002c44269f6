"""Console forms through the API's own input models: a form is turned into the JSON body the
admin API takes and checked by the same pydantic model, so the console and the API accept
and refuse the same things. Errors become a :class:`FormError`, field by field, in Chinese."""
from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from pydantic import ValidationError

from miniapp_api.console.core import admin
from miniapp_api.console.core import visible_townships
from miniapp_api.errors import ApiError
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.time import LOCAL_TZ
from miniapp_api.validation import FormError
from miniapp_api.web.api import validation_error


def checked(model: type[BaseModel], body: dict) -> BaseModel:
    """``body`` as ``model``, or a :class:`FormError` naming the (first) field at fault, as the API does."""
    try:
        return model.model_validate(body)
    except ValidationError as err:
        raise api_error_to_form(validation_error(err)) from None


def api_error_to_form(err: ApiError) -> FormError:
    """A service's refusal shown on the form (next to its field when it names one)."""
    return FormError({err.field or "_": err.message})


def local_input(text: str | None) -> str | None:
    """A ``datetime-local`` value (``2026-12-07T09:00``, Beijing time) as ISO 8601 with the
    offset, None when empty; anything else is passed on for the model to refuse."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).replace(tzinfo=LOCAL_TZ).isoformat()
    except ValueError:
        return text


def as_local_input(dt: datetime | None) -> str:
    """``dt`` as a ``datetime-local`` value in Beijing time ("" for None)."""
    return "" if dt is None else dt.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def audience_choices(*, county: bool) -> list[tuple[str, list[tuple[str, str]]]]:
    """Whom a notice (``county=True``) or a campaign may be for, among the units this
    administrator may change, grouped by unit: ``[(unit, [(value, label)])]``."""
    out: list[tuple[str, list[tuple[str, str]]]] = []
    if county and admin().role == "county_admin":
        out.append(("全县", [("county", "全县（所有单位和居民）")]))
    for t in visible_townships():
        if not admin().can_write(t.code):
            continue
        options = [(f"township:{t.code}", f"{t.name}（全单位）")]
        for c in Community.select().where(Community.township == t).order_by(Community.name):
            options.append((f"community:{c.id}", f"{t.name} · {c.name}"))
            for g in Grid.select().where(Grid.community == c).order_by(Grid.name):
                options.append((f"grid:{g.id}", f"{t.name} · {c.name} · {g.name}"))
        out.append((t.name, options))
    return out


def audience_body(value: str, field: str) -> dict:
    """A chosen ``audience_choices`` value as the API's target/scope object (rights are checked
    by the caller on the resolved place)."""
    level, _, ref = (value or "").partition(":")
    if level == "county":
        return {"level": "county"}
    if level == "township" and ref:
        return {"level": "township", "township": ref}
    if level in ("community", "grid") and ref.isdigit() and len(ref) < 10:
        return {"level": level, level: int(ref)}
    raise FormError({field: "请选择范围"})


def listing(query, model, statuses: dict, page_size: int, args) -> tuple[list, int, int]:
    """One page of ``query`` newest first, filtered by ``?status=`` (one of ``statuses``):
    ``(rows, total, page)``; a page number that is no number, or absurd, is page 1 or clamped."""
    try:
        page = max(1, min(int(args.get("page", 1)), 100_000))
    except ValueError:
        page = 1
    status = args.get("status", "")
    if status in statuses:
        query = query.where(model.status == status)
    total = query.count()
    return list(query.order_by(model.id.desc()).paginate(page, page_size)), total, page
