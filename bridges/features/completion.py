"""办结照片 sent after 办结: the resident and everyone who follows the report are told.

=========================  ===============================================================
event kind                 targets
=========================  ===============================================================
report.completion_photos   the reporter's WeChat and each follower's (我也遇到, merged
                           duplicates): one subscribe message each, like a status change
=========================  ===============================================================

An official may send completion photos to the robot after ``办结`` (within the window, or with
the number): the resident already heard of 办结, so this event tells them there is something
new to see in the mini-program. Photos that come with 办结 ride on its status change; no group
hears of them again (the group saw them sent).

Everything here is kept in :data:`KINDS`; composition installs it (``bridges.registry``).
"""
from __future__ import annotations

from bridges.kinds import Kinds
from bridges.routing import Target
from bridges.wechat.deliver import report_status_message
from miniapp_api.config import Settings
from miniapp_api.models import OutboxEvent
from miniapp_api.reports.completion_photos import LATE_PHOTOS_EVENT
from miniapp_api.reports.support import followers

#: Completion photos after 办结: route and subscribe message.
KINDS = Kinds("completion photos after 办结")


@KINDS.route(LATE_PHOTOS_EVENT)
def _to_residents(event: OutboxEvent, settings: Settings) -> list[Target]:
    report = event.report
    return ([Target("wechat", f"wechat:resident:{report.resident_id}")]
            + [Target("wechat", f"wechat:resident:{rid}") for rid in followers(report.id)])


# Told like a status change: 已办结, 附办结照片 N 张, opening the report's page.
KINDS.wechat_message(LATE_PHOTOS_EVENT)(report_status_message)
