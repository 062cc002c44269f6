"""Configuration: TOML, environment overrides, errors that name the key, the CLI check."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from miniapp_api.config import ConfigError
from miniapp_api.config import apply_env_overrides
from miniapp_api.config import load_settings
from miniapp_api.config import parse_settings
from tests.conftest import make_settings_dict

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def good(tmp_path) -> dict:
    return make_settings_dict("sqlite:///x.db", tmp_path, "http://127.0.0.1:1")


def problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_settings(data)
    return info.value.problems


def test_valid_settings_parse(good):
    s = parse_settings(good)
    assert [t.code for t in s.townships] == ["yongsheng", "yongning", "yitong"]
    assert s.reports.daily_limit_per_resident == 20
    assert len(s.categories) >= 5  # defaults when the file names none


def test_unknown_key_is_named(good):
    good["wechat"]["app_secret"] = "x"
    assert problems(good) == ["wechat.app_secret: unknown key"]


def test_missing_key_is_named(good):
    del good["server"]["secret_key"]
    assert problems(good) == ["server.secret_key: required key is missing"]


@pytest.mark.parametrize("value", ["CHANGE-ME", "...", "<app secret>", "change_me_please", ""])
def test_placeholder_secret_refuses(good, value):
    good["wechat"]["secret"] = value
    assert any(p.startswith("wechat.secret:") for p in problems(good))


def test_placeholder_secret_key_refuses(good):
    good["server"]["secret_key"] = "CHANGE-ME-CHANGE-ME-CHANGE-ME"
    assert any("server.secret_key" in p and "placeholder" in p for p in problems(good))


def test_array_item_error_names_index(good):
    good["townships"][1]["kind"] = "city"
    assert any(p.startswith("townships[1].kind:") for p in problems(good))


def test_duplicate_codes_and_groups(good):
    good["townships"][2]["code"] = "yongsheng"
    assert any("duplicate code 'yongsheng'" in p for p in problems(good))


def test_env_overrides_single_keys(good):
    data = apply_env_overrides(good, {
        "TONGXIN__REPORTS__DAILY_LIMIT_PER_RESIDENT": "3",
        "TONGXIN__WECHAT__SECRET": "from-env",
        "TONGXIN__TOWNSHIPS__0__NAME": "新名字",
        "OTHER": "ignored",
    })
    s = parse_settings(data)
    assert s.reports.daily_limit_per_resident == 3
    assert s.wechat.secret == "from-env"
    assert s.townships[0].name == "新名字"


def test_load_from_file_with_env(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(cfg, environ={})
    # The shipped example holds placeholders, so it refuses to start and names each one.
    assert any(p.startswith("server.secret_key") for p in info.value.problems)
    assert any(p.startswith("wechat.secret") for p in info.value.problems)


def test_missing_file_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "nope.toml", environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("[server\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad, environ={})
    with pytest.raises(ConfigError, match="TONGXIN_CONFIG"):
        load_settings(None, environ={})


def test_example_has_13_units():
    import tomllib

    data = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))
    kinds = [t["kind"] for t in data["townships"]]
    assert len(kinds) == 13 and kinds.count("street") == 2
    assert {"永盛街道", "永宁街道"} <= {t["name"] for t in data["townships"]}


def test_check_config_cli(tmp_path, good):
    import tomllib  # noqa: F401  (the CLI reads TOML; we write it by hand below)

    cfg = tmp_path / "c.toml"
    cfg.write_text((ROOT / "config.example.toml").read_text(encoding="utf-8"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TONGXIN")}
    bad = subprocess.run([sys.executable, "-m", "miniapp_api.cli", "--config", str(cfg), "check-config"],
                         capture_output=True, text=True, env=env, cwd=ROOT)
    assert bad.returncode == 2
    assert "wechat.secret" in bad.stderr
    env.update({
        "TONGXIN__SERVER__SECRET_KEY": "a-real-secret-key-0123456789",
        "TONGXIN__WECHAT__SECRET": "real-wechat-secret",
        "TONGXIN__WECHAT__PUSH_TOKEN": "real-push-token",
        "TONGXIN__DINGTALK__APP_SECRET": "real-dingtalk-secret",
        "TONGXIN__DINGTALK__APP_KEY": "dingrealappkey",
        "TONGXIN__WECHAT__APPID": "wx0123456789abcdef",
        "TONGXIN__WECHAT__TEMPLATES__REPORT_STATUS": "real-template-id",
    })
    for i in range(13):
        env[f"TONGXIN__TOWNSHIPS__{i}__DINGTALK__SECRET"] = f"SECreal{i}"
        env[f"TONGXIN__TOWNSHIPS__{i}__DINGTALK__WEBHOOK"] = f"https://oapi.dingtalk.com/robot/send?access_token=t{i}"
    for i in range(3):
        env[f"TONGXIN__DEPARTMENTS__{i}__DINGTALK__SECRET"] = f"SECdept{i}"
        env[f"TONGXIN__DEPARTMENTS__{i}__DINGTALK__WEBHOOK"] = f"https://oapi.dingtalk.com/robot/send?access_token=d{i}"
    ok = subprocess.run([sys.executable, "-m", "miniapp_api.cli", "--config", str(cfg), "check-config"],
                        capture_output=True, text=True, env=env, cwd=ROOT)
    assert ok.returncode == 0, ok.stderr
    assert "13 townships" in ok.stdout
