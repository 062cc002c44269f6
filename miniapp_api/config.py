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

import ipaddress
import os
import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Any
from typing import Literal

from pydantic import BaseModel
from pydantic import ConfigDict
from pydantic import Field
from pydantic import ValidationError
from pydantic import field_validator
from pydantic import model_validator
from pydantic_core import InitErrorDetails

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
    """``[server]``: the secret key, the public base URL, how long a login lasts."""

    secret_key: str = Field(min_length=16)
    public_base_url: str = Field(pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    token_ttl_hours: int = Field(default=24 * 7, ge=1, le=24 * 90)
    #: How many reverse proxies (nginx…) stand in front of the app and append to
    #: ``X-Forwarded-For``; 0 trusts no such header (the caller is the connecting address).
    trusted_proxies: int = Field(default=0, ge=0, le=5)

    _secret = field_validator("secret_key")(_not_placeholder)

    @field_validator("public_base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")


class DatabaseSettings(_Section):
    """``[database]``: the database URL."""

    url: str = Field(pattern=r"^(sqlite|postgres|postgresql)://")


class ReportsSettings(_Section):
    """``[reports]``: daily limit, reopening window, description and photo limits."""

    daily_limit_per_resident: int = Field(default=20, ge=1, le=10_000)
    reopen_days: int = Field(default=7, ge=0, le=365)
    description_max_chars: int = Field(default=1000, ge=10, le=2500)
    max_photos: int = Field(default=9, ge=0, le=20)
    # 我也遇到 (docs/reports.md): what reports/nearby finds, and when supporters raise priority.
    nearby_radius_metres: int = Field(default=150, ge=10, le=2000)
    nearby_max_age_days: int = Field(default=30, ge=1, le=365)
    nearby_max_items: int = Field(default=10, ge=1, le=50)
    priority_supporters: int = Field(default=5, ge=1, le=1000)
    # A picture sent to the robot this long after 办结 <number> becomes its completion photo.
    completion_photo_window_minutes: int = Field(default=10, ge=1, le=120)


class RoutingSettings(_Section):
    """``[routing]``: which grid a report goes to (docs/grids.md)."""

    # Outside every grid boundary, the nearest grid centre of the report's township is chosen
    # when it is at most this far from the report.
    nearest_grid_max_metres: float = Field(default=500, gt=0, le=50_000)


class UploadsSettings(_Section):
    """``[uploads]``: where photos are kept, how large they may be, thumbnail size."""

    dir: str = "var/uploads"
    max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=100 * 1024 * 1024)
    # The most pixels decoded (16 MP: 48 MB as RGB); larger JPEGs are reduced on load.
    max_pixels: int = Field(default=16_000_000, ge=10_000, le=200_000_000)
    thumbnail_px: int = Field(default=320, ge=32, le=2048)
    concurrent_decodes: int = Field(default=2, ge=1, le=64)  # pictures one process decodes at once
    decode_wait_seconds: float = Field(default=45, gt=0, le=300)  # then 503 uploads_busy
    daily_limit_per_resident: int = Field(default=100, ge=1, le=10_000)  # photos a day; then 429
    orphan_max_age_hours: int = Field(default=24, ge=1, le=24 * 90)  # unused uploads removed after


class WechatTemplates(_Section):
    """``[wechat.templates]``: the subscribe-message templates and their fields."""

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

    # Notices (通知公告) and campaigns (战地有我); unset = residents get no subscribe message.
    # notice: title thing, unit thing (the publisher), time time.
    notice: str | None = None
    notice_fields: dict[str, str] = Field(default_factory=lambda: {
        "title": "thing1", "unit": "thing2", "time": "time3"})
    # campaign (promotion from the waitlist, reminder before the start, cancellation):
    # title thing, time time (start, or start~end), place thing, note thing.
    campaign: str | None = None
    campaign_fields: dict[str, str] = Field(default_factory=lambda: {
        "title": "thing1", "time": "time2", "place": "thing3", "note": "thing4"})

    @field_validator("notice", "campaign")
    @classmethod
    def _optional_id(cls, v: str | None) -> str | None:
        return None if v is None else _not_placeholder(v)

    @field_validator("notice_fields", "campaign_fields")
    @classmethod
    def _community_fields(cls, v: dict[str, str], info) -> dict[str, str]:
        wanted = {"notice_fields": {"title", "unit", "time"},
                  "campaign_fields": {"title", "time", "place", "note"}}[info.field_name]
        if set(v) != wanted:
            raise ValueError(f"needs exactly the keys {', '.join(sorted(wanted))}")
        return v


