"""Reports and status changes → DingTalk robot payloads (PLATFORMS §1.3, §1.4). Pure functions.

Everything a resident typed goes through ``escape_md`` before it becomes markdown, so it
cannot forge links, images, headings, lists, HTML or @-mentions in an officials' group
(DESIGN: "no forged links, no @all"). Our own URLs are not escaped but must pass
``safe_url``. Every payload uses the webhook's exact camelCase keys and never sets
``isAtAll``.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from urllib.parse import urlsplit

#: A digest message is kept under this many characters of markdown text (title excluded).
#: DingTalk's webhook size limit is UNCONFIRMED; legacy markdown bodies failed above 5000.
MAX_DIGEST_CHARS = 4000
#: Default cap of one escaped resident text.
MAX_TEXT_CHARS = 500
#: DingTalk truncates notification titles; the legacy API rejected titles above 64.
MAX_TITLE_CHARS = 64
#: Legacy API limit for button/link URLs.
MAX_URL_CHARS = 500

_NUMBER = re.compile(r"^[0-9A-Za-z-]{1,32}$")
_MOBILE = re.compile(r"^\+?[0-9][0-9-]{4,19}$")

# Characters that mean something to markdown, HTML or DingTalk, mapped to their full-width
# look-alikes. Full-width forms read naturally in Chinese text, whereas DingTalk's renderer
# may show a backslash escape literally; either way nothing in the output is syntax.
_FULLWIDTH = str.maketrans(
    {
        "\\": "＼", "`": "｀", "*": "＊", "_": "＿", "~": "～",
        "[": "［", "]": "］", "(": "（", ")": "）", "{": "｛", "}": "｝",
        "<": "＜", ">": "＞", "#": "＃", "|": "｜", "!": "！",
        "@": "＠",  # no @mobile / @所有人 / @all mention can be formed
        "&": "＆",  # no HTML entities (&#64; would decode to @)
        ":": "：",  # breaks every scheme: http:, javascript:, dingtalk:, mailto:
        '"': "＂", "'": "＇", "=": "＝", "$": "＄", "^": "＾",
    }
)
# Invisible and layout-changing characters: zero-width joiners, bidi overrides, BOM,
# line/paragraph separators. They can hide or reorder text and smuggle syntax past a reader.
_INVISIBLE = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")
_SPACES = re.compile(r"\s+")
# A dot between a letter/digit and a letter is domain-like ("evil.com", "www.x"): made
# full-width so no client autolinks it; decimals ("3.5米") keep their ASCII dot.
_DOMAIN_DOT = re.compile(r"(?<=[0-9A-Za-z])\.(?=[A-Za-z])")
# Dotted quads ("10.0.0.1/login") could be autolinked too.
_IPV4 = re.compile(r"(?<![0-9])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9])")
# Block markers that only mean something at the start of a line.
_LEADING_BLOCK = re.compile(r"^([-+]|\d+[.)])")


def escape_md(text: str | None, max_chars: int = MAX_TEXT_CHARS) -> str:
    """Make untrusted text inert inside DingTalk markdown (and plain text).

    Collapses all whitespace (so no line can start with a block marker), removes control and
    invisible characters, replaces markdown/HTML/mention punctuation with full-width
    look-alikes, breaks URL schemes and domain-like dots, and caps the length at
    ``max_chars`` (an ellipsis marks the cut).
    """
    if not text:
        return ""
    s = unicodedata.normalize("NFC", str(text))
    s = _INVISIBLE.sub("", s)
    # Control characters (Cc) become spaces so that words stay apart; then collapse.
    s = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in s)
    s = _SPACES.sub(" ", s).strip()
    if len(s) > max_chars:
        s = s[: max(1, max_chars - 1)].rstrip() + "…"
    s = s.translate(_FULLWIDTH)
    s = _DOMAIN_DOT.sub("．", s)
    s = _IPV4.sub(lambda m: m.group(0).replace(".", "．"), s)
    # The escaped text is always placed after a label, but be safe if a caller does not.
    s = _LEADING_BLOCK.sub(lambda m: m.group(1).replace("-", "－").replace("+", "＋").replace(".", "．").replace(")", "）"), s)
    return s


def safe_url(url: str) -> str:
    """Return ``url`` if it is an absolute http(s) URL that cannot break markdown link syntax.

    Raises ``ValueError`` otherwise. Our own URLs are built by us; a failure here is a
    configuration or programming error, never resident input.
    """
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        raise ValueError(f"unsafe URL (empty or longer than {MAX_URL_CHARS}): {url!r}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"unsafe URL (not absolute http/https): {url!r}")
    # Only printable ASCII without the characters that end or nest a markdown link.
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F or c in '()[]<>"\'`\\ ' for c in url):
        raise ValueError(f"unsafe URL (characters that break markdown): {url!r}")
    return url


def report_number(number: str) -> str:
    """``number`` when it is a well-formed report number; ``ValueError`` otherwise."""
    if not isinstance(number, str) or not _NUMBER.match(number):
        raise ValueError(f"invalid report number: {number!r}")
    return number


def _mobiles(mobiles: list[str]) -> list[str]:
    """Deduplicated mobiles to @-mention. Empty entries (an official without a mobile) are
    skipped; anything else that is not a phone number is a caller bug and raises."""
    out: list[str] = []
    for m in mobiles or []:
        if m is None or m == "":
            continue
        if not isinstance(m, str) or not _MOBILE.match(m):
            raise ValueError(f"invalid mobile for @-mention: {m!r}")
        if m not in out:
            out.append(m)
    return out


def _title(text: str) -> str:
    return escape_md(text, max_chars=MAX_TITLE_CHARS)


def _markdown(title: str, text: str, *, at_mobiles: list[str] | None = None, at_user_ids: list[str] | None = None) -> dict[str, Any]:
    at: dict[str, Any] = {"isAtAll": False}
    if at_mobiles:
        at["atMobiles"] = list(at_mobiles)
    if at_user_ids:
        at["atUserIds"] = list(at_user_ids)
    return {"msgtype": "markdown", "markdown": {"title": _title(title), "text": text}, "at": at}


def _mention_line(mobiles: list[str]) -> str:
    # The @mobile text is what makes DingTalk render the mention (PLATFORMS §1.4).
    return " ".join(f"@{m}" for m in mobiles)


def markdown_message(title: str, lines: list[str], mobiles: list[str] | None = None) -> dict[str, Any]:
    """A markdown robot payload of ``lines`` that @-mentions ``mobiles`` in the text and in ``at``.

    ``mobiles`` are checked and deduplicated like a card's; ``lines`` are used as they are
    (callers escape what is not theirs).
    """
    mobiles = _mobiles(mobiles or [])
    if mobiles:
        lines = [*lines, _mention_line(mobiles)]
    return _markdown(title, "\n\n".join(lines), at_mobiles=mobiles)


@dataclass
class ReportCard:
    """What a group needs to see about one report; built by the caller from the database."""

    number: str
    category: str
    township_name: str
    address: str
    description: str
    photo_urls: list[str] = field(default_factory=list)
    link: str = ""
    mention_mobiles: list[str] = field(default_factory=list)
    anonymous: bool = False
    reporter_label: str = "居民"
    urgent: bool = False
    level_label: str = ""
    supporters: int = 0
    completion_photo_urls: list[str] = field(default_factory=list)
    #: Photos WeChat's image check passed: shown as pictures; the others stay links.
    inline_photo_urls: list[str] = field(default_factory=list)
    #: Photos held back until WeChat's image check passes them (``photos_before_check = "hold"``).
    held_photos: int = 0


def photo_line(label: str, urls: list[str], inline: list[str] | tuple[str, ...] = (), held: int = 0) -> str | None:
    """``**label：** [照片1](url) ![照片2](url) …``: a picture for each URL in ``inline`` (the
    check passed), a link the official opens for the others; held-back photos are counted.
    None when there is nothing to say."""
    parts = [f"{'!' if u in inline else ''}[照片{i}]({safe_url(u)})" for i, u in enumerate(urls, 1)]
    if held:
        parts.append(f"（另有 {int(held)} 张照片待微信内容安全检测，通过后显示）")
    return f"**{label}：** " + " ".join(parts) if parts else None


def render_photo_withdrawn(number: str, note: str, link: str | None) -> dict[str, Any]:
    """The follow-up message when WeChat's image check judged a photo of ``number`` risky: it
    was withdrawn, its link no longer opens; ``note`` says which (ours, escaped anyway)."""
    n = report_number(number)
    lines = [f"#### 照片已撤下：{n}", f"**说明：** {escape_md(note)}",
             "该照片的链接已失效，请勿保存或转发。"]
    if link:
        lines.append(f"[查看详情]({safe_url(link)})")
    return _markdown(f"照片已撤下 {n}", "\n\n".join(lines))


def command_hint(number: str) -> str:
    """One line reminding officials how to act on ``number``."""
    n = report_number(number)
    return f"指令（＠机器人后发送）：受理 {n} ｜ 办结 {n} 回复内容 ｜ 驳回 {n} 理由 ｜ 转办 {n} 部门名称 ｜ 查询 {n}"


def render_new_report(card: ReportCard) -> dict[str, Any]:
    """A markdown robot message announcing a new report, with the detail link, photo links,
    the command hint and ``at.atMobiles`` = ``card.mention_mobiles`` (never ``isAtAll``)."""
    number = report_number(card.number)
    mobiles = _mobiles(card.mention_mobiles)
    link = safe_url(card.link)
    urgent = "【紧急】" if card.urgent else ""
    category = escape_md(card.category, 40)
    place = " ".join(x for x in (escape_md(card.township_name, 40), escape_md(card.address, 120)) if x)
    reporter = "匿名" if card.anonymous else escape_md(card.reporter_label, 40)

    lines = [
        f"#### {urgent}新上报：{category}",
        f"**编号：** {number}",
        f"**类别：** {category}",
        f"**地点：** {place or '未填写'}",
        f"**描述：** {escape_md(card.description) or '（无）'}",
        f"**上报人：** {reporter}",
    ]
    if card.level_label:
        lines.append(f"**层级：** {escape_md(card.level_label, 40)}")
    if card.supporters:
        lines.append(f"**我也遇到：** {int(card.supporters)} 位居民")
    photos = photo_line("上报照片", card.photo_urls, card.inline_photo_urls, card.held_photos)
    if photos:
        lines.append(photos)
    lines.append(f"[查看详情]({link})")
    lines.append(f"> {command_hint(number)}")
    if mobiles:
        lines.append(_mention_line(mobiles))
    return _markdown(f"{urgent}新上报 {number} {card.category}", "\n\n".join(lines), at_mobiles=mobiles)


def render_status_change(
    number: str,
    status_label: str,
    action_label: str,
    actor_name: str,
    note: str | None,
    link: str | None,
    *,
    photo_urls: list[str] | None = None,
    completion_photo_urls: list[str] | None = None,
    supporters: int = 0,
    inline_photo_urls: list[str] | None = None,
) -> dict[str, Any]:
    """A short markdown message: ``action_label`` by ``actor_name`` on ``number``, new status,
    the (escaped) note and the detail link; a resolved card shows 上报照片 and 办结照片 apart."""
    n = report_number(number)
    action = escape_md(action_label, 20)
    lines = [
        f"#### {action}：{n}",
        f"**状态：** {escape_md(status_label, 20)}",
        f"**处理人：** {escape_md(actor_name, 40) or '系统'}",
    ]
    if note:
        lines.append(f"**说明：** {escape_md(note)}")
    if supporters:
        lines.append(f"**我也遇到：** {int(supporters)} 位居民")
    for label, urls in (("上报照片", photo_urls), ("办结照片", completion_photo_urls)):
        line = photo_line(label, urls or [], inline_photo_urls or ())
        if line:
            lines.append(line)
    if link:
        lines.append(f"[查看详情]({safe_url(link)})")
    return _markdown(f"{action_label} {n}", "\n\n".join(lines))


def render_transfer(card: ReportCard, status_label: str, actor_name: str, note: str | None, *,
                    department: str = "", duty: str = "", mention_mobiles: list[str] | None = None) -> dict[str, Any]:
    """The 转办 card, for the department's group (and the township's): who whistled it, and the
    report in full — category, place, the (escaped) description and the photos — with the
    detail link and the command hint, since the department sees the report here first.

    ``duty`` names who is to 报到 (the department's post on duty, or the level standing in,
    said plainly) and ``mention_mobiles`` are @-mentioned in the text and in ``at.atMobiles``:
    the department's copy passes them; the township's copy passes neither and mentions nobody.
    ``card.mention_mobiles`` is not used here."""
    n = report_number(card.number)
    mobiles = _mobiles(mention_mobiles or [])
    category = escape_md(card.category, 40)
    place = " ".join(x for x in (escape_md(card.township_name, 40), escape_md(card.address, 120)) if x)
    lines = [
        f"#### 转办：{n}",
        f"**状态：** {escape_md(status_label, 20)}",
        f"**转办人：** {escape_md(actor_name, 40) or '系统'}",
    ]
    if note:
        lines.append(f"**说明：** {escape_md(note)}")
    if department:
        lines.append(f"**报到部门：** {escape_md(department, 40)}")
    if duty:
        lines.append(f"**请报到：** {escape_md(duty, 120)}")
    lines += [
        f"**类别：** {category}",
        f"**地点：** {place or '未填写'}",
        f"**描述：** {escape_md(card.description) or '（无）'}",
    ]
    if card.supporters:
        lines.append(f"**我也遇到：** {int(card.supporters)} 位居民")
    photos = photo_line("上报照片", card.photo_urls, card.inline_photo_urls, card.held_photos)
    if photos:
        lines.append(photos)
    if card.link:
        lines.append(f"[查看详情]({safe_url(card.link)})")
    lines.append(f"> {command_hint(n)}")
    if mobiles:
        lines.append(_mention_line(mobiles))
    return _markdown(f"转办 {n} {card.category}", "\n\n".join(lines), at_mobiles=mobiles)


def _digest_entry(index: int, card: ReportCard) -> str:
    number = report_number(card.number)
    place = " ".join(x for x in (escape_md(card.township_name, 20), escape_md(card.address, 40)) if x)
    urgent = "【紧急】" if card.urgent else ""
    desc = escape_md(card.description, 40)
    return f"{index}. {urgent}**{number}** {escape_md(card.category, 20)} · {place or '未填写'} — {desc} [详情]({safe_url(card.link)})"


def _digest_text(cards: list[ReportCard], title: str) -> tuple[str, list[str]]:
    mobiles = _mobiles([m for c in cards for m in c.mention_mobiles])
    lines = [f"#### {escape_md(title, 40)}（{len(cards)}条）"]
    lines += [_digest_entry(i, c) for i, c in enumerate(cards, 1)]
    lines.append("> 对单条上报可 ＠机器人 发送：受理/办结/驳回/转办/查询 编号")
    if mobiles:
        lines.append(_mention_line(mobiles))
    return "\n\n".join(lines), mobiles


def render_digest(cards: list[ReportCard], title: str) -> dict[str, Any]:
    """One markdown message listing ``cards`` (number, category, place, link of each).

    Raises ``ValueError`` if it would exceed ``MAX_DIGEST_CHARS``: split with
    ``chunk_for_digest`` first, so nothing is ever cut off silently.
    """
    if not cards:
        raise ValueError("a digest needs at least one report")
    text, mobiles = _digest_text(cards, title)
    if len(text) > MAX_DIGEST_CHARS:
        raise ValueError(f"digest of {len(cards)} reports is {len(text)} chars > {MAX_DIGEST_CHARS}; use chunk_for_digest")
    return _markdown(f"{title}（{len(cards)}条）", text, at_mobiles=mobiles)


def chunk_for_digest(cards: list[ReportCard], title: str = "新上报汇总", max_chars: int = MAX_DIGEST_CHARS) -> list[list[ReportCard]]:
    """Split ``cards`` (order kept, none dropped) into chunks whose ``render_digest`` stays
    within ``max_chars``. Measured by rendering, so mentions and headers are counted too."""
    chunks: list[list[ReportCard]] = []
    current: list[ReportCard] = []
    for card in cards:
        candidate = current + [card]
        if current and len(_digest_text(candidate, title)[0]) > max_chars:
            chunks.append(current)
            candidate = [card]
        current = candidate
    if current:
        chunks.append(current)
    return chunks


def render_text_reply(text: str, at_user_id: str | None = None, *, markdown: bool = False, title: str = "同心") -> dict[str, Any]:
    """A command reply (plain ``text`` message, or ``markdown`` when asked) that @-mentions
    the official ``at_user_id`` through ``at.atUserIds`` (as the official Stream SDK does).

    ``text`` is ours and used as is: callers must pass resident-written fragments through
    ``escape_md`` first.
    """
    at: dict[str, Any] = {"isAtAll": False}
    if at_user_id:
        at["atUserIds"] = [str(at_user_id)]
    if markdown:
        return {"msgtype": "markdown", "markdown": {"title": _title(title), "text": text}, "at": at}
    return {"msgtype": "text", "text": {"content": text}, "at": at}
