"""Inputs that once answered 500 and now get a clear 4xx (issue #14, security 5). The API's
own seeds (bearer tokens, ``sig``, deeply nested JSON on the API, the admin API and the
callbacks) live with the fuzz tests, tests/api/test_fuzz.py::test_regression_seeds_are_clean_4xx;
here are the ones that need a campaign or a console login first."""
from __future__ import annotations

import pytest

from tests.community.conftest import app  # noqa: F401  (the community tests' organisation and admin token)
from tests.community.conftest import org  # noqa: F401
from tests.community.conftest import people  # noqa: F401
from tests.community.conftest import settings_dict  # noqa: F401
from tests.community.conftest import templates  # noqa: F401
from tests.community.test_campaigns import check_in
from tests.community.test_campaigns import code_now
from tests.community.test_campaigns import create
from tests.community.test_campaigns import sign_up


@pytest.mark.parametrize("digits", ["１２３４５６", "١٢٣٤٥٦", "۱۲۳۴۵۶", "१२३४५६"])
def test_non_ascii_digits_in_a_check_in_code_are_a_clean_4xx(client, people, org, digits):
    volunteer = people.at(org["东风一网格"])
    number = create(client, {"level": "grid", "grid": org["东风一网格"]})["number"]
    assert sign_up(client, volunteer, number).status_code in (200, 201)
    for text in (digits, f"TXC:{number}:{digits}"):
        resp = check_in(client, volunteer, number, text)
        assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "checkin_code_invalid", text
    assert check_in(client, volunteer, number, code_now(number)).status_code == 200


@pytest.mark.parametrize("path", ["/console/reports", "/console/roster", "/console/audit", "/console/deliveries"])
def test_huge_page_numbers_are_clamped(console, db, path):
    c = console("county")
    for page in (str(2**63), str(2**64), "9" * 40, "-5", "x", "１"):
        resp = c.get(f"{path}?page={page}")
        assert resp.status_code == 200, (page, resp.status_code)
