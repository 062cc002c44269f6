"""Notices and campaigns → DingTalk robot payloads. Pure functions, like ``render``.

Everything people typed (titles, descriptions, places, names, reasons) goes through
``escape_md``; our own links must pass ``safe_url``; phone numbers arrive masked and are
escaped too (``*`` is markdown). No payload ever sets ``isAtAll``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from bridges.dingtalk.render import MAX_DIGEST_CHARS
from bridges.dingtalk.render import escape_md
from bridges.dingtalk.render import safe_url

_NUMBER = re.compile(r"^[0-9A-Za-z-]{1,32}$")
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def _number(number: str) -> str:
    if not isinstance(number, str) or not _NUMBER.match(number):
        raise ValueError(f"invalid number: {number!r}")
    return number


def _md(title: str, lines: list[str], mobiles: list[str] | None = None) -> dict[str, Any]:
    mobiles = [m for m in dict.fromkeys(mobiles or []) if m and _MOBILE.match(m)]
    if mobiles:
        lines = lines + [" ".join(f"@{m}" for m in mobiles)]
    at: dict[str, Any] = {"isAtAll": False}
    if mobiles:
        at["atMobiles"] = mobiles
    return {"msgtype": "markdown", "markdown": {"title": escape_md(title, 64), "text": "\n\n".join(lines)}, "at": at}


@dataclass
class NoticeView:
    """What a group sees of one notice; built by the caller from the database."""

    number: str
    title: str
    unit_label: str
    summary: str
    publisher: str
    published_at: str
    ack_due: str  # empty: nobody has to acknowledge it
    link: str
    expires_at: str = ""
    image_count: int = 0


def render_notice(v: NoticeView) -> dict[str, Any]:
    """A new notice, with the acknowledgement command every unit is asked to send."""
    n = _number(v.number)
    lines = [
        f"#### 通知：{escape_md(v.title, 60)}",
        f"**编号：** {n}",
        f"**范围：** {escape_md(v.unit_label, 60)}",
        f"**发布：** {escape_md(v.publisher, 40) or '平台'} · {escape_md(v.published_at, 20)}",
        f"**内容：** {escape_md(v.summary, 300) or '（见详情）'}",
    ]
    if v.image_count:
        lines.append(f"**附图：** {v.image_count} 张（见详情）")
    if v.expires_at:
        lines.append(f"**有效期至：** {escape_md(v.expires_at, 20)}")
    lines.append(f"[查看全文与确认情况]({safe_url(v.link)})")
    if v.ack_due:
        lines.append(f"> 请各单位在 {escape_md(v.ack_due, 20)} 前 ＠机器人 发送：收到 {n}")
    else:
        lines.append("> 仅供知悉，无需回复收到。")
    return _md(f"通知 {n} {v.title}", lines)


def render_notice_withdrawn(number: str, title: str, reason: str, by: str) -> dict[str, Any]:
    """A notice was withdrawn: nobody needs to acknowledge it any more."""
    n = _number(number)
    lines = [f"#### 通知已撤回：{escape_md(title, 60)}", f"**编号：** {n}",
             f"**撤回人：** {escape_md(by, 40) or '平台'}"]
    if reason:
        lines.append(f"**说明：** {escape_md(reason, 200)}")
    lines.append("> 该通知作废，无需再确认收到；居民端已标记为已撤回。")
    return _md(f"通知 {n} 已撤回", lines)


def render_ack_reminder(number: str, title: str, unit_name: str, published_at: str, link: str,
                        mobiles: list[str]) -> dict[str, Any]:
    """A unit that has not acknowledged yet is reminded (its duty post is @-mentioned)."""
    n = _number(number)
    lines = [f"#### 通知待确认：{escape_md(title, 60)}",
             f"**编号：** {n}　**发布时间：** {escape_md(published_at, 20)}",
             f"{escape_md(unit_name, 40)}尚未确认收到该通知。",
             f"[查看全文]({safe_url(link)})",
             f"> 请 ＠机器人 发送：收到 {n}"]
    return _md(f"通知 {n} 待确认", lines, mobiles)


def render_ack_escalation(number: str, title: str, missing: list[str], hours: str, link: str) -> dict[str, Any]:
    """The county group hears which units have not acknowledged a notice."""
    n = _number(number)
    names = "、".join(escape_md(m, 20) for m in missing) or "（无）"
    lines = [f"#### 通知逾期未确认：{escape_md(title, 60)}", f"**编号：** {n}",
             f"**超过 {escape_md(hours, 10)} 小时未确认的单位（{len(missing)} 个）：** {names}",
             f"[查看确认情况]({safe_url(link)})"]
    return _md(f"通知 {n} 逾期未确认", lines)


@dataclass
class CampaignView:
    """What a group sees of one volunteer campaign; built by the caller from the database."""

    number: str
    title: str
    description: str
    time_text: str
    place: str
    scope_label: str
    capacity: int
    taken: int
    hours: float
    link: str
    skills: list[str] = field(default_factory=list)
    report_number: str | None = None


def render_campaign(v: CampaignView, *, updated: bool = False) -> dict[str, Any]:
    """A new campaign (or, with ``updated``, its changed details)."""
    n = _number(v.number)
    head = "活动信息已更新" if updated else "战地有我"
    lines = [f"#### {head}：{escape_md(v.title, 60)}", f"**编号：** {n}",
             f"**时间：** {escape_md(v.time_text, 40)}",
             f"**地点：** {escape_md(v.place, 100) or '不限'}",
             f"**范围：** {escape_md(v.scope_label, 60)}",
             f"**名额：** {v.capacity} 人（已报名 {v.taken}）　**志愿时长：** {v.hours:g} 小时"]
    if v.skills:
        lines.append(f"**需要：** {'、'.join(escape_md(s, 20) for s in v.skills)}")
    if v.description:
        lines.append(f"**说明：** {escape_md(v.description, 300)}")
    if v.report_number:
        lines.append(f"**关联上报：** {_number(v.report_number)}（活动完成后记为由志愿者协助办结）")
    lines.append(f"[签到码页面]({safe_url(v.link)})")
    lines.append("> 居民在小程序「战地有我」报名；活动开始时本群会收到花名册。")
    return _md(f"志愿活动 {n} {'已更新 ' if updated else ''}{v.title}", lines)


def render_campaign_count(number: str, title: str, taken: int, capacity: int, waitlisted: int) -> dict[str, Any]:
    """How many volunteers have signed up so far (and whether the campaign is full)."""
    n = _number(number)
    full = "，已满员" if taken >= capacity else ""
    wait = f"，候补 {waitlisted} 人" if waitlisted else ""
    lines = [f"#### 报名进展：{escape_md(title, 60)}", f"**编号：** {n}",
             f"**已报名：** {taken}/{capacity} 人{full}{wait}"]
    return _md(f"志愿活动 {n} 报名 {taken}/{capacity}", lines)


@dataclass
class RosterEntry:
    """One volunteer on a campaign's roster (phone masked)."""

    name: str
    phone_masked: str
    status_label: str


