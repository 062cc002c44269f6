"""Content checks the API could not finish in time, finished by the worker.

A report whose text WeChat could not judge within the request's short timeout is stored as
``moderation = "unchecked"`` and no group sees it. The worker asks WeChat again here:
``pass``/``review`` announce it (``report.created``); ``risky`` rejects it through the
lifecycle, which tells the resident why.

WeChat checks content only for a user who used the mini-program in the last two hours or so.
When the worker's check comes later than that (WeChat was down longer, the worker was
stopped), WeChat refuses it (:class:`CannotCheck`, raised by the platform's adapter). The
report is then settled as ``review``, as when WeChat itself is unsure: it is announced, and
the officials who handle it read it first. A report is never held back for good.
"""
from __future__ import annotations

import logging
from datetime import datetime

from miniapp_api.reports import lifecycle
from miniapp_api import outbox
from miniapp_api.db import write_tx
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.models import Report

log = logging.getLogger(__name__)

RISKY_NOTE = "内容未通过微信内容安全检测，不予受理"


class CannotCheck(Exception):
    """WeChat will not check content for this user now (they have not used the mini-program
    lately): asking again cannot help until they come back. Raised by the platform's adapter
    around the client, so that the domain never sees a platform's errcode."""


def checked_text(description: str, address: str) -> str:
    """The text of a report that WeChat's msgSecCheck judges: the description, then the
    address the resident typed, within the API's 2,500 characters. The API's check at
    submission and the worker's later one send the same."""
    text = description if not address else f"{description}\n{address}"
    return text[:2500]


def finish_check(report: Report, wechat, now: datetime) -> str:
    """Check ``report``'s text with WeChat (raises ``bridges.errors`` on failure: retried).

    Returns the verdict. Idempotent: a report already checked is left alone.
    """
    report = Report.get_by_id(report.id)
    if report.moderation != "unchecked":
        return report.moderation
    try:
        verdict = wechat.msg_sec_check(openid=report.resident.openid,
                                       content=checked_text(report.description, report.address), scene=3).suggest
    except CannotCheck:
        log.warning("content check of %s refused (resident not active lately): settled as review", report.number)
        verdict = "review"
    if verdict == "risky":
        with write_tx():
            Report.update(moderation="risky").where(Report.id == report.id).execute()
            lifecycle.apply(report, lifecycle.Action.REJECT, Actor.system("内容安全检测"), now, note=RISKY_NOTE)
        return verdict
    with write_tx():
        changed = (Report.update(moderation=verdict)
                   .where((Report.id == report.id) & (Report.moderation == "unchecked")).execute())
        if changed:
            outbox.record("report.created", {"number": report.number}, report=report, now=now,
                          priority=outbox.URGENT if report.urgent else outbox.NORMAL)
    return verdict
