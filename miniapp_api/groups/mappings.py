"""DingTalk group mappings as the console manages them: verified before they are trusted.

* :func:`save_mapping` validates and writes a unit's or department's mapping (webhook,
  secret, conversation id, enabled, mention policy, staging group), one new
  :class:`MappingVersion` and one audit entry, in one transaction. Secrets are write-only:
  an empty field keeps the stored one, and no page, export, audit entry or log shows it.
* :func:`rollback` restores any earlier version, as a new version.
* :func:`test_send` posts a test message with :class:`~bridges.dingtalk.client.RobotClient`
  and returns DingTalk's real answer (errcode and message).
* :func:`dry_run` answers "a report of this category at this place would go to this grid,
  this official, this group" from the same routing and mention code the worker uses,
  without writing anything.
* :func:`health` is each target's last delivery and state.
"""
from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from dataclasses import field
from datetime import datetime
from urllib.parse import parse_qs
from urllib.parse import urlsplit

from peewee import IntegrityError
from peewee import fn

from bridges import routing
from bridges.dingtalk import render
from bridges.dingtalk.deliver import LEVEL_LABELS
from bridges.dingtalk.deliver import mention_mobiles
from bridges.dingtalk.deliver import report_card
from bridges.dingtalk.client import RobotClient
from bridges.errors import BridgeError

from miniapp_api.config import Settings
from miniapp_api.db import database
from miniapp_api.db import write_tx
from miniapp_api.models import Category
from miniapp_api.models import Community
from miniapp_api.models import Delivery
from miniapp_api.models import Department
from miniapp_api.models import Grid
from miniapp_api.models import GroupMapping
from miniapp_api.models import Official
from miniapp_api.models import OutboxEvent
from miniapp_api.models import Report
from miniapp_api.models import RobotState
from miniapp_api.models import Township
from miniapp_api.models.console import MENTION_POLICIES
from miniapp_api.models.console import MappingPolicy
from miniapp_api.models.console import MappingVersion
from miniapp_api.console import audit
from miniapp_api.console.audit import Who
from miniapp_api.console.core import FormError
from miniapp_api.groups.policy import apply_mention_policy

OWNER_KINDS = {"township": "乡镇/街道", "department": "县直部门", "county": "县级"}


@dataclass(frozen=True)
class CountyGroup:
    """The county's own group (``[county.dingtalk]``: escalations, notices to the county)."""

    code: str = "county"
    name: str = "县指挥中心"
TEST_HINTS = {
    300001: "webhook 中的 access_token 不存在：请从钉钉群机器人设置里重新复制完整的 webhook 地址。",
    310000: "安全设置校验失败：加签 secret 不对、服务器时间不准，或机器人设置了关键词/IP 白名单。",
    130101: "发送太快：该机器人一分钟内已超过 20 条，已被钉钉限流 10 分钟。",
    400013: "群已解散。",
}


def owner(kind: str, code: str):
    """The township or department a mapping speaks for, or None."""
    if kind == "township":
        return Township.get_or_none(Township.code == code)
    if kind == "department":
        return Department.get_or_none(Department.code == code)
    if kind == "county" and code == "county":
        return CountyGroup()
    return None


def target_of(kind: str, code: str) -> str:
    return f"dingtalk:{kind}:{code}"


# --- masking --------------------------------------------------------------------------------


def mask_token(token: str) -> str:
    if len(token) <= 8:
        return "****"
    return f"{token[:4]}…{token[-4:]}"


def mask_webhook(url: str | None) -> str:
    """The webhook with its access_token shortened to its first and last four characters."""
    if not url:
        return ""
    if "access_token=" not in url:
        return url.split("?", 1)[0]
    head, token = url.split("access_token=", 1)
    token, _, rest = token.partition("&")
    return f"{head}access_token={mask_token(token)}" + ("&…" if rest else "")


def snapshot(kind: str, code: str) -> dict | None:
    """Everything a version stores (secrets included), or None when nothing is mapped."""
    m = GroupMapping.get_or_none((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code))
    p = MappingPolicy.get_or_none((MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == code))
    if m is None and p is None:
        return None
    return {
        "webhook": m.webhook if m else None, "secret": m.secret if m else None,
        "conversation_id": m.conversation_id if m else None, "enabled": m.enabled if m else False,
        "mention_policy": p.mention_policy if p else "duty",
        "staging_webhook": p.staging_webhook if p else None, "staging_secret": p.staging_secret if p else None,
        "staging_enabled": p.staging_enabled if p else False,
        "chat_id": m.chat_id if m else None,  # an app-sent group (docs/dingtalk-app.md)
    }


