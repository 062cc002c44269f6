"""Bridges: outbox events → deliveries → platform calls (DingTalk groups, WeChat notifications).

One folder per platform (``dingtalk/``, ``wechat/``), each with a pure platform client, a
renderer, signing/verification and an errcode table, plus its ``deliver`` channel for the
worker. ``worker.py`` is the delivery machinery, ``routing.py`` the fan-out rules,
``features/`` the event kinds of each feature, and ``registry.py`` the composition that puts
them together (called from ``miniapp_api.cli`` and the demo). ``fakes/`` holds the local fake
platforms for tests and the demo.
"""
