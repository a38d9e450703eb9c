"""Station store: all-or-nothing imports listing every problem, R-tree bbox, round trips."""

from __future__ import annotations

import csv
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import box
from strategies import lats, lons, station_records

from locator.errors import (
    InvalidCoordinateError,
    StationExistsError,
    StationNotFoundError,
    StationValidationError,
)
from locator.stations import Station
from locator.stations.store import CSV_COLUMNS, StationStore

FIXTURE_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def rec(i: int, **overrides):
    base = {
        "id": f"st-{i:03d}",
        "kind": "driver_station",
        "name": {"zh": f"驿站{i}", "en": f"Station {i}"},
        "port_id": "erenhot",
        "lon": 111.9 + i * 0.001,
        "lat": 43.6 + i * 0.001,
        "services": ["rest", "drinking_water"],
        "opening_hours": "24/7",
        "source": "test fixture",
        "location_accuracy_m": 250.0,
        "location_approximate": True,
    }
    base.update(overrides)
    return base


def feature_collection(records):
    return {
        "type": "FeatureCollection",
        "features": [Station.model_validate(r).to_feature() for r in records],
    }


def raw_feature(r):
    props = {k: v for k, v in r.items() if k not in ("lon", "lat")}
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [r["lon"], r["lat"]]},
        "properties": props,
    }


def write_csv(path, records, columns=CSV_COLUMNS):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for r in records:
            row = {
                **r,
                "name_zh": r["name"].get("zh", ""),
                "name_en": r["name"].get("en", ""),
                "name_mn": r["name"].get("mn", ""),
                "name_ru": r["name"].get("ru", ""),
                "services": ";".join(r["services"]),
            }
            w.writerow(["" if row.get(c) is None else row.get(c, "") for c in columns])


@pytest.fixture
def store(store_target):
    """A fresh store on each backend (SQLite file, PostgreSQL database)."""
    s = StationStore(store_target)
    yield s
    s.close()


def snapshot(store: StationStore):
    return [s.model_dump() for s in store.all()], store.count()


def test_wal_mode_and_tables(store):
    assert store.journal_mode == "wal"
    names = store.table_names()
    assert {"stations", "audit_log"} <= names
    if store.backend == "sqlite":
        assert "stations_rtree" in names


def test_import_geojson_and_get(store):
    n = store.import_geojson(feature_collection([rec(1), rec(2)]))
    assert n == 2
    assert store.count() == 2
    assert store.get("st-001").name.en == "Station 1"
    with pytest.raises(StationNotFoundError):
        store.get("nope")


def test_every_problem_is_listed_and_nothing_written(store):
    store.import_geojson(feature_collection([rec(0)]))
    before = snapshot(store)
    bad = [
        rec(1),
        rec(2, lon=math.nan),
        rec(3, kind="hotel", services=["rest", "sauna"]),
        rec(1),  # duplicate within the file
        rec(0),  # already in the store
        rec(5, opening_hours="Mo-Fr 25:00-26:00", lat=91.0),
        {k: v for k, v in rec(6).items() if k != "source"},
        rec(7, lon=130.0),  # outside the area
    ]
    with pytest.raises(StationValidationError) as info:
        store.import_geojson(
            {"type": "FeatureCollection", "features": [raw_feature(r) for r in bad]},
            area=box(100, 35, 125, 55),
        )
    reasons = {(p.row, p.field): p.reason for p in info.value.problems}
    assert set(reasons) == {
        (1, "lon"),
        (2, "kind"),
        (2, "services[1]"),
        (3, "id"),
        (4, "id"),
        (5, "opening_hours"),
        (5, "lat"),
        (6, "source"),
        (7, "location"),
    }
    assert "duplicate id 'st-001' (first at row 0)" in reasons[(3, "id")]
    assert "already exists" in reasons[(4, "id")]
    assert "not a finite number" in reasons[(1, "lon")]
    assert "unknown kind 'hotel'" in reasons[(2, "kind")]
    assert "unknown service 'sauna'" in reasons[(2, "services[1]")]
    assert "25:00" in reasons[(5, "opening_hours")]
    assert "missing" in reasons[(6, "source")]
    assert "outside" in reasons[(7, "location")]
    assert "nothing was written" in str(info.value)
    assert snapshot(store) == before


def test_duplicate_id_within_file_reported_on_second_row(store):
    with pytest.raises(StationValidationError) as info:
        store.import_geojson(feature_collection([rec(1), rec(2), rec(1, lon=112.0)]))
    assert [(p.row, p.field) for p in info.value.problems] == [(2, "id")]
    assert "first at row 0" in info.value.problems[0].reason
    assert store.count() == 0


def test_area_as_callable(store):
    with pytest.raises(StationValidationError) as info:
        store.import_rows([rec(1), rec(2)], area=lambda lon, lat: lon < 111.9015)
    assert [(p.row, p.field) for p in info.value.problems] == [(1, "location")]


# -- property tests: rejection with the right row and field, all or nothing ---------------

