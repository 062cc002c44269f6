"""Whether emergency mode (平战) is in force: what the deadline clocks read on every start.

The switch itself (flipping it, announcing it, shortening running clocks) is
:mod:`.emergency`; it builds on the planner, which builds on this module.
"""
from __future__ import annotations

from miniapp_api.models import Category
from miniapp_api.models import Township
from miniapp_api.models.deadlines import EmergencySwitch
from miniapp_api.prepared import Prepared
from miniapp_api.deadlines.policy import load_policy

# Asked on every submission; compiled once (see ``prepared``).
_COUNTY = Prepared(lambda: EmergencySwitch.select(EmergencySwitch.on).where(EmergencySwitch.scope == "county")
                   .order_by(EmergencySwitch.id.desc()).limit(1))


def county_on() -> bool:
    """Whether the county-wide switch is on (its latest flip)."""
    return bool(_COUNTY.scalar())


def in_force(township) -> bool:
    """Whether emergency mode applies to a unit (a :class:`Township` or its id)."""
    if county_on():
        return True
    if isinstance(township, Township):
        return bool(township.emergency)
    row = Township.select(Township.emergency).where(Township.id == township).first()
    return bool(row and row.emergency)


def urgent_for(township: Township, category: Category) -> bool:
    """Whether a new report of ``category`` in ``township`` takes the urgent lane."""
    return urgent_when(in_force(township), load_policy(), category.code)


def urgent_when(in_emergency: bool, policy, category_code: str) -> bool:
    """Whether a new report of ``category_code`` takes the urgent lane, the switch being as
    ``in_emergency`` says: every category, or only ``emergency_categories`` when listed."""
    if not in_emergency:
        return False
    return not policy.emergency_categories or category_code in policy.emergency_categories
