"""Fixtures for deadlines and escalation: a county group, an organisation with A/B posts at
every level, reports written at a chosen time, and scheduler passes on a controlled clock.

Time never comes from the wall clock here: every report, action and pass names its ``now``.
T0 is Monday 2026-11-23 09:00 Beijing time.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from datetime import timedelta
from datetime import timezone

import pytest

from miniapp_api.reports import lifecycle
from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.deadlines.scheduler import run_pass
from miniapp_api.reports.lifecycle import Actor
from miniapp_api.reports.lifecycle import Channel
from miniapp_api.models import Category
from miniapp_api.models import Community
from miniapp_api.models import Department
from miniapp_api.models import Grid
from miniapp_api.models import Official
from miniapp_api.models import Report
from miniapp_api.models import Township
from miniapp_api.models.deadlines import EscalationStep
from miniapp_api.reports.service import next_number
from miniapp_api.reports.service import resident_actor
from miniapp_api.time import LOCAL_TZ
from tests.factories import make_resident

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=LOCAL_TZ).astimezone(timezone.utc)  # a Monday


def hours(h: float) -> timedelta:
    return timedelta(hours=h)


COUNTY_MEMBERS = [{"staff_id": "county-a", "name": "周指挥", "mobile": "13700000001"},
                  {"staff_id": "county-b", "name": "吴值班", "mobile": "13700000002"}]

# Deadlines for the tests: calendar hours (working days have their own tests), one reminder
# at half time, the A→B handover at three quarters, no digest unless a test asks for it.
DEADLINES = {"working_days": False, "reminder_fractions": [0.5], "handover_fraction": 0.75,
             "emergency_accept_factor": 0.5, "emergency_resolve_factor": 0.25, "whistle_report_hours": 8,
             "digest_enabled": False, "scheduler_interval_seconds": 60}

CATEGORIES = [
    {"code": "sanitation", "name": "环境卫生", "level": "grid", "accept_hours": 4, "resolve_hours": 24},
    {"code": "streetlight", "name": "路灯故障", "level": "community", "accept_hours": 8, "resolve_hours": 48},
    {"code": "road", "name": "道路破损", "level": "township", "accept_hours": 12, "resolve_hours": 72},
    {"code": "parking", "name": "违章停车", "level": "department", "accept_hours": 2, "resolve_hours": 12},
    {"code": "safety", "name": "安全隐患", "level": "township", "accept_hours": 2, "resolve_hours": 24},
    {"code": "other", "name": "其他", "level": "grid", "accept_hours": 24, "resolve_hours": 120},
]


@pytest.fixture
def settings_dict(settings_dict, fake_dingtalk):
    """The shared test configuration plus a county group, categories and ``[deadlines]``."""
    fake_dingtalk.state.add_group("cid-county", "县指挥中心群", "tok-county", "SEC-secret-county", COUNTY_MEMBERS)
    settings_dict["county"] = {"name": "伊通县指挥中心", "dingtalk": {
        "webhook": f"{fake_dingtalk.base_url}/robot/send?access_token=tok-county",
        "secret": "SEC-secret-county", "conversation_id": "cid-county"}}
    settings_dict["deadlines"] = dict(DEADLINES, duty_departments={"parking": "chengguan"})
    settings_dict["categories"] = [dict(c) for c in CATEGORIES]
    return settings_dict


@dataclass
class Org:
    township: Township
    community: Community
    grid: Grid
    department: Department
    posts: dict  # (level, "A"|"B") → Official


def _official(name, staff_id, mobile, post, **where) -> Official:
    return Official.create(name=name, dingtalk_user_id=staff_id, mobile=mobile, duty_post=post, **where)



@pytest.fixture
def org(db) -> Org:
    """永盛街道 with one community and one grid, 城管局 and the county, each with A and B posts."""
    t = Township.get(Township.code == "yongsheng")
    c = Community.create(township=t, name="人民社区", kind="neighborhood")
    g = Grid.create(community=c, name="人民一网格")
    d = Department.get(Department.code == "chengguan")
    posts = {
        ("grid", "A"): _official("网格甲", "g-a", "13800000001", "A", township=t, community=c, grid=g, role="grid_worker"),
        ("grid", "B"): _official("网格乙", "g-b", "13800000002", "B", township=t, community=c, grid=g, role="grid_leader"),
        ("community", "A"): _official("社区甲", "c-a", "13800000011", "A", township=t, community=c, role="township_staff"),
        ("community", "B"): _official("社区乙", "c-b", "13800000012", "B", township=t, community=c, role="township_staff"),
        ("township", "A"): _official("王永盛", "ys-a", "13900000001", "A", township=t, role="township_staff"),
        ("township", "B"): _official("李备岗", "ys-b", "13900000002", "B", township=t, role="township_staff"),
        ("department", "A"): _official("孙城管", "cg-a", "13900000005", "A", department=d, role="department_staff"),
        ("department", "B"): _official("钱城管", "cg-b", "13900000006", "B", department=d, role="department_staff"),
        ("county", "A"): _official("周指挥", "county-a", "13700000001", "A", role="county_staff"),
        ("county", "B"): _official("吴值班", "county-b", "13700000002", "B", role="county_staff"),
    }
    return Org(t, c, g, d, posts)


def submit(now: datetime, category: str = "sanitation", *, township: str = "yongsheng", grid: Grid | None = None,
           description: str = "小区门口垃圾堆了三天没人清理") -> Report:
    """A report written the way the API writes one (level from the duty list, urgent in
    emergency mode), at ``now``."""
    cat = Category.get(Category.code == category)
    unit = Township.get(Township.code == township)
    resident = make_resident()
    with write_tx():
        report = lifecycle.submit(Report(
            number=next_number(now), resident=resident, category=cat, township=unit, grid=grid, level=cat.level,
            description=description, lat=43.3, lng=125.3, address="人民大街 18 号",
            created_at=now, updated_at=now), resident_actor(resident), now, checked=True)
    return Report.get_by_id(report.id)


def official_actor(official: Official) -> Actor:
    return Actor("official", official.name, Channel.DINGTALK, official.dingtalk_user_id or "")


def act(report: Report, action: str, official: Official | None, now: datetime, **kw) -> Report:
    actor = official_actor(official) if official else Actor.system()
    return lifecycle.apply(Report.get_by_id(report.id), action, actor, now, **kw)


def fresh(report: Report) -> Report:
    return Report.get_by_id(report.id)


def steps_of(report: Report) -> list[EscalationStep]:
    return list(EscalationStep.select().where(EscalationStep.report == report.id).order_by(EscalationStep.id))


def kinds(report: Report) -> list[str]:
    return [s.kind for s in steps_of(report)]


@pytest.fixture
def scheduler(settings, db):
    """``scheduler(now)`` runs one pass at ``now`` and returns its summary."""

    def _run(now: datetime, **kw):
        return run_pass(settings, now, **kw)

    return _run


_MSG_SEQ = iter(range(1, 10**9))


def command(code: str, staff_id: str, text: str, now: datetime) -> str | None:
    """An @robot message in ``cid-<code>`` handled as the callback would, at ``now``
    (the signature checks are the callback tests' business)."""
    from bridges.dingtalk.inbound import InboundMessage
    from miniapp_api.reports.commands import handle

    ms = int(now.timestamp() * 1000)
    msg = InboundMessage(msg_id=f"msg-{next(_MSG_SEQ)}", conversation_id=f"cid-{code}", conversation_type="2",
                         sender_staff_id=staff_id, sender_nick=staff_id, text=text, session_webhook="",
                         session_webhook_expires_ms=0, create_at_ms=ms)
    return handle(msg, now)


@pytest.fixture
def deliver(app, settings, clock):
    """``deliver(now)``: the worker (its scheduler hook included) at ``now``, until nothing is
    left to fan out or send; the fake DingTalk's clock follows."""
    from bridges.registry import build_worker

    worker = build_worker(settings, worker_id="deadlines-test")
    worker.rand = lambda: 0.5

    def _deliver(now: datetime, passes: int = 4):
        clock.t = now.timestamp()
        results = [worker.run_once(now) for _ in range(passes)]
        database.connect(reuse_if_open=True)
        return results

    yield _deliver
    if not database.is_closed():
        database.close()
