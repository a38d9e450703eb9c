"""The point-to-point kernels (ALT and bidirectional Dijkstra) against the one-to-all
search and NetworkX: random weighted grids with one-way and missing roads, seed sets with
initial costs, unreachable pairs, points on one edge and at nodes, many threads."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest
from gridfactory import random_grid
from nx_reference import check_route_shape, random_lonlat, reference_graph, times_from

from locator.analysis.routing import Route, RoutingEngine
from locator.errors import NoRouteError
from locator.network import p2p
from locator.network.core import Network
from locator.network.graph import RoadGraph
from locator.network.p2p import Landmarks, PointToPoint
from locator.network.search import along_edge, entries, search, search_from, tree_path
from locator.network.snapping import Snap

SEEDS = range(8)


def _weighted(rows: int, cols: int, seed: int) -> RoadGraph:
    """A random grid whose edge times vary 0.3x to 3x (the two directions of a road
    independently), a few of them zero, so ties are rare and one-way rules matter."""
    g = random_grid(rows, cols, seed, spacing_m=700.0)
    rng = np.random.default_rng(seed + 1000)
    for mode, t in g.edge_time_s.items():
        scaled = t * rng.uniform(0.3, 3.0, t.shape[0])
        scaled[rng.random(t.shape[0]) < 0.03] = 0.0
        g.edge_time_s[mode] = scaled
    return g


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(abs(a), abs(b)) + 1e-12


def _old_route(eng: RoutingEngine, mode: str, a: Snap, b: Snap) -> Route | None:
    """The route as the engine found it before issue 13: one one-to-all Dijkstra from the
    start's entries bounded by the direct piece, the same assembler (None: no route)."""
    geo, mg = eng.geometry, eng.net.mode(mode)
    starts = entries(geo, mg, a.edge, a.fraction, "from")
    ends = entries(geo, mg, b.edge, b.fraction, "to")
    direct = along_edge(
        geo, mg, geo.canonical(a.edge, a.fraction), geo.canonical(b.edge, b.fraction)
    )
    best = direct[0] if direct is not None else np.inf
    start_ll, end_ll = (a.snapped_lon, a.snapped_lat), (b.snapped_lon, b.snapped_lat)
    best_end = None
    if starts and ends:
        result = search_from(mg.forward, starts, limit_s=best)
        for o in ends:
            total = float(result.time_s[o.node]) + o.cost_s
            if total < best:
                best, best_end = total, o
    if best_end is None:
        if direct is None:
            return None
        _, edge, d0, d1 = direct
        return eng.assemble(
            mode, [edge], start_fraction=d0, end_fraction=d1, start=start_ll, end=end_ll
        )
    middle, root = tree_path(result, mg.forward, best_end.node)
    first = starts[int(result.trees()[1][root])]
    return eng.assemble(
        mode,
        [first.edge, *middle.tolist(), best_end.edge],
        start_fraction=first.f0,
        end_fraction=best_end.f1,
        start=start_ll,
        end=end_ll,
    )


def _seed_sets(rng: np.random.Generator, n: int) -> tuple[list[tuple[int, float]], ...]:
    def one() -> list[tuple[int, float]]:
        k = int(rng.integers(1, 3))
        return [
            (int(rng.integers(0, n)), float(rng.choice([0.0, rng.uniform(0, 200)])))
            for _ in range(k)
        ]

    return one(), one()


def _check_path(
    g: RoadGraph,
    mg: Any,
    found: p2p.Path,
    sources: list[tuple[int, float]],
    targets: list[tuple[int, float]],
) -> None:
    """The path runs from its source seed's node to its target seed's node over edges of
    the mode, and costs what the search says."""
    node, cost = sources[found.source]
    weight = dict(zip(mg.forward.entry_edge.tolist(), mg.forward.matrix.data.tolist(), strict=True))
    for e in found.edges.tolist():
        assert mg.allowed[e]
        assert int(g.edge_u[e]) == node
        node = int(g.edge_v[e])
        cost += weight[e]
    assert node == targets[found.target][0]
    assert _close(cost + targets[found.target][1], found.cost_s)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("use_landmarks", [True, False])
