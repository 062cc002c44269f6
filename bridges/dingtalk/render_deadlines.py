"""Deadline and escalation messages → DingTalk robot payloads. Pure functions.

Same rules as ``render``: every text that is not ours (officials' and units' names included,
the resident's reason above all) goes through ``escape_md``; @-mentions go in
``at.atMobiles`` *and* as ``@mobile`` in the text; ``isAtAll`` is never set.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from bridges.dingtalk.render import command_hint
from bridges.dingtalk.render import escape_md
from bridges.dingtalk.render import markdown_message
from bridges.dingtalk.render import report_number
from bridges.dingtalk.render import safe_url

#: The county's time zone: times in messages are local times.
DISPLAY_TZ = ZoneInfo("Asia/Shanghai")

PHASES = {"accept": "受理", "resolve": "办结"}


def local_time(value: str | None) -> str:
    """An ISO time from a payload as ``11-27 17:00`` (Asia/Shanghai); ``—`` when missing."""
    if not value:
        return "—"
    return datetime.fromisoformat(value).astimezone(DISPLAY_TZ).strftime("%m-%d %H:%M")


def _hours(value) -> str:
    return "—" if value is None else f"{float(value):g} 小时"


def _finish(title: str, lines: list[str], mobiles: list[str], link: str | None = None,
            number: str | None = None) -> dict[str, Any]:
    if link:
        lines.append(f"[查看详情]({safe_url(link)})")
    if number:
        lines.append(f"> {command_hint(number)}")
    return markdown_message(title, lines, mobiles)


def _head(p: dict) -> list[str]:
    place = escape_md(p.get("township_name", ""), 40)
    return [f"**类别：** {escape_md(p.get('category', ''), 40)}　**单位：** {place or '—'}",
            f"**层级：** {escape_md(p.get('level_label', ''), 20)}"]


def _urgent(p: dict) -> str:
    return "【紧急】" if p.get("urgent") else ""


def _who(p: dict) -> str:
    """Whom the message calls on: ``who`` as the domain says it (a higher level standing in
    for a vacant one is named as such), else the names."""
    text = escape_md(p.get("who") or p.get("names", ""), 120)
    return text or "本级无人在岗（未登记A/B岗）"


def render_reminder(p: dict, link: str) -> dict[str, Any]:
    """催办 (``step`` remind) or AB岗交接 (``step`` handover) of one report."""
    n = report_number(p["number"])
    phase = PHASES.get(p.get("phase"), "处理")
    lines = []
    if p.get("step") == "handover":
        lines.append(f"#### {_urgent(p)}AB岗交接：{n}")
        lines += _head(p)
        frm, to = escape_md(p.get("from_name", ""), 20), escape_md(p.get("to_name", ""), 20)
        if to:
            lines.append(f"**交接：** A岗{frm or '（空缺）'} → B岗{to}")
        else:
            lines.append(f"**交接：** A岗{frm or '（空缺）'} 未处理，B岗空缺")
        lines.append(f"**时限：** {local_time(p.get('due'))} 前{phase}")
        title = f"AB岗交接 {n}"
    else:
        pct = round(float(p.get("fraction", 0)) * 100)
        lines.append(f"#### {_urgent(p)}催办：{n}")
        lines += _head(p)
        lines.append(f"**时限：** {local_time(p.get('due'))} 前{phase}（已过 {pct}%）")
        title = f"催办 {n}"
    lines.append(f"**请：** {_who(p)}")
    if p.get("emergency"):
        lines.append("**应急模式：** A岗、B岗同时提醒")
    return _finish(title, lines, p.get("mobiles") or [], link, n)


def render_escalated(p: dict, link: str) -> dict[str, Any]:
    """逐级上报: the deadline passed at one level; the next level takes over."""
    n = report_number(p["number"])
    phase = PHASES.get(p.get("phase"), "处理")
    lines = [f"#### {_urgent(p)}逐级上报：{n}"]
    lines += _head(p)
    lines.append(f"**原因：** {escape_md(p.get('from_label', ''), 20)}未在 {local_time(p.get('missed_due'))} 前{phase}")
    lines.append(f"**现由：** {escape_md(p.get('level_label', ''), 20)}（{_who(p)}）{phase}，"
                 f"时限 {local_time(p.get('due'))}")
    return _finish(f"逐级上报 {n}", lines, p.get("mobiles") or [], link, n)


def render_assigned(p: dict, link: str) -> dict[str, Any]:
    """指派网格: township staff set a report's grid; its A post is mentioned."""
    n = report_number(p["number"])
    grid = f"{escape_md(p.get('community', ''), 40)} {escape_md(p.get('grid', ''), 40)}".strip()
    lines = [f"#### {_urgent(p)}指派网格：{n}",
             f"**类别：** {escape_md(p.get('category', ''), 40)}　**单位：** {escape_md(p.get('township_name', ''), 40) or '—'}",
             f"**网格：** {grid}（原为{escape_md(p.get('previous', ''), 60) or '待指派网格'}）",
             f"**指派人：** {escape_md(p.get('actor', ''), 20) or '—'}",
             f"**请：** {_who(p)}"]
    return _finish(f"指派网格 {n}", lines, p.get("mobiles") or [], link, n)


