"""DingTalk adapter: custom-robot webhooks out, @robot callbacks in.

Pure modules (no Flask, no ``miniapp_api``): ``signing`` (webhook and callback signatures),
``errcodes`` (robot errcode → ``bridges.errors``), ``client`` (HTTP sends), ``render``
(report → robot payload, resident text escaped), ``inbound`` (verify + parse a callback),
``commands`` (parse an official's command). ``fake_server`` is a local fake DingTalk used by
the tests and by ``make demo``; it is the only module here that imports Flask (with its app
side, ``fake_app``).

The county's DingTalk **app** (docs/dingtalk-app.md): ``app_client`` (dingtalk-sdk's
``AppKeyClient`` with our base URL, the database-shared token and a bounded retry) and
``app_channel`` (groups the app created, reached through ``chat.send``).
"""
