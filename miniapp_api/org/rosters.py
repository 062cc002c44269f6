"""The roster (communities, grids, officials) and the categories, as the console edits them.

Imports and exports go through :mod:`miniapp_api.org.roster_import`, the same code as
``tongxin import-org``: all or nothing, errors per line, idempotent. A unit administrator may
import only rows of their own unit (checked on the parsed rows, inside the import) and exports only
their own unit's rows.
"""
from __future__ import annotations

import re
from datetime import datetime

from miniapp_api.db import write_tx
from miniapp_api.models import Category
from miniapp_api.models import Official
from miniapp_api.org.roster_import import ImportFailed
from miniapp_api.org.roster_import import ImportResult
from miniapp_api.org.roster_import import RowError
from miniapp_api.org.roster_import import export_org
from miniapp_api.org.roster_import import import_org
from miniapp_api import audit
from miniapp_api.audit import Who
from miniapp_api.validation import FormError
from miniapp_api.org.levels import FIRST_LEVEL_LABELS as LEVELS

_CODE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
MAX_IMPORT_BYTES = 5 * 1024 * 1024


def import_roster(who: Who, data: bytes, *, dry_run: bool, scope: str | None, filename: str, now: datetime) -> ImportResult:
    """Run the import (or its dry run) of the CSV ``data``; raises ImportFailed with every
    error by line. Every attempt is audited: ``roster.import``, ``roster.preview`` (a dry
    run) or ``roster.import_refused``."""
    if not data:
        raise ImportFailed([RowError(0, "请选择一个 CSV 文件")])
    if len(data) > MAX_IMPORT_BYTES:
        raise ImportFailed([RowError(0, "文件太大（最多 5 MB）")])
    target = f"roster:{filename[:60]}"
    try:
        result = import_org(data, dry_run=dry_run, unit=scope)
    except ImportFailed as err:
        with write_tx():
            audit.record(who, "roster.import_refused", target=target, township=scope,
                         after={"dry_run": dry_run, "errors": len(err.errors)}, now=now)
        raise
    with write_tx():
        audit.record(who, "roster.preview" if dry_run else "roster.import", target=target, township=scope,
                     after={"rows": result.rows, "communities_created": result.communities_created,
                            "grids_created": result.grids_created, "officials_created": result.officials_created,
                            "officials_updated": result.officials_updated}, now=now)
    return result


def export_roster(who: Who, scope: str | None, now: datetime) -> str:
    """The roster CSV (a unit administrator gets their unit's rows only), audited."""
    text = export_org()
    if scope:
        lines = text.splitlines(keepends=True)
        text = lines[0] + "".join(line for line in lines[1:] if line.split(",", 1)[0] == scope)
    with write_tx():
        audit.record(who, "roster.export", target="roster", township=scope,
                     after={"rows": max(0, text.count("\n") - 1)}, now=now)
    return text


def set_on_leave(who: Who, official: Official, on_leave: bool, now: datetime) -> None:
    """Mark an official on leave (the A/B rules then call the B post) or back."""
    township = official.township.code if official.township_id else None
    with write_tx():
        Official.update(on_leave=on_leave).where(Official.id == official.id).execute()
        audit.record(who, "official.on_leave", target=f"official:{official.id}", township=township,
                     before={"name": official.name, "on_leave": official.on_leave},
                     after={"name": official.name, "on_leave": on_leave}, now=now)


def _category_values(form: dict) -> dict:
    errors = {}
    name = (form.get("name") or "").strip()
    if not name or len(name) > 40:
        errors["name"] = "名称不能为空，最多 40 个字"
    level = form.get("level") or ""
    if level not in LEVELS:
        errors["level"] = "请选择首办层级"
    hours = {}
    for key, label in (("accept_hours", "受理时限"), ("resolve_hours", "办结时限")):
        raw = (form.get(key) or "").strip()
        try:
            value = float(raw)
            if not 0 < value <= 24 * 365:
                raise ValueError
            hours[key] = value
        except ValueError:
            errors[key] = f"{label}应为大于 0、不超过 8760 的小时数"
    if not errors and hours["resolve_hours"] < hours["accept_hours"]:
        errors["resolve_hours"] = "办结时限不能短于受理时限"
    try:
        sort_order = int(form.get("sort_order") or 0)
    except ValueError:
        errors["sort_order"] = "排序应为整数"
        sort_order = 0
    if errors:
        raise FormError(errors)
    return {"name": name, "level": level, "active": bool(form.get("active")), "sort_order": sort_order,
            "needs_proof": bool(form.get("needs_proof")), **hours}


def _category_dict(c: Category) -> dict:
    return {"code": c.code, "name": c.name, "level": c.level, "accept_hours": c.accept_hours,
            "resolve_hours": c.resolve_hours, "active": c.active, "sort_order": c.sort_order,
            "needs_proof": c.needs_proof}


def save_category(who: Who, code: str | None, form: dict, now: datetime) -> Category:
    """Create (``code`` None: taken from the form) or update a category; audited."""
    values = _category_values(form)
    with write_tx():
        if code is None:
            new_code = (form.get("code") or "").strip()
            if not _CODE.match(new_code):
                raise FormError({"code": "代码为小写字母开头的 1–32 个小写字母、数字、_ 或 -"})
            if Category.get_or_none(Category.code == new_code):
                raise FormError({"code": f"代码 {new_code} 已存在"})
            cat = Category.create(code=new_code, **values)
            audit.record(who, "category.created", target=f"category:{new_code}", after=_category_dict(cat), now=now)
            return cat
        cat = Category.get_or_none(Category.code == code)
        if cat is None:
            raise FormError("没有这个类别")
        before = _category_dict(cat)
        Category.update(**values).where(Category.id == cat.id).execute()
        cat = Category.get_by_id(cat.id)
        audit.record(who, "category.updated", target=f"category:{code}", before=before, after=_category_dict(cat), now=now)
        return cat
