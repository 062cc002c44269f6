"""Rendering: resident text can never become markdown syntax; payloads use the webhook keys."""
from __future__ import annotations

import re

import pytest

from bridges.dingtalk.render import MAX_DIGEST_CHARS
from bridges.dingtalk.render import ReportCard
from bridges.dingtalk.render import chunk_for_digest
from bridges.dingtalk.render import escape_md
from bridges.dingtalk.render import render_digest
from bridges.dingtalk.render import render_new_report
from bridges.dingtalk.render import render_status_change
from bridges.dingtalk.render import render_text_reply
from bridges.dingtalk.render import safe_url

LINK = "https://tongxin.example.gov.cn/r/YT-20240101-0001"
PHOTO = "https://tongxin.example.gov.cn/media/abc123.jpg"

HOSTILE = [
    "[点我领补贴](http://evil.example/phish)",
    "![x](http://evil.example/track.png)",
    "<http://evil.example>",
    "http://evil.example/a?b=c",
    "HTTPS://EVIL.EXAMPLE",
    "www.evil.example",
    "去 evil.com/login 登记",
    "访问 10.0.0.1/admin",
    "# 紧急通知 全体撤离",
    "正常开头\n# 第二行标题",
    "## 二级标题",
    "第一行\n- 列表项\n* 星号项\n+ 加号项",
    "1. 第一条\n2. 第二条",
    "> 引用一段话",
    "**加粗** __下划线__ *斜体* _斜体_ ~~删除~~",
    "`code` ```block```",
    "| a | b |\n|---|---|\n| 1 | 2 |",
    "<a href='http://evil.example'>点击</a>",
    "<script>alert(1)</script><img src=x onerror=alert(1)>",
    "<font color=#FF0000>红字</font>",
    "@13800000000 快来",
    "@所有人 紧急",
    "@all please",
    "＠13800000000 全角",
    "&#64;所有人 &lt;b&gt;",
    "javascript:alert(1)",
    "dingtalk://dingtalkclient/page/link?url=http%3A%2F%2Fevil",
    "[链接]\n(http://evil.example)",
    "[ref]: http://evil.example",
    "a\u200b@\u200b13800000000 零宽",
    "\u202eevil.exe\u202c 方向覆盖",
    "h\u200dt\u200dt\u200dp://evil.example",
    "\\[转义\\](http://evil.example)",
    "标题\n===\n副标题\n---",
    "- " * 600,
]