def public_snapshot(snap: dict | None) -> dict | None:
    """A snapshot fit for pages and the audit log: tokens shortened, secrets only "已设置"."""
    if snap is None:
        return None
    return {
        "webhook": mask_webhook(snap["webhook"]), "secret": "已设置" if snap["secret"] else "未设置",
        "conversation_id": snap["conversation_id"], "enabled": snap["enabled"],
        "mention_policy": snap["mention_policy"],
        "staging_webhook": mask_webhook(snap["staging_webhook"]),
        "staging_secret": "已设置" if snap["staging_secret"] else "未设置",
        "staging_enabled": snap["staging_enabled"],
        "chat_id": snap.get("chat_id"),
    }


# --- validation -----------------------------------------------------------------------------


def allowed_hosts(settings: Settings) -> set[str]:
    return {"oapi.dingtalk.com", (urlsplit(settings.dingtalk.api_base_url).hostname or "").lower()}


def check_webhook(url: str, settings: Settings, label: str = "webhook") -> str | None:
    """Why ``url`` is not a DingTalk custom-robot webhook we may post to, or None."""
    if len(url) > 500 or any(c.isspace() for c in url):
        return f"{label} 不能含空格，最长 500 个字符"
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not host:
        return f"{label} 应以 https:// 开头，例如 https://oapi.dingtalk.com/robot/send?access_token=…"
    if parts.username or parts.password:
        return f"{label} 不能包含用户名或密码"
    if host not in allowed_hosts(settings):
        return f"{label} 必须是钉钉机器人地址（主机 oapi.dingtalk.com），不能是 {host}"
    if parts.scheme != "https" and urlsplit(settings.dingtalk.api_base_url).scheme == "https":
        return f"{label} 必须使用 https"
    token = parse_qs(parts.query).get("access_token", [""])[0]
    if not token or not all(c.isalnum() or c in "-_" for c in token):
        return f"{label} 缺少有效的 access_token 参数（在钉钉群设置 → 机器人 → 复制完整 webhook）"
    return None


def check_secret(secret: str, label: str = "secret") -> str | None:
    if not secret.startswith("SEC") or not (8 <= len(secret) <= 128) or any(c.isspace() for c in secret):
        return f"{label} 应为机器人“加签”的密钥：以 SEC 开头，8–128 个字符，不含空格"
    return None


@dataclass
class MappingInput:
    webhook: str = ""
    secret: str = ""
    conversation_id: str = ""
    enabled: bool = True
    mention_policy: str = "duty"
    staging_webhook: str = ""
    staging_secret: str = ""
    staging_enabled: bool = False
    staging_clear: bool = False
    note: str = ""
    chat_id: str = ""  # a group the app created: sent through chat.send, webhook optional


