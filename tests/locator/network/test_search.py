"""The shared search core against NetworkX, including ties between seeds."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from gridfactory import make_grid
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from locator.network.core import Network
from locator.network.geometry import edge_twins
from locator.network.modegraph import ModeGraph
from locator.network.search import along_edge, entries, search, tree_path, with_sources


def _nx(graph, mode):
    g = nx.DiGraph()
    g.add_nodes_from(range(graph.n_nodes))
    for e in np.nonzero(graph.edge_allowed[mode])[0]:
        u, v, t = int(graph.edge_u[e]), int(graph.edge_v[e]), float(graph.edge_time_s[mode][e])
        if not g.has_edge(u, v) or g[u][v]["w"] > t:
            g.add_edge(u, v, w=t)
    return g


@settings(max_examples=150, deadline=None)
@given(
    rows=st.integers(2, 6),
    cols=st.integers(2, 6),
    n_seeds=st.integers(1, 8),
    seed=st.integers(0, 10_000),
    integer_costs=st.booleans(),
    limit=st.one_of(st.just(np.inf), st.floats(10, 600)),
    # 100 m: exact 10 s edges (exact ties); 272.4 m: 27.24 s edges, whose sums round
    # differently along different paths (ties broken by floating-point error)
    spacing_m=st.sampled_from([100.0, 272.4, 333.3]),
)
def test_multi_source_matches_networkx_and_trees_are_consistent(
    rows, cols, n_seeds, seed, integer_costs, limit, spacing_m
):
    rng = np.random.default_rng(seed)
    n = rows * cols
    pairs = [((r, c), (r, c + 1)) for r in range(rows) for c in range(cols - 1)]
    oneway = [p for p in pairs if rng.random() < 0.3]
    g = make_grid(rows, cols, spacing_m=spacing_m, oneway=oneway)
    mg = ModeGraph(g, "car" if integer_costs else "truck")
    csr = mg.forward
    nodes = rng.choice(n, size=min(n_seeds, n), replace=True)
    costs = (
        (rng.integers(0, 4, size=nodes.size) * 27.24)
        if integer_costs
        else rng.uniform(0, 60, nodes.size)
    )
    res = search(csr, nodes, costs, limit_s=limit, trees=True)
    predecessor, seed_of = res.trees()

    ref_graph = _nx(g, mg.mode)
    for i, (nd, c) in enumerate(zip(nodes, costs, strict=True)):
        ref_graph.add_edge(("seed", i), int(nd), w=float(c))
        ref_graph.add_edge("S", ("seed", i), w=0.0)
    ref = nx.single_source_dijkstra_path_length(ref_graph, "S", weight="w")
    expected = np.array([ref.get(i, np.inf) for i in range(n)])
    expected[expected > limit] = np.inf
    np.testing.assert_allclose(
        res.time_s[np.isfinite(expected)], expected[np.isfinite(expected)], rtol=1e-9
    )
    # the times-only variant (service circles) gives the very same times
    times_only = search(csr, nodes, costs, limit_s=limit).time_s
    np.testing.assert_array_equal(np.isinf(times_only), np.isinf(res.time_s))
    np.testing.assert_allclose(
        times_only[np.isfinite(times_only)], res.time_s[np.isfinite(res.time_s)], rtol=1e-12
    )
    assert np.array_equal(np.isinf(res.time_s), np.isinf(expected))

    # every reached node's chain runs back to the node of its seed, and the chain's
    # cost plus the seed's cost is the node's time (no mixing of trees)
    w = _nx(g, mg.mode)
    for v in np.nonzero(np.isfinite(res.time_s))[0]:
        s = int(seed_of[v])
        assert s >= 0
        total = 0.0
        node = int(v)
        for _ in range(n + 1):
            p = int(predecessor[node])
            if p < 0:
                break
            total += w[p][node]["w"]
            node = p
        assert node == int(nodes[s])
        assert total + costs[s] == pytest.approx(res.time_s[v], rel=1e-9, abs=1e-9)


def test_edge_twins_pairs_reverse_edges():
    g = make_grid(3, 4, oneway=[((0, 0), (0, 1))])
    twins = edge_twins(g)
    for e, t in enumerate(twins):
        if t >= 0:
            assert g.edge_u[t] == g.edge_v[e] and g.edge_v[t] == g.edge_u[e]
            assert twins[t] == e
    # the one-way edge has a walk-only reverse twin, the others two-way twins
    assert (twins >= 0).all()


def test_long_path_seed_labels_follow_the_tree():
    # Regression: a point snapped at the end of an edge gets two seeds, the node itself
    # (cost 0) and the node behind it (cost = the edge's time). Far away the two rows
    # differ only by rounding, so a node's own best row may differ from the row its
    # predecessor chain comes from; the seed label must follow the chain.
    g = make_grid(1, 60, spacing_m=272.4)  # 27.24 s per edge by truck
    mg = ModeGraph(g, "truck")
    t = float(g.edge_time_s["truck"][0])
    for limit in (np.inf, 1e9):  # the super-source path and the per-seed path
        for a, b in ((0, 1), (1, 0), (5, 6), (6, 5)):
            res = search(mg.forward, [a, b], [0.0, t], limit_s=limit, trees=True)
            pred, seed = res.trees()
            for v in range(g.n_nodes):
                node = v
                while pred[node] >= 0:
                    node = int(pred[node])
                assert node == (a, b)[int(seed[v])]
                edges, root = tree_path(res, mg.forward, v)
                assert root == node and len(edges) == abs(v - node)


@settings(max_examples=40, deadline=None)
@given(
    n_sources=st.integers(1, 5),
    seed=st.integers(0, 10_000),
)
def test_with_sources_gives_each_source_its_own_search(n_sources, seed):
    """k virtual sources in one matrix = k separate multi-seed searches."""
    rng = np.random.default_rng(seed)
    g = make_grid(4, 5, spacing_m=300.0, oneway=[((0, 0), (0, 1)), ((2, 3), (1, 3))])
    csr = ModeGraph(g, "car").reverse
    sources = []
    for _ in range(n_sources):
        k = int(rng.integers(1, 4))
        sources.append((rng.choice(g.n_nodes, k), rng.uniform(0, 30, k)))
    aug = with_sources(csr.matrix, sources)
    n = g.n_nodes
    dist = np.atleast_2d(dijkstra(aug, directed=True, indices=n + np.arange(n_sources)))[:, :n]
    for j, (nodes, costs) in enumerate(sources):
        one = search(csr, nodes, costs).time_s
        np.testing.assert_allclose(dist[j], one, rtol=1e-12)


def test_entries_and_along_edge_on_a_one_way_road():
    # 0 -> 1 is one-way for cars (walkers get a reverse twin); 36 km/h truck... car 72 km/h
    g = make_grid(2, 2, spacing_m=1000.0, oneway=[((0, 0), (0, 1))])
    net = Network(g)
    geo = net.geometry
    e = int(np.nonzero((g.edge_u == 0) & (g.edge_v == 1) & g.edge_allowed["car"])[0][0])
    car, walk = net.mode("car"), net.mode("walk")
    t = float(g.edge_time_s["car"][e])
    out = entries(geo, car, e, 0.25, "from")
    assert [(o.node, o.edge) for o in out] == [(1, e)]
    assert out[0].cost_s == pytest.approx(0.75 * t)
    into = entries(geo, car, e, 0.25, "to")
    assert [(o.node, o.f1) for o in into] == [(0, 0.25)]
    assert into[0].cost_s == pytest.approx(0.25 * t)
    assert len(entries(geo, walk, e, 0.25, "from")) == 2  # walkers may go back
    # along the road: forward only by car, both ways on foot
    ce, cf = geo.canonical(e, 0.25)
    ahead = geo.canonical(e, 0.75)
    d = along_edge(geo, car, (ce, cf), ahead)
    assert d is not None and d[0] == pytest.approx(0.5 * t)
    assert along_edge(geo, car, ahead, (ce, cf)) is None
    back = along_edge(geo, walk, ahead, (ce, cf))
    assert back is not None and back[0] == pytest.approx(0.5 * float(g.edge_time_s["walk"][e]))
    # positions on different roads are never "along" one another
    other = int(np.nonzero((g.edge_u == 2) & (g.edge_v == 3))[0][0])
    assert along_edge(geo, walk, (ce, cf), geo.canonical(other, 0.5)) is None
