"""Fixtures for notices and campaigns: an organisation with communities and grids (with a
boundary and a centre), administrators (the API token, and console principals for unit
administrators), subscribe-message templates at the fake WeChat, residents with a home."""
from __future__ import annotations

import json

import pytest
import requests
from flask import g
from flask import request

from miniapp_api.web.admin_auth import AdminPrincipal
from miniapp_api.db import database
from miniapp_api.models import Community
from miniapp_api.models import Grid
from miniapp_api.models import Township
from tests.bridges.conftest import run  # noqa: F401  (re-exported fixtures)
from tests.bridges.conftest import tongxin  # noqa: F401
from tests.bridges.conftest import worker  # noqa: F401

ADMIN_TOKEN = "county-admin-token-for-tests-0123456789"
COUNTY = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NOTICE_FIELDS = {"thing1": "thing", "thing2": "thing", "time3": "time"}
CAMPAIGN_FIELDS = {"thing1": "thing", "time2": "time", "thing3": "thing", "thing4": "thing"}

# 东风一网格: a square around the test location of report_body() (43.345, 125.305).
DONGFENG1_WKT = "POLYGON ((125.300 43.340, 125.310 43.340, 125.310 43.350, 125.300 43.350, 125.300 43.340))"
XICHENG1_GEOJSON = json.dumps({"type": "Polygon", "coordinates": [[[125.280, 43.340], [125.290, 43.340],
                                                                   [125.290, 43.350], [125.280, 43.350]]]})


def unit_admin(code: str, name: str = "乡镇管理员") -> dict:
    """Headers that make the test console present a unit administrator of ``code``."""
    return {"X-Test-Console": f"unit_admin:{code}:{name}"}


@pytest.fixture
def settings_dict(settings_dict):
    settings_dict["admin"] = {"api_token": ADMIN_TOKEN}
    settings_dict["wechat"]["templates"].update(notice="tmpl-notice", campaign="tmpl-campaign")
    settings_dict["notices"] = {"county_group": "chengguan"}
    return settings_dict


@pytest.fixture
def templates(fake_wechat):
    for template_id, fields in (("tmpl-notice", NOTICE_FIELDS), ("tmpl-campaign", CAMPAIGN_FIELDS)):
        requests.post(f"{fake_wechat.base_url}/_fake/templates", json={"template_id": template_id, "fields": fields},
                      timeout=5).raise_for_status()


@pytest.fixture
def app(app):
    """The app, with the console's session simulated: a test header sets ``g.console_admin``
    as the console's login does (see ``unit_admin``)."""

    @app.before_request
    def _console_session():
        given = request.headers.get("X-Test-Console")
        if given:
            role, code, name = given.split(":", 2)
            g.console_admin = AdminPrincipal(name=name, role=role, township=code or None)

    yield app


@pytest.fixture
def org(app) -> dict:
    """Communities and grids of two units; returns their ids by name."""
    database.connect(reuse_if_open=True)
    ys = Township.get(Township.code == "yongsheng")
    yn = Township.get(Township.code == "yongning")
    dongfeng = Community.create(township=ys, name="东风社区", kind="neighborhood")
    xicheng = Community.create(township=ys, name="西城社区", kind="neighborhood")
    nanshan = Community.create(township=yn, name="南山社区", kind="neighborhood")
    grids = {
        "东风一网格": Grid.create(community=dongfeng, name="东风一网格", boundary=None),
        "东风二网格": Grid.create(community=dongfeng, name="东风二网格", center_lat=43.36, center_lng=125.33),
        "西城一网格": Grid.create(community=xicheng, name="西城一网格"),
        "南山一网格": Grid.create(community=nanshan, name="南山一网格", center_lat=43.20, center_lng=125.10),
    }
    from miniapp_api.org.places import set_grid_geometry

    set_grid_geometry(grids["东风一网格"], DONGFENG1_WKT, None)
    set_grid_geometry(grids["西城一网格"], XICHENG1_GEOJSON, None)
    out = {name: g.id for name, g in grids.items()}
    out.update({"东风社区": dongfeng.id, "西城社区": xicheng.id, "南山社区": nanshan.id})
    database.close()
    return out


class People:
    """Residents logged in through the fake WeChat, with a home place set through the API."""

    def __init__(self, client, residents, fake_wechat):
        self.client = client
        self.residents = residents
        self.wechat_url = fake_wechat.base_url

    def at(self, grid_id: int | None = None, township: str | None = None, community: int | None = None) -> dict:
        who = self.residents.login()
        body = {"grid": grid_id} if grid_id else {"township": township, "community": community}
        resp = self.client.put("/api/v1/me/home", json={k: v for k, v in body.items() if v is not None},
                               headers=who["headers"])
        assert resp.status_code == 200, resp.get_json()
        who["home"] = resp.get_json()
        return who

    def consent(self, who: dict, template_id: str, count: int = 1) -> None:
        """The resident taps 允许 in wx.requestSubscribeMessage; the app tells us."""
        requests.post(f"{self.wechat_url}/_fake/consents",
                      json={"openid": who["openid"], "template_id": template_id, "count": count}, timeout=5)
        for _ in range(count):
            resp = self.client.post("/api/v1/me/subscriptions", json={"template_ids": [template_id]},
                                    headers=who["headers"])
            assert resp.status_code == 200


@pytest.fixture
def people(templates, client, residents, fake_wechat) -> People:
    return People(client, residents, fake_wechat)


def wechat_messages(fake_wechat, template_id: str | None = None) -> list[dict]:
    items = requests.get(f"{fake_wechat.base_url}/_fake/messages", timeout=5).json()["items"]
    return [m for m in items if template_id is None or m["template_id"] == template_id]
