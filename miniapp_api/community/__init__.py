"""What notices (通知公告) and volunteer campaigns (战地有我) share.

* ``common`` — short numbers (``N0001``, ``V0042``), time ranges, masking names and phones;
* ``schemas`` / ``serialize`` — the shared API models (home place, targets, paging) and shapes;
* ``links`` — the signed pages officials open from notice and campaign messages;
* ``scheduler.run_pass`` — the pass over the notices' and campaigns' timed steps (worker hook).

The concepts themselves live in ``miniapp_api.notices`` and ``miniapp_api.campaigns``; their
group messages and subscribe messages are registered in ``bridges/features/community.py``.
See docs/community.md.
"""
