"""The officials' group commands of notices and campaigns (run by ``official_commands``):

* ``收到 <notice number>`` — the group's unit acknowledges a notice;
* ``发起志愿 <report number> [说明]`` — turn an open report of the unit into a campaign.

Both run inside the command's transaction; a refusal is raised as ``Refused`` and becomes
the reply in the group.
"""
from __future__ import annotations

from datetime import datetime

from bridges.dingtalk.commands import Command

from miniapp_api.web import context as services
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.campaigns import service as campaigns
from miniapp_api.notices import service as notices
from miniapp_api.community.common import time_range


def execute(cmd: Command, mapping: GroupMapping, unit, official: Official, actor: Actor, now: datetime) -> str:
    """Run ``收到`` or ``发起志愿``; returns the reply text."""
    from miniapp_api.reports.commands import Refused
    from miniapp_api.reports.commands import _report

    if cmd.action == "ack":
        if mapping.owner_kind != "township":
            raise Refused("本群不是乡镇/街道的工作群，通知由各乡镇/街道群确认收到。")
        try:
            return notices.acknowledge(cmd.number, unit, official.name, official.dingtalk_user_id or "", now)
        except notices.AckRefused as err:
            raise Refused(str(err)) from None
    report = _report(mapping, unit, cmd.number)
    settings = services.get().settings
    try:
        campaign = campaigns.from_report_in_group(settings, report, cmd.text, official.name, actor, now)
    except campaigns.CampaignRefused as err:
        raise Refused(str(err)) from None
    from miniapp_api.web.pages import signed_checkin_url

    return (f"{official.name} 已为上报 {report.number} 发起志愿活动 {campaign.number}：{campaign.title}。\n"
            f"时间：{time_range(campaign.starts_at, campaign.ends_at)}，名额 {campaign.capacity} 人。\n"
            f"居民可在小程序「战地有我」报名；签到码页面：{signed_checkin_url(settings, campaign.number)}\n"
            f"时间、名额等可在管理后台修改。")
