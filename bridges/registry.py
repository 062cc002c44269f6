"""The channels the worker delivers to: one line per platform."""
from __future__ import annotations

from miniapp_api.config import Settings

from bridges import features  # noqa: F401  (registers every feature's event kinds)

from bridges.dingtalk.deliver import DingtalkBridge
from bridges.system import SystemBridge
from miniapp_api.tokens import DbTokenStore
from bridges.wechat.deliver import WechatBridge
from bridges.wechat.client import WechatClient


def build_bridges(settings: Settings, *, wechat: WechatClient | None = None) -> dict:
    """``{channel: bridge}`` for the worker."""
    wechat = wechat or WechatClient(settings.wechat, DbTokenStore())
    return {
        "dingtalk": DingtalkBridge(settings),
        "wechat": WechatBridge(settings, wechat),
        "system": SystemBridge(wechat, settings),
    }