class WechatSettings(_Section):
    """``[wechat]``: the mini-program's credentials, API base, templates, timeouts."""

    appid: str = Field(pattern=r"^wx[0-9A-Za-z_-]{2,30}$")
    secret: str = Field(min_length=1)
    api_base_url: str = Field(pattern=r"^https?://")
    push_token: str = Field(min_length=1)
    # 消息推送 EncodingAESKey: set, only safe-mode (encrypted) pushes are accepted (docs/security.md).
    push_aes_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{43}$")
    # What a group card shows of a photo WeChat's image check has not judged yet: a link the
    # official opens ("link"), the picture itself ("inline") or nothing until it passes ("hold").
    photos_before_check: Literal["link", "inline", "hold"] = "link"
    templates: WechatTemplates
    # A content check that takes longer than this is left to the worker (CONTRACT §3).
    content_check_timeout_seconds: float = Field(default=1.5, gt=0, le=10)
    request_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    miniprogram_state: Literal["developer", "trial", "formal"] = "formal"

    _secret = field_validator("appid", "secret", "push_token")(_not_placeholder)

    @field_validator("push_aes_key")
    @classmethod
    def _optional_key(cls, v: str | None) -> str | None:
        return None if v is None else _not_placeholder(v)

    @field_validator("api_base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")


class DingtalkSettings(_Section):
    """``[dingtalk]``: the app's credentials, robot limits and digests, staging, the app's sync."""

    api_base_url: str = Field(pattern=r"^https?://")
    # The v1.0 APIs' host (robot message files); unset: api.dingtalk.com for oapi.dingtalk.com,
    # else api_base_url (a local fake serves both).
    openapi_base_url: str | None = Field(default=None, pattern=r"^https?://")
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
    # The DingTalk app (docs/dingtalk-app.md): roster sync, event subscription, app-sent groups.
    corp_id: str | None = None  # the organisation's CorpId (ding...), for logs and the console
    agent_id: str | None = None  # the app's AgentId (work notifications; not needed for groups)
    event_token: str | None = None  # event subscription: the Token (signatures)
    event_aes_key: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{43}$")  # and its EncodingAESKey
    event_window_seconds: int = Field(default=3600, ge=60, le=24 * 3600)  # older pushes are refused
    # sync-dingtalk refuses to mark more than this share of the active officials as left
    # (a partial contact scope looks like mass departure) unless run with --force.
    sync_max_left_share: float = Field(default=0.10, ge=0, le=1)
    # App-sent groups (chat.send) are limited per app, not per robot (PLATFORMS §4.4, ~20 qps):
    app_rate_limit_per_minute: int = Field(default=1200, ge=1, le=6000)  # all app-sent groups together
    app_chat_rate_limit_per_minute: int = Field(default=60, ge=1, le=6000)  # one app-sent group

    @model_validator(mode="after")
    def _staging_pair(self) -> "DingtalkSettings":
        if bool(self.staging_webhook) != bool(self.staging_secret):
            raise ValueError("staging_webhook and staging_secret go together")
        if self.digest_reserve >= self.rate_limit_per_minute:
            raise ValueError("digest_reserve must be smaller than rate_limit_per_minute")
        if bool(self.event_token) != bool(self.event_aes_key):
            raise ValueError("event_token and event_aes_key go together")
        return self

    _secret = field_validator("app_key", "app_secret")(_not_placeholder)

    @field_validator("api_base_url")
    @classmethod
    def _strip_slash(cls, v: str) -> str:
        return v.rstrip("/")


