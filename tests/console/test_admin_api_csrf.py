"""The admin API called with a console session: a write without the page's ``X-CSRFToken``
is refused and the answer says what is missing (403 ``csrf_missing``), not "log in" (401)."""
from __future__ import annotations

from miniapp_api.deadlines import emergency


def test_a_write_without_the_csrf_header_says_the_header_is_missing(console, db):
    c = console("county")
    body = {"on": True, "township": "yongsheng"}
    missing = c.client.post("/api/v1/admin/emergency", json=body)
    assert missing.status_code == 403, missing.get_json()
    assert missing.get_json()["error"]["code"] == "csrf_missing"
    assert "X-CSRFToken" in missing.get_json()["error"]["message"]
    wrong = c.client.post("/api/v1/admin/emergency", json=body, headers={"X-CSRFToken": "not-the-token"})
    assert wrong.status_code == 403 and wrong.get_json()["error"]["code"] == "csrf_invalid"
    assert emergency.state().townships.get("yongsheng", False) is False  # nothing changed
    right = c.client.post("/api/v1/admin/emergency", json=body, headers={"X-CSRFToken": c.token})
    assert right.status_code == 200 and right.get_json()["townships"]["yongsheng"] is True


def test_without_a_session_the_admin_api_still_asks_for_a_login(console):
    anonymous = console()
    answer = anonymous.client.post("/api/v1/admin/emergency", json={"on": True})
    assert answer.status_code == 401 and answer.get_json()["error"]["code"] == "admin_unauthorized"
