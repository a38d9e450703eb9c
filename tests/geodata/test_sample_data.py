"""Bundled ports and sample stations: coverage, honesty fields, placement on the network."""

from __future__ import annotations

import gzip
import json
import math
from collections import Counter

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from geodata.build import DATA_DIR, SAMPLE_STATIONS_FILE
from geodata.regional import load_regional_graph
from locator.artifact.loader import load_ports
from locator.stations import Service, Station, StationKind
from locator.stations.store import StationStore


@pytest.fixture(scope="module")
def ports():
    return {p.id: p for p in load_ports(DATA_DIR / "ports.json")}


@pytest.fixture(scope="module")
def stations():
    doc = json.loads(SAMPLE_STATIONS_FILE.read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection"
    return [Station.from_feature(f) for f in doc["features"]]


@pytest.fixture(scope="module")
def graph():
    return load_regional_graph()


def haversine_m(lon1, lat1, lon2, lat2):
    r = 6_371_008.8
    p1, p2 = np.radians(lat1), np.radians(lat2)
    a = (
        np.sin((p2 - p1) / 2) ** 2
        + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * r * np.arcsin(np.sqrt(a))


def test_enough_stations_over_enough_ports(stations, ports):
    assert len(stations) >= 40
    per_port = Counter(s.port_id for s in stations)
    assert len(per_port) >= 7
    assert set(per_port) <= set(ports)
    assert len({s.id for s in stations}) == len(stations)
    assert {s.kind for s in stations} == set(StationKind)


def test_ports_named_in_the_brief(ports):
    required = {
        "manzhouli",
        "arihashate",
        "ebuduge",
        "heishantou",
        "shiwei",
        "erenhot",
        "zhuengadabuqi",
        "ganqimaodu",
        "ceke",
    }
    assert required <= set(ports)
    for p in ports.values():
        assert p.name.zh
        assert p.name.en
        assert p.name.mn
        assert p.name.ru
        assert p.town_across.zh
        assert p.town_across.en
        assert p.town_across.mn
        assert p.town_across.ru
        assert 1000 <= p.location_accuracy_m <= 20000
    assert ports["manzhouli"].country_across == "RU"
    assert ports["erenhot"].country_across == "MN"
    assert "奎市" in (ports["shiwei"].notes or "") + ports["shiwei"].source


def test_every_station_sits_exactly_on_a_regional_node(stations, graph):
    nodes = set(zip(graph.node_lon.tolist(), graph.node_lat.tolist(), strict=True))
    off = [s.id for s in stations if (s.lon, s.lat) not in nodes]
    assert off == []


def test_stations_are_inside_inner_mongolia(stations):
    with gzip.open(DATA_DIR / "admin_units.geojson.gz", "rt", encoding="utf-8") as f:
        doc = json.load(f)
    (province,) = [x for x in doc["features"] if x["properties"]["code"] == "150000"]
    outline = shape(province["geometry"])
    lon = [s.lon for s in stations]
    lat = [s.lat for s in stations]
    assert shapely.contains_xy(outline, lon, lat).all()


def test_accuracy_is_at_least_the_distance_to_the_port(stations, ports):
    for s in stations:
        port = ports[s.port_id]
        d = float(haversine_m(port.lon, port.lat, s.lon, s.lat))
        if s.id == "zgd-union-post-uliastai":  # anchored on the banner seat, not the port
            continue
        assert s.location_accuracy_m >= d, s.id
        assert s.location_approximate
        assert "port-unions-article.zh.txt" in s.source
        assert "regional" in s.source


def test_station_facts_from_the_report(stations):
    by_id = {s.id: s for s in stations}
    mzl = [s for s in stations if s.port_id == "manzhouli" and s.kind == StationKind.driver_station]
    lodging = [s for s in mzl if Service.overnight_lodging in s.services]
    assert len(mzl) == 8
    assert len(lodging) == 2
    assert by_id["mzl-activity-centre"].area_m2 == 1500.0
    assert by_id["mzl-activity-centre"].kind == StationKind.worker_home
    erenhot_drivers = [
        s for s in stations if s.port_id == "erenhot" and s.kind == StationKind.driver_station
    ]
    assert len(erenhot_drivers) == 10
    assert by_id["zgd-worker-home"].kind == StationKind.worker_home
    assert by_id["alxa-1382-post"].kind == StationKind.outdoor_worker_post
    ceke_kinds = {s.kind for s in stations if s.port_id == "ceke"}
    assert ceke_kinds == set(StationKind)
    for s in stations:
        if s.kind == StationKind.outdoor_worker_post:
            assert {Service.drinking_water, Service.rest} <= set(s.services)


def test_notes_explain_the_placement(stations, graph):
    coords = zip(graph.node_lon.tolist(), graph.node_lat.tolist(), strict=True)
    node_of = {(lon, lat): i for i, (lon, lat) in enumerate(coords)}
    for s in stations:
        notes = s.notes or ""
        assert "Exact address not published" in notes, s.id
        assert f"network node {node_of[(s.lon, s.lat)]}," in notes, s.id
        assert "km from" in notes, s.id


def test_sample_file_imports_into_the_store(tmp_path, stations):
    with StationStore(tmp_path / "s.db") as store:
        assert store.import_geojson(SAMPLE_STATIONS_FILE) == len(stations)
        assert store.all() == sorted(stations, key=lambda s: s.id)


def test_opening_hours_all_parse(stations):
    for s in stations:
        assert s.hours.weekly_intervals(), s.id
        assert math.isfinite(s.location_accuracy_m)