def test_kernels_match_one_to_all_search(seed: int, use_landmarks: bool) -> None:
    rng = np.random.default_rng(seed)
    g = _weighted(int(rng.integers(2, 8)), int(rng.integers(2, 8)), seed)
    net = Network(g)
    for mode in net.modes:
        mg = net.mode(mode)
        pp = PointToPoint(mg)
        if use_landmarks:
            pp.prepare()
        for _ in range(40):
            sources, targets = _seed_sets(rng, g.n_nodes)
            ref = search(mg.forward, [s for s, _ in sources], [c for _, c in sources])
            expected = min(float(ref.time_s[t]) + c for t, c in targets)
            found = pp.path(sources, targets)
            if not np.isfinite(expected):
                assert found is None
                continue
            assert found is not None
            assert _close(found.cost_s, expected), (found.cost_s, expected)
            _check_path(g, mg, found, sources, targets)
            # only paths cheaper than the bound count
            assert pp.path(sources, targets, bound_s=expected * (1 - 1e-9)) is None
            assert pp.path(sources, targets, bound_s=expected * (1 + 1e-9) + 1e-9) is not None


@pytest.mark.parametrize("seed", SEEDS)
def test_routes_match_networkx_and_the_one_to_all_route(seed: int) -> None:
    rng = np.random.default_rng(seed)
    g = _weighted(int(rng.integers(2, 7)), int(rng.integers(2, 7)), seed)
    net = Network(g)
    eng = RoutingEngine(net)
    if seed % 2:
        eng.warm()  # half the graphs with landmarks, half without
    for mode in net.modes:
        lon, lat = random_lonlat(g, rng, 5, pad_m=100.0)
        snaps = net.snapper.snap_many(lon, lat, max_snap_m=5000.0, mode=mode)
        # points exactly at nodes, and a second point on the first point's edge
        nodes = rng.choice(g.n_nodes, 2, replace=False)
        snaps += net.snapper.snap_many(
            g.node_lon[nodes], g.node_lat[nodes], max_snap_m=5000.0, mode=mode
        )
        s0 = snaps[0]
        f = float(rng.uniform(0.0, 1.0))
        ax, ay = net.geometry.x[g.geom_offsets[s0.edge]], net.geometry.y[g.geom_offsets[s0.edge]]
        bx, by = (
            net.geometry.x[g.geom_offsets[s0.edge] + 1],
            net.geometry.y[g.geom_offsets[s0.edge] + 1],
        )
        plon, plat = net.projector.inverse(ax * (1 - f) + bx * f, ay * (1 - f) + by * f)
        snaps.append(net.snapper.snap(float(plon), float(plat), max_snap_m=5000.0, mode=mode))
        ref = reference_graph(g, mode, snaps)
        for i, a in enumerate(snaps):
            ref_t = times_from(ref, i)
            for j, b in enumerate(snaps):
                old = _old_route(eng, mode, a, b)
                expected = ref_t.get(("p", j))
                if expected is None:
                    assert old is None
                    with pytest.raises(NoRouteError):
                        eng.route(mode, a, b)
                    continue
                r = eng.route(mode, a, b)
                assert old is not None
                assert _close(r.duration_s, old.duration_s), (i, j, r.duration_s, old.duration_s)
                assert abs(r.duration_s - expected) <= 1e-6 * max(expected, 1.0), (i, j)
                check_route_shape(g, mode, r, a, b)


def test_landmark_bounds_never_exceed_the_travel_time() -> None:
    g = _weighted(6, 6, 3)
    net = Network(g)
    mg = net.mode("car")
    lm = Landmarks.compute(mg)
    assert 0 < lm.nodes.shape[0] <= p2p.LANDMARKS
    times = np.vstack([search(mg.forward, [v], [0.0]).time_s for v in range(g.n_nodes)])
    for k, node in enumerate(lm.nodes.tolist()):
        np.testing.assert_allclose(lm.from_s[:, k], times[node], rtol=1e-6)
        np.testing.assert_allclose(lm.to_s[:, k], times[:, node], rtol=1e-6)
    # the bound the kernel uses, from every node to every target node
    for t in range(g.n_nodes):
        t_from = lm.from_s[[t]].astype(np.float64)
        t_to = lm.to_s[[t]].astype(np.float64)
        for v in range(g.n_nodes):
            h = p2p._bound(lm.from_s, lm.to_s, v, t_from, t_to, np.zeros(1), lm.slack_s)
            assert h <= times[v, t]


