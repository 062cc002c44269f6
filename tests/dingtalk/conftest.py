"""Shared fixtures: a fake DingTalk served over real HTTP, a robot client, a callback receiver."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path

import pytest
import requests
from flask import Flask
from flask import jsonify
from flask import request

from bridges.dingtalk.client import RobotClient
from bridges.fakes.dingtalk import FakeDingtalkState
from bridges.fakes.dingtalk import create_fake_dingtalk
from bridges.dingtalk.inbound import CallbackRejected
from bridges.dingtalk.inbound import CallbackRequest
from bridges.dingtalk.inbound import InboundMessage
from bridges.dingtalk.inbound import parse_callback
from bridges.dingtalk.render import render_text_reply
from bridges.fakes.serve import serve_in_thread

FIXTURES = Path(__file__).parent / "fixtures"

APP_KEY = "dingappkey-test"
APP_SECRET = "appsecret-Yitong-DEMO-0123456789"
CID = "cidYongsheng001=="
TOKEN = "tok-yongsheng-0001"
SECRET = "SEC1f2e3d4c5b6a79880123456789abcdef0123456789abcdef0123456789abcd"
MEMBERS = [
    {"staff_id": "staff-wang", "name": "王网格长", "mobile": "13800000001"},
    {"staff_id": "staff-li", "name": "李网格员", "mobile": "13800000002"},
]


def load_fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@dataclass
class FakeDT:
    state: FakeDingtalkState
    base_url: str

    @property
    def webhook(self) -> str:
        return f"{self.base_url}/robot/send?access_token={TOKEN}"

    def now_ms(self) -> int:
        return self.state.now_ms()

    def post(self, path: str, payload: dict) -> requests.Response:
        return requests.post(self.base_url + path, json=payload, timeout=10)

    def get(self, path: str) -> requests.Response:
        return requests.get(self.base_url + path, timeout=10)


@pytest.fixture(scope="session")
def _fake_server():
    # One server for the whole run (a shutdown costs ~0.5 s); each test resets its state.
    app = create_fake_dingtalk(app_key=APP_KEY, app_secret=APP_SECRET)
    server = serve_in_thread(app)
    try:
        yield app.extensions["fake_dingtalk"], server.base_url
    finally:
        app.extensions["fake_dingtalk"].set_outage("off")
        server.shutdown()


@pytest.fixture
def fake(_fake_server):
    """A fake DingTalk with one signed group (永盛街道) and two members, on a real port."""
    state, base_url = _fake_server
    state.reset(full=True)
    state.add_group(CID, "永盛街道", TOKEN, SECRET, MEMBERS)
    try:
        yield FakeDT(state, base_url)
    finally:
        state.set_outage("off")  # release any request held by a "timeout" outage


@pytest.fixture
def client():
    with requests.Session() as session:
        yield RobotClient(timeout=5.0, session=session)


@dataclass
class Receiver:
    """A tiny stand-in for Tongxin's /callbacks/dingtalk: verifies, records, replies."""

    url: str
    got: list[InboundMessage] = field(default_factory=list)
    rejected: list[int] = field(default_factory=list)
    reply_errors: list[Exception] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@pytest.fixture(scope="session")
def _receiver_server():
    app = Flask("receiver")
    rec = Receiver(url="")
    robot = RobotClient(timeout=5.0)

    @app.post("/callbacks/dingtalk")
    def callback():
        req = CallbackRequest(headers=request.headers, body=request.get_data())
        try:
            msg = parse_callback(req, APP_SECRET, now_ms=int(time.time() * 1000))
        except CallbackRejected as exc:
            with rec.lock:
                rec.rejected.append(exc.status)
            return jsonify({"error": exc.reason}), exc.status
        with rec.lock:
            rec.got.append(msg)
        try:
            robot.send_by_session(msg.session_webhook, render_text_reply(f"收到：{msg.text}", msg.sender_staff_id),
                                  now_ms=int(time.time() * 1000))
        except Exception as exc:  # recorded for the test to assert on
            with rec.lock:
                rec.reply_errors.append(exc)
        return jsonify({"ok": True})

    server = serve_in_thread(app)
    rec.url = server.base_url + "/callbacks/dingtalk"
    try:
        yield rec
    finally:
        server.shutdown()
        robot.session.close()


@pytest.fixture
def receiver(_receiver_server):
    """A tiny stand-in for Tongxin's callback endpoint, verifying with inbound.parse_callback."""
    rec = _receiver_server
    with rec.lock:
        rec.got.clear()
        rec.rejected.clear()
        rec.reply_errors.clear()
    return rec
