"""帮助's example uses a number in the format officials will really see (R261206-0001), and
the example parses as the command it shows."""
from __future__ import annotations

import re

from bridges.dingtalk.commands import HELP_TEXT
from bridges.dingtalk.commands import parse_command
from miniapp_api.web.api import PATH_FORMATS

REPORT_NUMBER = re.compile(PATH_FORMATS[("reports", "number")])


def test_the_help_example_uses_a_real_report_number():
    example = next(line for line in HELP_TEXT.splitlines() if line.startswith("例："))
    command = parse_command(example.removeprefix("例："))
    assert command.action == "resolve"
    assert REPORT_NUMBER.match(command.number), command.number
    assert "YT-" not in HELP_TEXT
