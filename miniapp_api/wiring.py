"""Composition helpers shared by ``create_app``, the CLI and the worker.

* :func:`register_domain_hooks` — the registrations that tie the domain's concepts together.
  The report lifecycle knows nothing of the deadline clocks, and the group commands know
  nothing of notices and campaigns; they work together because this registers them.
  ``create_app`` and the CLI call it once (it is idempotent), before anything changes a report.
* :func:`build_collaborators` — the long-lived collaborators of one process (settings, the
  WeChat client, photo storage), built once from the settings. The web reaches the app's
  through :func:`miniapp_api.web.collaborators.current`; the CLI and the worker build the same.

This module imports no Flask: the worker needs it too.
"""
from __future__ import annotations

from dataclasses import dataclass

from bridges.dingtalk import commands as dingtalk_commands
from bridges.dingtalk.app_client import AppClient
from bridges.dingtalk.app_client import DingtalkAppSettings
from bridges.dingtalk.group_gateway import DingTalkGroupGateway
from bridges.dingtalk.render import escape_md
from bridges.errors import BridgeError
from bridges.wechat.client import WechatClient
from bridges.wechat.client import WechatClientSettings
from miniapp_api.campaigns import scheduler as campaign_steps
from miniapp_api.campaigns.commands import campaign_from_group
from miniapp_api.community import scheduler as community_scheduler
from miniapp_api.config import Settings
from miniapp_api.deadlines import planner
from miniapp_api.groups import gateway as group_gateway
from miniapp_api.notices import scheduler as notice_steps
from miniapp_api.notices.commands import acknowledge_in_group
from miniapp_api.org import sync as org_sync
from miniapp_api.reports import commands as group_commands
from miniapp_api.reports import completion_photos
from miniapp_api.reports import service as report_service
from miniapp_api.reports.storage import LocalStorage
from miniapp_api.tokens import DbTokenStore


def register_domain_hooks() -> None:
    """Register every after-change hook, planner and group command of the domain, and the
    DingTalk bridge's side of groups and of the organisation sync (idempotent)."""
    planner.register_hooks()                                # deadline clocks follow the lifecycle
    group_commands.handles("ack", acknowledge_in_group)     # 收到 <notice>
    group_commands.handles("campaign", campaign_from_group)  # 发起志愿 <report>
    group_commands.speak(group_commands.Dialect(            # group commands as DingTalk writes them
        dingtalk_commands.parse_command, dingtalk_commands.CommandError, dingtalk_commands.HELP_TEXT, escape_md))
    report_service.defer_content_check_on(BridgeError)      # WeChat cannot answer: checked later
    community_scheduler.add_steps(*notice_steps.STEPS, *campaign_steps.STEPS)  # notices first
    group_gateway.register(DingTalkGroupGateway())          # the console's test sends and dry runs
    org_sync.register_directory(open_dingtalk_directory, (BridgeError,))  # sync-dingtalk reads DingTalk
    completion_photos.download_with(download_robot_picture, (BridgeError,))  # 办结照片 sent to the robot


def download_robot_picture(settings: Settings, download_code: str, robot_code: str) -> bytes:
    """The bytes of a picture an official sent the robot (DingTalk's robot message-file download)."""
    with open_dingtalk_directory(settings) as client:
        return client.download_message_file(download_code, robot_code, max_bytes=settings.uploads.max_bytes + 1)


def open_dingtalk_directory(settings: Settings) -> AppClient:
    """The app client that reads DingTalk's organisation (tokens kept in the database)."""
    return AppClient(DingtalkAppSettings.from_config(settings.dingtalk), DbTokenStore())


@dataclass
class Collaborators:
    """What the use-cases need besides their arguments: settings, the WeChat client, storage."""

    settings: Settings
    wechat: WechatClient
    storage: LocalStorage


def build_collaborators(settings: Settings) -> Collaborators:
    """Make the WeChat client (tokens kept in the database) and the photo storage for ``settings``."""
    return Collaborators(
        settings=settings,
        wechat=WechatClient(WechatClientSettings.from_config(settings.wechat), DbTokenStore()),
        storage=LocalStorage(settings.uploads.dir),
    )