class GroupSettings(_Section):
    """A DingTalk group: the custom robot that speaks there and the group's id in callbacks.

    A group the county's app created can name its ``chat_id`` instead: messages then go
    through the app (``chat.send``) and ``webhook``/``secret`` may be left out.
    """

    webhook: str | None = Field(default=None, pattern=r"^https?://[^\s]+access_token=[^\s&]+")
    secret: str | None = Field(default=None, min_length=1)
    conversation_id: str = Field(min_length=1)
    chat_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_=+/-]{1,64}$")

    @field_validator("secret")
    @classmethod
    def _real_secret(cls, v: str | None) -> str | None:
        return None if v is None else _not_placeholder(v)

    @field_validator("webhook")
    @classmethod
    def _real_token(cls, v: str | None) -> str | None:
        if v is None:
            return v
        token = v.split("access_token=", 1)[1].split("&", 1)[0]
        _not_placeholder(token)
        return v

    @field_validator("chat_id")
    @classmethod
    def _real_chat(cls, v: str | None) -> str | None:
        return None if v is None else _not_placeholder(v)

    @model_validator(mode="before")
    @classmethod
    def _robot_keys(cls, data: Any) -> Any:
        # A robot group (no chat_id) needs both keys, reported as the usual "required key is
        # missing" of each, as when they were plain required fields.
        if isinstance(data, dict) and data.get("chat_id") is None:
            missing = [k for k in ("webhook", "secret") if data.get(k) is None]
            if missing:
                raise ValidationError.from_exception_data(
                    cls.__name__, [InitErrorDetails(type="missing", loc=(k,), input=data) for k in missing])
        return data

    @model_validator(mode="after")
    def _pair(self) -> "GroupSettings":
        if bool(self.webhook) != bool(self.secret):
            raise ValueError("webhook and secret go together")
        return self


class TownshipSettings(_Section):
    """One ``[[townships]]`` entry: a unit and its DingTalk group."""

    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=40)
    kind: Literal["town", "street"]
    dingtalk: GroupSettings | None = None


class DepartmentSettings(_Section):
    """One ``[[departments]]`` entry: a department and its DingTalk group."""

    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=40)
    dingtalk: GroupSettings | None = None


class CategorySettings(_Section):
    """One ``[[categories]]`` entry: a problem category, its level and deadlines."""

    code: str = Field(pattern=_CODE)
    name: str = Field(min_length=1, max_length=40)
    # The level of the duty list that handles this category first.
    level: Literal["grid", "community", "township", "department"] = "grid"
    accept_hours: float = Field(default=24, gt=0)
    resolve_hours: float = Field(default=72, gt=0)
    # 办结 needs a completion photo (办结照片) for this category.
    needs_proof: bool = False
    # One line for residents: what belongs in this category (shown under the mini-program's picker).
    help: str = Field(default="", max_length=200)


DEFAULT_CATEGORIES: tuple[dict[str, Any], ...] = (
    {"code": "road", "name": "道路破损", "level": "township", "help": "路面坑洼、塌陷、人行道砖松动等"},
    {"code": "sanitation", "name": "环境卫生", "level": "grid", "help": "垃圾没人清、污水横流、卫生死角等"},
    {"code": "streetlight", "name": "路灯故障", "level": "community", "help": "路灯不亮、常亮、灯杆歪倒等"},
    {"code": "drainage", "name": "排水井盖", "level": "community", "help": "井盖丢失破损、下水道堵塞、积水等"},
    {"code": "greenery", "name": "绿化养护", "level": "community", "help": "树木倒伏、枯枝、绿地毁坏等"},
    {"code": "parking", "name": "违章停车", "level": "township", "help": "占道停车、堵消防通道、堵小区门口等"},
    {"code": "construction", "name": "违章建筑", "level": "township", "help": "私搭乱建、违规圈占等"},
    {"code": "noise", "name": "噪音扰民", "level": "grid", "help": "夜间施工、商铺喇叭扰民等"},
    {"code": "safety", "name": "安全隐患", "level": "township", "help": "电线裸露、墙体开裂、危险广告牌等（正在发生的危险请先拨打 110/119）"},
    {"code": "dispute", "name": "矛盾纠纷", "level": "grid", "help": "邻里、物业等矛盾，需要社区出面调解"},
    {"code": "other", "name": "其他", "level": "grid", "help": "以上都不是的问题"},
)


class WorkerSettings(_Section):
    """``[worker]``: the delivery worker's polling, retries and batch size."""

    poll_seconds: float = Field(default=0.5, gt=0, le=60)
    max_attempts: int = Field(default=10, ge=1, le=100)
    first_retry_seconds: float = Field(default=5, gt=0)
    max_retry_seconds: float = Field(default=1800, gt=0)
    batch_size: int = Field(default=50, ge=1, le=1000)


