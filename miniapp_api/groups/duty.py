"""Who is on duty for a unit: the A post acts, the B post covers (A岗/B岗).

This is the one place the rule is written. The escalation ladder, the group cards (the
DingTalk report card's @-mentions, a notice's duty post) and the emergency broadcast all
ask ``on_duty``; each of them only decides which officials hold the unit's A and B posts.
"""
from __future__ import annotations

from dataclasses import dataclass

from miniapp_api.models import Official


def available(official: Official | None) -> bool:
    """True when ``official`` holds the post and can act: present, active and not on leave."""
    return official is not None and official.active and not official.on_leave


@dataclass(frozen=True)
class Posts:
    """The A and B posts of one unit (either may be missing)."""

    a: Official | None
    b: Official | None

    @staticmethod
    def available(official: Official | None) -> bool:
        """True when ``official`` can act (see :func:`available`)."""
        return available(official)

    @property
    def a_available(self) -> bool:
        """True when the A post can act."""
        return available(self.a)

    def on_duty(self, *, emergency: bool = False, handed_over: bool = False) -> list[Official]:
        """Who is @-mentioned (see :func:`on_duty`)."""
        return on_duty(self, emergency=emergency, handed_over=handed_over)


def posts_of(officials_by_post: dict[str, Official]) -> Posts:
    """The Posts of a unit from its officials keyed by ``duty_post`` ("A"/"B")."""
    return Posts(officials_by_post.get("A"), officials_by_post.get("B"))


def on_duty(posts: Posts, *, emergency: bool = False, handed_over: bool = False) -> list[Official]:
    """Who is @-mentioned: A (B once A handed over or when A is away); both in emergency.

    Only officials who can act (:func:`available`) are ever returned.
    """
    if emergency:  # 平战一键转换: both posts are called
        return [o for o in (posts.a, posts.b) if available(o)]
    if not handed_over and available(posts.a):
        return [posts.a]
    return [posts.b] if available(posts.b) else []