bad_values = st.sampled_from(
    [
        ("lon", math.nan),
        ("lon", math.inf),
        ("lon", -math.inf),
        ("lat", math.nan),
        ("lat", 90.5),
        ("lat", -1000.0),
        ("lon", 180.25),
        ("lon", -181.0),
        ("id", "Not A Slug"),
        ("id", ""),
        ("kind", "teahouse"),
    ]
)


@FIXTURE_SETTINGS
@given(n=st.integers(1, 8), data=st.data())
def test_bad_rows_rejected_with_row_and_field_and_store_unchanged(store, n, data):
    before = snapshot(store)
    rows = [rec(i) for i in range(n)]
    bad_at = data.draw(st.sets(st.integers(0, n - 1), min_size=1), label="bad rows")
    bad_at = (
        sorted(bad_at | {n - 1}) if data.draw(st.booleans(), label="last bad") else sorted(bad_at)
    )
    expected = set()
    for i in bad_at:
        field, value = data.draw(bad_values)
        rows[i] = rec(i, **{field: value})
        expected.add((i, field))
    with pytest.raises(StationValidationError) as info:
        store.import_geojson(
            {"type": "FeatureCollection", "features": [raw_feature(r) for r in rows]}
        )
    assert {(p.row, p.field) for p in info.value.problems} == expected
    assert snapshot(store) == before


@FIXTURE_SETTINGS
@given(n=st.integers(2, 8), data=st.data())
def test_csv_bad_rows_reported_by_line_number(store, tmp_path_factory, n, data):
    path = tmp_path_factory.mktemp("csv") / "in.csv"
    rows = [rec(i) for i in range(n)]
    i = data.draw(st.integers(0, n - 1))
    field, value = data.draw(bad_values)
    rows[i] = rec(i, **{field: value})
    write_csv(path, rows)
    before = snapshot(store)
    with pytest.raises(StationValidationError) as info:
        store.import_csv(path)
    assert {(p.row, p.field) for p in info.value.problems} == {(i + 2, field)}
    assert snapshot(store) == before


@FIXTURE_SETTINGS
@given(n=st.integers(2, 6), dup=st.data())
def test_duplicate_ids_always_rejected(store, n, dup):
    rows = [rec(i) for i in range(n)]
    j = dup.draw(st.integers(1, n - 1))
    k = dup.draw(st.integers(0, j - 1))
    rows[j] = rec(j, id=rows[k]["id"])
    before = snapshot(store)
    with pytest.raises(StationValidationError) as info:
        store.import_rows(rows)
    assert [(p.row, p.field) for p in info.value.problems] == [(j, "id")]
    assert snapshot(store) == before


def test_failing_upsert_keeps_existing_rows(store):
    store.import_rows([rec(1), rec(2)])
    before = snapshot(store)
    with pytest.raises(StationValidationError):
        store.import_rows([rec(1, lon=112.5), rec(3, lat=math.nan)], mode="upsert")
    assert snapshot(store) == before
    with pytest.raises(StationValidationError):
        store.import_rows([rec(9), rec(10, kind="x")], mode="replace")
    assert snapshot(store) == before


def test_upsert_and_replace_modes(store):
    store.import_rows([rec(1), rec(2)])
    store.import_rows([rec(2, lon=112.5), rec(3)], mode="upsert")
    assert store.get("st-002").lon == 112.5
    assert store.count() == 3
    assert [s.id for s in store.bbox(112.4, 43, 112.6, 44)] == ["st-002"]
    store.import_rows([rec(7)], mode="replace")
    assert [s.id for s in store.all()] == ["st-007"]
    assert store.bbox(112.4, 43, 112.6, 44) == []


# -- malformed files --------------------------------------------------------------------


def test_bad_json_file(store, tmp_path):
    p = tmp_path / "bad.geojson"
    p.write_text('{"type": "FeatureCollection",\n "features": [}', encoding="utf-8")
    with pytest.raises(StationValidationError) as info:
        store.import_geojson(p)
    (problem,) = info.value.problems
    assert problem.field == "file"
    assert problem.row == 2
    assert "invalid JSON" in problem.reason
    assert store.count() == 0


@pytest.mark.parametrize(
    "doc",
    [
        [],
        {"type": "Feature"},
        {"type": "FeatureCollection"},
        {"type": "FeatureCollection", "features": {}},
    ],
)
def test_not_a_feature_collection(store, doc):
    with pytest.raises(StationValidationError) as info:
        store.import_geojson(doc)
    assert info.value.problems[0].field == "file"


def test_non_point_feature_reported_with_index_alongside_other_problems(store):
    features = [
        raw_feature(rec(0)),
        {"type": "Feature", "geometry": None},
        raw_feature(rec(2, kind="x")),
    ]
    with pytest.raises(StationValidationError) as info:
        store.import_geojson({"type": "FeatureCollection", "features": features})
    assert {(p.row, p.field) for p in info.value.problems} == {(1, "geometry"), (2, "kind")}
    assert store.count() == 0


