"""Keyed writes: API keys, POST/PATCH/DELETE, audit log, and the next query seeing edits."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import KeyStore
from locator_cli.main import main as cli_main

NEW = {
    "id": "test-new-post",
    "kind": "outdoor_worker_post",
    "name": {"zh": "测试驿站", "en": "Test Post"},
    "port_id": "erenhot",
    "lon": 111.9772,
    "lat": 43.6532,
    "services": ["drinking_water", "toilet"],
    "source": "test",
    "location_accuracy_m": 10,
    "location_approximate": False,
}


def test_keys_are_stored_hashed_and_checked(tmp_path: Path) -> None:
    store = KeyStore(tmp_path / "keys.json")
    key = store.create("ops")
    text = (tmp_path / "keys.json").read_text()
    secret = key.split("_", 2)[2]
    assert secret not in text
    assert store.verify(key).name == "ops"
    assert store.verify(key[:-1] + ("A" if key[-1] != "A" else "B")) is None
    assert store.verify("lk_00000000_" + secret) is None
    assert store.verify("nonsense") is None
    assert oct((tmp_path / "keys.json").stat().st_mode & 0o777) == "0o600"
    with pytest.raises(ValueError, match="name"):
        store.create("")


def test_cli_creates_a_key_the_server_accepts(writable_artifact: Path, capsys) -> None:
    assert (
        cli_main(["keys", "create", "--artifact", str(writable_artifact), "--name", "planner"]) == 0
    )
    key = capsys.readouterr().out.strip()
    from api.app import create_app
    from locator.config import Settings

    app = create_app(Settings(artifact_dir=writable_artifact, rate_limit_enabled=False))
    with TestClient(app) as c:
        r = c.get("/v1/admin/keys", headers={"X-API-Key": key})
        assert r.status_code == 200
        assert [k["name"] for k in r.json()["keys"]] == ["planner"]
        assert key not in r.text


def test_writes_need_a_valid_key(writer: TestClient) -> None:
    for method, url, body in (
        ("POST", "/v1/stations", NEW),
        ("PATCH", "/v1/stations/ck-driver-home", {"notes": "x"}),
        ("DELETE", "/v1/stations/ck-driver-home", None),
        ("GET", "/v1/admin/audit", None),
    ):
        missing = writer.request(method, url, json=body)
        assert (missing.status_code, missing.json()["code"]) == (401, "api_key_missing")
        assert "WWW-Authenticate" in missing.headers
        wrong = writer.request(
            method, url, json=body, headers={"X-API-Key": "lk_1234abcd_" + "x" * 43}
        )
        assert (wrong.status_code, wrong.json()["code"]) == (403, "api_key_invalid")
        assert wrong.headers["x-frame-options"] == "DENY"
    assert writer.get("/v1/stations/ck-driver-home").status_code == 200  # nothing changed


def test_add_patch_delete_are_seen_by_the_next_query(writer: TestClient) -> None:
    key = {"X-API-Key": writer.key}  # type: ignore[attr-defined]
    where = {"lon": NEW["lon"] + 0.001, "lat": NEW["lat"] + 0.001, "kind": "outdoor_worker_post"}
    before = writer.get("/v1/nearest", params=where).json()["features"][0]

    r = writer.post("/v1/stations", json=NEW, headers=key)
    assert r.status_code == 201, r.text
    assert r.headers["location"].endswith("/v1/stations/test-new-post")
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    after = writer.get("/v1/nearest", params=where).json()["features"][0]
    assert after["id"] == "test-new-post"
    assert after["properties"]["duration_s"] <= before["properties"]["duration_s"]
    circles = writer.get("/v1/isochrones", params={"station_id": "test-new-post"})
    assert circles.status_code == 200

    dup = writer.post("/v1/stations", json=NEW, headers=key)
    assert (dup.status_code, dup.json()["code"]) == (409, "station_exists")

    # move it far away (to Ceke): the nearest answer and the circles change at once
    far = writer.get("/v1/stations/ck-driver-home").json()["geometry"]["coordinates"]
    moved = writer.patch(
        "/v1/stations/test-new-post",
        headers=key,
        json={"lon": far[0], "lat": far[1], "name": {"ru": "Тест"}, "notes": None},
    )
    assert moved.status_code == 200, moved.text
    props = moved.json()["properties"]
    assert props["names"] == {"zh": "测试驿站", "en": "Test Post", "ru": "Тест"}
    assert moved.json()["geometry"]["coordinates"] == far
    again = writer.get("/v1/nearest", params=where).json()["features"][0]
    assert (
        again["id"] != "test-new-post"
        or again["properties"]["duration_s"] > after["properties"]["duration_s"]
    )
    new_circles = writer.get("/v1/isochrones", params={"station_id": "test-new-post"})
    assert new_circles.content != circles.content

    gone = writer.delete("/v1/stations/test-new-post", headers=key)
    assert gone.status_code == 200
    assert gone.json()["id"] == "test-new-post"
    assert writer.get("/v1/stations/test-new-post").status_code == 404
    assert writer.get("/v1/nearest", params=where).json()["features"][0]["id"] == before["id"]
    again_gone = writer.delete("/v1/stations/test-new-post", headers=key)
    assert (again_gone.status_code, again_gone.json()["code"]) == (404, "station_not_found")

    audit = writer.get(
        "/v1/admin/audit", params={"station_id": "test-new-post"}, headers=key
    ).json()["entries"]
    assert [e["action"] for e in audit] == ["delete", "update", "add"]
    # the actor names the key by its unique id (names need not be unique) and its name
    assert all(re.fullmatch(r"api-key:[0-9a-f]{8} \(tests\)", e["actor"]) for e in audit)
    update = audit[1]
    assert update["before"]["lon"] == NEW["lon"]
    assert update["after"]["lon"] == far[0]


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "code"),
    [
        ("POST", "/v1/stations", {**NEW, "lon": "nan"}, 422, "invalid_request"),
        ("POST", "/v1/stations", {**NEW, "lon": 10.0, "lat": 10.0}, 422, "outside_service_area"),
        ("POST", "/v1/stations", {**NEW, "opening_hours": "whenever"}, 422, "invalid_request"),
        ("POST", "/v1/stations", {**NEW, "id": "Bad Id"}, 422, "invalid_request"),
        ("PATCH", "/v1/stations/ck-driver-home", {"lon": None}, 422, "invalid_coordinate"),
        (
            "PATCH",
            "/v1/stations/ck-driver-home",
            {"opening_hours": "never ever"},
            422,
            "invalid_stations",
        ),
        ("PATCH", "/v1/stations/ck-driver-home", {"id": "other"}, 422, "invalid_request"),
        ("PATCH", "/v1/stations/ck-driver-home", {"name": {"xx": "?"}}, 422, "invalid_stations"),
        ("PATCH", "/v1/stations/nope", {"notes": "x"}, 404, "station_not_found"),
    ],
)
def test_bad_writes(
    writer: TestClient, method: str, url: str, body, status: int, code: str
) -> None:
    r = writer.request(
        method,
        url,
        content=json.dumps(body),
        headers={
            "X-API-Key": writer.key,  # type: ignore[attr-defined]
            "Content-Type": "application/json",
        },
    )
    assert (r.status_code, r.json()["code"]) == (status, code), r.json()


def test_write_in_gcj02_is_stored_in_wgs84(writer: TestClient) -> None:
    from locator.network.datum import wgs84_to_gcj02

    g = wgs84_to_gcj02(NEW["lon"], NEW["lat"], inside=True)
    r = writer.post(
        "/v1/stations",
        params={"crs": "gcj02"},
        json={**NEW, "lon": g[0], "lat": g[1]},
        headers={"X-API-Key": writer.key},
    )  # type: ignore[attr-defined]
    assert r.status_code == 201
    lon, lat = r.json()["geometry"]["coordinates"]
    assert lon == pytest.approx(NEW["lon"], abs=1e-6)
    assert lat == pytest.approx(NEW["lat"], abs=1e-6)
