"""The bridges' composition: which features, channels and periodic passes the worker has.

Called from composition (``miniapp_api.cli``, ``miniapp_api.demo``, the tests); nothing in the
bridges or the domain imports it. To add

* a feature with its own event kinds: a module in ``bridges/features/`` with a
  ``KINDS = Kinds(...)`` table, and one line in :data:`FEATURES`;
* a platform: its folder (client, render, ``deliver`` with a bridge and a message registry),
  one line in :func:`build_bridges` and one in :func:`install`;
* a periodic pass (a scheduler): one line in :func:`periodic_passes`.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

from bridges.dingtalk import deliver as dingtalk_deliver
from bridges import routing
from bridges import system
from bridges.features import community
from bridges.features import completion
from bridges.features import deadlines
from bridges.features import dingtalk_app
from bridges.kinds import Kinds
from bridges.wechat import deliver as wechat_deliver
from bridges.wechat.client import WechatClient
from bridges.wechat.client import WechatClientSettings
from bridges.worker import Worker
from miniapp_api.community.scheduler import run_pass as community_pass
from miniapp_api.config import Settings
from miniapp_api.deadlines.scheduler import SchedulerHook
from miniapp_api.reports.uploads import orphan_pass
from miniapp_api.tokens import DbTokenStore

#: Every feature's event kinds, one line per feature (the report kinds are the channels' own).
FEATURES: tuple[Kinds, ...] = (
    community.KINDS,  # notices and campaigns
    completion.KINDS,  # 办结照片 sent after 办结: the resident and followers are told
    deadlines.KINDS,  # deadlines, escalation, emergency mode, daily digests
    dingtalk_app.KINDS,  # DingTalk organisation events: roster kept in sync
)


def install(kinds: Kinds) -> None:
    """Install one feature's table into the routes and each channel's registry (idempotent)."""
    routing.add_routes(kinds.routes)
    dingtalk_deliver.add_payloads(kinds.dingtalk)
    wechat_deliver.add_messages(kinds.wechat)
    system.add_tasks(kinds.system, kinds.takes)


def register_kinds() -> None:
    """Install every feature of :data:`FEATURES`; calling it again changes nothing."""
    for kinds in FEATURES:
        install(kinds)


def build_bridges(settings: Settings, *, wechat: WechatClient | None = None) -> dict:
    """``{channel: bridge}`` for the worker, one line per platform."""
    wechat = wechat or WechatClient(WechatClientSettings.from_config(settings.wechat), DbTokenStore())
    return {
        "dingtalk": dingtalk_deliver.DingtalkBridge(settings),
        "wechat": wechat_deliver.WechatBridge(settings, wechat),
        "system": system.SystemBridge(wechat, settings),
    }


def periodic_passes(settings: Settings) -> list[Callable[[datetime], object]]:
    """The scheduler passes the worker runs on every pass (after fan-out), one line each."""
    return [
        partial(community_pass, settings=settings),  # notices and campaigns
        SchedulerHook(settings),  # deadlines, escalation, daily digests (at most every interval)
        partial(orphan_pass, settings=settings),  # uploads no report uses, after a day (hourly)
    ]


def build_worker(settings: Settings, *, wechat: WechatClient | None = None, worker_id: str | None = None) -> Worker:
    """A worker with every feature's event kinds, the channels and the periodic passes."""
    register_kinds()
    return Worker(settings, build_bridges(settings, wechat=wechat), passes=periodic_passes(settings),
                  worker_id=worker_id)