def test_full_heap_falls_back_to_the_bidirectional_search(monkeypatch: pytest.MonkeyPatch) -> None:
    g = _weighted(5, 5, 4)
    mg = Network(g).mode("car")
    pp = PointToPoint(mg)
    pp.prepare()
    assert pp.landmarks is not None
    work = pp._new_work(pp.heap_room + 8)
    small = (*work[:8], np.empty(1), np.empty(1, dtype=np.int64), *work[10:])
    args = (pp._fwd, pp.landmarks.from_s, pp.landmarks.to_s, pp.landmarks.slack_s)
    seeds = (np.array([0]), np.array([0.0]), np.array([g.n_nodes - 1]), np.array([0.0]))
    status, *_ = p2p._alt_kernel(*args, *seeds, np.inf, small)
    reachable = np.isfinite(search(mg.forward, [0], [0.0]).time_s[g.n_nodes - 1])
    assert status == (-1 if reachable else 0)
    assert np.all(np.isinf(small[0])) and np.all(np.isinf(small[1]))  # labels reset
    # path() answers with the bidirectional search when the A* kernel gives up
    expected = pp.path([(0, 0.0)], [(g.n_nodes - 1, 0.0)], landmarks=False)
    monkeypatch.setattr(p2p, "_alt_kernel", lambda *a: (-1, 0.0, -1, -1, np.empty(0, np.int64)))
    got = pp.path([(0, 0.0)], [(g.n_nodes - 1, 0.0)])
    assert (got is None) == (expected is None)
    if got is not None and expected is not None:
        assert got.cost_s == expected.cost_s
        assert got.edges.tolist() == expected.edges.tolist()


def test_bad_seeds_are_refused() -> None:
    pp = PointToPoint(Network(_weighted(3, 3, 0)).mode("car"))
    with pytest.raises(ValueError, match="seed"):
        pp.path([(9, 0.0)], [(0, 0.0)])
    with pytest.raises(ValueError, match="seed"):
        pp.path([(0, float("nan"))], [(1, 0.0)])
    assert pp.path([], [(0, 0.0)]) is None


def test_many_threads_get_the_serial_answers() -> None:
    g = _weighted(12, 12, 5)
    net = Network(g)
    eng = RoutingEngine(net)
    rng = np.random.default_rng(5)
    lon, lat = random_lonlat(g, rng, 24, pad_m=50.0)
    snaps = net.snapper.snap_many(lon, lat, max_snap_m=5000.0, mode="car")
    pairs = [(a, b) for a in snaps[:12] for b in snaps[12:]]

    def answer(a: Snap, b: Snap) -> float | None:
        try:
            return eng.route("car", a, b).duration_s
        except NoRouteError:
            return None

    before = [answer(a, b) for a, b in pairs]  # bidirectional (no landmarks yet)
    results: list[list[float | None]] = []
    barrier = threading.Barrier(9)

    def worker() -> None:
        barrier.wait()
        results.append([answer(a, b) for a, b in pairs])

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    barrier.wait()
    eng.warm()  # landmarks published while the threads route
    for t in threads:
        t.join()
    after = [answer(a, b) for a, b in pairs]
    assert len(results) == 8
    for got in [*results, after]:
        for x, y in zip(got, before, strict=True):
            assert (x is None) == (y is None)
            assert x is None or y is None or _close(x, y)


def test_alt_lists_each_node_once_within_its_work_set() -> None:
    """The A* kernel, run as plain Python (numpy checks every index), never lists more
    nodes than the graph has, with a bound (a direct piece) or none; the compiled kernel
    gives the same answer (a node kept out of the heap by its bound, relaxed again later,
    once overran the list)."""
    checked = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        g = _weighted(int(rng.integers(3, 12)), int(rng.integers(3, 12)), seed)
        net = Network(g)
        for mode in net.modes:
            pp = PointToPoint(net.mode(mode))
            pp.prepare()
            lm = pp.landmarks
            assert lm is not None
            n = pp.n_nodes
            for _ in range(40):
                s = int(rng.integers(0, n))
                t = int(rng.integers(0, n))
                for bound in (np.inf, float(rng.uniform(50, 2000))):
                    args = (
                        pp._fwd,
                        lm.from_s,
                        lm.to_s,
                        lm.slack_s,
                        np.array([s]),
                        np.array([0.0]),
                        np.array([t]),
                        np.array([0.0]),
                        bound,
                    )
                    work = pp._take(2)
                    assert work[6].shape[0] == n  # the list has room for n nodes only
                    py = p2p._alt(*args, work)  # IndexError if it overruns
                    jit_ = p2p._alt_kernel(*args, work)
                    pp._give(work)
                    assert py[0] == jit_[0] and py[1] == jit_[1]
                    assert np.array_equal(py[4], jit_[4])
                    assert np.all(np.isinf(work[0])) and not work[12].any()
                    checked += 1
    assert checked > 1000
