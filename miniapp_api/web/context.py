"""The long-lived collaborators of one app: settings, platform clients, storage.

Built once by :func:`init_app` and reached through :func:`get` from views. Services and the
worker receive what they need as arguments instead of reaching for Flask globals.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from flask import current_app

from miniapp_api.tokens import DbTokenStore
from bridges.wechat.client import WechatClient

from miniapp_api.config import Settings
from miniapp_api.reports.storage import LocalStorage


@dataclass
class Services:
    settings: Settings
    wechat: WechatClient
    storage: LocalStorage


def build(settings: Settings) -> Services:
    """Make the clients and storage for ``settings`` (also used by the CLI and the worker)."""
    return Services(
        settings=settings,
        wechat=WechatClient(settings.wechat, DbTokenStore()),
        storage=LocalStorage(settings.uploads.dir),
    )


def init_app(app: Flask, settings: Settings) -> None:
    app.extensions["tongxin"] = build(settings)


def get() -> Services:
    """The current app's services."""
    return current_app.extensions["tongxin"]
