"""Nearest-station forests and k-nearest search against a NetworkX reference."""

from __future__ import annotations

import io

import numpy as np
import pytest
from gridfactory import make_grid
from hypothesis import given, settings
from hypothesis import strategies as st
from nx_reference import (
    bend_edges,
    check_route_shape,
    close,
    random_grid,
    random_lonlat,
    reference_graph,
    times_from,
)

from locator.errors import NoRouteError, StationNotFoundError
from locator.graph import RoadGraph
from locator.nearest import NearestForest, NearestResult, StationTargets, StationTimes, nearest_k
from locator.projection import Projector
from locator.routing import RoutingEngine
from locator.search import Snap
from locator.snapping import SnapIndex


def _setup(g: RoadGraph) -> tuple[SnapIndex, RoutingEngine]:
    idx = SnapIndex(g)
    return idx, RoutingEngine(g, twins=idx.twins, geometry=idx.geometry)


def _snap_xy(idx: SnapIndex, g: RoadGraph, dx: float, dy: float, mode: str = "car") -> Snap:
    lon, lat = Projector(g.crs).inverse(g.node_x[0] + dx, g.node_y[0] + dy)
    return idx.snap(float(lon), float(lat), max_snap_m=1.0, mode=mode)


def _reference_times(
    g: RoadGraph, mode: str, points: list[Snap], stations: list[Snap | None]
) -> np.ndarray:
    """times[i, s]: reference travel time from point i to station s (inf if unreachable)."""
    live = [s for s in stations if s is not None]
    ref = reference_graph(g, mode, [*points, *live])
    out = np.full((len(points), len(stations)), np.inf)
    col = [j for j, s in enumerate(stations) if s is not None]
    for i in range(len(points)):
        t = times_from(ref, i)
        for k, j in enumerate(col):
            out[i, j] = t.get(("p", len(points) + k), np.inf)
    return out


def _check_forest(
    g: RoadGraph, mode: str, forest: NearestForest, points: list[Snap], ref: np.ndarray
) -> None:
    for i, p in enumerate(points):
        best = float(ref[i].min())
        if not np.isfinite(best):
            with pytest.raises(NoRouteError):
                forest.query(p)
            continue
        res = forest.query(p)
        assert close(res.duration_s, best), (i, res.duration_s, best)
        # never beaten by another station
        assert close(float(ref[i, res.station]), best)
        station = forest.targets.snaps[res.station]
        assert station is not None
        check_route_shape(g, mode, res.route, p, station)


def test_hand_checked_forest() -> None:
    g = make_grid(3, 3, spacing_m=1000.0)  # car: 50 s per edge
    idx, eng = _setup(g)
    stations = [_snap_xy(idx, g, 2000.0, 2000.0), _snap_xy(idx, g, 500.0, 0.0)]
    forest = NearestForest.compute(eng, "car", stations)
    res = forest.query(_snap_xy(idx, g, 0.0, 0.0))
    assert res.station == 1
    assert res.duration_s == pytest.approx(25.0, rel=1e-6)
    res = forest.query(_snap_xy(idx, g, 2000.0, 1500.0))
    assert res.station == 0
    assert res.duration_s == pytest.approx(25.0, rel=1e-6)
    # on the station's own edge, ahead of the point
    res = forest.query(_snap_xy(idx, g, 300.0, 0.0))
    assert res.station == 1
    assert res.duration_s == pytest.approx(10.0, rel=1e-6)
    assert len(res.route.edges) == 1


def test_station_behind_on_oneway_edge() -> None:
    g = make_grid(2, 2, spacing_m=1000.0, oneway=[((0, 0), (0, 1))], walk=False)
    idx, eng = _setup(g)
    station = _snap_xy(idx, g, 200.0, 0.0)
    forest = NearestForest.compute(eng, "car", [station])
    res = forest.query(_snap_xy(idx, g, 800.0, 0.0))
    # 200 m on to node 1, round the square 1-3-2-0 (3000 m), 200 m to the station
    assert res.duration_s == pytest.approx(3400.0 / 20.0, rel=1e-6)
    assert forest.query(_snap_xy(idx, g, 100.0, 0.0)).duration_s == pytest.approx(5.0)


def test_no_station_reachable() -> None:
    g = make_grid(2, 2, missing=[((0, 0), (1, 0)), ((0, 1), (1, 1))])
    idx, eng = _setup(g)
    forest = NearestForest.compute(eng, "car", [_snap_xy(idx, g, 500.0, 1000.0)])
    with pytest.raises(NoRouteError):
        forest.query(_snap_xy(idx, g, 500.0, 0.0))
    targets = StationTargets(eng, "car", forest.station_snaps)
    assert nearest_k(eng, targets, _snap_xy(idx, g, 500.0, 0.0), k=3) == []


