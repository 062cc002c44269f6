"""The fakes' command line (``python -m bridges.fakes.<platform>``): served standalone on
one gunicorn process, as the benchmarks and a developer run them."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
import requests

from tests.bridges.helpers import wait_for


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answer(url: str):
    try:
        return requests.get(url, timeout=1)
    except requests.RequestException:
        return None


@pytest.mark.parametrize("module,extra", [
    ("bridges.fakes.wechat", ["--appid", "wxclitest00000000", "--secret", "cli-secret"]),
    ("bridges.fakes.dingtalk", []),
])
def test_a_fake_serves_from_its_command_line_and_stops_on_sigterm(module, extra):
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", module, "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        page = wait_for(lambda: _answer(f"http://127.0.0.1:{port}/"), timeout=30, what=f"{module} to answer")
        assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
        if module == "bridges.fakes.wechat":
            # state lives in the one serving process: a token it issued is accepted by it
            token = requests.get(f"http://127.0.0.1:{port}/cgi-bin/token", timeout=5, params={
                "grant_type": "client_credential", "appid": "wxclitest00000000", "secret": "cli-secret"}).json()
            check = requests.post(f"http://127.0.0.1:{port}/wxa/msg_sec_check", timeout=5,
                                  params={"access_token": token["access_token"]},
                                  json={"version": 2, "openid": "nobody", "scene": 3, "content": "你好"}).json()
            assert check["errcode"] == 40003  # the token passed; the openid is unknown
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) is not None
    assert _answer(f"http://127.0.0.1:{port}/") is None
