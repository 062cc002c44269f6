"""The platform clients stand on their own: importing them loads neither Flask nor miniapp_api.

Checked in a fresh interpreter, so nothing this test session already imported can hide a
dependency. (``lint-imports`` checks the same for the code; this checks what really loads,
the SDKs' own imports included.)
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import make_settings_dict

ROOT = Path(__file__).resolve().parent.parent

PURE_MODULES = [
    "bridges.tokens",
    "bridges.wechat.client",
    "bridges.wechat.errcodes",
    "bridges.dingtalk.app_client",
    "bridges.dingtalk.sdk",
    "bridges.dingtalk.client",
    "bridges.dingtalk.signing",
    "bridges.dingtalk.render",
    "bridges.dingtalk.render_community",
    "bridges.dingtalk.render_deadlines",
    "bridges.dingtalk.inbound",
    "bridges.dingtalk.commands",
    "bridges.dingtalk.errcodes",
    "bridges.errors",
    "bridges.retry",
]

CHECK = """
import importlib, sys
importlib.import_module(sys.argv[1])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("flask", "werkzeug", "miniapp_api"))
print(",".join(loaded))
"""


@pytest.mark.parametrize("module", PURE_MODULES)
def test_importing_a_platform_client_loads_neither_flask_nor_miniapp_api(module):
    done = subprocess.run([sys.executable, "-c", CHECK, module], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"{module} loads {done.stdout.strip()}"


def test_both_app_clients_together_load_neither():
    code = ("import sys, bridges.wechat.client, bridges.dingtalk.app_client\n"
            "assert 'flask' not in sys.modules, 'flask'\n"
            "assert 'miniapp_api' not in sys.modules, 'miniapp_api'\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


APP_WITHOUT_SDK = """
import json, sys
from miniapp_api import create_app
from miniapp_api.config import parse_settings
app = create_app(parse_settings(json.loads(sys.argv[1])))
client = app.test_client()
assert client.get("/api/v1/openapi.json").status_code == 200
assert client.get("/api/v1/reports?mine=true").status_code == 401
print("before", any(m.split(".")[0] == "dingtalk" for m in sys.modules))
from bridges.dingtalk.app_client import load_sdk
load_sdk()
print("after", "dingtalk" in sys.modules)
"""


def test_a_web_worker_loads_dingtalk_sdk_only_when_it_needs_it(tmp_path):
    """dingtalk-sdk costs a process about 10 MB (its package imports every API): the app
    starts and serves residents without it, and the app client loads it on first use."""
    settings = make_settings_dict(f"sqlite:///{tmp_path / 'a.db'}", tmp_path, "http://127.0.0.1:9")
    done = subprocess.run([sys.executable, "-c", APP_WITHOUT_SDK, json.dumps(settings, default=str)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["before", "False", "after", "True"], done.stdout
