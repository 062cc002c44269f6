"""The peewee models, one module per area, and ``ALL_MODELS``: the whole schema.

* :mod:`.core` — the organisation, residents, reports, the outbox and deliveries, tokens;
* :mod:`.community` — notices and volunteer campaigns;
* :mod:`.console` — administrators, sessions, the audit log, mapping history;
* :mod:`.deadlines` — the ladder policy, the calendar, escalation steps, ratings;
* :mod:`.dingtalk` — app-sent group messages and roster sync runs.

Import models from here (``from miniapp_api.models import Report``); the area modules
import :mod:`.core` only, so the package has no cycle.
"""
from __future__ import annotations

from miniapp_api.models.community import *  # noqa: F401,F403
from miniapp_api.models.community import COMMUNITY_MODELS
from miniapp_api.models.console import *  # noqa: F401,F403
from miniapp_api.models.console import CONSOLE_MODELS
from miniapp_api.models.core import *  # noqa: F401,F403
from miniapp_api.models.core import CORE_MODELS
from miniapp_api.models.deadlines import *  # noqa: F401,F403
from miniapp_api.models.deadlines import DEADLINE_MODELS
from miniapp_api.models.dingtalk import *  # noqa: F401,F403
from miniapp_api.models.dingtalk import DINGTALK_MODELS

# The whole schema: created by v001 on a new database and truncated between tests.
ALL_MODELS = CORE_MODELS + COMMUNITY_MODELS + CONSOLE_MODELS + DEADLINE_MODELS + DINGTALK_MODELS
