"""Notices (通知公告): publish, withdraw, scoped lists, read receipts, acknowledgements.

* :mod:`.service` — the use-cases; :mod:`.sanitize` — the allow-listed notice HTML;
* :mod:`.schemas` / :mod:`.serialize` — the API's models and shapes;
* :mod:`.commands` — ``收到 <number>`` in a unit's DingTalk group;
* :mod:`.scheduler` — reminders and escalations of missing acknowledgements.

What notices share with campaigns is in :mod:`miniapp_api.community`.
"""
