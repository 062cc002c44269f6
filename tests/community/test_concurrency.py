"""50 residents sign up at once for 10 places against Tongxin served over real HTTP (one
thread per request, one database connection each), on SQLite and on PostgreSQL: exactly 10
are confirmed, 40 waitlisted, never more. Then cancellations and new sign-ups race while the
waitlist is promoted: still never more confirmed than places."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import requests

from bridges.fakes.serve import serve_in_thread
from miniapp_api.web.sessions import issue_token
from miniapp_api.db import database
from miniapp_api.models import Grid
from miniapp_api.models import Resident
from miniapp_api.models import utcnow
from miniapp_api.models.community import Campaign
from miniapp_api.models.community import Signup
from tests.community.conftest import COUNTY

N = 50
CAPACITY = 10


def _residents(settings, grid_id: int, n: int) -> list[dict]:
    database.connect(reuse_if_open=True)
    grid = Grid.get_by_id(grid_id)
    out = []
    now = utcnow()
    for i in range(n):
        r = Resident.create(openid=f"o-race-{i:03d}", home_township=grid.community.township, home_community=grid.community,
                            home_grid=grid)
        token, _ = issue_token(r, settings.server.secret_key, timedelta(hours=1), now)
        out.append({"Authorization": f"Bearer {token}"})
    database.close()
    return out


def _burst(calls) -> list[requests.Response]:
    barrier = threading.Barrier(len(calls))

    def go(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(go, calls))


def _confirmed(number: str) -> tuple[int, int]:
    database.connect(reuse_if_open=True)
    c = Campaign.get(Campaign.number == number)
    rows = Signup.select().where(Signup.campaign == c)
    n = sum(1 for s in rows if s.status == "confirmed")
    database.close()
    return c.taken, n


def test_fifty_at_once_never_overbook(app, client, settings, org):
    start = utcnow() + timedelta(days=1)
    resp = client.post("/api/v1/admin/campaigns", headers=COUNTY, json={
        "title": "抢名额", "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat(),
        "capacity": CAPACITY, "scope": {"level": "grid", "grid": org["东风一网格"]}})
    number = resp.get_json()["number"]
    headers = _residents(settings, org["东风一网格"], N + 10)
    server = serve_in_thread(app)
    url = f"{server.base_url}/api/v1/campaigns/{number}/signup"
    try:
        results = _burst([lambda h=h: requests.post(url, json={}, headers=h, timeout=60) for h in headers[:N]])
        assert [r.status_code for r in results] == [201] * N, [r.text for r in results if r.status_code != 201][:3]
        statuses = [r.json()["status"] for r in results]
        assert statuses.count("confirmed") == CAPACITY and statuses.count("waitlisted") == N - CAPACITY
        positions = sorted(r.json()["position"] for r in results if r.json()["status"] == "waitlisted")
        assert positions == list(range(1, N - CAPACITY + 1))
        assert _confirmed(number) == (CAPACITY, CAPACITY)

        # Five confirmed cancel while ten newcomers sign up and five waitlisted cancel, all at once.
        confirmed = [h for h, r in zip(headers[:N], results, strict=True) if r.json()["status"] == "confirmed"]
        waiting = [h for h, r in zip(headers[:N], results, strict=True) if r.json()["status"] == "waitlisted"]
        calls = [lambda h=h: requests.delete(url, headers=h, timeout=60) for h in confirmed[:5] + waiting[:5]]
        calls += [lambda h=h: requests.post(url, json={}, headers=h, timeout=60) for h in headers[N:]]
        mixed = _burst(calls)
        assert all(r.status_code in (200, 201) for r in mixed), [r.text for r in mixed if r.status_code >= 300][:3]
        assert _confirmed(number) == (CAPACITY, CAPACITY)
        again = _burst([lambda h=h: requests.post(url, json={}, headers=h, timeout=60) for h in confirmed[5:]])
        assert {r.status_code for r in again} == {409}
    finally:
        server.shutdown()
