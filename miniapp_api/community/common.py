"""Helpers shared by notices and campaigns: short numbers, time ranges, masking."""
from __future__ import annotations

import re
from datetime import datetime

from miniapp_api.models import Counter
from miniapp_api.time import local

NUMBER_RE = re.compile(r"^[0-9A-Za-z-]{1,32}$")


def next_code(prefix: str) -> str:
    """``N0001``, ``V0042``…: a county-wide sequence per prefix, short enough to type in a
    group command (``收到 N0001``) and within the command parser's number pattern.
    Must run inside the write transaction that inserts the row."""
    name = f"community:{prefix}"
    (Counter.insert(name=name, value=1)
     .on_conflict(conflict_target=[Counter.name], update={Counter.value: Counter.value + 1})
     .execute())
    return f"{prefix}{Counter.get_by_id(name).value:04d}"


def time_range(start: datetime, end: datetime) -> str:
    """``2026-11-28 09:00~12:00`` (the end's date too when it differs)."""
    same_day = local(start, "%Y-%m-%d") == local(end, "%Y-%m-%d")
    return f"{local(start)}~{local(end, '%H:%M') if same_day else local(end)}"


def mask_phone(phone: str) -> str:
    """``138****5678``: never a full phone number outside the database."""
    digits = re.sub(r"\D", "", phone or "")
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}{'*' * (len(digits) - 7)}{digits[-4:]}"


def mask_name(name: str) -> str:
    """``张*`` / ``欧阳**``: volunteers' names in public lists."""
    name = (name or "").strip()
    if not name:
        return ""
    if len(name) == 1:
        return name
    keep = 2 if len(name) >= 4 else 1
    return name[:keep] + "*" * min(3, len(name) - keep)
