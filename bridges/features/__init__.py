"""Features that add outbox event kinds register their routes and messages here.

Each module registers, for its own event kinds, a fan-out rule (``bridges.routing.routes``)
and the messages (``bridges.dingtalk.deliver.dingtalk_payload``,
``bridges.wechat.deliver.wechat_message``, ``bridges.system.system_task``). Importing this
package imports them all; add one line per feature module below.
"""

from bridges.features import community  # noqa: F401,E402  (notices and campaigns)
from bridges.features import deadlines  # noqa: F401,E402  (deadlines, escalation, emergency mode, daily digests)
from bridges.features import dingtalk_app  # noqa: F401,E402  (DingTalk organisation events: roster kept in sync)
