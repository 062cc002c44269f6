"""What one pass did, counted: the base of every pass result (the deadline scheduler's, the
delivery worker's), written once."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import fields


@dataclass
class PassCounts:
    """Counters of one pass; each ``int`` field of a subclass counts one kind of thing done."""

    def counters(self) -> list[str]:
        """The names of the integer counters, in field order."""
        return [f.name for f in fields(self) if f.type in ("int", int)]

    def as_dict(self) -> dict:
        """Every field by name."""
        return asdict(self)

    def add(self, other: "PassCounts", names: Iterable[str] | None = None) -> None:
        """Add ``other``'s counters (only ``names`` when given) to these."""
        for name in names if names is not None else self.counters():
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __str__(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in asdict(self).items())
