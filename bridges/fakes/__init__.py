"""Local fakes of the platforms (WeChat, DingTalk's robots and app), served over real HTTP.

They stand for the platforms, so they import nothing of Tongxin (``miniapp_api``) and
implement the platforms' rules themselves. Only composition (the demo) and the tests import
them; each has a public seeding and inspection API on its state object and a command line
(``python -m bridges.fakes.wechat``, ``python -m bridges.fakes.dingtalk``).
"""
