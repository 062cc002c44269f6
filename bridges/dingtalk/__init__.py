"""DingTalk adapter: custom-robot webhooks out, @robot callbacks in.

Platform clients (no Flask, no ``miniapp_api``): ``signing`` (webhook and callback
signatures), ``errcodes`` (robot errcode → ``bridges.errors``), ``client`` (HTTP sends),
``render`` (a plain card → robot payload, resident text escaped; ``render_community`` and
``render_deadlines`` for the features' messages), ``inbound`` (verify + parse a callback),
``commands`` (parse an official's command), ``app_client`` (dingtalk-sdk's ``AppKeyClient``
with our base URL, a shared token store and a bounded retry).

The delivery side (the worker's DingTalk channel): ``deliver`` (the bridge: renders from the
domain's plain views, resolves a target to its robot at send time) and ``app_sender``
(groups the county's app created, reached through ``chat.send``; docs/dingtalk-app.md).

The local fake DingTalk used by the tests and ``make demo`` lives in ``bridges/fakes/``.
"""
