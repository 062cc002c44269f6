"""Officials' group commands (CONTRACT §4): text after the @robot → ``Command``.

Parsing only: whether the sender may do it, whether the report exists and whether the
status allows it are the lifecycle's questions. Words are separated by spaces (ASCII or
full-width); the free text of 办结/驳回/转办 keeps its inner spaces.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

#: Report numbers (and notice ids) are at most 32 characters of [0-9A-Za-z-] (CONTRACT §3).
NUMBER_RE = re.compile(r"^[0-9A-Za-z-]{1,32}$")
#: A reply or reason longer than this is refused rather than cut (it is shown to the resident).
MAX_TEXT_CHARS = 500


@dataclass(frozen=True)
class _Verb:
    action: str        # code name (DESIGN glossary)
    number: bool       # needs a number/id after the verb
    text: str          # "required", "optional" or "none"
    text_label: str = ""
    usage: str = ""


VERBS: dict[str, _Verb] = {
    "受理": _Verb("accept", True, "optional", usage="受理 <编号>"),
    "办结": _Verb("resolve", True, "required", "回复内容", "办结 <编号> <回复内容>"),
    "驳回": _Verb("reject", True, "required", "驳回理由", "驳回 <编号> <理由>"),
    "转办": _Verb("transfer", True, "required", "部门名称", "转办 <编号> <部门名称>"),
    "查询": _Verb("query", True, "none", usage="查询 <编号>"),
    "待办": _Verb("todo", False, "none", usage="待办"),
    "帮助": _Verb("help", False, "none", usage="帮助"),
    "收到": _Verb("ack", True, "optional", usage="收到 <通知编号>"),
    "发起志愿": _Verb("campaign", True, "optional", usage="发起志愿 <编号>"),
    "合并": _Verb("merge", True, "required", "主编号", "合并 <编号> <主编号>"),
    "指派": _Verb("assign", True, "required", "网格名称", "指派 <编号> <网格名称>"),
}
# Longest first so that a verb glued to its number ("受理R261206-0001") is still recognised.
_VERBS_BY_LENGTH = sorted(VERBS, key=len, reverse=True)

HELP_TEXT = "\n".join(
    [
        "同心·随手拍 群指令（先 @机器人，再输入；词之间用空格隔开）：",
        "受理 <编号> —— 受理一条待受理/已转办的上报",
        "办结 <编号> <回复内容> —— 办结上报，回复内容将展示给居民",
        "驳回 <编号> <理由> —— 不予受理，理由将展示给居民",
        "转办 <编号> <部门名称> —— 吹哨：转给县直部门办理",
        "查询 <编号> —— 查看上报的当前状态和处理记录",
        "待办 —— 列出本单位未办结的上报（最早的在前；乡镇/街道群按网格分组，自己的在前）",
        "指派 <编号> <网格名称> —— 乡镇/街道干部：为待指派网格（或网格有误）的上报指派网格，"
        "并提醒该网格A岗（同名网格可写「村/社区名 网格名」）",
        "收到 <通知编号> —— 确认已收到通知",
        "发起志愿 <编号> —— 为该上报发起志愿活动",
        "合并 <编号> <主编号> —— 重复的上报并入主编号，上报人和关注的居民随之关注主编号",
        "（办结照片：@机器人发送图片并写上编号，或在「办结 <编号>」后 10 分钟内发送图片）",
        "帮助 —— 显示本说明",
        "例：办结 R261206-0001 已清理完毕，感谢反映",
    ]
)

# Separators officials type after a verb or number besides spaces: colons and commas.
_SEPARATORS = " \t\r\n\u3000:：,，、"


class CommandError(ValueError):
    """The text is not a valid command; ``message`` is the Chinese reply for the group."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Command:
    """A parsed command. ``verb`` is the Chinese verb as typed (``受理``…)."""

    verb: str
    number: str | None
    text: str

    @property
    def action(self) -> str:
        """The code name of the verb: accept, resolve, reject, transfer, query, todo, help, ack, campaign, merge, assign."""
        return VERBS[self.verb].action


def _split_first(s: str) -> tuple[str, str]:
    """(first word, rest) with any run of separators between them removed."""
    s = s.lstrip(_SEPARATORS)
    i = 0
    while i < len(s) and s[i] not in _SEPARATORS:
        i += 1
    return s[:i], s[i:].lstrip(_SEPARATORS)


def parse_command(text: str) -> Command:
    """Parse an official's message (already stripped of the @robot) into a ``Command``.

    An empty message is taken as ``帮助``. Raises ``CommandError`` with a Chinese message
    for an unknown verb, a missing or malformed number, or a missing reply/reason/department.
    """
    s = (text or "").replace("\u3000", " ").strip()
    # Some clients put the verb after a slash, like other chat bots' commands.
    s = s.lstrip("/／").strip()
    if not s:
        return Command("帮助", None, "")

    verb = next((v for v in _VERBS_BY_LENGTH if s.startswith(v)), None)
    if verb is None:
        word = _split_first(s)[0][:20]
        raise CommandError(f"无法识别的指令「{word}」。发送「帮助」查看全部指令。")
    spec = VERBS[verb]
    rest = s[len(verb):].lstrip(_SEPARATORS)

    number: str | None = None
    if spec.number:
        number, rest = _split_first(rest)
        if not number:
            raise CommandError(f"缺少编号。用法：{spec.usage}")
        if not NUMBER_RE.match(number):
            raise CommandError(f"编号「{number[:40]}」格式不对：应为不超过32位的字母、数字或“-”。用法：{spec.usage}")

    rest = rest.strip()  # inner spaces and line breaks of a reply are the official's own
    if spec.text == "required" and not rest:
        raise CommandError(f"缺少{spec.text_label}。用法：{spec.usage}")
    if spec.action == "assign" and len(rest) > 130:
        raise CommandError(f"网格名称过长。用法：{spec.usage}")
    if spec.action == "merge":
        main = _split_first(rest)[0]
        if not NUMBER_RE.match(main):
            raise CommandError(f"主编号「{main[:40]}」格式不对：应为不超过32位的字母、数字或“-”。用法：{spec.usage}")
        rest = main
    if len(rest) > MAX_TEXT_CHARS:
        raise CommandError(f"{spec.text_label or '内容'}过长（{len(rest)}字），请不超过{MAX_TEXT_CHARS}字。")
    if spec.text == "none":
        rest = ""  # trailing words after 查询/待办/帮助 carry no meaning; ignore them
    return Command(verb, number, rest)
