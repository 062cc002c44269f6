"""The OpenAPI document and CONTRACT §3 agree on 我也遇到 and 合并: ``/reports/nearby`` and
``/reports/{number}/support`` are documented with their schemas, and real answers (a nearby
list, a support, "my reports" with own, followed and merged reports, a new report's ``nearby``)
have exactly the contract's fields and conform to the document. On SQLite and PostgreSQL."""
from __future__ import annotations

import schemathesis

from tests.conftest import report_body
from tests.console.conftest import accounts  # noqa: F401  (fixture: the merge is made in the console)
from tests.console.conftest import console  # noqa: F401  (fixture)
from tests.console.conftest import fast_hashes  # noqa: F401  (fixture)

API = "/api/v1"
NEARBY_ITEM = {"number", "category", "status", "distance_m", "created_at", "summary", "thumbnail_url"}
SUPPORT = {"number", "supporters"}
# CONTRACT §3: a report, plus grid and supporters; completion_photos (issue 15: 办结照片 apart) and
# merged_into (null unless merged); relation in the caller's list.
REPORT = {"number", "status", "category", "description", "township", "location", "photos", "anonymous",
          "created_at", "updated_at", "reply", "rating", "grid", "supporters", "completion_photos", "merged_into"}
STATUSES = ["pending", "accepted", "transferred", "resolved", "closed", "rejected", "merged"]
NEAR = {"lat": 43.3452, "lng": 125.3052, "address": "人民大街 19 号"}


def _doc(client) -> dict:
    return client.get(f"{API}/openapi.json").get_json()


def _schema(doc: dict, ref: dict) -> dict:
    return doc["components"]["schemas"][ref["$ref"].rsplit("/", 1)[1]]


def _answer_schema(doc: dict, path: str, method: str, status: str) -> dict:
    return _schema(doc, doc["paths"][API + path][method]["responses"][status]["content"]["application/json"]["schema"])


def test_the_document_lists_nearby_and_support_with_the_contract_shapes(client):
    doc = _doc(client)
    nearby = doc["paths"][f"{API}/reports/nearby"]["get"]
    assert {p["name"]: p["required"] for p in nearby["parameters"]} == {"lat": True, "lng": True, "category": True}
    assert {"200", "401", "422"} <= set(nearby["responses"])
    listing = _answer_schema(doc, "/reports/nearby", "get", "200")
    assert set(listing["properties"]) == {"items"}
    item = _schema(doc, listing["properties"]["items"]["items"])
    assert set(item["properties"]) == NEARBY_ITEM and set(item["required"]) == NEARBY_ITEM
    assert item["properties"]["status"]["enum"] == ["pending", "accepted", "transferred"]  # open ones only
    assert item["properties"]["distance_m"]["type"] == "integer"
    assert set(_schema(doc, item["properties"]["category"])["properties"]) == {"code", "name"}

    support = doc["paths"][f"{API}/reports/{{number}}/support"]["post"]
    assert {"200", "401", "404", "409", "422"} <= set(support["responses"])
    assert "requestBody" not in support
    answer = _answer_schema(doc, "/reports/{number}/support", "post", "200")
    assert set(answer["properties"]) == SUPPORT and set(answer["required"]) == SUPPORT
    assert answer["properties"]["supporters"]["type"] == "integer"

    mine = _answer_schema(doc, "/reports", "get", "200")
    report = _schema(doc, mine["properties"]["items"]["items"])
    assert set(report["properties"]) == REPORT | {"relation"}
    assert report["properties"]["relation"]["enum"] == ["own", "following"] and "relation" in report["required"]
    assert report["properties"]["status"]["enum"] == STATUSES
    assert report["properties"]["supporters"]["type"] == "integer" and "supporters" in report["required"]
    created = _answer_schema(doc, "/reports", "post", "201")
    assert _schema(doc, created["properties"]["nearby"]["items"]) == item


def test_real_answers_have_exactly_the_contract_fields_and_conform(client, residents, console):  # noqa: F811
    doc = _doc(client)
    schema = schemathesis.openapi.from_dict(doc)
    alice, bob = residents.login(), residents.login()

    def conforms(path: str, method: str, response) -> dict:
        schema[API + path][method].validate_response(response)  # raises on any mismatch
        return response.get_json()

    first = client.post(f"{API}/reports", json=report_body(), headers=alice["headers"])
    assert first.status_code == 201
    number = conforms("/reports", "POST", first)["number"]
    second = client.post(f"{API}/reports", json=report_body(location=NEAR), headers=bob["headers"])
    created = conforms("/reports", "POST", second)
    assert set(created) == REPORT | {"relation", "nearby"} and created["relation"] == "own"
    assert [n["number"] for n in created["nearby"]] == [number] and set(created["nearby"][0]) == NEARBY_ITEM

    found = client.get(f"{API}/reports/nearby?lat={NEAR['lat']}&lng={NEAR['lng']}&category=sanitation",
                       headers=bob["headers"])
    items = conforms("/reports/nearby", "GET", found)["items"]
    assert {i["number"] for i in items} == {number, created["number"]}
    assert all(set(i) == NEARBY_ITEM for i in items)

    supported = client.post(f"{API}/reports/{number}/support", headers=bob["headers"])
    assert conforms("/reports/{number}/support", "POST", supported) == {"number": number, "supporters": 1}

    # Bob's own report merged into Alice's: his list holds it (merged, naming the main one) and
    # hers, followed.
    assert console("ys_admin").post(f"/console/reports/{created['number']}/act",
                                    {"action": "merge", "text": number}).status_code == 302
    mine = client.get(f"{API}/reports?mine=true", headers=bob["headers"])
    listed = {i["number"]: i for i in conforms("/reports", "GET", mine)["items"]}
    assert all(set(i) == REPORT | {"relation"} for i in listed.values())
    assert listed[number]["relation"] == "following" and listed[number]["supporters"] == 1
    assert (listed[created["number"]]["relation"], listed[created["number"]]["status"],
            listed[created["number"]]["merged_into"]) == ("own", "merged", number)
    hers = client.get(f"{API}/reports?mine=true", headers=alice["headers"])
    [own] = conforms("/reports", "GET", hers)["items"]
    assert (own["relation"], own["supporters"], own["merged_into"]) == ("own", 1, None)
    detail = client.get(f"{API}/reports/{number}", headers=bob["headers"])
    assert conforms("/reports/{number}", "GET", detail)["number"] == number  # a follower may open it

    refused = client.post(f"{API}/reports/{created['number']}/support", headers=alice["headers"])
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "invalid_transition"
    assert number in refused.get_json()["error"]["message"]  # names the report to follow instead
    conforms("/reports/{number}/support", "POST", refused)
    unknown = client.post(f"{API}/reports/R000000-0000/support", headers=alice["headers"])
    assert unknown.status_code == 404
    conforms("/reports/{number}/support", "POST", unknown)