def validated(kind: str, code: str, data: MappingInput, settings: Settings) -> dict:
    """The snapshot ``data`` would produce, or raise FormError naming each bad field."""
    current = snapshot(kind, code) or {}
    errors: dict[str, str] = {}
    webhook = data.webhook.strip() or current.get("webhook") or ""
    secret = data.secret.strip() or current.get("secret") or ""
    chat_id = data.chat_id.strip()
    if chat_id:  # an app-sent group: the robot is optional (a pair, when given)
        if problem := check_chat_id(chat_id, kind, code):
            errors["chat_id"] = problem
        if bool(webhook) != bool(secret):
            errors["secret" if webhook else "webhook"] = "webhook 和加签 secret 要一起填写（或都不填，只用应用发送）"
    if not webhook and not chat_id:
        errors["webhook"] = "请填写 webhook（钉钉群机器人的完整地址），或填写应用群的 chat_id"
    elif data.webhook.strip() and (problem := check_webhook(webhook, settings)):
        errors["webhook"] = problem
    if not secret and not chat_id:
        errors["secret"] = "请填写加签 secret"
    elif data.secret.strip() and (problem := check_secret(secret)):
        errors["secret"] = problem
    cid = data.conversation_id.strip()
    if not cid or len(cid) > 128 or any(c.isspace() for c in cid):
        errors["conversation_id"] = "请填写群的 conversation id（@机器人回调里的 conversationId，最长 128 个字符，不含空格）"
    else:
        other = GroupMapping.get_or_none((GroupMapping.conversation_id == cid)
                                         & ~((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code)))
        if other is not None:
            o = owner(other.owner_kind, other.owner_code)
            errors["conversation_id"] = f"该群已绑定到{o.name if o else other.owner_code}，一个群只能对应一个单位"
    if data.mention_policy not in MENTION_POLICIES:
        errors["mention_policy"] = "请选择提醒方式"
    if data.staging_clear:
        s_webhook, s_secret = None, None
    else:
        s_webhook = data.staging_webhook.strip() or current.get("staging_webhook")
        s_secret = data.staging_secret.strip() or current.get("staging_secret")
        if data.staging_webhook.strip() and (problem := check_webhook(s_webhook, settings, "演练群 webhook")):
            errors["staging_webhook"] = problem
        if data.staging_secret.strip() and (problem := check_secret(s_secret, "演练群 secret")):
            errors["staging_secret"] = problem
    if bool(s_webhook) != bool(s_secret) and "staging_webhook" not in errors and "staging_secret" not in errors:
        errors["staging_secret" if s_webhook else "staging_webhook"] = "演练群的 webhook 和 secret 要一起填写"
    if data.staging_enabled and not (s_webhook and s_secret):
        errors["staging_enabled"] = "要开启演练，先填写演练群的 webhook 和 secret"
    if len(data.note) > 200:
        errors["note"] = "备注最多 200 个字"
    if errors:
        raise FormError(errors)
    return {"webhook": webhook, "secret": secret, "conversation_id": cid, "enabled": bool(data.enabled),
            "mention_policy": data.mention_policy, "staging_webhook": s_webhook or None,
            "staging_secret": s_secret or None, "staging_enabled": bool(data.staging_enabled),
            "chat_id": chat_id or None}


def check_chat_id(chat_id: str, kind: str, code: str) -> str | None:
    """Why ``chat_id`` cannot be this mapping's app group, or None."""
    if len(chat_id) > 64 or not all(c.isalnum() or c in "_=+/-" for c in chat_id):
        return "chat_id 应为应用建群时钉钉返回的 chatid（最长 64 个字符，只含字母、数字和 _=+/-）"
    other = GroupMapping.get_or_none((GroupMapping.chat_id == chat_id)
                                     & ~((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code)))
    if other is not None:
        return f"该 chat_id 已绑定到 {other.owner_code}，一个群只能对应一个单位"
    return None


# --- writing --------------------------------------------------------------------------------


def _next_version(kind: str, code: str) -> int:
    top = (MappingVersion.select(fn.MAX(MappingVersion.version))
           .where((MappingVersion.owner_kind == kind) & (MappingVersion.owner_code == code)).scalar())
    return (top or 0) + 1


def _store_version(kind: str, code: str, snap: dict, action: str, note: str, who: Who, now: datetime) -> int:
    version = _next_version(kind, code)
    MappingVersion.create(owner_kind=kind, owner_code=code, version=version, action=action, note=note,
                          created_at=now, created_by=who.username, **snap)
    return version


def _write(kind: str, code: str, snap: dict, now: datetime) -> None:
    mapping_values = {k: snap[k] for k in ("webhook", "secret", "conversation_id", "enabled")}
    # An app group (chat_id) may have no robot: stored as empty strings. A save by an
    # administrator also clears a "broken" mark (DingTalk said the group was disbanded).
    mapping_values.update(webhook=mapping_values["webhook"] or "", secret=mapping_values["secret"] or "",
                          chat_id=snap.get("chat_id") or None, broken_reason=None, broken_at=None)
    policy_values = {k: snap[k] for k in ("mention_policy", "staging_webhook", "staging_secret", "staging_enabled")}
    cond_m = (GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code)
    if snap["webhook"] is None and not snap.get("chat_id"):
        GroupMapping.delete().where(cond_m).execute()
    elif GroupMapping.get_or_none(cond_m):
        GroupMapping.update(updated_at=now, **mapping_values).where(cond_m).execute()
    else:
        GroupMapping.create(owner_kind=kind, owner_code=code, updated_at=now, **mapping_values)
    cond_p = (MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == code)
    if MappingPolicy.get_or_none(cond_p):
        MappingPolicy.update(updated_at=now, **policy_values).where(cond_p).execute()
    else:
        MappingPolicy.create(owner_kind=kind, owner_code=code, updated_at=now, **policy_values)