@pytest.mark.parametrize(
    ("header", "fragment"),
    [
        ("id,kind,name_en,lon,lat,source,location_accuracy_m,colour", "unknown column"),
        ("id,kind,name_en,lon,source,location_accuracy_m", "missing required column"),
        ("id,kind,lon,lat,source,location_accuracy_m", "name_zh or name_en"),
        ("id,id,kind,name_en,lon,lat,source,location_accuracy_m", "duplicate column"),
    ],
)
def test_bad_csv_header(store, tmp_path, header, fragment):
    p = tmp_path / "bad.csv"
    p.write_text(header + "\na,driver_station,A,1,2,s,5\n", encoding="utf-8")
    with pytest.raises(StationValidationError) as info:
        store.import_csv(p)
    assert any(fragment in pr.reason and pr.row == 1 for pr in info.value.problems)
    assert store.count() == 0


def test_csv_cell_problems(store, tmp_path):
    p = tmp_path / "cells.csv"
    p.write_text(
        "id,kind,name_en,lon,lat,source,location_accuracy_m,capacity_people,location_approximate\n"
        "a,driver_station,A,abc,43.6,s,5,,\n"
        "b,driver_station,B,111.9,43.6,s,5,3.5,maybe\n"
        "c,driver_station,C,111.9\n"
        "d,driver_station,D,111.9,43.6,s,5,12,false\n",
        encoding="utf-8",
    )
    with pytest.raises(StationValidationError) as info:
        store.import_csv(p)
    got = {(pr.row, pr.field): pr.reason for pr in info.value.problems}
    assert set(got) == {(2, "lon"), (3, "capacity_people"), (3, "location_approximate"), (4, "row")}
    assert "'abc' is not a number" in got[(2, "lon")]
    assert store.count() == 0


# -- R-tree and round trips -----------------------------------------------------------------


@FIXTURE_SETTINGS
@given(
    points=st.lists(st.tuples(lons, lats), min_size=1, max_size=40),
    q=st.tuples(lons, lats, lons, lats),
)
def test_bbox_matches_brute_force(store, points, q):
    rows = [rec(i, lon=lon, lat=lat) for i, (lon, lat) in enumerate(points)]
    store.import_rows(rows, mode="replace")
    min_lon, max_lon = sorted((q[0], q[2]))
    min_lat, max_lat = sorted((q[1], q[3]))
    got = [s.id for s in store.bbox(min_lon, min_lat, max_lon, max_lat)]
    expected = sorted(
        r["id"] for r in rows if min_lon <= r["lon"] <= max_lon and min_lat <= r["lat"] <= max_lat
    )
    assert got == expected
    # a box exactly on one station's point finds it (R-tree float32 rounding is outward)
    pick = rows[len(rows) // 2]
    hit = store.bbox(pick["lon"], pick["lat"], pick["lon"], pick["lat"])
    assert pick["id"] in [s.id for s in hit]


def test_bbox_rejects_bad_bounds(store):
    with pytest.raises(InvalidCoordinateError):
        store.bbox(math.nan, 0, 1, 1)
    with pytest.raises(InvalidCoordinateError):
        store.bbox(2, 0, 1, 1)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=st.lists(station_records, min_size=1, max_size=10, unique_by=lambda r: r["id"]))
def test_export_import_round_trip_geojson_and_csv(tmp_path_factory, new_store_target, records):
    d = tmp_path_factory.mktemp("rt")
    with StationStore(new_store_target()) as a:
        a.import_rows(records)
        expected = a.all()
        gj = a.export_geojson()
        (d / "out.geojson").write_text(json.dumps(gj, ensure_ascii=False), encoding="utf-8")
        a.export_csv(d / "out.csv")
    with StationStore(new_store_target()) as b:
        b.import_geojson(d / "out.geojson")
        assert b.all() == expected
    with StationStore(new_store_target()) as c:
        c.import_csv(d / "out.csv")
        assert c.all() == expected


def test_single_edits_are_audited(store):
    s = store.add(rec(1), actor="planner:li").station
    assert store.get("st-001") == s
    with pytest.raises(StationExistsError, match="exists"):
        store.add(rec(1), actor="planner:li")
    moved = store.update(rec(1, lon=112.2), actor="planner:wang").station
    assert [x.id for x in store.bbox(112.1, 43, 112.3, 44)] == ["st-001"]
    with pytest.raises(StationNotFoundError):
        store.update(rec(2), actor="planner:wang")
    store.delete("st-001", actor="planner:li")
    with pytest.raises(StationNotFoundError):
        store.delete("st-001", actor="planner:li")
    assert store.bbox(100, 30, 130, 60) == []
    log = store.audit_entries("st-001")
    assert [e["action"] for e in log] == ["add", "update", "delete"]
    assert [e["actor"] for e in log] == ["planner:li", "planner:wang", "planner:li"]
    assert log[0]["before"] is None
    assert log[0]["after"]["lon"] == s.lon
    assert log[1]["before"]["lon"] == s.lon
    assert log[1]["after"]["lon"] == moved.lon
    assert log[2]["after"] is None


def test_reopen_keeps_data_and_index(store_target):
    with StationStore(store_target) as s:
        s.import_rows([rec(1), rec(2)])
    with StationStore(store_target) as s:
        assert s.count() == 2
        assert [x.id for x in s.bbox(111.9, 43.6, 111.9015, 43.6015)] == ["st-001"]
