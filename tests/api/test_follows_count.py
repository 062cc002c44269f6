"""``resident.follows`` (migration v015) is kept by the database, whoever writes the follows,
so "my reports", which skips looking for followed reports when it is 0, never misses one."""
from __future__ import annotations

from miniapp_api import migrations
from miniapp_api.db import database
from miniapp_api.migrations import v015_resident_follows
from miniapp_api.models import Resident
from miniapp_api.models import ReportSupport
from miniapp_api.models import utcnow
from tests.factories import make_report
from tests.factories import make_resident


def _follows(resident_id: int) -> int:
    database.connect(reuse_if_open=True)
    return Resident.get_by_id(resident_id).follows


def _me(residents, client, openid: str):
    login = residents.login(openid)
    database.connect(reuse_if_open=True)
    return login, Resident.get(Resident.openid == openid)


def _listed(client, login) -> list[tuple[str, str]]:
    items = client.get("/api/v1/reports?mine=true", headers=login["headers"]).get_json()["items"]
    return [(i["number"], i["relation"]) for i in items]


def test_a_follow_written_by_plain_sql_shows_in_my_reports(client, residents):
    login, me = _me(residents, client, "o-follows-sql")
    other = make_report(resident=make_resident())
    assert _follows(me.id) == 0 and _listed(client, login) == []
    # Not through the support service: the database counts it all the same.
    ReportSupport.insert(report=other.id, resident=me.id, created_at=utcnow()).execute()
    assert _follows(me.id) == 1
    assert _listed(client, login) == [(other.number, "following")]
    ReportSupport.delete().where(ReportSupport.resident == me.id).execute()
    assert _follows(me.id) == 0 and _listed(client, login) == []


def test_pressing_support_counts_once_and_rerunning_the_migration_recounts(client, residents):
    login, me = _me(residents, client, "o-follows-api")
    first, second = make_report(resident=make_resident()), make_report(resident=make_resident())
    for number in (first.number, first.number, second.number):  # the second press counts once
        resp = client.post(f"/api/v1/reports/{number}/support", headers=login["headers"])
        assert resp.status_code == 200, resp.get_json()
    assert _follows(me.id) == 2
    assert sorted(_listed(client, login)) == sorted([(first.number, "following"), (second.number, "following")])
    # A count gone wrong (say, restored from a backup of the resident table) is recomputed.
    Resident.update(follows=0).where(Resident.id == me.id).execute()
    v015_resident_follows.apply(database)
    assert _follows(me.id) == 2
    assert migrations.LATEST >= v015_resident_follows.VERSION