def _change(kind: str, code: str, new: dict, action: str, audit_action: str, note: str, who: Who,
            now: datetime) -> int:
    """Write ``new`` as the mapping's state, keep a version, audit it; returns the version."""
    unit = owner(kind, code)
    township = code if kind == "township" else None
    try:
        with write_tx():
            before = snapshot(kind, code)
            if before is not None and not MappingVersion.select().where(
                    (MappingVersion.owner_kind == kind) & (MappingVersion.owner_code == code)).exists():
                # The first console change keeps what the configuration had seeded, for rollback.
                _store_version(kind, code, before, "initial", "修改前的设置（来自配置文件）", who, now)
            _write(kind, code, new, now)
            version = _store_version(kind, code, new, action, note, who, now)
            audit.record(who, audit_action, target=f"mapping:{kind}:{code}", township=township,
                         before=public_snapshot(before), after=public_snapshot(new),
                         note=f"{unit.name if unit else code} 版本 {version}" + (f"：{note}" if note else ""), now=now)
    except IntegrityError:
        raise FormError({"conversation_id": "该 conversation id 已被另一个群映射使用"}) from None
    return version


def save_mapping(who: Who, kind: str, code: str, data: MappingInput, settings: Settings, now: datetime) -> int:
    """Validate and save; returns the new version number. Raises FormError on bad input."""
    new = validated(kind, code, data, settings)
    action = "mapping.updated" if snapshot(kind, code) else "mapping.created"
    return _change(kind, code, new, "update", action, data.note.strip(), who, now)


def rollback(who: Who, kind: str, code: str, version: int, now: datetime) -> int:
    row = MappingVersion.get_or_none((MappingVersion.owner_kind == kind) & (MappingVersion.owner_code == code)
                                     & (MappingVersion.version == version))
    if row is None:
        raise FormError(f"没有版本 {version}")
    snap = {k: getattr(row, k) for k in ("webhook", "secret", "conversation_id", "enabled", "mention_policy",
                                         "staging_webhook", "staging_secret", "staging_enabled", "chat_id")}
    if snap["conversation_id"]:
        other = GroupMapping.get_or_none((GroupMapping.conversation_id == snap["conversation_id"])
                                         & ~((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code)))
        if other is not None:
            raise FormError(f"不能回滚：版本 {version} 的群现在绑定在 {other.owner_code}")
    return _change(kind, code, snap, "rollback", "mapping.rollback", f"回滚到版本 {version}", who, now)


def set_staging(who: Who, kind: str, code: str, enabled: bool, now: datetime) -> int:
    """The staging switch: send this group's messages to its staging group (or back)."""
    snap = snapshot(kind, code)
    if snap is None or (enabled and not (snap["staging_webhook"] and snap["staging_secret"])):
        raise FormError("该群还没有配置演练群（webhook 和 secret），请先在钉钉群页面填写")
    new = dict(snap, staging_enabled=enabled)
    return _change(kind, code, new, "staging", "mapping.staging", "开启演练" if enabled else "关闭演练", who, now)


def versions(kind: str, code: str) -> list[MappingVersion]:
    return list(MappingVersion.select().where((MappingVersion.owner_kind == kind) & (MappingVersion.owner_code == code))
                .order_by(MappingVersion.version.desc()))


# --- test send ------------------------------------------------------------------------------


@dataclass
class TestResult:
    ok: bool
    errcode: int | str | None
    errmsg: str
    hint: str = ""
    elapsed_ms: int = 0
    which: str = "main"

    @property
    def text(self) -> str:
        head = f"钉钉返回 errcode={self.errcode}，errmsg={self.errmsg}"
        return head + (f"。{self.hint}" if self.hint else "")


def _answer(err: BridgeError) -> tuple[int | str | None, str]:
    errcode = getattr(err, "errcode", None)
    message = str(err)
    if errcode is not None and ": " in message:
        message = message.split(": ", 1)[1]
    return errcode, message


