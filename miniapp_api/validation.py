"""Bad input on a form, named field by field: what the domain's services raise to the console."""
from __future__ import annotations


class FormError(Exception):
    """Bad input on a console form: ``errors`` maps field names to Chinese messages."""

    def __init__(self, errors: dict[str, str] | str):
        self.errors = {"_": errors} if isinstance(errors, str) else dict(errors)
        super().__init__("; ".join(self.errors.values()))

    @property
    def message(self) -> str:
        """Every message, joined for a one-line flash."""
        return "；".join(self.errors.values())
