"""DingTalk adapter: custom-robot webhooks out, @robot callbacks in.

Pure modules (no Flask, no ``miniapp_api``): ``signing`` (webhook and callback signatures),
``errcodes`` (robot errcode → ``bridges.errors``), ``client`` (HTTP sends), ``render``
(report → robot payload, resident text escaped), ``inbound`` (verify + parse a callback),
``commands`` (parse an official's command). ``fake_server`` is a local fake DingTalk used by
the tests and by ``make demo``; it is the only module here that imports Flask.
"""