def test_send(who: Who, kind: str, code: str, settings: Settings, now: datetime, *, which: str = "main",
              webhook: str = "", secret: str = "", client: RobotClient | None = None,
              chat_id: str = "") -> TestResult:
    """Send a test message to the group (or its staging group) and return DingTalk's answer.

    ``webhook``/``secret`` test values typed in the form before saving them (empty: the
    stored ones). An app group (``chat_id`` typed, or stored and no webhook typed) is tested
    through the app's ``chat.send``. The result is kept on the mapping (for its health) and
    audited.
    """
    unit = owner(kind, code)
    snap = snapshot(kind, code) or {}
    prefix = "staging_" if which == "staging" else ""
    app_chat = "" if which == "staging" else (chat_id.strip() or ("" if webhook.strip() else snap.get("chat_id") or ""))
    webhook = webhook.strip() or snap.get(f"{prefix}webhook") or ""
    secret = secret.strip() or snap.get(f"{prefix}secret") or ""
    label = "演练群" if which == "staging" else "钉钉群"
    text = (f"【同心】{label}连接测试\n单位：{unit.name if unit else code}\n"
            f"操作人：{who.name}（平台管理员）\n时间：{audit.local(now)}\n收到这条消息说明群机器人配置正确，无需回复。")
    if app_chat:
        return _test_app_group(who, kind, code, app_chat, text, settings, now)
    problem = (check_webhook(webhook, settings) if webhook else "还没有 webhook") or \
        (check_secret(secret) if secret else "还没有加签 secret")
    if problem:
        raise FormError({f"{prefix}webhook": problem})
    client = client or RobotClient(timeout=settings.dingtalk.request_timeout_seconds)
    started = time.monotonic()
    try:
        answer = client.send(webhook, secret, render.render_text_reply(text), msg_uuid=str(uuid.uuid4()),
                             now_ms=int(now.timestamp() * 1000))
        result = TestResult(True, answer.get("errcode", 0), answer.get("errmsg", "ok"), which=which)
    except BridgeError as err:
        errcode, message = _answer(err)
        try:
            hint = TEST_HINTS.get(int(errcode)) if errcode is not None else None
        except (TypeError, ValueError):
            hint = None
        if errcode is None:
            hint = "没有连上钉钉（超时、拒绝连接或服务器错误），请检查网络或稍后再试。"
        result = TestResult(False, errcode, message, hint or "", which=which)
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    with write_tx():
        if which == "main":
            MappingPolicy.insert(owner_kind=kind, owner_code=code, updated_at=now).on_conflict_ignore().execute()
            (MappingPolicy.update(last_test_at=now, last_test_ok=result.ok, last_test_result=result.text[:500])
             .where((MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == code)).execute())
        audit.record(who, "mapping.test_send", target=f"mapping:{kind}:{code}",
                     township=code if kind == "township" else None,
                     after={"which": which, "webhook": mask_webhook(webhook), "ok": result.ok,
                            "errcode": result.errcode, "errmsg": result.errmsg[:200]}, now=now)
    return result


def _test_app_group(who: Who, kind: str, code: str, chat_id: str, text: str, settings: Settings,
                    now: datetime) -> TestResult:
    """The test send of an app group: ``chat.send`` through the app client (its own errcodes)."""
    from bridges.dingtalk.app_channel import send_test

    if problem := check_chat_id(chat_id, kind, code):
        raise FormError({"chat_id": problem})
    started = time.monotonic()
    try:
        send_test(GroupMapping(chat_id=chat_id), text, settings)
        result = TestResult(True, 0, "ok（应用发送 chat.send）")
    except BridgeError as err:
        errcode, message = _answer(err)
        hint = APP_TEST_HINTS.get(errcode) if isinstance(errcode, int) else None
        if errcode is None:
            hint = "没有连上钉钉（超时、拒绝连接或服务器错误），请检查网络或稍后再试。"
        result = TestResult(False, errcode, message, hint or "")
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    with write_tx():
        MappingPolicy.insert(owner_kind=kind, owner_code=code, updated_at=now).on_conflict_ignore().execute()
        (MappingPolicy.update(last_test_at=now, last_test_ok=result.ok, last_test_result=result.text[:500])
         .where((MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == code)).execute())
        audit.record(who, "mapping.test_send", target=f"mapping:{kind}:{code}",
                     township=code if kind == "township" else None,
                     after={"which": "main", "chat_id": chat_id, "ok": result.ok, "errcode": result.errcode,
                            "errmsg": result.errmsg[:200]}, now=now)
    return result