class NoticesSettings(_Section):
    """``[notices]``: acknowledgement and escalation hours, the county group, body length."""

    # A unit that has not acknowledged a notice (收到 <number>) within ack_hours is reminded
    # in its group; after escalate_hours the county group is told which units are missing.
    ack_hours: float = Field(default=24, gt=0, le=24 * 30)
    escalate_hours: float = Field(default=48, gt=0, le=24 * 60)
    # The department code (from [[departments]]) whose DingTalk group is the county group.
    county_group: str | None = Field(default=None, pattern=_CODE)
    body_max_chars: int = Field(default=20_000, ge=100, le=200_000)

    @model_validator(mode="after")
    def _order(self) -> "NoticesSettings":
        if self.escalate_hours <= self.ack_hours:
            raise ValueError("escalate_hours must be greater than ack_hours")
        return self


class CampaignsSettings(_Section):
    """``[campaigns]``: defaults, counts, reminders and check-in of campaigns."""

    checkin_code_seconds: int = Field(default=60, ge=15, le=3600)  # the code rotates this often
    checkin_radius_m: int = Field(default=500, ge=20, le=20_000)  # default radius around the place
    checkin_early_minutes: int = Field(default=30, ge=0, le=24 * 60)  # check-in opens this early
    reminder_hours: float = Field(default=24, gt=0, le=24 * 14)  # subscribe message before start
    count_interval_minutes: float = Field(default=10, ge=0, le=24 * 60)  # sign-up count in groups
    complete_after_minutes: float = Field(default=60, ge=0, le=24 * 60 * 7)  # auto-complete after end
    # 发起志愿 <number> in DingTalk: the campaign starts tomorrow at this local hour and lasts
    # default_hours, for default_capacity volunteers (the console can change it afterwards).
    default_start_hour: int = Field(default=9, ge=0, le=23)
    default_hours: float = Field(default=3, gt=0, le=24)
    default_capacity: int = Field(default=10, ge=1, le=1000)
    locate_max_km: float = Field(default=3, gt=0, le=100)  # nearest grid centre for locating


class AdminSettings(_Section):
    """``[admin]``: the bearer token of the admin API (unset: console sessions only)."""

    # A bearer token for scripts and the admin API (county administrator rights). Leave it
    # unset to allow admin API calls only from console sessions.
    api_token: str | None = Field(default=None, min_length=24)

    @field_validator("api_token")
    @classmethod
    def _real(cls, v: str | None) -> str | None:
        return None if v is None else _not_placeholder(v)


class ConsoleSettings(_Section):
    """``[console]``: the web console (docs/console.md)."""

    # A tile server for the grid map (网格地图), as a Leaflet URL template with {z}, {x}, {y}
    # (e.g. the county's own server). Empty (the default): the map draws grid boundaries and
    # reports on a plain background and contacts no tile server at all.
    map_tile_url: str = Field(default="", max_length=300)
    # The attribution the tile server asks for, shown in the map's corner.
    map_tile_attribution: str = Field(default="", max_length=200)

    @field_validator("map_tile_url")
    @classmethod
    def _tile_template(cls, v: str) -> str:
        if v and not (v.startswith("https://") or v.startswith("http://")):
            raise ValueError("must be an http(s) URL template such as https://tiles.example/{z}/{x}/{y}.png")
        if v and not all(p in v for p in ("{z}", "{x}", "{y}")):
            raise ValueError("must contain {z}, {x} and {y}")
        return v


