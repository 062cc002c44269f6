"""Content checks the API could not finish in time, finished by the worker.

A report whose text WeChat could not judge within the request's short timeout is stored as
``moderation = "unchecked"`` and no group sees it. The worker asks WeChat again here:
``pass``/``review`` announce it (``report.created``); ``risky`` rejects it through the
lifecycle, which tells the resident why.
"""
from __future__ import annotations

from datetime import datetime

from miniapp_api.reports import lifecycle
from miniapp_api import outbox
from miniapp_api.db import write_tx
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.models import Report

RISKY_NOTE = "内容未通过微信内容安全检测，不予受理"


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
    verdict = wechat.msg_sec_check(openid=report.resident.openid, content=checked_text(report.description, report.address),
                                   scene=3).suggest
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
