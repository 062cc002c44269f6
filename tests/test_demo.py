"""`make demo` runs `tongxin demo`: start it for real and walk the whole loop over HTTP."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(fn, timeout: float = 30.0, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = fn()
            if value:
                return value
        except requests.RequestException:
            pass
        time.sleep(step)
    raise AssertionError("timed out waiting")


def test_demo_serves_the_whole_loop(tmp_path):
    api, wx, dt = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "miniapp_api.cli", "demo", "--dir", str(tmp_path / "demo"), "--port", str(api),
         "--wechat-port", str(wx), "--dingtalk-port", str(dt)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base, dt_base = f"http://127.0.0.1:{api}", f"http://127.0.0.1:{dt}"
    try:
        wait_for(lambda: requests.get(f"{base}/readyz", timeout=1).status_code == 200)
        assert "同心" in requests.get(f"{base}/demo/", timeout=5).text
        code = requests.post(f"{base}/demo/login-code", timeout=5).json()
        token = requests.post(f"{base}/api/v1/auth/wechat-login", json={"code": code["code"]}, timeout=5).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        towns = requests.get(f"{base}/api/v1/townships", timeout=5).json()["items"]
        assert len(towns) == 13
        report = requests.post(f"{base}/api/v1/reports", headers=headers, timeout=5, json={
            "category": "sanitation", "township": "yongsheng", "description": "演示：垃圾没人清理",
            "location": {"lat": 43.3, "lng": 125.3, "address": "人民大街"}}).json()
        number = report["number"]

        def card():
            items = requests.get(f"{dt_base}/_fake/groups/cid-yongsheng/messages", timeout=5).json()["items"]
            return [m for m in items if number in m["text"]]

        wait_for(card)
        groups = requests.get(f"{dt_base}/_fake/groups", timeout=5).json()
        members = next(g for g in groups["items"] if g["conversation_id"] == "cid-yongsheng")["members"]
        staff = members[0]["staff_id"]
        answer = requests.post(f"{dt_base}/_fake/callback", timeout=10, json={
            "conversation_id": "cid-yongsheng", "staff_id": staff, "text": f"受理 {number}",
            "target_url": f"{base}/callbacks/dingtalk"}).json()
        assert answer["status"] == 200
        detail = wait_for(lambda: (lambda d: d if d["status"] == "accepted" else None)(
            requests.get(f"{base}/api/v1/reports/{number}", headers=headers, timeout=5).json()))
        assert detail["timeline"][-1]["channel"] == "dingtalk"
        assert requests.get(f"http://127.0.0.1:{wx}/", timeout=5).status_code == 200
        assert requests.get(f"{dt_base}/", timeout=5).status_code == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            out, _ = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
    assert "Traceback" not in out, out[-3000:]
