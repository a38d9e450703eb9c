"""GET /v1/nearest and GET /v1/route: answers equal the locator's, every error code."""

from __future__ import annotations

import math

import pytest
from fastapi.testclient import TestClient

from api.params import Crs, to_wgs84
from locator import Locator
from locator.network.datum import wgs84_to_bd09, wgs84_to_gcj02


@pytest.fixture(scope="module")
def start(loc: Locator) -> tuple[float, float]:
    """A point on the network near a cluster of stations (Ceke / Alxa)."""
    st = loc.station("alxa-1382-post")
    return st.lon + 0.001, st.lat + 0.001


def test_nearest_matches_the_locator(client: TestClient, loc: Locator, start) -> None:
    r = client.get("/v1/nearest", params={"lon": start[0], "lat": start[1], "k": 3})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    expected = loc.nearest(*start, k=3)
    assert [f["id"] for f in body["features"]] == [a.station.id for a in expected]
    durations = [f["properties"]["duration_s"] for f in body["features"]]
    assert durations == sorted(durations)
    for f, a in zip(body["features"], expected, strict=True):
        p = f["properties"]
        assert p["duration_s"] == pytest.approx(a.duration_s, abs=0.1)
        assert p["distance_m"] == pytest.approx(a.distance_m, abs=0.1)
        assert isinstance(p["crosses_border"], bool)
        assert p["station"]["id"] == a.station.id
        assert f["geometry"]["type"] == "LineString"
        assert len(f["geometry"]["coordinates"]) >= 2
        assert {"name", "distance_m", "duration_s"} <= set(p["steps"][0])
    assert [f["properties"]["rank"] for f in body["features"]] == [1, 2, 3]


def test_nearest_filters_kind_and_services(client: TestClient, loc: Locator, start) -> None:
    body = client.get(
        "/v1/nearest",
        params={
            "lon": start[0],
            "lat": start[1],
            "kind": "driver_station",
            "services": "rest",
            "k": 2,
            "mode": "car",
        },
    ).json()
    assert body["query"]["mode"] == "car"
    for f in body["features"]:
        st = loc.station(f["id"])
        assert st.kind.value == "driver_station"
        assert "rest" in st.services


def test_nearest_in_gcj02_and_bd09_equals_wgs84(client: TestClient, start) -> None:
    wgs = client.get("/v1/nearest", params={"lon": start[0], "lat": start[1]}).json()
    g = wgs84_to_gcj02(*start, inside=True)
    b = wgs84_to_bd09(*start, inside=True)
    assert math.dist(g, start) > 1e-3  # the datums really differ here
    for crs, (x, y) in (("gcj02", g), ("bd09", b)):
        other = client.get("/v1/nearest", params={"lon": x, "lat": y, "crs": crs}).json()
        assert other["query"]["lon"] == pytest.approx(start[0], abs=1e-7)
        assert other["query"]["lat"] == pytest.approx(start[1], abs=1e-7)
        assert [f["id"] for f in other["features"]] == [f["id"] for f in wgs["features"]]


def test_points_outside_china_are_not_shifted(loc: Locator) -> None:
    mongolia = (111.0, 44.6)  # north-west of Erenhot, across the border
    assert not loc.regions.in_china(*mongolia)
    assert to_wgs84(loc, *mongolia, Crs.gcj02) == mongolia
    china = (111.95, 43.6)
    assert loc.regions.in_china(*china)
    assert to_wgs84(loc, *china, Crs.gcj02) != china


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        ("nan", "45"),
        ("112", "nan"),
        ("inf", "45"),
        ("-inf", "45"),
        ("112", "Infinity"),
        ("181", "45"),
        ("112", "-90.5"),
        ("abc", "45"),
        ("1e400", "45"),
    ],
)
def test_invalid_coordinates_are_422_not_500(client: TestClient, lon: str, lat: str) -> None:
    r = client.get(f"/v1/nearest?lon={lon}&lat={lat}")
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_coordinate"


def test_nearest_error_codes(client: TestClient, start) -> None:
    cases = {
        "outside_service_area": ({"lon": 10, "lat": 10}, 422),
        "no_road_nearby": ({"lon": start[0] + 0.5, "lat": start[1] + 0.5}, 422),
        "request_too_large": ({"lon": start[0], "lat": start[1], "k": 11}, 413),
        "invalid_parameter": ({"lon": start[0], "lat": start[1], "mode": "bicycle"}, 422),
        # nothing is open at 03:00 AND offers counselling near the desert ports
        "no_route": (
            {
                "lon": start[0],
                "lat": start[1],
                "services": "counselling",
                "kind": "outdoor_worker_post",
                "at": "2026-03-04T03:00:00+08:00",
            },
            404,
        ),
    }
    for code, (params, status) in cases.items():
        r = client.get("/v1/nearest", params=params)
        assert (r.status_code, r.json()["code"]) == (status, code), (code, r.json())


def test_route_between_points_and_to_a_station(client: TestClient, loc: Locator, start) -> None:
    st = loc.station("ck-driver-home")
    r = client.get("/v1/route", params={"from": f"{start[0]},{start[1]}", "to": st.id})
    assert r.status_code == 200
    body = r.json()
    expected = loc.route(start, st.id)
    assert body["properties"]["duration_s"] == pytest.approx(expected.duration_s, abs=0.1)
    assert body["properties"]["to_station_id"] == st.id
    r2 = client.get(
        "/v1/route", params={"from": f"{start[0]},{start[1]}", "to": f"{st.lon},{st.lat}"}
    )
    assert r2.json()["properties"]["duration_s"] == pytest.approx(
        loc.route(start, (st.lon, st.lat)).duration_s, abs=0.1
    )


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"from": "nan,45", "to": "ck-driver-home"}, 422, "invalid_coordinate"),
        ({"from": "112", "to": "ck-driver-home"}, 422, "invalid_coordinate"),
        ({"from": "101.226,42.586", "to": "1,2,3"}, 422, "invalid_coordinate"),
        ({"from": "101.226,42.586", "to": "no-such-station"}, 404, "station_not_found"),
        ({"from": "101.226,42.586"}, 422, "invalid_request"),
    ],
)
def test_route_errors(client: TestClient, params, status: int, code: str) -> None:
    r = client.get("/v1/route", params=params)
    assert (r.status_code, r.json()["code"]) == (status, code)
