"""``发起志愿 <report number> [说明]`` in a DingTalk group: an open report of the group's unit
becomes a volunteer campaign.

Registered for the ``campaign`` action of the group commands by composition
(``miniapp_api.wiring``); runs inside the command's transaction.
"""
from __future__ import annotations

from datetime import datetime

from miniapp_api.campaigns import service as campaigns
from miniapp_api.community.common import time_range
from miniapp_api.community.links import console_campaign_url
from miniapp_api.community.links import signed_checkin_url
from miniapp_api.config import Settings
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.reports.group_scope import Refused
from miniapp_api.reports.group_scope import report_in_group
from miniapp_api.reports.lifecycle import Actor


def campaign_from_group(cmd, mapping: GroupMapping, unit, official: Official, actor: Actor, now: datetime,
                        settings: Settings) -> str:
    """Run ``发起志愿``; returns the reply text (raises :class:`Refused`)."""
    report = report_in_group(mapping, unit, cmd.number)
    try:
        campaign = campaigns.from_report_in_group(settings, report, cmd.text, official.name, actor, now)
    except campaigns.CampaignRefused as err:
        raise Refused(str(err)) from None
    return (f"{official.name} 已为上报 {report.number} 发起志愿活动 {campaign.number}：{campaign.title}。\n"
            f"时间：{time_range(campaign.starts_at, campaign.ends_at)}，名额 {campaign.capacity} 人。\n"
            f"居民可在小程序「战地有我」报名；签到码页面：{signed_checkin_url(settings, campaign.number)}\n"
            f"时间、名额等可在管理后台修改：{console_campaign_url(settings, campaign.number)}")
