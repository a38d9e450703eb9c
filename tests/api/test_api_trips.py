"""GET /v1/trips/stations and /v1/trips/rest-plan: answers equal the locator's, datums,
languages, the no_rest_plan gap, every error code."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from locator import Locator
from locator.network.datum import wgs84_to_gcj02

HOHHOT = (111.67, 40.82)
HAILAR = (119.75, 49.21)
NIGHT = "2026-12-01T22:00:00"


def _ll(p: tuple[float, float]) -> str:
    return f"{p[0]},{p[1]}"


def test_trip_stations_match_the_locator(client: TestClient, loc: Locator) -> None:
    r = client.get(
        "/v1/trips/stations",
        params={
            "from": "erenhot",
            "to": _ll(HOHHOT),
            "services": "hot_meals",
            "depart_at": NIGHT,
            "limit": 100,
        },
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    expect = loc.along_route(
        "erenhot",
        HOHHOT,
        services=["hot_meals"],
        depart_at=datetime.fromisoformat(NIGHT),
        limit=100,
    )
    route, *stations = body["features"]
    assert route["properties"]["role"] == "route"
    assert route["geometry"]["type"] == "LineString"
    assert route["properties"]["duration_s"] == pytest.approx(expect.direct_s, abs=0.1)
    assert [f["id"] for f in stations] == [s.station.id for s in expect.stations]
    for rank, (f, s) in enumerate(zip(stations, expect.stations, strict=True), start=1):
        p = f["properties"]
        assert f["geometry"]["type"] == "Point"
        assert p["role"] == "station" and p["rank"] == rank
        assert p["detour_s"] == pytest.approx(s.detour_s, abs=0.1)
        assert p["reach_s"] == pytest.approx(s.reach_s, abs=0.1)
        assert p["open_on_arrival"] == s.open_on_arrival
        assert datetime.fromisoformat(p["arrival_at"]) == s.arrival_at.replace(microsecond=0)
        assert "hot_meals" in p["services"]
    assert body["query"]["depart_at"] == "2026-12-01T22:00:00+08:00"
    assert body["query"]["max_detour_min"] == 15.0


def test_via_adds_the_two_legs(client: TestClient) -> None:
    params = {"from": "manzhouli", "to": _ll(HAILAR)}
    first = client.get("/v1/trips/stations", params=params).json()["features"][1]["id"]
    body = client.get("/v1/trips/stations", params={**params, "via": first}).json()
    legs = [
        f for f in body["features"] if f["properties"]["role"] in ("to_station", "from_station")
    ]
    assert [f["properties"]["role"] for f in legs] == ["to_station", "from_station"]
    assert all(f["properties"]["station_id"] == first for f in legs)
    station = next(f for f in body["features"] if f.get("id") == first)
    assert legs[0]["properties"]["duration_s"] == pytest.approx(
        station["properties"]["reach_s"], abs=0.2
    )
    assert legs[1]["properties"]["duration_s"] == pytest.approx(
        station["properties"]["onward_s"], abs=0.2
    )


def test_gcj02_input_and_language(client: TestClient) -> None:
    wgs = client.get("/v1/trips/stations", params={"from": "erenhot", "to": _ll(HOHHOT)}).json()
    gx, gy = wgs84_to_gcj02(*HOHHOT)
    gcj = client.get(
        "/v1/trips/stations",
        params={"from": "erenhot", "to": f"{gx},{gy}", "crs": "gcj02", "lang": "zh"},
    )
    assert gcj.status_code == 200
    assert gcj.headers["content-language"] == "zh"
    body = gcj.json()
    assert body["query"]["to"] == pytest.approx(wgs["query"]["to"], abs=1e-5)
    assert body["query"]["crs"] == "gcj02"
    names = [f["properties"]["name"] for f in body["features"][1:]]
    assert names and all(any("\u4e00" <= ch <= "\u9fff" for ch in n) for n in names)


def test_rest_plan(client: TestClient, loc: Locator) -> None:
    r = client.get(
        "/v1/trips/rest-plan", params={"from": "manzhouli", "to": _ll(HAILAR), "depart_at": NIGHT}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    expect = loc.rest_plan("manzhouli", HAILAR, depart_at=datetime.fromisoformat(NIGHT))
    roles = [f["properties"]["role"] for f in body["features"]]
    assert roles == ["leg", "stop"] * len(expect.stops) + ["leg"]
    assert body["plan"]["stops"] == len(expect.stops)
    assert body["plan"]["total_s"] == pytest.approx(expect.total_s, abs=0.1)
    assert body["plan"]["rule"] == {"name": "cn", "max_drive_s": 14400.0, "min_rest_s": 1200.0}
    legs = [f for f in body["features"] if f["properties"]["role"] == "leg"]
    assert all(f["properties"]["duration_s"] <= 14400.0 for f in legs)
    stops = [f for f in body["features"] if f["properties"]["role"] == "stop"]
    assert [f["id"] for f in stops] == [s.station.id for s in expect.stops]
    assert stops[0]["properties"]["departure_s"] - stops[0]["properties"]["arrival_s"] == (
        pytest.approx(1200.0, abs=0.2)
    )
    custom = client.get(
        "/v1/trips/rest-plan",
        params={"from": "erenhot", "to": _ll(HOHHOT), "max_drive_min": 420, "rule": "aetr"},
    ).json()
    assert custom["plan"]["stops"] == 0
    assert custom["plan"]["rule"] == {
        "name": "custom",
        "max_drive_s": 25200.0,
        "min_rest_s": 2700.0,
    }


def test_no_rest_plan_gap(client: TestClient) -> None:
    r = client.get(
        "/v1/trips/rest-plan", params={"from": "erenhot", "to": _ll(HOHHOT), "depart_at": NIGHT}
    )
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "no_rest_plan"
    gap = body["gap"]
    assert gap["type"] == "Feature" and gap["geometry"]["type"] == "LineString"
    assert len(gap["geometry"]["coordinates"]) > 100  # the whole stretch, not cut at 100
    p = gap["properties"]
    assert p["length_s"] == pytest.approx(p["to_s"] - p["from_s"], abs=0.2)
    assert p["length_s"] > 4 * 3600 - 1800
    assert body["planned_stops"] == [
        f["id"] for f in body["planned"]["features"] if f["properties"]["role"] == "stop"
    ]


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("stations", {"from": "nowhere", "to": "erenhot"}, 404, "station_not_found"),
        ("stations", {"from": "erenhot", "to": "1,2,3"}, 422, "invalid_coordinate"),
        ("stations", {"from": "erenhot", "to": "200,40"}, 422, "invalid_coordinate"),
        (
            "stations",
            {"from": "erenhot", "to": "manzhouli", "max_detour_min": 120},
            413,
            "request_too_large",
        ),
        (
            "stations",
            {"from": "erenhot", "to": "manzhouli", "max_detour_min": -1},
            422,
            "invalid_request",
        ),
        (
            "stations",
            {"from": "erenhot", "to": "manzhouli", "limit": 5000},
            413,
            "request_too_large",
        ),
        (
            "stations",
            {"from": "erenhot", "to": "manzhouli", "open_on_arrival": "true"},
            422,
            "invalid_parameter",
        ),
        (
            "stations",
            {"from": "erenhot", "to": "manzhouli", "kind": "hotel"},
            422,
            "invalid_parameter",
        ),
        (
            "stations",
            {"from": "erenhot", "to": "manzhouli", "via": "sw-driver-home"},
            422,
            "invalid_parameter",
        ),
        (
            "stations",
            {"from": "erenhot", "to": "manzhouli", "mode": "plane"},
            422,
            "invalid_parameter",
        ),
        ("rest-plan", {"from": "erenhot", "to": "manzhouli", "rule": "eu"}, 422, "invalid_request"),
        (
            "rest-plan",
            {"from": "erenhot", "to": "manzhouli", "max_drive_min": 0},
            422,
            "invalid_request",
        ),
        ("rest-plan", {"from": "erenhot"}, 422, "invalid_request"),
    ],
)
def test_errors(client: TestClient, path: str, params: dict, status: int, code: str) -> None:
    r = client.get(f"/v1/trips/{path}", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code


def test_nearest_open_on_arrival(client: TestClient) -> None:
    params = {"lon": 101.25, "lat": 42.58, "depart_at": "2026-12-01T23:00:00"}
    plain = client.get("/v1/nearest", params=params).json()["features"][0]["properties"]
    assert plain["open_on_arrival"] is False
    assert plain["arrival_at"].startswith("2026-12-01T23:")
    assert plain["hours_on_arrival"] == ["08:00-20:00"]  # the Alxa residents' post
    r = client.get("/v1/nearest", params={**params, "open_on_arrival": "true", "k": 3})
    assert r.status_code == 200
    feats = r.json()["features"]
    assert feats and all(f["properties"]["open_on_arrival"] is True for f in feats)
    assert feats[0]["id"] != plain["station"]["id"]
    bad = client.get("/v1/nearest", params={"lon": 101.25, "lat": 42.58, "open_on_arrival": 1})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_parameter"
    none = client.get("/v1/nearest", params={"lon": 101.25, "lat": 42.58}).json()
    assert none["features"][0]["properties"]["open_on_arrival"] is None


def test_navigation_links_carry_each_apps_datum(client: TestClient, loc: Locator) -> None:
    from locator.network.datum import gcj02_to_bd09

    st = loc.station("mzl-driver-temp-01")
    r = client.get(f"/v1/stations/{st.id}/navigation", params={"lang": "zh"})
    assert r.status_code == 200
    body = r.json()
    links = {link["app"]: link for link in body["links"]}
    assert list(links) == ["amap", "baidu", "2gis", "osmand", "geo"]
    gx, gy = wgs84_to_gcj02(st.lon, st.lat)
    bx, by = gcj02_to_bd09(gx, gy)
    assert f"position={gx:.6f},{gy:.6f}" in links["amap"]["href"]
    assert f"location={by:.6f},{bx:.6f}" in links["baidu"]["href"]
    assert f"to/{st.lon:.6f},{st.lat:.6f}" in links["2gis"]["href"]
    assert links["geo"]["href"].startswith(f"geo:{st.lat:.6f},{st.lon:.6f}")
    assert (gx, gy) != pytest.approx((st.lon, st.lat), abs=1e-4)  # shifted inside China
    assert body["name"] == st.name.best("zh")
    assert client.get("/v1/stations/nope/navigation").status_code == 404