APP_TEST_HINTS = {
    34013: "群不存在：chat_id 不对，或群已解散，或不是本应用创建的群。",
    34001: "chat_id 无效。",
    40089: "应用的 AppKey/AppSecret 不对（配置文件 [dingtalk]）。",
    60011: "应用没有这个权限，请在钉钉开放平台为应用开通。",
}


# --- routing dry-run ------------------------------------------------------------------------


@dataclass
class DryRun:
    township: Township
    category: Category
    level_label: str
    grid: Grid | None
    grid_how: str
    officials: list[Official]
    target: str
    group_label: str
    group_detail: str
    group_ok: bool
    urgent: bool
    preview: str = ""
    notes: list[str] = field(default_factory=list)


def _nearest_grid(township: Township, lat: float, lng: float) -> Grid | None:
    grids = list(Grid.select(Grid).join(Community).where((Community.township == township.id)
                                                         & Grid.center_lat.is_null(False) & Grid.center_lng.is_null(False)))
    if not grids:
        return None
    return min(grids, key=lambda g: math.hypot(g.center_lat - lat, (g.center_lng - lng) * math.cos(math.radians(lat))))


def dry_run(settings: Settings, township_code: str, category_code: str, *, grid_id: int | None = None,
            lat: float | None = None, lng: float | None = None) -> DryRun:
    """Where a report would go, computed on an unsaved report; nothing is written."""
    township = Township.get_or_none(Township.code == township_code)
    category = Category.get_or_none(Category.code == category_code)
    errors = {}
    if township is None:
        errors["township"] = "请选择乡镇/街道"
    if category is None:
        errors["category"] = "请选择问题类别"
    if errors:
        raise FormError(errors)
    grid, how = None, "未指定网格：按乡镇/街道值班人员提醒"
    if grid_id:
        grid = (Grid.select(Grid).join(Community).where((Grid.id == grid_id) & (Community.township == township.id)).first())
        if grid is None:
            raise FormError({"grid": "该网格不属于所选乡镇/街道"})
        how = "按所选网格"
    elif lat is not None and lng is not None:
        grid = _nearest_grid(township, lat, lng)
        how = "按坐标找到的最近网格" if grid else "该单位的网格还没有中心坐标，无法按位置确定网格"
    report = Report(number="DRYRUN-0001", township=township, category=category, grid=grid, level=category.level,
                    description="（路由试算）", lat=lat or 0.0, lng=lng or 0.0, address="（路由试算）",
                    anonymous=False, status="pending", moderation="pass", urgent=bool(township.emergency))
    with database.atomic() as tx:  # read-only by construction; the rollback makes sure of it
        event = OutboxEvent(kind="report.created", payload={"number": report.number}, report=report)
        targets = [t for t in routing.targets_for(event, settings) if t.channel == "dingtalk"]
        mobiles = apply_mention_policy(report, mention_mobiles(report))
        officials = []
        if mobiles:
            scope = Official.grid == grid.id if grid else Official.township == township.id
            by_mobile = {o.mobile: o for o in Official.select().where(scope & Official.mobile.in_(mobiles))}
            officials = [by_mobile[m] for m in mobiles if m in by_mobile]
        preview = render.render_new_report(report_card(report, settings))["markdown"]["text"]
        for m in mobiles:  # the page shows whom, not their full numbers
            preview = preview.replace(m, f"{m[:3]}****{m[-4:]}")
        tx.rollback()
    target = targets[0].target if targets else "（无）"
    label, detail, ok = _describe_target(target, settings)
    notes = []
    if township.emergency:
        notes.append("该单位处于应急模式：上报标记为紧急。")
    if not officials:
        notes.append("没有可 @ 的值班人员（网格没有 A/B 岗、人员请假或没有手机号，或提醒方式为不 @）。")
    return DryRun(township, category, LEVEL_LABELS.get(category.level, category.level), grid, how, officials,
                  target, label, detail, ok, bool(township.emergency), preview, notes)


