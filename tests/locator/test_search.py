"""The shared search core against NetworkX, including ties between seeds."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from gridfactory import make_grid
from hypothesis import given, settings
from hypothesis import strategies as st

from locator.search import ModeGraph, edge_twins, multi_source_dijkstra, multi_source_times


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
    nodes = rng.choice(n, size=min(n_seeds, n), replace=True)
    costs = (
        (rng.integers(0, 4, size=nodes.size) * 27.24)
        if integer_costs
        else rng.uniform(0, 60, nodes.size)
    )
    res = multi_source_dijkstra(mg, nodes, costs, limit_s=limit)

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
    times_only = multi_source_times(mg, nodes, costs, limit_s=limit)
    np.testing.assert_array_equal(np.isinf(times_only), np.isinf(res.time_s))
    np.testing.assert_allclose(
        times_only[np.isfinite(times_only)], res.time_s[np.isfinite(res.time_s)], rtol=1e-12
    )
    assert np.array_equal(np.isinf(res.time_s), np.isinf(expected))

    # every reached node's chain runs back to the node of its seed, and the chain's
    # cost plus the seed's cost is the node's time (no mixing of trees)
    w = _nx(g, mg.mode)
    for v in np.nonzero(np.isfinite(res.time_s))[0]:
        s = int(res.seed[v])
        assert s >= 0
        total = 0.0
        node = int(v)
        for _ in range(n + 1):
            p = int(res.predecessor[node])
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
    for a, b in ((0, 1), (1, 0), (5, 6), (6, 5)):
        res = multi_source_dijkstra(mg, np.array([a, b]), np.array([0.0, t]))
        for v in range(g.n_nodes):
            node = v
            while res.predecessor[node] >= 0:
                node = int(res.predecessor[node])
            assert node == (a, b)[int(res.seed[v])]
