"""Prepared structures stored in an artifact: nearest-station indexes and circles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import shapely
from circles_reference import snap_on
from gridfactory import make_grid

from locator.analysis.isochrones import IsochroneEngine
from locator.analysis.routing import RoutingEngine
from locator.artifact.prepared import (
    compute_circles,
    compute_indexes,
    load_circles,
    load_indexes,
    read_fingerprint,
    save_circles,
    save_indexes,
)
from locator.errors import ArtifactError
from locator.network.core import Network
from locator.stations import Catalogue, LocalizedName, Station, StationKind


def _station(sid: str, kind: StationKind, lon: float, lat: float) -> Station:
    return Station(
        id=sid,
        kind=kind,
        name=LocalizedName(en=sid),
        lon=lon,
        lat=lat,
        source="test",
        location_accuracy_m=10.0,
    )


@pytest.fixture
def world() -> tuple[RoutingEngine, list[Station]]:
    graph = make_grid(4, 4, spacing_m=500.0)
    routing = RoutingEngine(Network(graph))
    lon, lat = graph.node_lon, graph.node_lat
    stations = [
        _station("b-driver", StationKind.driver_station, float(lon[5]), float(lat[5])),
        _station("a-driver", StationKind.driver_station, float(lon[10]), float(lat[10])),
        _station("home", StationKind.worker_home, float(lon[0]), float(lat[0])),
        # far from every road: no snap, so no place in the indexes (but an id)
        _station("off", StationKind.worker_home, float(lon[0]) + 0.5, float(lat[0])),
    ]
    return routing, stations


def test_one_index_per_mode_and_kind_by_id(world) -> None:
    routing, stations = world
    indexes = compute_indexes(routing, stations, max_snap_m=200.0)
    assert set(indexes) == {(m, k.value) for m in routing.net.modes for k in StationKind}
    drivers = indexes[("car", "driver_station")]
    assert drivers.ids == ("a-driver", "b-driver")  # sorted by id
    homes = indexes[("car", "worker_home")]
    assert homes.ids == ("home", "off")
    assert homes.targets.snaps[1] is None  # no road within the radius
    assert indexes[("car", "outdoor_worker_post")].ids == ()


def test_indexes_round_trip_and_answer_the_same(world, tmp_path: Path) -> None:
    routing, stations = world
    indexes = compute_indexes(routing, stations, max_snap_m=200.0)
    fingerprint = Catalogue(stations).fingerprint
    path = tmp_path / "forests.npz"
    save_indexes(path, indexes, fingerprint)
    assert read_fingerprint(path) == fingerprint
    stored, loaded = load_indexes(path, routing)
    assert stored == fingerprint
    assert set(loaded) == set(indexes)
    graph = routing.graph
    for key, index in indexes.items():
        assert loaded[key].ids == index.ids
        for node in range(graph.n_nodes):
            p = snap_on(graph, int(np.nonzero(graph.edge_u == node)[0][0]), 0.25)
            mode = key[0]
            if mode not in routing.net.modes:
                continue
            assert loaded[key].nearest(p, k=2) == index.nearest(p, k=2)


def test_broken_files_are_artifact_errors(world, tmp_path: Path) -> None:
    routing, stations = world
    bad = tmp_path / "forests.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ArtifactError, match=r"forests\.npz"):
        read_fingerprint(bad)
    with pytest.raises(ArtifactError, match=r"forests\.npz"):
        load_indexes(bad, routing)
    # a forest of another format version asks for a rebuild
    indexes = compute_indexes(routing, stations, max_snap_m=200.0)
    arrays = {}
    for (mode, kind), index in indexes.items():
        for name, arr in index.to_arrays().items():
            arrays[f"{mode}|{kind}|{name}"] = arr
    arrays["car|worker_home|format_version"] = np.array(1)
    old = tmp_path / "old.npz"
    np.savez(old, fingerprint=np.array("x"), **arrays)
    with pytest.raises(ArtifactError, match="rebuild"):
        load_indexes(old, routing)
    circles = tmp_path / "circles_car.npz"
    circles.write_bytes(b"")
    with pytest.raises(ArtifactError, match=r"circles_car\.npz"):
        load_circles(circles)


def test_circles_round_trip_bit_for_bit(world, tmp_path: Path) -> None:
    routing, stations = world
    engine = IsochroneEngine(routing.net)
    circles = compute_circles(
        engine, stations, mode="car", max_snap_m=200.0, buffer_m=50.0, minutes=(1.0, 2.0)
    )
    assert set(circles) == {"a-driver", "b-driver", "home"}  # "off" has no road
    path = tmp_path / "circles_car.npz"
    save_circles(path, circles)
    loaded = load_circles(path)
    assert set(loaded) == set(circles)
    for sid, contours in circles.items():
        assert [c.minutes for c in loaded[sid]] == [1.0, 2.0]
        for a, b in zip(contours, loaded[sid], strict=True):
            assert shapely.equals_exact(a.polygon, b.polygon, tolerance=0.0)
            assert (a.area_km2, a.reached_length_m) == (b.area_km2, b.reached_length_m)
