"""Notices in the API's shape (see ``notices.schemas``)."""
from __future__ import annotations

from miniapp_api.community.serialize import target_out
from miniapp_api.models import Upload
from miniapp_api.models.community import Notice
from miniapp_api.notices.service import SUMMARY_CHARS
from miniapp_api.reports.uploads import photo_out
from miniapp_api.time import iso


def _summary(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SUMMARY_CHARS else flat[:SUMMARY_CHARS - 1] + "…"


def notice_out(n: Notice, read: bool = False) -> dict:
    """A notice in a list (``NoticeOut``); a withdrawn one shows no summary."""
    withdrawn = n.status == "withdrawn"
    return {
        "number": n.number,
        "title": n.title,
        "status": n.status,
        "pinned": n.pinned,
        "summary": "" if withdrawn else _summary(n.body_text),
        "target": target_out(n.level, n.township, n.community, n.grid),
        "publisher": n.township.name if n.township else "县级",
        "published_at": iso(n.published_at),
        "expires_at": iso(n.expires_at),
        "withdrawn_at": iso(n.withdrawn_at),
        "read": read,
    }


def notice_detail_out(n: Notice, base_url: str, read: bool = False) -> dict:
    """A notice with its body and images (``NoticeDetailOut``); a withdrawn one shows neither."""
    body = notice_out(n, read)
    withdrawn = n.status == "withdrawn"
    ids = [] if withdrawn else list(n.images or [])
    uploads = {u.id: u for u in Upload.select().where(Upload.id.in_(ids))} if ids else {}
    body.update(body_html="" if withdrawn else n.body_html,
                images=[photo_out(uploads[i], base_url) for i in ids if i in uploads],
                withdraw_reason=n.withdraw_reason if withdrawn else "")
    return body
