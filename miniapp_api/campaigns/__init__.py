"""Volunteer campaigns (战地有我): sign-up with capacity and waitlist, check-in, completion,
hours, and campaigns started from reports.

* :mod:`.service` — the use-cases; :mod:`.checkin` — the rotating code and its QR;
* :mod:`.hours` — the volunteer hours ledger and each unit's leaderboard;
* :mod:`.schemas` / :mod:`.serialize` — the API's models and shapes;
* :mod:`.commands` — ``发起志愿 <report number>`` in a unit's DingTalk group;
* :mod:`.scheduler` — sign-up counts, reminders, rosters and completions.

What campaigns share with notices is in :mod:`miniapp_api.community`.
"""
