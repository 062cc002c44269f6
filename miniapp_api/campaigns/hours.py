"""The volunteer hours ledger (one row per resident and completed campaign, written by
``campaigns.complete``) and the leaderboard of each unit."""
from __future__ import annotations

from peewee import fn

from miniapp_api.models import Resident
from miniapp_api.models import Township
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Signup
from miniapp_api.models.community import VolunteerHours
from miniapp_api.community.common import mask_name


def display_name(resident_id: int) -> str:
    """A volunteer as others see them: nickname or sign-up name, masked."""
    r = Resident.get_or_none(Resident.id == resident_id)
    name = r.nickname if r and r.nickname else ""
    if not name:
        s = (Signup.select(Signup.name).where((Signup.resident == resident_id) & (Signup.name != ""))
             .order_by(Signup.id.desc()).first())
        name = s.name if s else ""
    return mask_name(name) or "志愿者"


def hours_of(resident: Resident) -> tuple[float, list[VolunteerHours]]:
    """A resident's total volunteer hours and its entries, newest first."""
    rows = list(VolunteerHours.select(VolunteerHours, Campaign, Township).join(Campaign)
                .switch(VolunteerHours).join(Township)
                .where(VolunteerHours.resident == resident).order_by(VolunteerHours.id.desc()))
    return round(sum(r.hours for r in rows), 2), rows


def leaderboard(township: Township, limit: int, me: Resident | None) -> tuple[list[dict], dict | None]:
    """The unit's volunteers by hours (ties: more campaigns, then earlier volunteer first)."""
    total = fn.SUM(VolunteerHours.hours)
    count = fn.COUNT(VolunteerHours.id)
    base = (VolunteerHours.select(VolunteerHours.resident, total.alias("total"), count.alias("n"))
            .where(VolunteerHours.township == township).group_by(VolunteerHours.resident))
    rows = list(base.order_by(total.desc(), count.desc(), VolunteerHours.resident).limit(limit).tuples())
    items = [{"rank": i, "name": display_name(rid), "hours": round(h, 2), "campaigns": n}
             for i, (rid, h, n) in enumerate(rows, 1)]
    mine = None
    if me is not None:
        own = next(((h, n) for rid, h, n in base.tuples() if rid == me.id), None)
        if own is not None:
            ahead = sum(1 for _, h, n in base.tuples() if (h, n) > own)
            mine = {"rank": ahead + 1, "name": display_name(me.id), "hours": round(own[0], 2), "campaigns": own[1]}
    return items, mine
