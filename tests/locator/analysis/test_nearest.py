"""Nearest stations: the forest, the tables and the bounded search against NetworkX and
against each other (one query, one answer, whichever path serves it)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from gridfactory import make_grid, random_grid
from hypothesis import given, settings
from hypothesis import strategies as st
from nx_reference import (
    bend_edges,
    check_route_shape,
    close,
    random_lonlat,
    reference_graph,
    times_from,
)

from locator.analysis.nearest import NearestResult, StationIndex, StationTargets
from locator.analysis.nearest.bounded import bounded_search
from locator.analysis.nearest.forest import NearestForest, walk_to_root
from locator.analysis.nearest.tables import StationTimes
from locator.analysis.routing import RoutingEngine
from locator.errors import StationNotFoundError
from locator.network.core import Network
from locator.network.graph import RoadGraph
from locator.network.projection import Projector
from locator.network.snapping import Snap, SnapIndex


def _setup(g: RoadGraph) -> tuple[SnapIndex, RoutingEngine]:
    net = Network(g)
    return net.snapper, RoutingEngine(net)


def _forest(eng: RoutingEngine, mode: str, stations: list[Snap | None]) -> NearestForest:
    return NearestForest.compute(StationTargets(eng, mode, stations))


def _index(
    eng: RoutingEngine, mode: str, stations: list[Snap | None], **kw: object
) -> StationIndex:
    ids = [f"s{i}" if s is not None else None for i, s in enumerate(stations)]
    return StationIndex.compute(eng, mode, ids, stations, **kw)  # type: ignore[arg-type]


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
            assert forest.from_forest(p) is None
            continue
        res = forest.from_forest(p)
        assert res is not None
        assert close(res.duration_s, best), (i, res.duration_s, best)
        # never beaten by another station
        assert close(float(ref[i, res.station]), best)
        station = forest.targets.snaps[res.station]
        assert station is not None
        check_route_shape(g, mode, res.route, p, station)


def _hit(forest: NearestForest, p: Snap) -> NearestResult:
    res = forest.from_forest(p)
    assert res is not None
    return res


def test_hand_checked_forest() -> None:
    g = make_grid(3, 3, spacing_m=1000.0)  # car: 50 s per edge
    idx, eng = _setup(g)
    stations: list[Snap | None] = [_snap_xy(idx, g, 2000.0, 2000.0), _snap_xy(idx, g, 500.0, 0.0)]
    forest = _forest(eng, "car", stations)
    res = _hit(forest, _snap_xy(idx, g, 0.0, 0.0))
    assert res.station == 1
    assert res.duration_s == pytest.approx(25.0, rel=1e-6)
    res = _hit(forest, _snap_xy(idx, g, 2000.0, 1500.0))
    assert res.station == 0
    assert res.duration_s == pytest.approx(25.0, rel=1e-6)
    # on the station's own edge, ahead of the point
    res = _hit(forest, _snap_xy(idx, g, 300.0, 0.0))
    assert res.station == 1
    assert res.duration_s == pytest.approx(10.0, rel=1e-6)
    assert len(res.route.edges) == 1
    # a bound below the answer: nothing within it
    assert forest.from_forest(_snap_xy(idx, g, 300.0, 0.0), bound_s=9.0) is None
    assert forest.from_forest(_snap_xy(idx, g, 0.0, 0.0), bound_s=24.0) is None
    assert _hit(forest, _snap_xy(idx, g, 0.0, 0.0)).duration_s <= 25.0 + 1e-9


def test_station_behind_on_oneway_edge() -> None:
    g = make_grid(2, 2, spacing_m=1000.0, oneway=[((0, 0), (0, 1))], walk=False)
    idx, eng = _setup(g)
    station = _snap_xy(idx, g, 200.0, 0.0)
    forest = _forest(eng, "car", [station])
    res = _hit(forest, _snap_xy(idx, g, 800.0, 0.0))
    # 200 m on to node 1, round the square 1-3-2-0 (3000 m), 200 m to the station
    assert res.duration_s == pytest.approx(3400.0 / 20.0, rel=1e-6)
    assert _hit(forest, _snap_xy(idx, g, 100.0, 0.0)).duration_s == pytest.approx(5.0)


def test_no_station_reachable() -> None:
    g = make_grid(2, 2, missing=[((0, 0), (1, 0)), ((0, 1), (1, 1))])
    idx, eng = _setup(g)
    forest = _forest(eng, "car", [_snap_xy(idx, g, 500.0, 1000.0)])
    assert forest.from_forest(_snap_xy(idx, g, 500.0, 0.0)) is None
    assert bounded_search(forest.targets, _snap_xy(idx, g, 500.0, 0.0), k=3) == []


def test_edits_and_storage_round_trip() -> None:
    g = make_grid(4, 4, spacing_m=500.0)
    idx, eng = _setup(g)
    a, b = _snap_xy(idx, g, 0.0, 0.0), _snap_xy(idx, g, 1500.0, 1500.0)
    index = StationIndex.compute(eng, "car", ["a"], [a])
    p = _snap_xy(idx, g, 1250.0, 1500.0)  # 250 m from b

    def nearest_id(ix: StationIndex) -> tuple[str | None, float]:
        (res,) = ix.nearest(p)
        return ix.ids[res.station], res.duration_s

    assert nearest_id(index)[0] == "a"
    added = index.with_station("b", b)
    assert added.ids == ("a", "b")
    assert nearest_id(added) == ("b", pytest.approx(250.0 / 20.0))
    assert nearest_id(index)[0] == "a"  # the old version is unchanged
    moved = added.with_station("b", _snap_xy(idx, g, 1500.0, 0.0))
    assert moved.ids == ("a", "b")  # a move keeps the station's index
    assert nearest_id(moved)[1] == pytest.approx(1750.0 / 20.0)
    removed = moved.without("b")
    assert removed.ids == ("a", None)
    assert nearest_id(removed)[0] == "a"
    with pytest.raises(StationNotFoundError):
        removed.without("b")
    # to_arrays -> npz (no pickle) -> from_arrays answers the same
    buf = io.BytesIO()
    np.savez(buf, **moved.to_arrays())
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as data:
        loaded = StationIndex.from_arrays(eng, {k: data[k] for k in data.files})
    q = _snap_xy(idx, g, 700.0, 1000.0)
    r1, r2 = moved.nearest(q), loaded.nearest(q)
    assert [(r.station, r.duration_s, r.route) for r in r1] == [
        (r.station, r.duration_s, r.route) for r in r2
    ]
    assert loaded.targets.snaps == moved.targets.snaps
    assert loaded.ids == moved.ids


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
    index = _index(eng, mode, stations)
    _check_forest(g, mode, index.forest, points, _reference_times(g, mode, points, stations))
    # edits: add one, move one, remove one; each time the new version sees the change
    extra = idx.snap_many(*random_lonlat(g, rng, 2, pad_m=0.0), max_snap_m=5000.0, mode=mode)
    stations.append(extra[0])
    index = index.with_station("new", extra[0])
    assert index.ids.index("new") == len(stations) - 1
    _check_forest(g, mode, index.forest, points, _reference_times(g, mode, points, stations))
    stations[0] = extra[1]
    index = index.with_station("s0", extra[1])
    _check_forest(g, mode, index.forest, points, _reference_times(g, mode, points, stations))
    stations[-1] = None
    index = index.without("new")
    _check_forest(g, mode, index.forest, points, _reference_times(g, mode, points, stations))


@settings(max_examples=60, deadline=None)
@given(
    rows=st.integers(2, 5),
    cols=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    n_stations=st.integers(1, 8),
    k=st.integers(1, 4),
    mode=st.sampled_from(["car", "truck", "walk"]),
    budget=st.sampled_from([np.inf, 60.0, 200.0]),
    # 3 km edges make walks of hours: the iterative deepening of the bounded search
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
        got = bounded_search(targets, p, k=k, mask=mask, bound_s=max_time_s)
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

    g = load_regional_graph()  # densified, as in every artifact
    idx, eng = _setup(g)
    rng = np.random.default_rng(2024)
    nodes = rng.choice(g.n_nodes, 40, replace=False)
    stations = idx.snap_many(g.node_lon[nodes], g.node_lat[nodes], max_snap_m=50.0, mode="truck")
    e = rng.integers(0, g.n_edges, 20)
    f = rng.uniform(0.0, 1.0, 20)
    lon = g.node_lon[g.edge_u[e]] * (1 - f) + g.node_lon[g.edge_v[e]] * f + rng.normal(0, 0.002, 20)
    lat = g.node_lat[g.edge_u[e]] * (1 - f) + g.node_lat[g.edge_v[e]] * f + rng.normal(0, 0.002, 20)
    points = idx.snap_many(lon, lat, max_snap_m=20_000.0, mode="truck")
    forest = _forest(eng, "truck", list(stations))
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
            assert forest.from_forest(p) is None
            continue
        reachable += 1
        res = _hit(forest, p)
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
def test_walk_to_root_matches_pointer_walk(n: int, seed: int, p_root: float) -> None:
    """The compiled walk gives the edges, vertex runs, sums and root of following the
    pointers one by one in Python; a cycle gives root -1 instead of looping."""
    rng = np.random.default_rng(seed)
    # a random forest: each node points to a random earlier node (or is a root),
    # then node ids are shuffled so parents are not always smaller
    parent = np.array(
        [-1 if i == 0 or rng.random() < p_root else rng.integers(0, i) for i in range(n)]
    )
    perm = rng.permutation(n)
    nxt = np.full(n, -1, dtype=np.int64)
    nxt[perm] = np.where(parent >= 0, perm[np.maximum(parent, 0)], -1)
    n_edges = n + 3
    next_edge = rng.permutation(n_edges)[:n].astype(np.int64)
    run_len = rng.integers(0, 4, n_edges).astype(np.int64)
    run_start = (np.cumsum(run_len) - run_len).astype(np.int64)
    run_vertices = rng.permutation(int(run_len.sum()) + 5)[: int(run_len.sum())].astype(np.int64)
    length_m = rng.uniform(0, 100, n_edges)
    time_s = rng.uniform(0, 10, n_edges)
    for start in range(n):
        edges, vertices, total_m, total_s, root = walk_to_root(
            start, nxt, next_edge, run_start, run_len, run_vertices, length_m, time_s
        )
        exp_edges: list[int] = []
        u = start
        while nxt[u] >= 0:
            exp_edges.append(int(next_edge[u]))
            u = int(nxt[u])
        assert root == u
        assert edges.tolist() == exp_edges
        exp_vertices = [
            int(v)
            for e in exp_edges
            for v in run_vertices[run_start[e] : run_start[e] + run_len[e]]
        ]
        assert vertices.tolist() == exp_vertices
        assert total_m == pytest.approx(sum(length_m[e] for e in exp_edges), rel=1e-12, abs=1e-12)
        assert total_s == pytest.approx(sum(time_s[e] for e in exp_edges), rel=1e-12, abs=1e-12)
    if n >= 2:
        cyc = nxt.copy()
        cyc[0], cyc[1] = 1, 0
        assert (
            walk_to_root(0, cyc, next_edge, run_start, run_len, run_vertices, length_m, time_s)[4]
            == -1
        )


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
    tables = _index(eng, mode, stations)
    searching = _index(eng, mode, stations, tables=False)
    assert tables.ensure_table() is not None
    assert searching.ensure_table() is None

    def check() -> None:
        n = len(stations)
        mask = rng.random(n) < 0.7
        ref = _reference_times(g, mode, points, stations)
        for i, p in enumerate(points):
            got = tables.nearest(p, k=k, mask=mask, bound_s=max_time_s)
            via_search = bounded_search(tables.targets, p, k=k, mask=mask, bound_s=max_time_s)
            assert searching.nearest(p, k=k, mask=mask, bound_s=max_time_s) == via_search
            _same_answers(g, mode, got, via_search, p, stations)
            # k = 1 over every station: the forest, the table and the search agree
            whole = [
                ix.nearest(p, k=1, mask=m, bound_s=max_time_s)
                for ix in (tables, searching)
                for m in (None, np.ones(n, dtype=bool))
            ]
            assert len({len(w) for w in whole}) == 1
            if whole[0]:
                assert len({round(w[0].duration_s, 6) for w in whole}) == 1
            allowed = np.where(mask & (ref[i] <= max_time_s), ref[i], np.inf)
            expected = np.sort(allowed[np.isfinite(allowed)])[:k]
            assert len(got) == len(expected)
            for res, t in zip(got, expected, strict=True):
                assert mask[res.station]
                assert close(res.duration_s, float(t))
                assert close(float(ref[i, res.station]), float(t))

    check()
    stations.append(extra[0])
    tables = tables.with_station("new", extra[0])
    searching = searching.with_station("new", extra[0])
    assert tables.ids.index("new") == searching.ids.index("new") == n_stations
    check()
    stations[0] = extra[1]
    tables = tables.with_station("s0", extra[1])
    searching = searching.with_station("s0", extra[1])
    check()
    stations[-1] = None
    tables = tables.without("new")
    searching = searching.without("new")
    check()
    # the updated columns equal a fresh computation, and moves did not grow the table
    fresh = _index(eng, mode, stations).ensure_table()
    kept = tables.table
    assert fresh is not None and kept is not None
    assert kept.time_s.shape == fresh.time_s.shape == (g.n_nodes, n_stations + 1)
    np.testing.assert_allclose(kept.time_s, fresh.time_s, rtol=1e-12)


def test_station_times_memory_budget() -> None:
    g = make_grid(4, 4, spacing_m=500.0)
    idx, eng = _setup(g)
    stations: list[Snap | None] = [_snap_xy(idx, g, 0.0, 0.0), _snap_xy(idx, g, 1500.0, 1500.0)]
    need = g.n_nodes * 2 * StationTimes.BYTES_PER_ENTRY
    small = _index(eng, "car", stations, max_table_bytes=need - 1)
    assert small.ensure_table() is None
    big = _index(eng, "car", stations, max_table_bytes=need)
    table = big.ensure_table()
    assert table is not None
    assert table.nbytes == need
    p = _snap_xy(idx, g, 1250.0, 1500.0)
    # the same stations and times; on this grid several paths tie, and the search and
    # the table may each take another of them
    by_search, by_table = small.nearest(p, k=2), big.nearest(p, k=2)
    assert [(r.station, r.duration_s) for r in by_search] == [
        (r.station, r.duration_s) for r in by_table
    ]
    _same_answers(g, "car", by_search, by_table, p, stations)
    # adding a third station exceeds the budget: the new index answers by the search
    bigger = big.with_station("s2", _snap_xy(idx, g, 500.0, 500.0))
    assert bigger.table is None and bigger.ensure_table() is None
    assert [r.station for r in bigger.nearest(p, k=3)] == [1, 2, 0]
    with pytest.raises(ValueError, match="one entry per station"):
        big.nearest(p, k=2, mask=np.ones(3, dtype=bool))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), k=st.integers(1, 4), period=st.integers(2, 5))
def test_accept_on_arrival_equals_filtering_the_full_ranking(
    seed: int, k: int, period: int
) -> None:
    """``accept(i, t)`` (opening hours on arrival) on the table and the bounded search:
    the k first accepted stations of the full ranking, in order, with NetworkX times."""
    g = random_grid(6, 6, seed, spacing_m=600.0)
    rng = np.random.default_rng(seed)
    idx, eng = _setup(g)
    lon, lat = random_lonlat(g, rng, 12, pad_m=50.0)
    snaps = idx.snap_many(lon, lat, max_snap_m=5000.0, mode="car")
    stations: list[Snap | None] = list(snaps[:9])
    points = list(snaps[9:])
    tables = _index(eng, "car", stations)
    searching = _index(eng, "car", stations, tables=False)
    ref = _reference_times(g, "car", points, stations)

    def accept(i: int, t: float) -> bool:  # depends on the station and the arrival time
        return (i + int(t // 7.0)) % period != 0

    for row, p in enumerate(points):
        ranked = sorted((float(t), i) for i, t in enumerate(ref[row].tolist()) if np.isfinite(t))
        expected = [(t, i) for t, i in ranked if accept(i, t)][:k]
        for index in (tables, searching):
            got = index.nearest(p, k=k, accept=accept)
            assert len(got) == len(expected)
            for res, (t, _) in zip(got, expected, strict=True):
                assert close(res.duration_s, t)
                assert accept(res.station, res.duration_s)
