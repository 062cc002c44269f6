"""Bridges: outbox events → deliveries → platform calls (DingTalk groups, WeChat notifications).

One folder per platform (``dingtalk/``, ``wechat/``), each with a pure HTTP client, a
renderer, signing/verification and an errcode table. ``worker.py`` is the delivery machinery.
"""