def render_roster(number: str, title: str, time_text: str, place: str, entries: list[RosterEntry],
                  waitlisted: int, link: str) -> dict[str, Any]:
    """The roster at the start: names and masked phones, cut to fit one message."""
    n = _number(number)
    head = [f"#### 活动开始：{escape_md(title, 60)}", f"**编号：** {n}　**时间：** {escape_md(time_text, 40)}",
            f"**地点：** {escape_md(place, 100) or '不限'}", f"**花名册（{len(entries)} 人）：**"]
    tail = []
    if waitlisted:
        tail.append(f"另有候补 {waitlisted} 人。")
    tail.append(f"[签到码页面]({safe_url(link)})（请在现场展示签到码，志愿者扫码签到）")
    body: list[str] = []
    used = sum(len(x) + 2 for x in head + tail)
    for i, e in enumerate(entries, 1):
        line = f"{i}. {escape_md(e.name, 20) or '志愿者'} {escape_md(e.phone_masked, 20)} {escape_md(e.status_label, 10)}"
        if used + len(line) + 2 > MAX_DIGEST_CHARS - 80:
            body.append(f"……其余 {len(entries) - i + 1} 人见签到码页面")
            break
        body.append(line)
        used += len(line) + 2
    if not entries:
        body.append("（暂无报名）")
    return _md(f"志愿活动 {n} 花名册", head + body + tail)


def render_campaign_cancelled(number: str, title: str, reason: str, by: str) -> dict[str, Any]:
    """A campaign was cancelled, with who did it and why."""
    n = _number(number)
    lines = [f"#### 活动已取消：{escape_md(title, 60)}", f"**编号：** {n}", f"**取消人：** {escape_md(by, 40) or '平台'}"]
    if reason:
        lines.append(f"**说明：** {escape_md(reason, 200)}")
    return _md(f"志愿活动 {n} 已取消", lines)


def render_campaign_completed(number: str, title: str, volunteers: int, hours: float,
                              report_number: str | None) -> dict[str, Any]:
    """A campaign ended: volunteers checked in, hours credited, the linked report's fate."""
    n = _number(number)
    lines = [f"#### 活动完成：{escape_md(title, 60)}", f"**编号：** {n}",
             f"**签到志愿者：** {volunteers} 人，共记志愿时长 {hours:g} 小时"]
    if report_number:
        r = _number(report_number)
        lines.append(f"**关联上报：** {r} " + ("已记为由志愿者协助办结" if volunteers else "无人签到，仍待办理"))
    return _md(f"志愿活动 {n} 完成", lines)