def test_edits_and_storage_round_trip() -> None:
    g = make_grid(4, 4, spacing_m=500.0)
    idx, eng = _setup(g)
    a, b = _snap_xy(idx, g, 0.0, 0.0), _snap_xy(idx, g, 1500.0, 1500.0)
    forest = NearestForest.compute(eng, "car", [a])
    p = _snap_xy(idx, g, 1250.0, 1500.0)  # 250 m from b
    assert forest.query(p).station == 0
    i = forest.add_station(b)
    assert i == 1
    assert forest.query(p).station == 1
    assert forest.query(p).duration_s == pytest.approx(250.0 / 20.0)
    forest.move_station(1, _snap_xy(idx, g, 1500.0, 0.0))
    assert forest.query(p).duration_s == pytest.approx(1750.0 / 20.0)
    forest.remove_station(1)
    assert forest.query(p).station == 0
    with pytest.raises(StationNotFoundError):
        forest.remove_station(1)
    with pytest.raises(StationNotFoundError):
        forest.move_station(7, a)
    # to_arrays -> npz (no pickle) -> from_arrays answers the same
    buf = io.BytesIO()
    np.savez(buf, **forest.to_arrays())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as data:
        loaded = NearestForest.from_arrays(eng, {k: data[k] for k in data.files})
    q = _snap_xy(idx, g, 700.0, 1000.0)
    r1, r2 = forest.query(q), loaded.query(q)
    assert (r1.station, r1.duration_s, r1.route) == (r2.station, r2.duration_s, r2.route)
    assert loaded.station_snaps == forest.station_snaps


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(2, 5),
    cols=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    n_stations=st.integers(1, 6),
    mode=st.sampled_from(["car", "walk"]),
    bent=st.booleans(),
)
def test_forest_and_edits_match_networkx(
    *, rows: int, cols: int, seed: int, n_stations: int, mode: str, bent: bool
) -> None:
    g = random_grid(rows, cols, seed, spacing_m=600.0)
    if bent:
        g = bend_edges(g)
    rng = np.random.default_rng(seed)
    idx, eng = _setup(g)
    lon, lat = random_lonlat(g, rng, n_stations + 8, pad_m=50.0)
    snaps = idx.snap_many(lon, lat, max_snap_m=5000.0, mode=mode)
    stations: list[Snap | None] = list(snaps[:n_stations])
    points = snaps[n_stations:]
    # a point on a station's edge exercises the same-edge case
    points.append(snaps[0])
    forest = NearestForest.compute(eng, mode, stations)
    _check_forest(g, mode, forest, points, _reference_times(g, mode, points, stations))
    # edits: add one, move one, remove one; each time the next query sees the change
    extra = idx.snap_many(*random_lonlat(g, rng, 2, pad_m=0.0), max_snap_m=5000.0, mode=mode)
    stations.append(extra[0])
    assert forest.add_station(extra[0]) == len(stations) - 1
    _check_forest(g, mode, forest, points, _reference_times(g, mode, points, stations))
    stations[0] = extra[1]
    forest.move_station(0, extra[1])
    _check_forest(g, mode, forest, points, _reference_times(g, mode, points, stations))
    stations[-1] = None
    forest.remove_station(len(stations) - 1)
    _check_forest(g, mode, forest, points, _reference_times(g, mode, points, stations))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(2, 5),
    cols=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    n_stations=st.integers(1, 8),
    k=st.integers(1, 4),
    mode=st.sampled_from(["car", "truck", "walk"]),
    budget=st.sampled_from([np.inf, 60.0, 200.0]),
    # 3 km edges make walks of hours: the iterative deepening of nearest_k's search
    # (first bound 30 min, widened x4) is exercised several rounds deep
    spacing_m=st.sampled_from([600.0, 3000.0]),
)
def test_nearest_k_matches_networkx(
    *,
    rows: int,
    cols: int,
    seed: int,
    n_stations: int,
    k: int,
    mode: str,
    budget: float,
    spacing_m: float,
) -> None:
    g = random_grid(rows, cols, seed, spacing_m=spacing_m)
    rng = np.random.default_rng(seed)
    idx, eng = _setup(g)
    lon, lat = random_lonlat(g, rng, n_stations + 5, pad_m=50.0)
    snaps = idx.snap_many(lon, lat, max_snap_m=5000.0, mode=mode)
    stations = list(snaps[:n_stations])
    points = [*snaps[n_stations:], snaps[0]]
    max_time_s = budget if mode != "walk" else budget * 20
    mask = rng.random(n_stations) < 0.7
    targets = StationTargets(eng, mode, stations)
    ref = _reference_times(g, mode, points, list(stations))
    for i, p in enumerate(points):
        got = nearest_k(eng, targets, p, k=k, mask=mask, max_time_s=max_time_s)
        allowed = np.where(mask & (ref[i] <= max_time_s), ref[i], np.inf)
        expected = np.sort(allowed[np.isfinite(allowed)])[:k]
        assert len(got) == len(expected)
        for res, t in zip(got, expected, strict=True):
            assert mask[res.station]
            assert close(res.duration_s, float(t))
            assert close(float(ref[i, res.station]), float(t))
            check_route_shape(g, mode, res.route, p, stations[res.station])
        assert len({r.station for r in got}) == len(got)


