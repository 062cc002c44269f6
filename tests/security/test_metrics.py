"""``/metrics``: labels per channel, never per resident or group, and answered only to
``[metrics] allow`` addresses or with ``[metrics] token`` (issue #14, security 7)."""
from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from miniapp_api.db import database
from miniapp_api.models import TargetState

TOKEN = "metrics-token-0123456789abcdefghij"


def scrape(client, remote_addr: str = "127.0.0.1", **headers):
    return client.get("/metrics", headers=headers, environ_base={"REMOTE_ADDR": remote_addr})


def test_labels_are_per_channel_not_per_target(client):
    database.connect(reuse_if_open=True)
    for target, waits in (("wechat:resident:42", 3), ("wechat:resident:43", 2), ("dingtalk:township:yongsheng", 1),
                          ("dingtalk:reply:cid-x", 4)):
        TargetState.create(target=target, rate_limit_waits=waits)
    resp = scrape(client)
    assert resp.status_code == 200
    text = resp.get_data(as_text=True)
    assert "resident" not in text and "cid-x" not in text and "yongsheng" not in text
    waits = {dict(s.labels)["channel"]: s.value for f in text_string_to_metric_families(text)
             if f.name == "tongxin_rate_limit_waits" for s in f.samples if s.name.endswith("_total")}
    assert waits == {"dingtalk": 5, "wechat": 5, "system": 0}


@pytest.fixture
def restricted(settings_dict):
    settings_dict["metrics"] = {"allow": ["10.0.0.0/8"], "token": TOKEN}


def test_metrics_need_an_allowed_address_or_the_token(restricted, client):
    assert scrape(client, "10.1.2.3").status_code == 200
    assert scrape(client, "203.0.113.5", Authorization=f"Bearer {TOKEN}").status_code == 200
    for addr, headers in (("127.0.0.1", {}), ("203.0.113.5", {}), ("203.0.113.5", {"Authorization": "Bearer wrong"}),
                          ("203.0.113.5", {"Authorization": "Bearer é中".encode().decode("latin-1")})):
        resp = scrape(client, addr, **headers)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "metrics_forbidden", (addr, headers)


def test_by_default_only_this_machine_may_read_them(client):
    assert scrape(client, "127.0.0.1").status_code == 200  # the demo and a local Prometheus
    assert scrape(client, "::1").status_code == 200
    assert scrape(client, "203.0.113.5").status_code == 403


@pytest.fixture
def behind_nginx(settings_dict):
    settings_dict["server"]["trusted_proxies"] = 1


def test_behind_nginx_the_client_address_counts(behind_nginx, client):
    assert scrape(client, "127.0.0.1", **{"X-Forwarded-For": "203.0.113.5"}).status_code == 403
    assert scrape(client, "127.0.0.1", **{"X-Forwarded-For": "127.0.0.1"}).status_code == 200
