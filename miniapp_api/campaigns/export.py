"""Campaign sign-ups and the volunteer hours ledger as CSV for administrators (UTF-8 with a
BOM, so Excel reads the Chinese text). Every cell goes through :func:`audit.csv_cell`, so a
name a resident typed (``=HYPERLINK(…)``) is never run as a spreadsheet formula; phone
numbers are masked, as everywhere outside the database."""
from __future__ import annotations

import csv
import io

from miniapp_api.audit import csv_cell
from miniapp_api.campaigns.hours import display_name
from miniapp_api.community.common import mask_phone
from miniapp_api.models import Township
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Signup
from miniapp_api.models.community import VolunteerHours
from miniapp_api.time import local

SIGNUP_LABELS = {"confirmed": "已报名", "waitlisted": "候补", "cancelled": "已取消", "no_show": "未到"}


def _csv(header: list[str], rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([csv_cell(v) for v in row] for row in rows)
    return "\ufeff" + out.getvalue()


def roster(campaign: Campaign) -> list[Signup]:
    """A campaign's sign-ups: confirmed and absent first (in sign-up order), then the waitlist
    in its order, then cancellations."""
    order = {"confirmed": 0, "no_show": 0, "waitlisted": 1, "cancelled": 2}
    rows = list(Signup.select().where(Signup.campaign == campaign).order_by(Signup.queue, Signup.id))
    return sorted(rows, key=lambda s: order.get(s.status, 3))


def signups_csv(campaign: Campaign) -> str:
    """Every sign-up of ``campaign``: name, masked phone, state, sign-up and check-in times."""
    rows = [(campaign.number, s.name or display_name(s.resident_id), mask_phone(s.phone),
             SIGNUP_LABELS.get(s.status, s.status), local(s.signed_up_at), local(s.promoted_at),
             local(s.checked_in_at), "" if s.checkin_distance_m is None else f"{s.checkin_distance_m:.0f}")
            for s in roster(campaign)]
    return _csv(["活动编号", "姓名", "电话（打码）", "状态", "报名时间", "候补转正时间", "签到时间", "签到距离（米）"], rows)


def hours_ledger(township: str | None, campaign: Campaign | None = None):
    """Ledger rows (with their campaign and unit), newest first: one unit's, or all (None)."""
    q = (VolunteerHours.select(VolunteerHours, Campaign, Township).join(Campaign)
         .switch(VolunteerHours).join(Township).order_by(VolunteerHours.id.desc()))
    if township is not None:
        q = q.where(Township.code == township)
    if campaign is not None:
        q = q.where(VolunteerHours.campaign == campaign)
    return q


def hours_csv(township: str | None, campaign: Campaign | None = None) -> str:
    """The hours ledger as CSV: campaign, unit, volunteer (as the roster names them), hours, when."""
    rows = []
    for h in hours_ledger(township, campaign):
        signup = Signup.get_or_none((Signup.campaign == h.campaign_id) & (Signup.resident == h.resident_id))
        name = (signup.name if signup and signup.name else "") or display_name(h.resident_id)
        rows.append((h.campaign.number, h.campaign.title, h.township.name, f"R{h.resident_id}", name,
                     f"{h.hours:g}", local(h.credited_at)))
    return _csv(["活动编号", "活动名称", "单位", "志愿者编号", "姓名", "时长（小时）", "记入时间"], rows)