def test_regional_forest_matches_networkx() -> None:
    import networkx as nx

    from geodata.regional import load_regional_graph

    g = load_regional_graph()
    idx, eng = _setup(g)
    rng = np.random.default_rng(2024)
    nodes = rng.choice(g.n_nodes, 40, replace=False)
    stations = idx.snap_many(g.node_lon[nodes], g.node_lat[nodes], max_snap_m=50.0, mode="truck")
    e = rng.integers(0, g.n_edges, 20)
    f = rng.uniform(0.0, 1.0, 20)
    lon = g.node_lon[g.edge_u[e]] * (1 - f) + g.node_lon[g.edge_v[e]] * f + rng.normal(0, 0.002, 20)
    lat = g.node_lat[g.edge_u[e]] * (1 - f) + g.node_lat[g.edge_v[e]] * f + rng.normal(0, 0.002, 20)
    points = idx.snap_many(lon, lat, max_snap_m=20_000.0, mode="truck")
    forest = NearestForest.compute(eng, "truck", stations)
    # reference: one Dijkstra on the reversed NetworkX graph from a sink behind all stations
    ref = reference_graph(g, "truck", [*points, *stations]).reverse(copy=True)
    sink = "stations"
    ref.add_node(sink)
    for j in range(len(stations)):
        ref.add_edge(sink, ("p", len(points) + j), weight=0.0)
    to_station = nx.single_source_dijkstra_path_length(ref, sink, weight="weight")
    reachable = 0
    for i, p in enumerate(points):
        expected = to_station.get(("p", i))
        if expected is None:
            with pytest.raises(NoRouteError):
                forest.query(p)
            continue
        reachable += 1
        res = forest.query(p)
        assert close(res.duration_s, expected), (i, res.duration_s, expected)
        station = stations[res.station]
        check_route_shape(g, "truck", res.route, p, station, check_length=False)
    assert reachable >= 10


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
    p_root=st.floats(0.0, 0.5),
)
def test_heavy_path_walk_matches_pointer_walk(n: int, seed: int, p_root: float) -> None:
    """The heavy-path walk gives the same node sequence as following the pointers."""
    from locator.nearest import _heavy_paths

    rng = np.random.default_rng(seed)
    # a random forest: each node points to a random earlier node (or is a root),
    # then node ids are shuffled so parents are not always smaller
    parent = np.array(
        [-1 if i == 0 or rng.random() < p_root else rng.integers(0, i) for i in range(n)]
    )
    perm = rng.permutation(n)
    nxt = np.full(n, -1, dtype=np.int64)
    nxt[perm] = np.where(parent >= 0, perm[np.maximum(parent, 0)], -1)
    order, pos, head_pos = _heavy_paths(nxt)
    assert sorted(order.tolist()) == list(range(n))
    assert (order[pos] == np.arange(n)).all()
    max_pieces = int(np.log2(n)) + 1
    for start in range(n):
        expected = [start]
        while nxt[expected[-1]] >= 0:
            expected.append(int(nxt[expected[-1]]))
        got: list[int] = []
        node, pieces = start, 0
        while node >= 0:
            top, end = int(head_pos[node]), int(pos[node])
            assert top <= end
            got.extend(order[top : end + 1][::-1].tolist())
            pieces += 1
            node = int(nxt[order[top]])
        assert got == expected
        assert pieces <= max_pieces


