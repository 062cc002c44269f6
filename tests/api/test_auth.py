"""WeChat login through the fake, and bearer tokens: forged, expired, revoked."""
from __future__ import annotations

from datetime import timedelta

import requests

from miniapp_api.db import database
from miniapp_api.models import AuthSession
from miniapp_api.models import Resident
from miniapp_api.models import utcnow


def test_login_creates_resident_once(client, residents):
    first = residents.login("o-same-person")
    second = residents.login("o-same-person")
    assert first["token"] != second["token"]
    database.connect(reuse_if_open=True)
    assert Resident.select().where(Resident.openid == "o-same-person").count() == 1


def test_login_answer_never_leaks_session_key(client, residents):
    code = residents.code("o-leak-check")
    resp = client.post("/api/v1/auth/wechat-login", json={"code": code})
    body = resp.get_json()
    assert resp.status_code == 200
    assert set(body) == {"token", "expires_at", "resident"}
    assert "session_key" not in resp.get_data(as_text=True)
    assert "openid" not in body["resident"]


def test_code_reuse_is_401(client, residents):
    code = residents.code()
    assert client.post("/api/v1/auth/wechat-login", json={"code": code}).status_code == 200
    again = client.post("/api/v1/auth/wechat-login", json={"code": code})
    assert again.status_code == 401 and again.get_json()["error"]["code"] == "wechat_code_invalid"


def test_unknown_code_is_401(client):
    resp = client.post("/api/v1/auth/wechat-login", json={"code": "made-up"})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "wechat_code_invalid"


def test_risky_user_is_403(client, fake_wechat):
    code = requests.post(f"{fake_wechat.base_url}/_fake/login-code", json={"risky": True}, timeout=5).json()["code"]
    resp = client.post("/api/v1/auth/wechat-login", json={"code": code})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "wechat_risky_user"


def test_wechat_down_is_503(client, residents, fake_wechat):
    code = residents.code()
    requests.post(f"{fake_wechat.base_url}/_fake/outage", json={"mode": "error500", "count": 5}, timeout=5)
    resp = client.post("/api/v1/auth/wechat-login", json={"code": code})
    assert resp.status_code == 503 and resp.get_json()["error"]["code"] == "wechat_unavailable"


def test_login_works_while_the_token_endpoints_fail(client, residents, fake_wechat):
    code = residents.code("o-no-token-needed")
    requests.post(f"{fake_wechat.base_url}/_fake/token-endpoints", json={"down": True}, timeout=5)

    resp = client.post("/api/v1/auth/wechat-login", json={"code": code})

    assert resp.status_code == 200 and resp.get_json()["token"]
    calls = requests.get(f"{fake_wechat.base_url}/_fake/stats", timeout=5).json()["calls"]
    assert "/cgi-bin/stable_token" not in calls and "/cgi-bin/token" not in calls


def test_missing_and_forged_tokens(client, resident):
    assert client.get("/api/v1/me").status_code == 401
    assert client.get("/api/v1/me", headers={"Authorization": "Token abc"}).status_code == 401
    session_id = resident["token"].split(".")[0]
    forged = client.get("/api/v1/me", headers={"Authorization": f"Bearer {session_id}.AAAAAAAA"})
    assert forged.status_code == 401 and forged.get_json()["error"]["code"] == "invalid_token"
    assert client.get("/api/v1/me", headers=resident["headers"]).status_code == 200


def test_expired_token_is_refused(client, resident):
    database.connect(reuse_if_open=True)
    AuthSession.update(expires_at=utcnow() - timedelta(seconds=1)).execute()
    assert client.get("/api/v1/me", headers=resident["headers"]).status_code == 401


def test_logout_revokes(client, resident):
    assert client.post("/api/v1/auth/logout", headers=resident["headers"]).status_code == 200
    assert client.get("/api/v1/me", headers=resident["headers"]).status_code == 401


def test_subscriptions_count_consents(client, resident):
    resp = client.post("/api/v1/me/subscriptions", json={"template_ids": ["tmpl-report-status", "tmpl-report-status"]},
                       headers=resident["headers"])
    assert resp.status_code == 200
    assert resp.get_json()["items"] == [{"template_id": "tmpl-report-status", "remaining": 2}]
    assert client.post("/api/v1/me/subscriptions", json={"template_ids": []}, headers=resident["headers"]).status_code == 422


def test_reference_lists_are_public(client):
    towns = client.get("/api/v1/townships").get_json()["items"]
    assert towns[0] == {"code": "yongsheng", "name": "永盛街道", "kind": "street"}
    cats = client.get("/api/v1/categories").get_json()["items"]
    assert {"code": "sanitation", "name": "环境卫生"} in [{"code": c["code"], "name": c["name"]} for c in cats]


def test_unknown_path_and_method_use_the_error_shape(client):
    resp = client.get("/api/v1/nope")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    resp = client.delete("/api/v1/townships")
    assert resp.status_code == 405 and resp.get_json()["error"]["code"] == "method_not_allowed"


def test_openapi_document_and_docs_page(client):
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in ("/api/v1/auth/wechat-login", "/api/v1/reports", "/api/v1/reports/{number}",
                 "/api/v1/reports/{number}/rating", "/api/v1/reports/{number}/reopen",
                 "/api/v1/me/subscriptions", "/api/v1/townships", "/api/v1/categories", "/api/v1/uploads"):
        assert path in doc["paths"], path
    page = client.get("/api/v1/docs")
    assert page.status_code == 200 and b"swagger-ui-bundle.js" in page.data
    assert b"http" not in page.data.split(b"<body>")[0]  # no remote assets
    assert client.get("/api/v1/docs/assets/swagger-ui-bundle.js").status_code == 200
    assert client.get("/api/v1/docs/assets/init.js").status_code == 200


def test_health_and_ready(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json()["database"] == "ok"
