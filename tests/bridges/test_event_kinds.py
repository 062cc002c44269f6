"""The contract between the outbox and the bridges: every event kind that can reach a channel
has that channel's message registered, and every registered message renders.

1. For **every** kind registered in ``bridges.routing`` (features included), the channels its
   fan-out rule can produce are read from the rule's code (the functions it calls, the target
   strings it builds): a kind that can reach a DingTalk group must have a payload in
   ``bridges.dingtalk.deliver.PAYLOADS``, one that can reach a resident a message in
   ``bridges.wechat.deliver.MESSAGES``. A missing one would be dead-lettered at send time.
2. For the report kinds, real events are made through the app (API, DingTalk callbacks, the
   worker), routed, rendered and delivered to the fakes, which validate every message.
"""
from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
import requests

from bridges import routing
from bridges.registry import FEATURES
from bridges.registry import register_kinds
from bridges.dingtalk.deliver import PAYLOADS
from bridges.fakes.dingtalk import parse_robot_message
from bridges.system import TASKS
from bridges.wechat.deliver import MESSAGES
from miniapp_api.db import database
from miniapp_api.models import Delivery
from miniapp_api.models import OutboxEvent
from tests.conftest import report_body
from tests.factories import make_official

OUR_PACKAGES = ("bridges", "miniapp_api")
#: Target strings the DingTalk bridge renders by itself (command replies carry their text).
SELF_RENDERED = ("dingtalk:reply:",)


# --------------------------------------------------------------------------- 1. every kind


@pytest.fixture(autouse=True, scope="module")
def _installed():
    """Every feature's event kinds, installed as composition installs them."""
    register_kinds()