def render_overdue(p: dict, link: str) -> dict[str, Any]:
    """超时督办: the county level's deadline passed too."""
    n = report_number(p["number"])
    phase = PHASES.get(p.get("phase"), "处理")
    lines = [f"#### {_urgent(p)}超时督办：{n}"]
    lines += _head(p)
    lines.append(f"**情况：** 已逐级上报，仍未在 {local_time(p.get('missed_due'))} 前{phase}，列入督办")
    lines.append(f"**请：** {_who(p)}")
    return _finish(f"超时督办 {n}", lines, p.get("mobiles") or [], link, n)


def render_whistle_overdue(p: dict, link: str) -> dict[str, Any]:
    """部门未报到: a department did not accept a whistle (转办) in time."""
    n = report_number(p["number"])
    dept = escape_md(p.get("department_name", ""), 20) or "部门"
    lines = [f"#### {_urgent(p)}部门未报到：{n}",
             f"**类别：** {escape_md(p.get('category', ''), 40)}　**吹哨单位：** {escape_md(p.get('township_name', ''), 40)}",
             f"**情况：** {dept}未在 {local_time(p.get('missed_due'))} 前受理转办（报到）",
             f"**请：** {_who(p)} 督促{dept}报到"]
    return _finish(f"部门未报到 {n}", lines, p.get("mobiles") or [], link)


def render_redo(p: dict, link: str) -> dict[str, Any]:
    """回访重办: the resident is not satisfied; the same level does it again."""
    n = report_number(p["number"])
    lines = [f"#### {_urgent(p)}回访重办：{n}"]
    lines += _head(p)
    if p.get("score") is not None:
        lines.append(f"**评价：** {int(p['score'])} 星，不满意")
    if p.get("reason"):
        lines.append(f"**居民意见：** {escape_md(p['reason'], 200)}")
    lines.append(f"**重办：** 第 {int(p.get('redo_count') or 1)} 次，{local_time(p.get('due'))} 前办结")
    lines.append(f"**请：** {_who(p)}")
    return _finish(f"回访重办 {n}", lines, p.get("mobiles") or [], link, n)


def render_emergency(p: dict) -> dict[str, Any]:
    """平战一键转换: the switch flipped, announced in one affected group."""
    scope = "全县" if p.get("scope") == "county" else escape_md(p.get("township_name", ""), 40)
    if p.get("on"):
        title = f"{scope}进入应急（战时）模式"
        lines = [f"#### 【应急】{title}",
                 f"**时限：** 新受理时限 ×{float(p.get('accept_factor', 1)):g}，新办结时限 ×{float(p.get('resolve_factor', 1)):g}"
                 + ("，节假日照常计时" if p.get("all_days") else ""),
                 "**在办问题：** 剩余时限同比缩短",
                 "**提醒：** 催办、上报同时提醒 A岗和 B岗，请保持在岗"]
    else:
        title = f"{scope}恢复平时模式"
        lines = [f"#### {title}", "**时限：** 新的时限恢复平时标准，已在计时的时限不变"]
        if p.get("still_county"):
            lines.append("**注意：** 全县应急模式仍在执行")
    if p.get("names"):
        lines.append(f"**在岗：** {escape_md(p['names'], 80)}")
    return _finish(title, lines, p.get("mobiles") or [])


def render_daily_digest(p: dict) -> dict[str, Any]:
    """每日简报: one group's day in figures."""
    unit = escape_md(p.get("unit_name", ""), 40)
    day = str(p.get("day", ""))[5:]
    score = "—" if p.get("avg_score") is None else f"{float(p['avg_score']):g} 分（{int(p.get('ratings', 0))} 条评价）"
    lines = [f"#### 每日简报 · {unit} · {escape_md(day, 10)}",
             f"**新上报：** {int(p.get('new', 0))}　**受理：** {int(p.get('accepted', 0))}　"
             f"**办结：** {int(p.get('resolved', 0))}",
             f"**超时未办：** {int(p.get('overdue', 0))}",
             f"**平均受理用时：** {_hours(p.get('avg_accept_hours'))}　**平均办结用时：** {_hours(p.get('avg_resolve_hours'))}",
             f"**满意度：** {score}",
             f"> 统计区间：{local_time(p.get('from'))} 至 {local_time(p.get('to'))}"]
    return _finish(f"每日简报 {unit}", lines, [])