FORBIDDEN = [
    (re.compile(r"\[[^\]]*\]\s*\("), "link"),
    (re.compile(r"!\["), "image"),
    (re.compile(r"\]\s*:"), "reference link"),
    (re.compile(r"<\s*[A-Za-z/!?]"), "html tag"),
    (re.compile(r"@"), "mention"),
    (re.compile(r"://"), "url scheme"),
    (re.compile(r"(?i)\b(https?|javascript|dingtalk|mailto):"), "scheme"),
    (re.compile(r"(?i)www\."), "www autolink"),
    (re.compile(r"(?i)[a-z0-9]\.(com|example|exe|cn)\b"), "bare domain"),
    (re.compile(r"\d+\.\d+\.\d+\.\d+"), "ip"),
    (re.compile(r"[`*_~|\\]"), "emphasis/code/table/escape"),
    (re.compile(r"&[#a-zA-Z]"), "entity"),
    (re.compile(r"[\r\n\u2028\u2029]"), "line break"),
    (re.compile(r"^\s*([#>]|[-+*]\s|\d+[.)])"), "block marker at start"),
    (re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"), "invisible"),
]


def assert_inert(text: str) -> None:
    for pattern, what in FORBIDDEN:
        assert not pattern.search(text), f"{what} survived in {text!r}"


def test_battery_is_big_enough():
    assert len(HOSTILE) >= 20


@pytest.mark.parametrize("hostile", HOSTILE)
def test_escape_md_neutralises(hostile):
    out = escape_md(hostile)
    assert_inert(out)
    assert len(out) <= 500


@pytest.mark.parametrize("hostile", HOSTILE)
def test_new_report_card_with_hostile_fields(hostile):
    card = ReportCard(
        number="YT-20240101-0001", category="环境卫生", township_name="永盛街道", address=hostile,
        description=hostile, photo_urls=[PHOTO], link=LINK, mention_mobiles=["13800000001"],
        reporter_label=hostile, level_label=hostile,
    )
    payload = render_new_report(card)
    text = payload["markdown"]["text"]
    # The only links are ours; the only mention is the one we asked for.
    assert set(re.findall(r"\]\(([^)]*)\)", text)) == {LINK, PHOTO}
    assert re.findall(r"@(\S+)", text) == ["13800000001"]
    assert "!" not in text.replace("！", "")
    lines = text.split("\n")
    ours = re.compile(r"^(#### |\*\*|\[查看详情\]|> 指令|@13800000001$|$)")
    assert all(ours.match(line) for line in lines), lines
    assert payload["at"] == {"isAtAll": False, "atMobiles": ["13800000001"]}
    assert_inert(payload["markdown"]["title"])


def test_plain_chinese_text_unchanged():
    s = "小区门口路灯不亮了，已经三天，3.5米高的灯杆倾斜。电话请打给物业（不要打110）"
    out = escape_md(s)
    assert out.startswith("小区门口路灯不亮了，已经三天，3.5米高的灯杆倾斜。")
    assert "（不要打110）" in out


def test_escape_md_caps_length_and_collapses_whitespace():
    assert escape_md("a" * 1000, max_chars=10) == "a" * 9 + "…"
    assert escape_md("  第一行\n\n\t第二行  ") == "第一行 第二行"
    assert escape_md(None) == "" and escape_md("") == ""


def test_new_report_payload_shape():
    card = ReportCard(
        number="YT-20240101-0001", category="道路破损", township_name="永盛街道", address="人民大街88号",
        description="路面塌陷，约1米宽", photo_urls=[PHOTO, PHOTO.replace("abc", "def")], link=LINK,
        mention_mobiles=["13800000001", "13800000002", "13800000001"], anonymous=True,
        reporter_label="居民(已实名)", urgent=True, level_label="乡镇",
    )
    p = render_new_report(card)
    assert set(p) == {"msgtype", "markdown", "at"} and p["msgtype"] == "markdown"
    assert set(p["markdown"]) == {"title", "text"}
    assert p["at"] == {"isAtAll": False, "atMobiles": ["13800000001", "13800000002"]}
    text = p["markdown"]["text"]
    for piece in ("YT-20240101-0001", "道路破损", "永盛街道 人民大街88号", "路面塌陷，约1米宽", "匿名",
                  f"[查看详情]({LINK})", f"[照片1]({PHOTO})", "[照片2](", "受理 YT-20240101-0001", "【紧急】",
                  "@13800000001 @13800000002"):
        assert piece in text
    assert "居民" not in text  # anonymous wins over the label
    assert "YT-20240101-0001" in p["markdown"]["title"]


@pytest.mark.parametrize(
    "url",
    ["javascript:alert(1)", "/relative/path", "ftp://x/y", "https://x/a b", "https://x/a)b", "https://x/[1]",
     "https://x/\u4e2d", "http://", "", "https://x/" + "a" * 600, 'https://x/"q'],
)
def test_unsafe_urls_refused(url):
    with pytest.raises(ValueError):
        safe_url(url)
    card = ReportCard("YT-1", "c", "t", "a", "d", photo_urls=[url], link=LINK)
    with pytest.raises(ValueError):
        render_new_report(card)


def test_safe_url_accepts_ours():
    assert safe_url(LINK) == LINK
    assert safe_url("http://127.0.0.1:8000/r/YT-1?x=1&y=%E4%B8%AD#top")


@pytest.mark.parametrize("number", ["", "YT 1", "YT_1", "A" * 33, "[x](y)", "编号1"])
def test_invalid_number_refused(number):
    with pytest.raises(ValueError):
        render_new_report(ReportCard(number, "c", "t", "a", "d", link=LINK))


@pytest.mark.parametrize("mobile", ["@all", "所有人", "1380000000a", " ", "1 2", "+"])
def test_invalid_mention_refused(mobile):
    with pytest.raises(ValueError):
        render_new_report(ReportCard("YT-1", "c", "t", "a", "d", link=LINK, mention_mobiles=[mobile]))


def test_empty_mobiles_are_skipped():
    p = render_new_report(ReportCard("YT-1", "c", "t", "a", "d", link=LINK, mention_mobiles=["", None, "13800000001"]))
    assert p["at"]["atMobiles"] == ["13800000001"]
    p = render_new_report(ReportCard("YT-1", "c", "t", "a", "d", link=LINK, mention_mobiles=[""]))
    assert "atMobiles" not in p["at"] and "@" not in p["markdown"]["text"]


def test_status_change_escapes_note():
    p = render_status_change("YT-1", "已办结", "办结", "王网格长", "已处理 [假链接](http://evil) @所有人", LINK)
    text = p["markdown"]["text"]
    assert "YT-1" in text and "已办结" in text and "王网格长" in text
    assert set(re.findall(r"\]\(([^)]*)\)", text)) == {LINK}
    assert "@" not in text
    assert p["at"] == {"isAtAll": False}
    p2 = render_status_change("YT-1", "已受理", "受理", "", None, None)
    assert "查看详情" not in p2["markdown"]["text"] and "说明" not in p2["markdown"]["text"]


def _cards(n: int, desc: str = "描述" * 100) -> list[ReportCard]:
    return [
        ReportCard(number=f"YT-20240101-{i:04d}", category="环境卫生", township_name="永盛街道",
                   address="某某小区" * 20, description=desc, link=f"https://tongxin.example.gov.cn/r/YT-20240101-{i:04d}",
                   mention_mobiles=[f"138{i % 7:08d}"])
        for i in range(n)
    ]


def test_digest_chunking_keeps_every_number():
    cards = _cards(150)
    chunks = chunk_for_digest(cards, "新上报汇总")
    assert len(chunks) > 1
    assert [c.number for chunk in chunks for c in chunk] == [c.number for c in cards]  # nothing lost, order kept
    for chunk in chunks:
        p = render_digest(chunk, "新上报汇总")
        text = p["markdown"]["text"]
        assert len(text) <= MAX_DIGEST_CHARS
        for c in chunk:
            assert c.number in text and f"({c.link})" in text and "环境卫生" in text and "永盛街道" in text
        assert p["at"]["isAtAll"] is False
        assert sorted(p["at"]["atMobiles"]) == sorted({m for c in chunk for m in c.mention_mobiles})


def test_digest_too_big_refused_not_truncated():
    with pytest.raises(ValueError):
        render_digest(_cards(150), "汇总")
    with pytest.raises(ValueError):
        render_digest([], "汇总")


def test_digest_escapes_resident_text():
    cards = _cards(3, desc="[x](http://evil) @所有人 # 标题")
    text = render_digest(cards, "汇总")["markdown"]["text"]
    assert "@所有人" not in text and "http://evil" not in text
    assert all(u.startswith("https://tongxin.example.gov.cn/") for u in re.findall(r"\]\(([^)]*)\)", text))


def test_text_reply():
    p = render_text_reply("已受理 YT-1", "staff-wang")
    assert p == {"msgtype": "text", "text": {"content": "已受理 YT-1"}, "at": {"isAtAll": False, "atUserIds": ["staff-wang"]}}
    p = render_text_reply("**加粗**", None, markdown=True)
    assert p["msgtype"] == "markdown" and p["markdown"]["text"] == "**加粗**" and p["at"] == {"isAtAll": False}