def test_importing_a_feature_registers_nothing():
    """Registration is explicit: importing the features and channels leaves only the report
    kinds (the channels' own); composition installs the rest (``bridges.registry``)."""
    code = ("import json\nimport miniapp_api\n"  # as every process does first (the app, the CLI)
            "import bridges.features.community, bridges.features.deadlines, bridges.features.dingtalk_app\n"
            "from bridges import routing, system\n"
            "from bridges.dingtalk.deliver import PAYLOADS\n"
            "from bridges.wechat.deliver import MESSAGES\n"
            "print(json.dumps([sorted(routing.known_kinds()), sorted(PAYLOADS), sorted(MESSAGES), sorted(system.TASKS)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[2]).stdout
    assert json.loads(out) == [["dingtalk.reply", "report.content_check", "report.created", "report.photo_check",
                                "report.photo_withdrawn", "report.status_changed"],
                               ["report.created", "report.photo_withdrawn", "report.status_changed"],
                               ["report.photo_withdrawn", "report.status_changed"],
                               ["system:content_check", "system:photo_check"]]


def test_every_feature_kind_is_installed():
    """What the features declare is what the channels use, and installing again changes nothing."""
    register_kinds()
    for kinds in FEATURES:
        assert set(kinds.routes) <= routing.known_kinds(), kinds
        assert all(PAYLOADS[k] is fn for k, fn in kinds.dingtalk.items()), kinds
        assert all(MESSAGES[k] is fn for k, fn in kinds.wechat.items()), kinds
        assert all(TASKS[t] is fn for t, fn in kinds.system.items()), kinds


def _code_objects(code: types.CodeType):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from _code_objects(const)


def reachable_channels(fn, _seen=None) -> set[str]:
    """Channels a fan-out rule can produce: ``dingtalk`` (``group_target`` or a ``dingtalk:…``
    target), ``reply``, ``wechat``, ``system``. Follows the functions of our own packages it
    calls, directly or through a module (``helpers.fn``); over-approximates on purpose."""
    seen = _seen if _seen is not None else set()
    if fn in seen:
        return set()
    seen.add(fn)
    out: set[str] = set()
    if fn is routing.group_target:
        return {"dingtalk"}
    for code in _code_objects(fn.__code__):
        strings = [c for c in code.co_consts if isinstance(c, str)]
        # Target("dingtalk", f"dingtalk:reply:{cid}") is a reply, not a group message.
        replies = any(c.startswith(SELF_RENDERED) for c in strings)
        for const in strings:
            if const.startswith(SELF_RENDERED):
                out.add("reply")
            elif (const == "dingtalk" and not replies) or (const.startswith("dingtalk:") and not replies):
                out.add("dingtalk")
            elif const == "wechat" or const.startswith("wechat:"):
                out.add("wechat")
            elif const == "system" or const.startswith("system:"):
                out.add("system")
        names = set(code.co_names)
        for name in names:
            value = fn.__globals__.get(name)
            candidates = [value]
            if isinstance(value, types.ModuleType) and value.__name__.startswith(OUR_PACKAGES):
                candidates = [getattr(value, attr, None) for attr in names]
            for c in candidates:
                if isinstance(c, types.FunctionType) and (c.__module__ or "").startswith(OUR_PACKAGES):
                    out |= reachable_channels(c, seen)
    return out


def channels_by_kind() -> dict[str, set[str]]:
    return {kind: reachable_channels(routing._ROUTES[kind]) for kind in routing.known_kinds()}


def test_the_analysis_reads_the_report_rules_right():
    """The code reading above is itself checked against rules whose targets we know."""
    got = channels_by_kind()
    assert got["report.created"] == {"dingtalk"}
    assert got["report.status_changed"] == {"dingtalk", "wechat"}
    assert got["report.content_check"] == {"system"}
    assert got["dingtalk.reply"] == {"reply"}


def test_every_kind_that_reaches_a_channel_has_its_message():
    problems = []
    for kind, channels in sorted(channels_by_kind().items()):
        if "dingtalk" in channels and kind not in PAYLOADS:
            problems.append(f"{kind}: routed to a DingTalk group but has no DingTalk payload (Kinds.dingtalk_payload)")
        if "wechat" in channels and kind not in MESSAGES:
            problems.append(f"{kind}: routed to residents' WeChat but has no WeChat message (Kinds.wechat_message)")
    assert not problems, "\n".join(problems)


def test_every_message_belongs_to_a_routed_kind():
    """A payload or message for a kind nobody routes is never sent (usually a typo in the kind)."""
    kinds = routing.known_kinds()
    assert sorted(set(PAYLOADS) - kinds) == []
    assert sorted(set(MESSAGES) - kinds) == []
    channels = channels_by_kind()
    unused = [k for k in PAYLOADS if "dingtalk" not in channels[k]] + [k for k in MESSAGES if "wechat" not in channels[k]]
    assert unused == [], f"registered messages their kind's route can never use: {unused}"


def test_system_targets_have_tasks():
    for kind, fn in routing._ROUTES.items():
        for code in _code_objects(fn.__code__):
            for const in code.co_consts:
                if isinstance(const, str) and const.startswith("system:"):
                    assert const in TASKS, f"{kind} routes to {const}, which has no system task (Kinds.system_task)"


# --------------------------------------------------------------------------- 2. real report events


@pytest.fixture
def say(tongxin, fake_dingtalk):
    def _say(code: str, staff_id: str, text: str) -> dict:
        answer = fake_dingtalk.state.deliver_callback(
            f"{tongxin.base_url}/callbacks/dingtalk", fake_dingtalk.base_url,
            conversation_id=f"cid-{code}", staff_id=staff_id, text=text)
        assert answer["status"] == 200, answer["body"]
        return answer

    return _say


def test_every_report_event_routes_renders_and_is_delivered(client, residents, fake_wechat, fake_dingtalk,
                                                            settings, say, run, clock):
    database.connect(reuse_if_open=True)
    make_official("王永盛", "ys-a", duty_post="A", mobile="13900000001")
    make_official("孙城管", "cg-a", township=None, department="chengguan")
    alice, bob = residents.login(), residents.login()
    for who in (alice, bob):
        requests.post(f"{fake_wechat.base_url}/_fake/consents",
                      json={"openid": who["openid"], "template_id": "tmpl-report-status", "count": 10}, timeout=5)
        for _ in range(10):
            client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl-report-status"]}, headers=who["headers"])

    def submit(who, **kw) -> str:
        resp = client.post("/api/v1/reports", json=report_body(**kw), headers=who["headers"])
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()["number"]

    a = submit(alice, description="路灯不亮 <b>已经一周</b> [链接](http://x.y)")
    requests.post(f"{fake_wechat.base_url}/_fake/outage", json={"mode": "busy", "count": 1}, timeout=5)
    b = submit(bob, anonymous=True)  # WeChat's content check is busy: the worker checks it first
    run()
    # Every action an official or resident can take, through the channels they use.
    say("yongsheng", "ys-a", f"受理 {a}")
    say("yongsheng", "ys-a", f"转办 {a} 城管局")
    say("chengguan", "cg-a", f"受理 {a}")
    say("chengguan", "cg-a", f"办结 {a} 已更换灯泡，夜间巡查确认正常亮灯，感谢您对城市管理工作的支持")
    assert client.post(f"/api/v1/reports/{a}/reopen", json={"reason": "又坏了"}, headers=alice["headers"]).status_code == 200
    say("chengguan", "cg-a", f"办结 {a} 已再次维修")
    assert client.post(f"/api/v1/reports/{a}/rating", json={"score": 5, "comment": "好"},
                       headers=alice["headers"]).status_code == 200
    say("yongsheng", "ys-a", f"驳回 {b} 重复上报")
    say("yongsheng", "ys-a", f"查询 {a}")

    database.connect(reuse_if_open=True)
    events = list(OutboxEvent.select().order_by(OutboxEvent.id))
    kinds = {e.kind for e in events}
    assert {"report.created", "report.status_changed", "report.content_check", "dingtalk.reply"} <= kinds
    actions = {e.payload["action"] for e in events if e.kind == "report.status_changed"}
    assert actions >= {"accept", "transfer", "resolve", "reopen", "rate", "reject"}

    rendered: set[str] = set()
    for event in events:
        for t in routing.targets_for(event, settings):
            if t.channel == "dingtalk" and not t.target.startswith(SELF_RENDERED):
                assert event.kind in PAYLOADS, (event.kind, t)
                payload = PAYLOADS[event.kind](event, settings)
                body, problem = parse_robot_message(json.dumps(payload, ensure_ascii=False).encode())
                assert problem is None, (event.kind, problem, payload)
                assert body.get("at", {}).get("isAtAll") in (None, False)
                rendered.add(f"dingtalk:{event.kind}")
            elif t.channel == "wechat":
                assert event.kind in MESSAGES, (event.kind, t)
                message = MESSAGES[event.kind](event, settings)
                assert message.template_id == "tmpl-report-status" and message.data
                rendered.add(f"wechat:{event.kind}")
    assert {"dingtalk:report.created", "dingtalk:report.status_changed", "wechat:report.status_changed"} <= rendered

    # And the worker delivers every one of them: the fakes refuse any malformed message.
    for _ in range(6):
        run(step=15)
    database.connect(reuse_if_open=True)
    outcome = {(d.channel, d.state, d.last_errcode) for d in Delivery.select()}
    assert {state for _, state, _ in outcome} == {"sent"}, outcome
    sent = requests.get(f"{fake_wechat.base_url}/_fake/messages", timeout=5).json()["items"]
    changes = [e for e in events if e.kind == "report.status_changed"]
    assert len(sent) == len(changes)
