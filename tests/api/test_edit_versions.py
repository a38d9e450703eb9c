"""Station versions over HTTP: ETag on reads, If-Match on writes (412 when stale), no lost
update when clients PATCH one station at once, one winner when they POST one id at once,
and 503 (not 500) when the store cannot take a write."""

from __future__ import annotations

import sqlite3
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from locator.stations import store as store_module

STATION = "erl-driver-home-01"


def _key(writer: TestClient) -> dict[str, str]:
    return {"X-API-Key": writer.key}  # type: ignore[attr-defined]


def test_etag_names_the_version_and_if_match_guards_writes(writer: TestClient) -> None:
    key = _key(writer)
    read = writer.get(f"/v1/stations/{STATION}", params={"lang": "zh"})
    etag = read.headers["etag"]
    version = read.json()["properties"]["version"]
    assert etag == f'"v{version}.zh"'
    again = writer.get(
        f"/v1/stations/{STATION}", params={"lang": "zh"}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    # another language is another representation: another tag
    assert writer.get(f"/v1/stations/{STATION}", params={"lang": "en"}).headers["etag"] != etag
    listed = writer.get("/v1/stations", params={"limit": 1000}).json()["features"]
    assert {f["id"]: f["properties"]["version"] for f in listed}[STATION] == version

    ok = writer.patch(
        f"/v1/stations/{STATION}", json={"notes": "first"}, headers={**key, "If-Match": etag}
    )
    assert ok.status_code == 200, ok.text
    new_version = ok.json()["properties"]["version"]
    assert new_version > version and ok.headers["etag"].startswith(f'"v{new_version}')

    # the tag read before that patch is stale now: 412, nothing changes
    for method, kwargs in (
        ("PATCH", {"json": {"notes": "lost"}}),
        ("DELETE", {}),
    ):
        stale = writer.request(
            method, f"/v1/stations/{STATION}", headers={**key, "If-Match": etag}, **kwargs
        )
        assert stale.status_code == 412, stale.text
        assert stale.json()["code"] == "precondition_failed"
        assert stale.json()["version"] == new_version
    assert writer.get(f"/v1/stations/{STATION}").json()["properties"]["notes"] == "first"
    # weak or foreign tags never match (RFC 9110 strong comparison); * matches
    for tag in (f'W/"v{new_version}.zh"', '"something-else"'):
        r = writer.patch(
            f"/v1/stations/{STATION}", json={"notes": "x"}, headers={**key, "If-Match": tag}
        )
        assert r.status_code == 412
    star = writer.patch(
        f"/v1/stations/{STATION}", json={"notes": "star"}, headers={**key, "If-Match": "*"}
    )
    assert star.status_code == 200
    two = writer.patch(
        f"/v1/stations/{STATION}",
        json={"notes": "x"},
        headers={**key, "If-Match": '"v1", "v2"'},
    )
    assert (two.status_code, two.json()["code"]) == (400, "invalid_request")
    # any language's tag of the current version is the current version
    current = writer.get(f"/v1/stations/{STATION}", params={"lang": "en"}).headers["etag"]
    gone = writer.delete(f"/v1/stations/{STATION}", headers={**key, "If-Match": current})
    assert gone.status_code == 200


def test_concurrent_patches_over_http_lose_nothing(writer: TestClient) -> None:
    """Eight clients PATCH eight different fields of one station 12 times each, at once
    (the scenario that lost 113-153 of 200 changes before): every acknowledged change is
    in the final record, and the audit log holds every write."""
    key = _key(writer)
    fields: dict[str, Any] = {
        "notes": lambda i: f"note {i}",
        "opening_hours": lambda i: f"Mo-Su 0{i % 10}:00-22:00",
        "capacity_people": lambda i: i,
        "area_m2": lambda i: float(i + 1),
        "source": lambda i: f"survey {i}",
        "location_accuracy_m": lambda i: float(5 + i),
        "location_approximate": lambda i: bool(i % 2),
        "name": lambda i: {"ru": f"Станция {i}"},
    }
    barrier = threading.Barrier(len(fields))
    acked: dict[str, Any] = {}
    failures: list[str] = []

    def client(field: str) -> None:
        barrier.wait()
        for i in range(12):
            r = writer.patch(f"/v1/stations/{STATION}", json={field: fields[field](i)}, headers=key)
            if r.status_code != 200:
                failures.append(f"{field}: {r.status_code} {r.text[:200]}")
                return
            acked[field] = fields[field](i)

    threads = [threading.Thread(target=client, args=(f,)) for f in fields]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures, failures
    final = writer.get(f"/v1/stations/{STATION}").json()["properties"]
    for field, value in acked.items():
        if field == "name":
            assert final["names"]["ru"] == value["ru"]
        else:
            assert final[field] == value, field
    audit = writer.get(
        "/v1/admin/audit", params={"station_id": STATION, "limit": 1000}, headers=key
    ).json()["entries"]
    assert sum(e["action"] == "update" for e in audit) == 12 * len(fields)


def test_concurrent_posts_of_one_id_give_one_201_and_409s(writer: TestClient) -> None:
    key = _key(writer)
    body = writer.get(f"/v1/stations/{STATION}").json()
    record = {
        "id": "race-new",
        "kind": body["properties"]["kind"],
        "name": {"en": "Race"},
        "lon": body["geometry"]["coordinates"][0],
        "lat": body["geometry"]["coordinates"][1],
        "source": "test",
        "location_accuracy_m": 10,
    }
    barrier = threading.Barrier(6)
    codes: list[tuple[int, str | None]] = []

    def post() -> None:
        barrier.wait()
        r = writer.post("/v1/stations", json=record, headers=key)
        codes.append((r.status_code, r.json().get("code")))

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert sorted(codes, key=str) == sorted([(201, None)] + [(409, "station_exists")] * 5, key=str)


def test_a_store_that_cannot_write_answers_503(
    writer: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_: object, **__: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(store_module, "_put", full)
    r = writer.patch(f"/v1/stations/{STATION}", json={"notes": "x"}, headers=_key(writer))
    assert (r.status_code, r.json()["code"]) == (503, "store_unavailable")
    assert writer.get(f"/v1/stations/{STATION}").json()["properties"].get("notes") != "x"
