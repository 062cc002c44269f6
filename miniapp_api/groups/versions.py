"""A mapping's history: every change is kept as a numbered :class:`MappingVersion`."""
from __future__ import annotations

from datetime import datetime

from peewee import fn

from miniapp_api.audit import Who
from miniapp_api.models.console import MappingVersion


def next_version(kind: str, code: str) -> int:
    """The number the mapping's next version gets."""
    top = (MappingVersion.select(fn.MAX(MappingVersion.version))
           .where((MappingVersion.owner_kind == kind) & (MappingVersion.owner_code == code)).scalar())
    return (top or 0) + 1


def store_version(kind: str, code: str, snap: dict, action: str, note: str, who: Who, now: datetime) -> int:
    """Keep ``snap`` as the mapping's next version; returns its number."""
    version = next_version(kind, code)
    MappingVersion.create(owner_kind=kind, owner_code=code, version=version, action=action, note=note,
                          created_at=now, created_by=who.username, **snap)
    return version


def versions(kind: str, code: str) -> list[MappingVersion]:
    """The mapping's versions, newest first."""
    return list(MappingVersion.select().where((MappingVersion.owner_kind == kind) & (MappingVersion.owner_code == code))
                .order_by(MappingVersion.version.desc()))