def _same_answers(
    g: RoadGraph,
    mode: str,
    got: list[NearestResult],
    expected: list[NearestResult],
    point: Snap,
    stations: list[Snap | None],
) -> None:
    """Matrix answers equal search answers (stations may differ only on exact ties)."""
    assert len(got) == len(expected)
    for a, b in zip(got, expected, strict=True):
        assert close(a.duration_s, b.duration_s), (a.duration_s, b.duration_s)
        station = stations[a.station]
        assert station is not None
        check_route_shape(g, mode, a.route, point, station)
    assert len({r.station for r in got}) == len(got)


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(2, 5),
    cols=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    n_stations=st.integers(1, 7),
    k=st.integers(1, 4),
    mode=st.sampled_from(["car", "truck", "walk"]),
    budget=st.sampled_from([np.inf, 60.0, 200.0]),
    bent=st.booleans(),
)
def test_station_times_match_search_and_networkx(
    *,
    rows: int,
    cols: int,
    seed: int,
    n_stations: int,
    k: int,
    mode: str,
    budget: float,
    bent: bool,
) -> None:
    """Search-free k-nearest (StationTimes) equals the bounded search and NetworkX,
    with masks and budgets, before and after station edits."""
    g = random_grid(rows, cols, seed, spacing_m=600.0)
    if bent:
        g = bend_edges(g)
    rng = np.random.default_rng(seed)
    idx, eng = _setup(g)
    lon, lat = random_lonlat(g, rng, n_stations + 7, pad_m=50.0)
    snaps = idx.snap_many(lon, lat, max_snap_m=5000.0, mode=mode)
    stations: list[Snap | None] = list(snaps[:n_stations])
    extra = snaps[n_stations : n_stations + 2]
    points = [*snaps[n_stations + 2 :], snaps[0]]
    max_time_s = budget if mode != "walk" else budget * 20
    forest = NearestForest.compute(eng, mode, stations)
    searching = NearestForest.compute(eng, mode, stations, station_times=False)
    assert forest.station_times is not None
    assert searching.station_times is None

    def check() -> None:
        n = len(stations)
        mask = rng.random(n) < 0.7
        ref = _reference_times(g, mode, points, stations)
        for i, p in enumerate(points):
            got = forest.nearest_k(p, k=k, mask=mask, max_time_s=max_time_s)
            via_search = nearest_k(eng, forest.targets, p, k=k, mask=mask, max_time_s=max_time_s)
            assert searching.nearest_k(p, k=k, mask=mask, max_time_s=max_time_s) == via_search
            _same_answers(g, mode, got, via_search, p, stations)
            allowed = np.where(mask & (ref[i] <= max_time_s), ref[i], np.inf)
            expected = np.sort(allowed[np.isfinite(allowed)])[:k]
            assert len(got) == len(expected)
            for res, t in zip(got, expected, strict=True):
                assert mask[res.station]
                assert close(res.duration_s, float(t))
                assert close(float(ref[i, res.station]), float(t))

    check()
    stations.append(extra[0])
    assert forest.add_station(extra[0]) == searching.add_station(extra[0]) == n_stations
    check()
    stations[0] = extra[1]
    forest.move_station(0, extra[1])
    searching.move_station(0, extra[1])
    check()
    stations[-1] = None
    forest.remove_station(n_stations)
    searching.remove_station(n_stations)
    check()
    # the updated columns equal a fresh computation
    fresh = NearestForest.compute(eng, mode, stations).station_times
    kept = forest.station_times
    assert fresh is not None and kept is not None
    np.testing.assert_allclose(kept.time_s, fresh.time_s, rtol=1e-12)


def test_station_times_memory_budget() -> None:
    g = make_grid(4, 4, spacing_m=500.0)
    idx, eng = _setup(g)
    stations = [_snap_xy(idx, g, 0.0, 0.0), _snap_xy(idx, g, 1500.0, 1500.0)]
    need = g.n_nodes * 2 * StationTimes.BYTES_PER_ENTRY
    small = NearestForest.compute(eng, "car", stations, max_station_times_bytes=need - 1)
    assert small.station_times is None
    big = NearestForest.compute(eng, "car", stations, max_station_times_bytes=need)
    assert big.station_times is not None
    assert big.station_times.nbytes == need
    p = _snap_xy(idx, g, 1250.0, 1500.0)
    assert small.nearest_k(p, k=2) == big.nearest_k(p, k=2)
    # adding a third station exceeds the budget: the forest falls back to the search
    big.add_station(_snap_xy(idx, g, 500.0, 500.0))
    assert big.station_times is None
    assert [r.station for r in big.nearest_k(p, k=3)] == [1, 2, 0]
    with pytest.raises(ValueError, match="k must be"):
        small.nearest_k(p, k=0)
    with pytest.raises(ValueError, match="one entry per station"):
        NearestForest.compute(eng, "car", stations).nearest_k(p, mask=np.ones(3, dtype=bool))
