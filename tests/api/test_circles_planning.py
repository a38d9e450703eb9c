"""GET /v1/isochrones, GET /v1/coverage, POST /v1/plan/sites, GET /v1/ports, /v1/regions."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import shape

from locator import Locator

STATION = "alxa-1382-post"
#: "Nested" in delivered WGS 84 coordinates: area of smaller minus larger, deg² (1e-15 deg²
#: is about 1e-5 m²; a sliver of the kind fixed here was 3e-6 deg², 32,000 m²).
NESTED_DEG2 = 1e-15


def test_circles_nest_in_the_delivered_coordinates_everywhere(
    client: TestClient, loc: Locator
) -> None:
    """Live circles from points across the network, every station's stored circles, and
    the widget's all-stations layer: each smaller contour lies inside the larger one in
    the GeoJSON as parsed by a client."""
    graph = loc.network.graph
    rng = np.random.default_rng(12)
    pairs = 0
    for node in rng.choice(graph.n_nodes, 12, replace=False):
        r = client.get(
            "/v1/isochrones",
            params={
                "lon": float(graph.node_lon[node]),
                "lat": float(graph.node_lat[node]),
                "minutes": "5,10,15,30",
            },
        )
        if r.status_code != 200:
            continue
        polys = [shape(f["geometry"]) for f in r.json()["features"] if f["geometry"]]
        for bigger, smaller in itertools.pairwise(polys):
            assert shapely.difference(smaller, bigger).area <= NESTED_DEG2
            pairs += 1
    for st in loc.stations():
        feats = client.get("/v1/isochrones", params={"station_id": st.id}).json()["features"]
        polys = [shape(f["geometry"]) for f in feats if f["geometry"]]
        for bigger, smaller in itertools.pairwise(polys):
            assert shapely.difference(smaller, bigger).area <= NESTED_DEG2
            pairs += 1
    layer = client.get("/v1/basemap/circles", params={"minutes": "5,10,15"}).json()
    by_station: dict[str, list] = {}
    for f in layer["features"]:
        by_station.setdefault(f["properties"]["station_id"], []).append(shape(f["geometry"]))
    for polys in by_station.values():
        for bigger, smaller in itertools.pairwise(polys):  # largest first
            assert shapely.difference(smaller, bigger).area <= NESTED_DEG2
            pairs += 1
    assert pairs > 100


def test_station_circles_are_nested_and_match_the_locator(client: TestClient, loc: Locator) -> None:
    r = client.get("/v1/isochrones", params={"station_id": STATION})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    feats = r.json()["features"]
    assert [f["properties"]["minutes"] for f in feats] == [15.0, 10.0, 5.0]
    expected = {c.minutes: c for c in loc.isochrones(station_id=STATION)}
    polys = [shape(f["geometry"]) for f in feats]
    for f, poly in zip(feats, polys, strict=True):
        c = expected[f["properties"]["minutes"]]
        assert f["properties"]["area_km2"] == pytest.approx(c.area_km2, abs=1e-3)
        assert f["properties"]["station_id"] == STATION
        # the engine's very coordinates: no rounding after nesting (it would part them)
        assert shapely.equals_exact(poly, c.polygon, tolerance=0.0)
    for bigger, smaller in itertools.pairwise(polys):
        # nested in the very coordinates a client receives: no sliver of the smaller
        # circle outside the larger one (floating-point noise only)
        assert shapely.difference(smaller, bigger).area <= NESTED_DEG2
    # served twice from the body cache: same bytes
    assert client.get("/v1/isochrones", params={"station_id": STATION}).content == r.content


def test_point_circles_directions_and_shapes(client: TestClient, loc: Locator) -> None:
    st = loc.station(STATION)
    for direction in ("to", "from"):
        for shape_ in ("roads", "concave"):
            r = client.get(
                "/v1/isochrones",
                params={
                    "lon": st.lon,
                    "lat": st.lat,
                    "minutes": "10,5",
                    "direction": direction,
                    "shape": shape_,
                    "mode": "car",
                },
            )
            assert r.status_code == 200, r.text
            feats = r.json()["features"]
            assert [f["properties"]["minutes"] for f in feats] == [10.0, 5.0]
            assert all(f["properties"]["direction"] == direction for f in feats)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"station_id": STATION, "minutes": "5,10,15,20,25"}, 413, "request_too_large"),
        ({"station_id": STATION, "minutes": "61"}, 413, "request_too_large"),
        ({"station_id": STATION, "minutes": "five"}, 422, "invalid_parameter"),
        ({"station_id": STATION, "minutes": "nan"}, 422, "invalid_parameter"),
        ({"station_id": STATION, "lon": 101.2, "lat": 42.5}, 422, "invalid_parameter"),
        ({"lon": 101.2}, 422, "invalid_parameter"),
        ({}, 422, "invalid_parameter"),
        ({"station_id": "nope"}, 404, "station_not_found"),
        ({"lon": "nan", "lat": 42.5}, 422, "invalid_coordinate"),
        ({"lon": 10, "lat": 10}, 422, "outside_service_area"),
        ({"station_id": STATION, "direction": "sideways"}, 422, "invalid_request"),
    ],
)
def test_isochrone_errors(client: TestClient, params, status: int, code: str) -> None:
    r = client.get("/v1/isochrones", params=params)
    assert (r.status_code, r.json()["code"]) == (status, code), r.json()


def test_coverage_of_a_league_has_banner_rows(client: TestClient, loc: Locator) -> None:
    league = "152900"  # Alxa
    r = client.get(
        "/v1/coverage", params={"kind": "driver_station", "region": league, "lang": "zh"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    report = loc.coverage(kind="driver_station", region=league)
    assert body["share"] == pytest.approx(report.share)
    assert body["road_km"] == pytest.approx(report.road_km, abs=1e-3)
    banners = {u.code: u for u in loc.regions.banners(league)}
    assert {row["code"] for row in body["rows"]} == set(banners)
    row = body["rows"][0]
    assert row["name"] == banners[row["code"]].name_zh
    assert body["uncovered"]["type"] == "Feature"
    assert body["uncovered"]["geometry"]["type"] in ("MultiLineString", "LineString")
    gaps = shape(body["uncovered"]["geometry"])
    assert shapely.intersects(gaps.envelope, loc.regions.polygon(league))


def test_coverage_of_a_port_and_a_bbox(client: TestClient, loc: Locator) -> None:
    port = client.get(
        "/v1/coverage", params={"kind": "outdoor_worker_post", "region": "ceke", "minutes": 10}
    ).json()
    assert port["region"] == "ceke"
    assert 0 <= port["share"] <= 1
    assert port["minutes"] == 10
    box = client.get(
        "/v1/coverage", params={"kind": "outdoor_worker_post", "region": "100.8,42.2,101.8,42.9"}
    ).json()
    assert box["region"] == "bbox"
    assert box["covered_km"] <= box["road_km"]


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"kind": "driver_station", "region": "999999"}, 404, "region_not_found"),
        ({"kind": "driver_station", "minutes": 600}, 413, "request_too_large"),
        ({"kind": "driver_station", "region": "1,2,3,nan"}, 422, "invalid_coordinate"),
        ({"kind": "spa"}, 422, "invalid_request"),
    ],
)
def test_coverage_errors(client: TestClient, params, status: int, code: str) -> None:
    r = client.get("/v1/coverage", params=params)
    assert (r.status_code, r.json()["code"]) == (status, code)


def test_plan_sites_gives_decreasing_marginal_gains(client: TestClient) -> None:
    r = client.post("/v1/plan/sites", json={"kind": "driver_station", "k": 3, "region": "152500"})
    assert r.status_code == 200, r.text
    body = r.json()
    feats = body["features"]
    assert 1 <= len(feats) <= 3
    gains = [f["properties"]["gain_m"] for f in feats]
    assert gains == sorted(gains, reverse=True)
    assert feats[-1]["properties"]["cumulative_gain_m"] == pytest.approx(sum(gains), rel=1e-6)
    assert body["covered_after"] == pytest.approx(body["covered_before"] + sum(gains), rel=1e-6)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"kind": "driver_station", "k": 50}, 413, "request_too_large"),
        ({"kind": "driver_station", "region": "nowhere"}, 404, "region_not_found"),
        ({"kind": "driver_station", "minutes": "NaN"}, 422, "invalid_request"),
        ({"k": 2}, 422, "invalid_request"),
    ],
)
def test_plan_errors(client: TestClient, body, status: int, code: str) -> None:
    r = client.post("/v1/plan/sites", json=body)
    assert (r.status_code, r.json()["code"]) == (status, code)


def test_ports_localised_with_etag(client: TestClient, loc: Locator) -> None:
    r = client.get("/v1/ports", params={"lang": "mn"})
    assert r.status_code == 200
    feats = r.json()["features"]
    assert [f["id"] for f in feats] == [p.id for p in loc.ports]
    for f, p in zip(feats, loc.ports, strict=True):
        assert f["properties"]["name"] == (p.name.mn or p.name.ru or p.name.en)
        assert f["geometry"]["coordinates"] == [p.lon, p.lat]
    assert (
        client.get(
            "/v1/ports", params={"lang": "mn"}, headers={"If-None-Match": r.headers["etag"]}
        ).status_code
        == 304
    )


def test_regions_levels_parent_and_geometry(client: TestClient, loc: Locator) -> None:
    leagues = client.get("/v1/regions", params={"level": "league"}).json()["features"]
    assert {f["id"] for f in leagues} == {u.code for u in loc.regions.leagues()}
    assert all(f["geometry"] is None for f in leagues)
    banners = client.get("/v1/regions", params={"parent": "150700", "geometry": "true"}).json()
    assert {f["id"] for f in banners["features"]} == {u.code for u in loc.regions.banners("150700")}
    first = banners["features"][0]
    assert first["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert shape(first["geometry"]).intersects(loc.regions.polygon(first["id"]))
    r = client.get("/v1/regions", params={"parent": "000000"})
    assert (r.status_code, r.json()["code"]) == (404, "region_not_found")


def test_coverage_as_csv_and_geojson_with_etags(client: TestClient) -> None:
    import csv as _csv
    import io as _io

    params = {"kind": "driver_station", "region": "152500", "lang": "zh"}
    table = client.get("/v1/coverage", params=params).json()
    r = client.get("/v1/coverage", params={**params, "f": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.content.startswith("\ufeff".encode())  # Excel reads the Chinese names
    assert "attachment" in r.headers["content-disposition"]
    rows = list(_csv.DictReader(_io.StringIO(r.content.decode("utf-8-sig"))))
    assert len(rows) == len(table["rows"]) + 1
    for got, want in zip(rows, table["rows"], strict=False):
        assert got["code"] == want["code"] and got["name"] == want["name"]
        assert float(got["covered_km"]) == pytest.approx(want["covered_km"])
        assert float(got["share"]) == pytest.approx(want["share"])
    assert rows[-1]["name"] == "total"
    assert float(rows[-1]["road_km"]) == pytest.approx(table["road_km"])
    assert sum(float(x["road_km"]) for x in rows[:-1]) == pytest.approx(table["road_km"], rel=1e-4)
    # Accept picks the format as f does
    assert (
        client.get("/v1/coverage", params=params, headers={"Accept": "text/csv"}).content
        == r.content
    )
    g = client.get("/v1/coverage", params={**params, "f": "geojson"})
    assert g.headers["content-type"] == "application/geo+json"
    fc = g.json()
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 1
    feat = fc["features"][0]
    assert feat["geometry"]["type"] in ("MultiLineString", "LineString")
    lines = feat["geometry"]["coordinates"]
    lines = lines if feat["geometry"]["type"] == "MultiLineString" else [lines]
    for line in lines:
        assert len(line) >= 2
        assert all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in line)
    assert feat["properties"]["length_km"] == pytest.approx(
        table["road_km"] - table["covered_km"], abs=1e-3
    )
    etag = r.headers["etag"]
    again = client.get(
        "/v1/coverage", params={**params, "f": "csv"}, headers={"If-None-Match": etag}
    )
    assert again.status_code == 304
    assert etag != g.headers["etag"] != table_etag(client, params)


def table_etag(client: TestClient, params: dict) -> str:
    return client.get("/v1/coverage", params=params).headers["etag"]


def test_plan_evaluate_is_the_coverage_after_the_edits_without_saving(
    client: TestClient, loc: Locator
) -> None:
    before = client.get("/v1/coverage", params={"kind": "driver_station", "region": "152500"})
    site = loc.suggest_sites(kind="driver_station", k=1, region="152500").sites[0]
    body = {
        "kind": "driver_station",
        "region": "152500",
        "add": [{"lon": site.lon, "lat": site.lat}],
        "remove": ["erl-driver-home-06"],
    }
    r = client.post("/v1/plan/evaluate", json=body)
    assert r.status_code == 200, r.text
    got = r.json()
    expect = loc.evaluate_plan(
        kind="driver_station",
        region="152500",
        add=[(site.lon, site.lat)],
        remove=["erl-driver-home-06"],
    )
    assert got["covered_km"] == pytest.approx(expect.covered_km, abs=1e-3)
    assert got["scenario"] == {"added": 1, "moved": [], "removed": ["erl-driver-home-06"]}
    assert got["covered_km"] > before.json()["covered_km"]
    after = client.get("/v1/coverage", params={"kind": "driver_station", "region": "152500"})
    assert after.json()["covered_km"] == before.json()["covered_km"]  # nothing was saved
    bad = client.post("/v1/plan/evaluate", json={**body, "remove": ["nope"]})
    assert (bad.status_code, bad.json()["code"]) == (404, "station_not_found")
    far = client.post(
        "/v1/plan/evaluate", json={"kind": "driver_station", "add": [{"lon": 0.0, "lat": 0.0}]}
    )
    assert far.status_code == 422 and far.json()["code"] == "outside_service_area"


def test_plan_sites_get_geojson_csv_and_etag(client: TestClient) -> None:
    import csv as _csv
    import io as _io

    params = {"kind": "driver_station", "k": 3, "region": "152500"}
    post = client.post("/v1/plan/sites", json=params).json()
    r = client.get("/v1/plan/sites", params=params)
    assert r.status_code == 200 and r.headers["content-type"] == "application/geo+json"
    got = r.json()
    assert got["type"] == "FeatureCollection"
    assert [f["properties"]["cumulative_gain_km"] for f in got["features"]] == [
        f["properties"]["cumulative_gain_km"] for f in post["features"]
    ]
    for f in got["features"]:
        lon, lat = f["geometry"]["coordinates"]
        assert f["geometry"]["type"] == "Point" and 111 < lon < 120 and 41 < lat < 47
    c = client.get("/v1/plan/sites", params={**params, "f": "csv"})
    assert c.headers["content-type"].startswith("text/csv") and c.content.startswith(
        b"\xef\xbb\xbf"
    )
    rows = list(_csv.DictReader(_io.StringIO(c.content.decode("utf-8-sig"))))
    assert [float(x["gain_km"]) for x in rows] == [
        f["properties"]["gain_km"] for f in got["features"]
    ]
    again = client.get(
        "/v1/plan/sites", params=params, headers={"If-None-Match": r.headers["etag"]}
    )
    assert again.status_code == 304
    assert client.get("/v1/plan/sites", params={**params, "k": 0}).status_code == 422


def test_printable_report_has_the_figures_table_map_and_sites(
    client: TestClient, loc: Locator
) -> None:
    r = client.get(
        "/v1/report", params={"kind": "driver_station", "region": "152500", "lang": "zh"}
    )
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]  # loads nothing
    page = r.text
    assert '<html lang="zh-Hans">' in page and "锡林郭勒盟" in page
    report = loc.coverage(kind="driver_station", region="152500")
    assert f"{report.covered_km:,.1f}" in page and f"{report.road_km:,.1f}" in page
    table = page.split('<table id="rows">')[1].split("</table>")[0]
    assert table.count("<tr>") == len(report.rows) + 1
    assert page.count('<g class="site">') == 3 and 'class="gaps"' in page
    sites = loc.suggest_sites(kind="driver_station", k=3, region="152500").sites
    for s in sites:
        assert f"{s.cumulative_gain / 1000:,.1f}" in page
    assert "G301" in page  # the data's known gaps travel with the figures
    assert not re.search(r'(?:src|href)="', page)  # nothing to load
    none = client.get("/v1/report", params={"kind": "driver_station", "region": "152500", "k": 0})
    assert '<g class="site">' not in none.text


def test_imported_demand_in_what_if_and_demand_siting(client: TestClient, loc: Locator) -> None:
    """Weighted demand sent with a what-if is counted and listed point by point; sites
    for objective=demand match the Locator and their gains add up in demand_covered."""
    demand = [
        {"lon": 116.024, "lat": 43.919, "weight": 120.0},  # on a road in Xilingol
        {"lon": 112.0, "lat": 43.6, "weight": 5.0},  # near Erenhot (covered)
    ]
    base = {"kind": "driver_station", "region": "152500"}
    plain = client.post("/v1/plan/evaluate", json=base).json()
    r = client.post("/v1/plan/evaluate", json={**base, "demand": demand})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["demand_total"] == pytest.approx(plain["demand_total"] + 125.0)
    pts = got["demand_points"]["features"]
    given_pts = [f for f in pts if f["properties"]["source"] == "given"]
    assert [f["properties"]["weight"] for f in given_pts] == [120.0, 5.0]
    assert sum(f["properties"]["weight"] for f in pts if f["properties"]["covered"]) == (
        pytest.approx(got["demand_covered"])
    )
    for f in pts:
        p = f["properties"]
        assert (p["minutes_to_station"] is not None) == p["covered"]
        if p["covered"]:
            assert p["minutes_to_station"] <= 15.0
    # siting on demand: the big uncovered point is taken first
    s = client.post(
        "/v1/plan/sites", json={**base, "k": 2, "objective": "demand", "demand": demand}
    )
    assert s.status_code == 200, s.text
    sites = s.json()
    assert sites["objective"] == "demand" and sites["demand_unit"] == "weight"
    expect = loc.suggest_sites(
        kind="driver_station",
        k=2,
        region="152500",
        objective="demand",
        demand=[(d["lon"], d["lat"], d["weight"]) for d in demand],
    )
    assert [f["properties"]["gain"] for f in sites["features"]] == pytest.approx(
        [x.gain for x in expect.sites]
    )
    first = sites["features"][0]["properties"]
    assert first["gain"] >= 120.0 and first["gain_km"] is None
    after = client.post(
        "/v1/plan/evaluate",
        json={
            **base,
            "demand": demand,
            "add": [
                dict(
                    zip(
                        ("lon", "lat"), sites["features"][0]["geometry"]["coordinates"], strict=True
                    )
                )
            ],
        },
    ).json()
    assert after["demand_covered"] == pytest.approx(got["demand_covered"] + first["gain"])
    csv_body = client.get(
        "/v1/plan/sites", params={**base, "k": 2, "objective": "demand", "f": "csv"}
    ).content.decode("utf-8-sig")
    assert csv_body.splitlines()[0] == "rank,lon,lat,node,gain,cumulative_gain"
    bad = client.post("/v1/plan/sites", json={**base, "demand": demand})  # road objective
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_parameter")
