"""Configuration: one TOML file, environment overrides, strict validation.

The file is named by ``TONGXIN_CONFIG`` or ``--config PATH``. Any single key can be
overridden by an environment variable ``TONGXIN__SECTION__KEY`` (array items by index:
``TONGXIN__TOWNSHIPS__0__DINGTALK__SECRET``). Values of overrides are read as TOML
literals when they parse as one (``20``, ``true``, ``"x"``) and as plain strings otherwise.

Validation is pydantic's, with every error turned into one line that names the dotted key
(``wechat.secret: ...``). Unknown keys are errors. Secrets holding a placeholder
(``CHANGE-ME``, ``...``, ``<...>``) are errors too, so a copied example file refuses to start.
"""
from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any
from typing import Literal

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import ValidationError
from pydantic import field_validator
from pydantic import model_validator

ENV_PREFIX = "TONGXIN__"
_PLACEHOLDER = re.compile(r"^(|\.\.\.|<.*>|change[-_ ]?me.*|xxx+|todo|placeholder)$", re.I)
_CODE = r"^[a-z][a-z0-9_-]{0,31}$"


class ConfigError(Exception):
    """The configuration is wrong; ``problems`` lists one line per wrong key."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("配置有误 / invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def _not_placeholder(value: str) -> str:
    if _PLACEHOLDER.match(value.strip()) or "CHANGE-ME" in value.upper():
        raise ValueError("is a placeholder; set a real value")
    return value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    secret_key: str = Field(min_length=16)
    public_base_url: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    token_ttl_hours: int = Field(default=24 * 7, ge=1, le=24 * 90)

    _secret = field_validator("secret_key")(_not_placeholder)

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")


class DatabaseSettings(_Section):
    url: str = Field(pattern=r"^(sqlite|postgres|postgresql)://")


class ReportsSettings(_Section):
    daily_limit_per_resident: int = Field(default=20, ge=1, le=10_000)
    reopen_days: int = Field(default=7, ge=0, le=365)
    description_max_chars: int = Field(default=1000, ge=10, le=2500)
    max_photos: int = Field(default=9, ge=0, le=20)


class UploadsSettings(_Section):
    dir: str = "var/uploads"
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    max_pixels: int = Field(default=40_000_000, ge=10_000, le=200_000_000)
    thumbnail_px: int = Field(default=320, ge=32, le=2048)


class WechatTemplates(_Section):
    report_status: str = Field(min_length=1)
    # The keys of the report_status template's fields, as chosen in the WeChat console.
    # number: character_string (tracking number), status: phrase (≤5 汉字),
    # note: thing (≤20 chars), time: time.
    report_status_fields: dict[str, str] = Field(default_factory=lambda: {
        "number": "character_string1", "status": "phrase2", "note": "thing3", "time": "time4"})

    _id = field_validator("report_status")(_not_placeholder)

    @field_validator("report_status_fields")
    @classmethod
    def _fields(cls, v: dict[str, str]) -> dict[str, str]:
        if set(v) != {"number", "status", "note", "time"}:
            raise ValueError("needs exactly the keys number, status, note, time")
        return v


class WechatSettings(_Section):
    appid: str = Field(pattern=r"^wx[0-9A-Za-z_-]{2,30}$")
    secret: str = Field(min_length=1)
    api_base_url: str = Field(pattern=r"^https?://")
    push_token: str = Field(min_length=1)
    templates: WechatTemplates
    # A content check that takes longer than this is left to the worker (CONTRACT §3).
    content_check_timeout_seconds: float = Field(default=1.5, gt=0, le=10)
    request_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    miniprogram_state: Literal["developer", "trial", "formal"] = "formal"

    _secret = field_validator("appid", "secret", "push_token")(_not_placeholder)

    @field_validator("api_base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")


class DingtalkSettings(_Section):
    api_base_url: str = Field(pattern=r"^https?://")
    app_key: str = Field(min_length=1)
    app_secret: str = Field(min_length=1)
    rate_limit_per_minute: int = Field(default=20, ge=1, le=20)
    request_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # When a group's backlog outgrows its budget, reports are merged into digests. Keep this
    # many messages of each minute for digests, and let a digest gather for this long.
    digest_reserve: int = Field(default=5, ge=0, le=19)
    digest_wait_seconds: float = Field(default=10, ge=0, le=300)
    # Staging: when set, every group delivery goes to this one robot instead.
    staging_webhook: str | None = None
    staging_secret: str | None = None

    @model_validator(mode="after")
    def _staging_pair(self) -> "DingtalkSettings":
        if bool(self.staging_webhook) != bool(self.staging_secret):
            raise ValueError("staging_webhook and staging_secret go together")
        if self.digest_reserve >= self.rate_limit_per_minute:
            raise ValueError("digest_reserve must be smaller than rate_limit_per_minute")
        return self

    _secret = field_validator("app_key", "app_secret")(_not_placeholder)

    @field_validator("api_base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")


class GroupSettings(_Section):
    """A DingTalk group: the custom robot that speaks there and the group's id in callbacks."""

    webhook: str = Field(pattern=r"^https?://[^\s]+access_token=[^\s&]+")
    secret: str = Field(min_length=1)
    conversation_id: str = Field(min_length=1)

    _secret = field_validator("secret")(_not_placeholder)

    @field_validator("webhook")
    @classmethod
    def _real_token(cls, v: str) -> str:
        token = v.split("access_token=", 1)[1].split("&", 1)[0]
        _not_placeholder(token)
        return v


