"""The README's "Acting as a resident with curl" recipe, run as written (bash and curl) against
a real demo: the resident it logs in gets the WeChat message when an official accepts the report,
because the recipe grants the subscribe-message consent first."""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.test_demo import free_port
from tests.test_demo import wait_for

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl: apt-get install -y curl")


def _recipe() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Acting as a resident with curl", 1)[1]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


def test_the_curl_recipe_ends_with_a_wechat_message(tmp_path):
    api, wx, dt = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "miniapp_api.cli", "demo", "--dir", str(tmp_path / "demo"), "--port", str(api),
         "--wechat-port", str(wx), "--dingtalk-port", str(dt)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base, wx_base, dt_base = f"http://127.0.0.1:{api}", f"http://127.0.0.1:{wx}", f"http://127.0.0.1:{dt}"
    try:
        wait_for(lambda: requests.get(f"{base}/readyz", timeout=1).status_code == 200)
        script = (_recipe().replace("localhost:8000", f"127.0.0.1:{api}").replace("localhost:9101", f"127.0.0.1:{wx}")
                  + '\necho "TOKEN=$TOKEN"\n')
        ran = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60, env=env)
        assert ran.returncode == 0, ran.stderr
        token = re.search(r"^TOKEN=(\S+)$", ran.stdout, re.M).group(1)
        headers = {"Authorization": f"Bearer {token}"}
        report = requests.get(f"{base}/api/v1/reports?mine=true", headers=headers, timeout=5).json()["items"][-1]
        number = report["number"]
        wait_for(lambda: [m for m in requests.get(f"{dt_base}/_fake/groups/cid-yongsheng/messages", timeout=5)
                          .json()["items"] if number in m["text"]])
        groups = requests.get(f"{dt_base}/_fake/groups", timeout=5).json()
        staff = next(g for g in groups["items"] if g["conversation_id"] == "cid-yongsheng")["members"][0]["staff_id"]
        answer = requests.post(f"{dt_base}/_fake/callback", timeout=10, json={
            "conversation_id": "cid-yongsheng", "staff_id": staff, "text": f"受理 {number}",
            "target_url": f"{base}/callbacks/dingtalk"}).json()
        assert answer["status"] == 200
        message = wait_for(lambda: [m for m in requests.get(f"{wx_base}/_fake/messages", timeout=5).json()["items"]
                                    if m["touser"] == "o-me" and number in str(m["data"])])
        assert message[0]["template_id"] == "demo-report-status"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
