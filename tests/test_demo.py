"""`make demo` runs `tongxin demo`: start it for real and walk the whole loop over HTTP."""
from __future__ import annotations

import csv
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


def roster_post(path: Path, unit: str, role: str, post: str, community: str = "", grid: str = "") -> dict:
    """The demo roster's holder of one post (the CSV the demo wrote and imported)."""
    with path.open(encoding="utf-8", newline="") as fh:
        return next(r for r in csv.DictReader(fh) if (r["township"], r["role"], r["duty_post"], r["community"], r["grid"])
                    == (unit, role, post, community, grid))


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
        assert report["grid"] is None  # outside every demo grid: 待指派网格
        # The README's resident recipe: its location lies in a demo grid, and the report goes there.
        in_grid = requests.post(f"{base}/api/v1/reports", headers=headers, timeout=5, json={
            "category": "sanitation", "township": "yongsheng", "description": "演示：网格里的问题",
            "location": {"lat": 43.345, "lng": 125.305, "address": "人民大街18号"}}).json()
        assert in_grid["grid"] == {"name": "第1网格", "community": "永盛第1社区"}, in_grid

        def messages(group: str, about: str) -> list[dict]:
            items = requests.get(f"{dt_base}/_fake/groups/{group}/messages", timeout=5).json()["items"]
            return [m for m in items if about in m["text"]]

        def card():
            return messages("cid-yongsheng", number)

        # Officials at every level are on the roster, each a member of their unit's group.
        roster = tmp_path / "demo" / "roster.csv"
        township_a = roster_post(roster, "yongsheng", "township_staff", "A")
        grid_a = roster_post(roster, "yongsheng", "grid_worker", "A", "永盛第1社区", "第1网格")
        grid_b = roster_post(roster, "yongsheng", "grid_worker", "B", "永盛第1社区", "第1网格")
        department = roster_post(roster, "chengguan", "department_staff", "A")
        county = roster_post(roster, "county", "county_staff", "A")
        assert roster_post(roster, "yongsheng", "community_leader", "A", "永盛第1社区")["mobile"]
        # 待指派网格: the township's A post is mentioned; the report in a grid reaches its A post.
        assert wait_for(card)[0]["rendered_mentions"] == [township_a["mobile"]]
        grid_card = wait_for(lambda: messages("cid-yongsheng", in_grid["number"]))[0]
        assert grid_card["rendered_mentions"] == [grid_a["mobile"]], grid_card
        assert grid_b["mobile"] not in grid_card["text"] and township_a["mobile"] not in grid_card["text"]
        groups = requests.get(f"{dt_base}/_fake/groups", timeout=5).json()["items"]
        members = {g["conversation_id"]: {m["staff_id"]: m["mobile"] for m in g["members"]} for g in groups}
        assert members["cid-yongsheng"][grid_a["dingtalk_user_id"]] == grid_a["mobile"]  # the mention resolves
        assert members["cid-chengguan"] == {department["dingtalk_user_id"]: department["mobile"]}
        assert members["cid-county"] == {county["dingtalk_user_id"]: county["mobile"]}
        staff = next(iter(members["cid-yongsheng"]))
        answer = requests.post(f"{dt_base}/_fake/callback", timeout=10, json={
            "conversation_id": "cid-yongsheng", "staff_id": staff, "text": f"受理 {number}",
            "target_url": f"{base}/callbacks/dingtalk"}).json()
        assert answer["status"] == 200
        detail = wait_for(lambda: (lambda d: d if d["status"] == "accepted" else None)(
            requests.get(f"{base}/api/v1/reports/{number}", headers=headers, timeout=5).json()))
        assert detail["timeline"][-1]["channel"] == "dingtalk"
        # 街道吹哨、部门报到: the township whistles the grid's report to 城管局 in its own group, and
        # the department's official accepts it in 城管局's group.
        whistled = in_grid["number"]
        answer = requests.post(f"{dt_base}/_fake/callback", timeout=10, json={
            "conversation_id": "cid-yongsheng", "staff_id": township_a["dingtalk_user_id"],
            "text": f"转办 {whistled} 城管局", "target_url": f"{base}/callbacks/dingtalk"}).json()
        assert answer["status"] == 200
        assert wait_for(lambda: messages("cid-chengguan", whistled))[0]["title"].startswith("转办")
        answer = requests.post(f"{dt_base}/_fake/callback", timeout=10, json={
            "conversation_id": "cid-chengguan", "staff_id": department["dingtalk_user_id"],
            "text": f"受理 {whistled}", "target_url": f"{base}/callbacks/dingtalk"}).json()
        assert answer["status"] == 200
        detail = wait_for(lambda: (lambda d: d if d["status"] == "accepted" else None)(
            requests.get(f"{base}/api/v1/reports/{whistled}", headers=headers, timeout=5).json()))
        steps = [(t["action"], t["actor"]["name"]) for t in detail["timeline"]]
        assert steps[-2:] == [("transfer", township_a["official_name"]), ("accept", department["official_name"])], steps
        # The township's group hears that the department reported (报到).
        wait_for(lambda: [m for m in messages("cid-yongsheng", whistled) if department["official_name"] in m["text"]])
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
    # The printed line points the tongxin commands at this demo: they see what it delivered.
    export = next(line.strip() for line in out.splitlines() if line.strip().startswith("export TONGXIN_CONFIG="))
    config = export.split("=", 1)[1]
    assert Path(config) == (tmp_path / "demo" / "config.toml").resolve()
    listed = subprocess.run([sys.executable, "-m", "miniapp_api.cli", "deliveries", "list", "--state", "all"],
                            cwd=tmp_path, env={**env, "TONGXIN_CONFIG": config}, capture_output=True, text=True,
                            timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert "dingtalk:township:yongsheng" in listed.stdout, listed.stdout
