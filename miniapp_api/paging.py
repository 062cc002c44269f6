"""Opaque paging cursors, written once for every cursor-paged list (reports, notices, campaigns).

A cursor is the URL-safe base64 (unpadded) of one kind letter and the keys of the last row of
the page, ``:``-separated: ``r42`` (a report), ``c7`` (a campaign), ``n1:42`` (a notice: its
pinned flag, then its id). The kind letter keeps a cursor of one list from being accepted by
another; anything that does not decode is a 422 on the field ``cursor``.
"""
from __future__ import annotations

import base64

from miniapp_api.errors import ValidationFailed

_MAX_ID = 2**62


def encode_cursor(kind: str, row_id: int, *flags: int) -> str:
    """The cursor after the row ``row_id`` of list ``kind``, with leading 0/1 ``flags``."""
    text = kind + ":".join([*(str(int(f)) for f in flags), str(row_id)])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, flags: int = 0) -> tuple[int, ...]:
    """``(*flags, row_id)`` of a cursor made by :func:`encode_cursor` for ``kind``.

    :raises ValidationFailed: 422 ``cursor`` for a cursor of another kind, shape or range.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        if not raw.startswith(kind):
            raise ValueError
        *flag_texts, id_text = raw[len(kind):].split(":")
        if len(flag_texts) != flags or any(f not in ("0", "1") for f in flag_texts):
            raise ValueError
        row_id = int(id_text)
        if not 1 <= row_id <= _MAX_ID:
            raise ValueError
        return (*(int(f) for f in flag_texts), row_id)
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed("cursor：分页参数无效", field="cursor") from None