class MetricsSettings(_Section):
    """``[metrics]``: who may read ``/metrics``: a caller from ``allow`` (addresses or
    networks, as the app sees the caller: see ``server.trusted_proxies``), or with
    ``Authorization: Bearer <token>``."""

    allow: list[str] = ["127.0.0.1/32", "::1/128"]
    token: str | None = Field(default=None, min_length=24)

    @field_validator("allow")
    @classmethod
    def _networks(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(f"{item!r} is not an IP address or network") from None
        return v

    @field_validator("token")
    @classmethod
    def _real(cls, v: str | None) -> str | None:
        return None if v is None else _not_placeholder(v)


class DeadlinesSettings(_Section):
    """Deadlines, the escalation ladder, emergency mode and the daily digest (docs/deadlines.md).

    The policy keys (down to ``workdays``) are written to the database by ``tongxin init-db``,
    like the categories' hours; the console edits them there. The rest is read at run time.
    """

    working_days: bool = True  # deadlines count only working days (holiday calendar below)
    reminder_fractions: list[float] = Field(default_factory=lambda: [0.5], max_length=5)
    handover_fraction: float = Field(default=0.75, gt=0, lt=1)  # A has not acted: B takes over
    emergency_accept_factor: float = Field(default=0.5, gt=0, le=1)
    emergency_resolve_factor: float = Field(default=0.5, gt=0, le=1)
    emergency_all_days: bool = True  # in emergency mode every calendar hour counts
    emergency_categories: list[str] = []  # urgent lane in emergency mode; empty = all categories
    whistle_report_hours: float = Field(default=24, gt=0, le=24 * 60)  # 报到 after 转办
    redo_max_score: int = Field(default=2, ge=0, le=4)  # a rating up to this sends it back (重办)
    duty_departments: dict[str, str] = {}  # category code → department code (county level)
    holidays: list[date] = []  # weekdays off (法定节假日)
    workdays: list[date] = []  # weekend days worked (调休上班)
    scheduler_interval_seconds: float = Field(default=60, ge=1, le=3600)
    max_reports_per_pass: int = Field(default=5000, ge=10, le=1_000_000)
    digest_enabled: bool = False  # the example configuration turns it on
    digest_time: str = Field(default="18:00", pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")  # Asia/Shanghai

    @field_validator("reminder_fractions")
    @classmethod
    def _fractions(cls, v: list[float]) -> list[float]:
        if any(not 0 < f < 1 for f in v):
            raise ValueError("each fraction must be between 0 and 1 (exclusive)")
        return sorted(set(v))

    @model_validator(mode="after")
    def _calendar(self) -> "DeadlinesSettings":
        both = sorted(set(self.holidays) & set(self.workdays))
        if both:
            raise ValueError(f"holidays and workdays both list {both[0].isoformat()}")
        return self


class CountySettings(_Section):
    """The county command centre (县指挥中心): the top of the escalation ladder."""

    name: str = Field(default="县指挥中心", min_length=1, max_length=40)
    dingtalk: GroupSettings | None = None


class Settings(_Section):
    """The whole configuration, frozen. Adapters receive their own section, never this."""

    server: ServerSettings
    database: DatabaseSettings
    reports: ReportsSettings = ReportsSettings()
    routing: RoutingSettings = RoutingSettings()
    uploads: UploadsSettings = UploadsSettings()
    wechat: WechatSettings
    dingtalk: DingtalkSettings
    worker: WorkerSettings = WorkerSettings()
    admin: AdminSettings = AdminSettings()
    notices: NoticesSettings = NoticesSettings()
    campaigns: CampaignsSettings = CampaignsSettings()
    metrics: MetricsSettings = MetricsSettings()
    console: ConsoleSettings = ConsoleSettings()

    @model_validator(mode="after")
    def _county_group(self) -> "Settings":
        code = self.notices.county_group
        if code and code not in {d.code for d in self.departments}:
            raise ValueError(f"notices.county_group: no [[departments]] entry has the code {code!r}")
        return self
    deadlines: DeadlinesSettings = DeadlinesSettings()
    county: CountySettings | None = None
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
        if self.county and self.county.dingtalk:
            cids.append(("county.dingtalk.conversation_id", self.county.dingtalk.conversation_id))
        seen_cid: set[str] = set()
        for key, cid in cids:
            if cid in seen_cid:
                problems.append(f"{key}: the same group is mapped twice")
            seen_cid.add(cid)
        chats = [(f"{n}[{i}].dingtalk.chat_id", x.dingtalk.chat_id) for n in ("townships", "departments")
                 for i, x in enumerate(getattr(self, n)) if x.dingtalk and x.dingtalk.chat_id]
        if self.county and self.county.dingtalk and self.county.dingtalk.chat_id:
            chats.append(("county.dingtalk.chat_id", self.county.dingtalk.chat_id))
        seen_chat: set[str] = set()
        for key, chat in chats:
            if chat in seen_chat:
                problems.append(f"{key}: the same app group is mapped twice")
            seen_chat.add(chat)
        problems += self._deadline_references()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _deadline_references(self) -> list[str]:
        """Codes named in ``[deadlines]`` must exist among the categories and departments."""
        categories = {c.code for c in self.categories}
        departments = {d.code for d in self.departments}
        problems = [f"deadlines.emergency_categories: unknown category {c!r}"
                    for c in self.deadlines.emergency_categories if c not in categories]
        for cat, dept in self.deadlines.duty_departments.items():
            if cat not in categories:
                problems.append(f"deadlines.duty_departments.{cat}: unknown category")
            if dept not in departments:
                problems.append(f"deadlines.duty_departments.{cat}: unknown department {dept!r}")
        return problems


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