def _describe_target(target: str, settings: Settings) -> tuple[str, str, bool]:
    if target == "dingtalk:staging":
        return "全局演练群（配置文件 dingtalk.staging_webhook）", mask_webhook(settings.dingtalk.staging_webhook), True
    try:
        _, kind, code = target.split(":", 2)
    except ValueError:
        return target, "", False
    unit = owner(kind, code)
    name = unit.name if unit else code
    staging = MappingPolicy.get_or_none((MappingPolicy.owner_kind == kind) & (MappingPolicy.owner_code == code))
    if staging and staging.staging_enabled and staging.staging_webhook:
        return f"{name} 的演练群（演练开关已开启）", mask_webhook(staging.staging_webhook), True
    m = GroupMapping.get_or_none((GroupMapping.owner_kind == kind) & (GroupMapping.owner_code == code))
    if m is None:
        return f"{name}（尚未绑定钉钉群：消息会等待，直到绑定）", "", False
    if m.broken_reason:
        return f"{name}（钉钉群不可用：{m.broken_reason}；消息会等待，直到重新绑定）", m.chat_id or "", False
    if not m.enabled:
        return f"{name}（钉钉群已停用：消息会等待，直到启用）", mask_webhook(m.webhook), False
    if m.chat_id:
        return f"{name} 钉钉群（应用发送）", f"conversation id {m.conversation_id} · chat_id {m.chat_id}", True
    return f"{name} 钉钉群", f"conversation id {m.conversation_id} · {mask_webhook(m.webhook)}", True


# --- health ---------------------------------------------------------------------------------


@dataclass
class Health:
    target: str
    state: str  # ok | warn | bad | none
    label: str
    pending: int = 0
    dead: int = 0
    last_sent_at: datetime | None = None
    last_error: str | None = None
    last_error_at: datetime | None = None
    blocked_until: datetime | None = None


def health(targets: list[str], now: datetime) -> dict[str, Health]:
    """Last delivery and state of each target, in three queries."""
    counts: dict[tuple[str, str], int] = {}
    for r in (Delivery.select(Delivery.target, Delivery.state, fn.COUNT(Delivery.id).alias("n"))
              .where(Delivery.target.in_(targets) & Delivery.state.in_(["pending", "sending", "dead"]))
              .group_by(Delivery.target, Delivery.state)):
        counts[(r.target, r.state)] = r.n
    last_sent = {r.target: r.at for r in (Delivery.select(Delivery.target, fn.MAX(Delivery.sent_at).alias("at"))
                                          .where(Delivery.target.in_(targets) & (Delivery.state == "sent"))
                                          .group_by(Delivery.target))}
    states = {r.target: r for r in RobotState.select().where(RobotState.target.in_(targets))}
    broken = {target_of(m.owner_kind, m.owner_code): m.broken_reason
              for m in GroupMapping.select().where(GroupMapping.broken_reason.is_null(False))}
    out = {}
    for t in targets:
        rs = states.get(t)
        sent_at = last_sent.get(t)
        if isinstance(sent_at, str) or (sent_at is not None and getattr(sent_at, "tzinfo", None) is None):
            sent_at = Delivery.sent_at.python_value(sent_at)
        if rs and rs.last_sent_at and (sent_at is None or rs.last_sent_at > sent_at):
            sent_at = rs.last_sent_at
        h = Health(t, "none", "暂无推送", pending=counts.get((t, "pending"), 0) + counts.get((t, "sending"), 0),
                   dead=counts.get((t, "dead"), 0), last_sent_at=sent_at,
                   last_error=rs.last_error if rs else None, last_error_at=rs.last_error_at if rs else None,
                   blocked_until=rs.blocked_until if rs and rs.blocked_until and rs.blocked_until > now else None)
        if broken.get(t):
            h.state, h.label = "bad", "群不可用（需重新绑定）"
            h.last_error = broken[t]
        elif h.blocked_until:
            h.state, h.label = "warn", "被钉钉限流中"
        elif h.dead:
            h.state, h.label = "bad", f"{h.dead} 条投递失败"
        elif h.last_error_at and (sent_at is None or h.last_error_at > sent_at):
            h.state, h.label = "warn", "最近一次出错"
        elif sent_at:
            h.state, h.label = "ok", "正常"
        out[t] = h
    return out
