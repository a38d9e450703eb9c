"""GET /v1/stations (filters, OGC paging, ETag) and GET /v1/stations/{id}."""

from __future__ import annotations

from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from locator import Locator
from locator.network.datum import wgs84_to_gcj02
from locator.stations import CHINA_STANDARD_TIME as CHINA_TZ


def _ids(body: dict) -> list[str]:
    return [f["id"] for f in body["features"]]


def test_list_is_geojson_of_every_station(client: TestClient, loc: Locator) -> None:
    r = client.get("/v1/stations")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    body = r.json()
    assert body["type"] == "FeatureCollection"
    assert _ids(body) == [s.id for s in loc.stations()]
    assert body["numberMatched"] == body["numberReturned"] == len(loc.stations())
    f = body["features"][0]
    st = loc.station(f["id"])
    assert f["geometry"] == {"type": "Point", "coordinates": [st.lon, st.lat]}  # lon, lat
    assert "next" not in {link["rel"] for link in body["links"]}


def test_paging_follows_next_links_through_every_station(client: TestClient, loc: Locator) -> None:
    seen: list[str] = []
    url: str | None = "/v1/stations?limit=7"
    pages = 0
    while url:
        body = client.get(url).json()
        assert body["numberMatched"] == len(loc.stations())
        assert body["numberReturned"] == len(body["features"]) <= 7
        seen += _ids(body)
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else None
        pages += 1
    assert seen == [s.id for s in loc.stations()]
    assert pages == -(-len(seen) // 7)


@pytest.mark.parametrize("limit", [0, 1001, -1])
def test_limit_outside_advertised_range_is_rejected(client: TestClient, limit: int) -> None:
    r = client.get(f"/v1/stations?limit={limit}")
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_request"


def test_filters_match_a_direct_selection(client: TestClient, loc: Locator) -> None:
    at = datetime(2026, 3, 4, 3, 30, tzinfo=CHINA_TZ)
    need = {"drinking_water", "toilet"}
    some = next(
        s for s in loc.stations() if s.port_id and need <= set(s.services) and s.hours.is_open(at)
    )
    port = some.port_id
    box = (some.lon - 1.0, some.lat - 1.0, some.lon + 1.0, some.lat + 1.0)
    expected = [
        s.id
        for s in loc.stations()
        if s.kind == some.kind
        and s.port_id == port
        and need <= set(s.services)
        and box[0] <= s.lon <= box[2]
        and box[1] <= s.lat <= box[3]
        and s.hours.is_open(at)
    ]
    assert some.id in expected
    r = client.get(
        "/v1/stations",
        params={
            "kind": some.kind.value,
            "port": port,
            "services": "toilet,drinking_water",
            "bbox": ",".join(map(str, box)),
            "open_at": at.isoformat(),
        },
    )
    assert r.status_code == 200
    assert _ids(r.json()) == expected
    # each filter alone narrows the list
    by_kind = _ids(client.get("/v1/stations", params={"kind": some.kind.value}).json())
    assert by_kind == [s.id for s in loc.stations() if s.kind == some.kind]


def test_bbox_in_gcj02_selects_the_same_stations(client: TestClient, loc: Locator) -> None:
    some = loc.stations()[3]
    box = (some.lon - 0.5, some.lat - 0.5, some.lon + 0.5, some.lat + 0.5)
    wgs = _ids(client.get("/v1/stations", params={"bbox": ",".join(map(str, box))}).json())
    a = wgs84_to_gcj02(box[0], box[1], inside=True)
    b = wgs84_to_gcj02(box[2], box[3], inside=True)
    gcj = _ids(
        client.get(
            "/v1/stations", params={"bbox": f"{a[0]},{a[1]},{b[0]},{b[1]}", "crs": "gcj02"}
        ).json()
    )
    assert some.id in wgs
    assert gcj == wgs


@pytest.mark.parametrize(
    "bbox", ["1,2,3", "a,b,c,d", "nan,40,120,45", "110,46,100,40", "100,40,200,45"]
)
def test_bad_bbox_is_invalid_coordinate(client: TestClient, bbox: str) -> None:
    r = client.get("/v1/stations", params={"bbox": bbox})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "invalid_coordinate"


def test_unknown_service_is_invalid_parameter(client: TestClient) -> None:
    r = client.get("/v1/stations", params={"services": "sauna"})
    assert r.status_code == 422
    assert r.json()["code"] == "invalid_parameter"
    assert "sauna" in r.json()["detail"]


def test_etag_and_if_none_match(client: TestClient) -> None:
    r = client.get("/v1/stations?kind=worker_home")
    etag = r.headers["etag"]
    again = client.get("/v1/stations?kind=worker_home", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    other = client.get("/v1/stations?kind=driver_station", headers={"If-None-Match": etag})
    assert other.status_code == 200
    assert other.headers["etag"] != etag
    # another language is another representation
    ru = client.get("/v1/stations?kind=worker_home&lang=ru", headers={"If-None-Match": etag})
    assert ru.status_code == 200


def test_one_station_and_unknown_station(client: TestClient, loc: Locator) -> None:
    st = loc.stations()[0]
    r = client.get(f"/v1/stations/{st.id}")
    assert r.status_code == 200
    assert r.json()["properties"]["id"] == st.id
    assert (
        client.get(
            f"/v1/stations/{st.id}", headers={"If-None-Match": r.headers["etag"]}
        ).status_code
        == 304
    )
    missing = client.get("/v1/stations/no-such-station")
    assert missing.status_code == 404
    assert missing.json()["code"] == "station_not_found"


def test_names_follow_lang_then_accept_language(client: TestClient, loc: Locator) -> None:
    st = next(s for s in loc.stations() if s.name.ru and s.name.zh)
    url = f"/v1/stations/{st.id}"
    assert client.get(url, params={"lang": "ru"}).json()["properties"]["name"] == st.name.ru
    r = client.get(url, headers={"Accept-Language": "fr-FR, zh-CN;q=0.8, en;q=0.5"})
    assert r.json()["properties"]["name"] == st.name.zh
    assert r.headers["content-language"] == "zh"
    assert "Accept-Language" in r.headers["vary"]
    # lang wins over the header
    r = client.get(url, params={"lang": "en"}, headers={"Accept-Language": "zh"})
    assert r.json()["properties"]["name"] == st.name.en
    assert r.json()["properties"]["names"]["zh"] == st.name.zh
    assert client.get(url, params={"lang": "fr"}).json()["code"] == "invalid_request"
