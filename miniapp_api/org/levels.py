"""The levels of the organisation a report can be handled at, and their names in Chinese.

A category's duty list starts a report at one of the first four; the escalation ladder
climbs them and ends at the county (docs/deadlines.md).
"""
from __future__ import annotations

LEVELS = ("grid", "community", "township", "department", "county")

LEVEL_LABELS = {"grid": "网格", "community": "村/社区", "township": "乡镇/街道", "department": "县直部门",
                "county": "县指挥中心"}

# Where a category's duty list may start a report (the county is only reached by escalation).
FIRST_LEVEL_LABELS = {level: label for level, label in LEVEL_LABELS.items() if level != "county"}
