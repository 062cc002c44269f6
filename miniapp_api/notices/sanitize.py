"""Notice bodies: a strict allow-list of HTML, cleaned with ``nh3`` (the Ammonia sanitizer).

What survives: paragraphs, line breaks, emphasis, headings h3–h5, lists, block quotes,
links (``http``/``https`` only, opened with ``rel="noopener noreferrer nofollow"``) and
images whose ``src`` is one of our own stored uploads (``<public_base_url>/media/…``).
Everything else goes: ``<script>``/``<style>`` with their content, ``<iframe>``/``<object>``/
``<form>``, event handlers, ``style`` and ``class`` attributes (no remote styles, no CSS
injection), ``javascript:``/``data:`` URLs and remote images (no tracking pixels).
"""
from __future__ import annotations

import html
import re

import nh3

TAGS = {"p", "br", "strong", "b", "em", "i", "u", "s", "h3", "h4", "h5", "ul", "ol", "li",
        "blockquote", "a", "img", "hr"}
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "width", "height"}}
# Removed together with everything inside them.
CONTENT_TAGS = {"script", "style", "iframe", "object", "embed", "template", "noscript", "svg",
                "math", "textarea", "select", "title", "head"}
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_END = re.compile(r"</(p|h[345]|li|blockquote)>|<br\s*/?>|<hr\s*/?>", re.I)


def clean_html(raw: str, media_prefix: str) -> str:
    """The allow-listed HTML of ``raw``; ``<img>`` keeps only ``src`` under ``media_prefix``."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        if tag == "img" and attribute == "src" and not value.startswith(media_prefix):
            return None
        if attribute in ("width", "height") and not value.isdigit():
            return None
        return value

    cleaned = nh3.clean(
        raw or "",
        tags=TAGS,
        clean_content_tags=CONTENT_TAGS,
        attributes=ATTRIBUTES,
        attribute_filter=keep,
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    # An image whose source was refused is an empty box: drop it altogether.
    return re.sub(r"<img(?![^>]*\ssrc=)[^>]*>", "", cleaned).strip()


def to_text(clean: str) -> str:
    """Plain text of sanitised HTML (for group messages and subscribe messages)."""
    marked = _BLOCK_END.sub("\n", clean)
    text = html.unescape(nh3.clean(marked, tags=set(), clean_content_tags=CONTENT_TAGS))
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANK_LINES.sub("\n", "\n".join(lines)).strip()
