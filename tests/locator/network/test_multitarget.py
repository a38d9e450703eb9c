"""The nearest-targets kernel against a one-to-all Dijkstra (scipy) on random weighted
grids: random attachments (targets on one or two nodes, final costs, unusable slots),
candidate masks, ``want`` and bounds; the paths it returns; many threads at once."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from gridfactory import random_grid
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import dijkstra

from locator.network.core import Network
from locator.network.multitarget import Attachments, MultiTargetSearch


def _case(seed: int, n_targets: int) -> tuple[Network, MultiTargetSearch, np.ndarray, np.ndarray]:
    g = random_grid(6, 7, seed, spacing_m=600.0)
    rng = np.random.default_rng(seed)
    for mode, t in g.edge_time_s.items():
        g.edge_time_s[mode] = t * rng.uniform(0.3, 3.0, t.shape[0])
    net = Network(g)
    node = rng.integers(0, g.n_nodes, (n_targets, 2))
    node[rng.random((n_targets, 2)) < 0.2] = -1  # unusable slots
    cost = rng.uniform(0, 60, (n_targets, 2))
    return net, MultiTargetSearch(net.mode("car")), node, cost


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n_targets=st.integers(1, 12),
    want=st.integers(1, 5),
    bound=st.sampled_from([np.inf, 200.0, 600.0]),
    p_cand=st.floats(0.2, 1.0),
)
def test_nearest_targets_match_one_to_all(
    seed: int, n_targets: int, want: int, bound: float, p_cand: float
) -> None:
    net, search, node, cost = _case(seed, n_targets)
    rng = np.random.default_rng(seed + 1)
    n = net.graph.n_nodes
    sources = [
        (int(v), float(c))
        for v, c in zip(rng.integers(0, n, 2), rng.uniform(0, 30, 2), strict=True)
    ]
    cand = rng.random(n_targets) < p_cand
    att = Attachments.from_table(node, cost)
    found = search.nearest(sources, att, cand, want=want, bound_s=bound)
    # reference: one-to-all from a virtual source, then every target's best slot
    mg = net.mode("car")
    d = np.full(n, np.inf)
    for v, c in sources:
        d = np.minimum(d, dijkstra(mg.forward.matrix, indices=v) + c)
    with np.errstate(invalid="ignore"):
        per_slot = np.where(node >= 0, d[np.maximum(node, 0)] + cost, np.inf)
    best = np.where(cand, per_slot.min(axis=1), np.inf)
    best[best > bound] = np.inf
    finite = np.flatnonzero(np.isfinite(best))
    order = finite[np.argsort(best[finite], kind="stable")]
    got = found.target.tolist()
    # the cheapest `want` (and any tied with the last), in order of cost
    assert len(got) >= min(want, order.size)
    np.testing.assert_allclose(found.cost_s, best[found.target], rtol=1e-12)
    assert np.all(np.diff(found.cost_s) >= 0)
    if order.size:
        kth = best[order[min(want, order.size) - 1]]
        assert set(order[: min(want, order.size)].tolist()) <= set(got) or np.isclose(
            best[order[min(want, order.size)]] if order.size > want else -1, kth
        )
        assert np.all(best[found.target] <= kth)
    assert set(got) <= set(finite.tolist())
    if found.exhausted:
        assert set(got) == set(finite.tolist())
    # each path: from the named source's node along its edges to the slot's node, at
    # the found cost
    g = net.graph
    times = g.edge_time_s["car"]
    for j, t in enumerate(got):
        s_node, s_cost = sources[int(found.source[j])]
        e = found.edges[j]
        at = s_node
        for edge in e.tolist():
            assert int(g.edge_u[edge]) == at
            at = int(g.edge_v[edge])
        assert at == int(node[t, found.slot[j]])
        total = s_cost + float(times[e].sum()) + float(cost[t, found.slot[j]])
        assert total == pytest.approx(float(found.cost_s[j]), rel=1e-9, abs=1e-9)


def test_threads_get_the_serial_answers() -> None:
    net, search, node, cost = _case(11, 10)
    att = Attachments.from_table(node, cost)
    cand = np.ones(10, dtype=bool)
    rng = np.random.default_rng(5)
    queries = [[(int(v), 0.0)] for v in rng.integers(0, net.graph.n_nodes, 40)]
    serial = [search.nearest(q, att, cand, want=3).target.tolist() for q in queries]
    out: dict[int, list[list[int]]] = {}

    def work(w: int) -> None:
        out[w] = [search.nearest(q, att, cand, want=3).target.tolist() for q in queries * 5]

    threads = [threading.Thread(target=work, args=(w,)) for w in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for got in out.values():
        assert got == serial * 5


def test_bad_seeds_and_masks_are_refused() -> None:
    net, search, node, cost = _case(2, 3)
    att = Attachments.from_table(node, cost)
    with pytest.raises(ValueError, match="seed"):
        search.nearest([(net.graph.n_nodes, 0.0)], att, np.ones(3, dtype=bool), want=1)
    with pytest.raises(ValueError, match="seed"):
        search.nearest([(0, -1.0)], att, np.ones(3, dtype=bool), want=1)
    with pytest.raises(ValueError, match="candidate"):
        search.nearest([(0, 0.0)], att, np.ones(4, dtype=bool), want=1)
