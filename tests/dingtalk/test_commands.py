"""Parsing officials' commands (CONTRACT §4)."""
from __future__ import annotations

import pytest

from bridges.dingtalk.commands import HELP_TEXT
from bridges.dingtalk.commands import VERBS
from bridges.dingtalk.commands import Command
from bridges.dingtalk.commands import CommandError
from bridges.dingtalk.commands import parse_command

N = "YT-20240101-0001"


@pytest.mark.parametrize(
    "text, verb, number, rest, action",
    [
        (f"受理 {N}", "受理", N, "", "accept"),
        (f"  受理   {N}  ", "受理", N, "", "accept"),
        (f"受理\u3000{N}", "受理", N, "", "accept"),
        (f"受理{N}", "受理", N, "", "accept"),                 # verb glued to the number
        (f"受理：{N}", "受理", N, "", "accept"),
        (f"/受理 {N}", "受理", N, "", "accept"),
        (f"办结 {N} 已清理完毕，感谢反映", "办结", N, "已清理完毕，感谢反映", "resolve"),
        (f"办结 {N} 路灯 已更换 明早复查", "办结", N, "路灯 已更换 明早复查", "resolve"),
        (f"办结\u3000{N}\u3000已处理\u3000完毕", "办结", N, "已处理 完毕", "resolve"),
        (f"驳回 {N} 不属于本辖区 请重新选择", "驳回", N, "不属于本辖区 请重新选择", "reject"),
        (f"转办 {N} 城管局", "转办", N, "城管局", "transfer"),
        (f"转办 {N} 县 住建局", "转办", N, "县 住建局", "transfer"),
        (f"查询 {N}", "查询", N, "", "query"),
        (f"查询 {N} 多余的字", "查询", N, "", "query"),
        ("待办", "待办", None, "", "todo"),
        ("帮助", "帮助", None, "", "help"),
        ("", "帮助", None, "", "help"),
        ("   ", "帮助", None, "", "help"),
        ("收到 notice-12", "收到", "notice-12", "", "ack"),
        (f"发起志愿 {N}", "发起志愿", N, "", "campaign"),
        ("受理 " + "A" * 32, "受理", "A" * 32, "", "accept"),
        ("受理 abc-DEF-123", "受理", "abc-DEF-123", "", "accept"),
    ],
)
def test_valid(text, verb, number, rest, action):
    cmd = parse_command(text)
    assert cmd == Command(verb, number, rest)
    assert cmd.action == action


def test_reply_keeps_inner_line_breaks():
    assert parse_command(f"办结 {N} 第一行\n第二行").text == "第一行\n第二行"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("你好", "无法识别"),
        ("accept YT-1", "无法识别"),
        ("删除 YT-1", "无法识别"),
        ("受理", "缺少编号"),
        ("受理   ", "缺少编号"),
        ("查询", "缺少编号"),
        ("收到", "缺少编号"),
        (f"办结 {N}", "缺少回复内容"),
        (f"办结 {N}   ", "缺少回复内容"),
        (f"驳回 {N}", "缺少驳回理由"),
        (f"转办 {N}", "缺少部门名称"),
        ("办结", "缺少编号"),
        ("受理 " + "A" * 33, "格式不对"),
        ("受理 YT_1", "格式不对"),
        ("受理 编号一", "格式不对"),
        ("受理 [YT-1](http://x)", "格式不对"),
        (f"办结 {N} " + "字" * 501, "过长"),
    ],
)
def test_invalid(text, fragment):
    with pytest.raises(CommandError) as exc:
        parse_command(text)
    assert fragment in exc.value.message
    assert exc.value.message == str(exc.value)


def test_error_messages_show_usage():
    with pytest.raises(CommandError) as exc:
        parse_command(f"办结 {N}")
    assert "办结 <编号> <回复内容>" in exc.value.message


def test_help_text_lists_every_command():
    for verb in VERBS:
        assert verb in HELP_TEXT
    for usage in ("受理 <编号>", "办结 <编号> <回复内容>", "驳回 <编号> <理由>", "转办 <编号> <部门名称>", "查询 <编号>", "待办", "帮助"):
        assert usage in HELP_TEXT