class TownshipSettings(_Section):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=40)
    kind: Literal["town", "street"]
    dingtalk: GroupSettings | None = None


class DepartmentSettings(_Section):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=40)
    dingtalk: GroupSettings | None = None


class CategorySettings(_Section):
    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=40)
    # The level of the duty list that handles this category first.
    level: Literal["grid", "community", "township", "department"] = "grid"
    accept_hours: float = Field(default=24, gt=0)
    resolve_hours: float = Field(default=72, gt=0)


DEFAULT_CATEGORIES: tuple[dict[str, Any], ...] = (
    {"code": "road", "name": "道路破损", "level": "township"},
    {"code": "sanitation", "name": "环境卫生", "level": "grid"},
    {"code": "streetlight", "name": "路灯故障", "level": "community"},
    {"code": "drainage", "name": "排水井盖", "level": "community"},
    {"code": "greenery", "name": "绿化养护", "level": "community"},
    {"code": "parking", "name": "违章停车", "level": "township"},
    {"code": "construction", "name": "违章建筑", "level": "township"},
    {"code": "noise", "name": "噪音扰民", "level": "grid"},
    {"code": "safety", "name": "安全隐患", "level": "township"},
    {"code": "dispute", "name": "矛盾纠纷", "level": "grid"},
    {"code": "other", "name": "其他", "level": "grid"},
)


class WorkerSettings(_Section):
    poll_seconds: float = Field(default=0.5, gt=0, le=60)
    max_attempts: int = Field(default=10, ge=1, le=100)
    first_retry_seconds: float = Field(default=5, gt=0)
    max_retry_seconds: float = Field(default=1800, gt=0)
    batch_size: int = Field(default=50, ge=1, le=1000)


class AdminSettings(_Section):
    # A bearer token for scripts and the admin API (county administrator rights). Leave it
    # unset to allow admin API calls only from console sessions.
    api_token: str | None = Field(default=None, min_length=24)

    @field_validator("api_token")
    @classmethod
    def _real(cls, v: str | None) -> str | None:
        return None if v is None else _not_placeholder(v)


class Settings(_Section):
    """The whole configuration, frozen. Adapters receive their own section, never this."""

    server: ServerSettings
    database: DatabaseSettings
    reports: ReportsSettings = ReportsSettings()
    uploads: UploadsSettings = UploadsSettings()
    wechat: WechatSettings
    dingtalk: DingtalkSettings
    worker: WorkerSettings = WorkerSettings()
    admin: AdminSettings = AdminSettings()
    townships: list[TownshipSettings] = Field(min_length=1)
    departments: list[DepartmentSettings] = []
    categories: list[CategorySettings] = Field(
        default_factory=lambda: [CategorySettings(**c) for c in DEFAULT_CATEGORIES]
    )

    @model_validator(mode="after")
    def _unique_codes(self) -> "Settings":
        problems = []
        for name in ("townships", "departments", "categories"):
            seen: set[str] = set()
            for i, item in enumerate(getattr(self, name)):
                if item.code in seen:
                    problems.append(f"{name}[{i}].code: duplicate code {item.code!r}")
                seen.add(item.code)
        cids = [
            (f"{n}[{i}].dingtalk.conversation_id", x.dingtalk.conversation_id)
            for n in ("townships", "departments")
            for i, x in enumerate(getattr(self, n))
            if x.dingtalk
        ]
        seen_cid: set[str] = set()
        for key, cid in cids:
            if cid in seen_cid:
                problems.append(f"{key}: the same group is mapped twice")
            seen_cid.add(cid)
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _parse_env_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_env_overrides(data: dict[str, Any], environ: dict[str, str]) -> dict[str, Any]:
    """Set ``TONGXIN__A__B=value`` as ``data["a"]["b"]``; numeric parts index arrays."""
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX):
            continue
        parts = [p.lower() for p in name[len(ENV_PREFIX):].split("__") if p]
        if not parts:
            continue
        node: Any = data
        for i, part in enumerate(parts[:-1]):
            nxt_is_index = parts[i + 1].isdigit()
            if isinstance(node, list):
                idx = int(part)
                while len(node) <= idx:
                    node.append({})
                node = node[idx]
                continue
            if part not in node or not isinstance(node[part], (dict, list)):
                node[part] = [] if nxt_is_index else {}
            node = node[part]
        last = parts[-1]
        if isinstance(node, list) and last.isdigit():
            idx = int(last)
            while len(node) <= idx:
                node.append({})
            node[idx] = _parse_env_value(raw)
        elif isinstance(node, dict):
            node[last] = _parse_env_value(raw)
    return data


def _format_errors(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors():
        key = ""
        for part in e["loc"]:
            key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "missing":
            msg = "required key is missing"
        lines.append(f"{key or '(top level)'}: {msg}")
    return lines


def parse_settings(data: dict[str, Any]) -> Settings:
    """Validate a plain dict (a parsed TOML file) into ``Settings`` or raise ConfigError."""
    try:
        return Settings.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(err)) from None


def load_settings(path: str | os.PathLike | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read the TOML file (``path`` or ``$TONGXIN_CONFIG``), apply env overrides, validate."""
    environ = dict(os.environ if environ is None else environ)
    path = path or environ.get("TONGXIN_CONFIG")
    if not path:
        raise ConfigError(["TONGXIN_CONFIG: not set; name the TOML file with TONGXIN_CONFIG or --config"])
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError([f"{p}: file not found"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{p}: not valid TOML ({exc})"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{p}: not UTF-8"]) from None
    return parse_settings(apply_env_overrides(data, environ))
