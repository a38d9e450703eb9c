"""Shortest-path search on the mode graphs (scipy.sparse.csgraph's compiled Dijkstra).

The shared core of routing, nearest stations, service circles, coverage and siting:

- :func:`entries` — the ONE definition of how a point part-way along an edge joins the
  network: the nodes it reaches (``direction="from"``) or is reached from (``"to"``), at
  what cost, along which partial piece. :func:`along_edge` is the direct travel between
  two positions on one road.
- :func:`with_sources` — the ONE virtual super-source helper: a CSR matrix with extra
  rows joined to seed nodes by their initial costs.
- :func:`search` — one Dijkstra from any number of seeds with initial costs, bounded,
  with or without the shortest-path trees; :func:`tree_path` reads a path off a tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from locator.network.geometry import EdgeGeometry
from locator.network.modegraph import DirectedCsr, Direction, ModeGraph

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: A bounded search from at most this many seeds runs once per seed (each stays local);
#: more seeds, or no bound, go through one virtual super-source (one pass, but building
#: the augmented matrix costs a copy of the graph's arrays).
PER_SEED_LIMIT = 4


class Option(NamedTuple):
    """One way between a point on an edge and a node of the network.

    ``direction="from"``: the point reaches ``node`` at ``cost_s`` along directed ``edge``
    from fraction ``f0`` to ``f1`` (``f1 == 1``). ``"to"``: ``node`` reaches the point at
    ``cost_s`` along ``edge`` from ``f0 == 0`` to ``f1``.
    """

    node: int
    cost_s: float
    edge: int
    f0: float
    f1: float


def entries(
    geo: EdgeGeometry, mg: ModeGraph, edge: int, fraction: float, direction: Direction
) -> list[Option]:
    """The ways to leave (``"from"``) or reach (``"to"``) the point ``fraction`` along
    directed ``edge``, for the mode of ``mg``.

    ``"from"``: along the edge to its head ``v`` costs ``(1 - f) * t``; along the twin
    back to the tail ``u`` costs ``f * t_twin``. ``"to"``: ``u`` reaches the point along
    the edge at ``f * t``, ``v`` along the twin at ``(1 - f) * t_twin``. Only edges the
    mode may use count (a point on a road closed to the mode has no entries).
    """
    allowed, times = mg.allowed_l, mg.time_l
    tw = geo.twins_l[edge]
    u, v = geo.edge_u_l[edge], geo.edge_v_l[edge]
    f = fraction
    out: list[Option] = []
    if direction == "from":
        if allowed[edge]:
            out.append(Option(v, (1.0 - f) * times[edge], edge, f, 1.0))
        if tw >= 0 and allowed[tw]:
            out.append(Option(u, f * times[tw], tw, 1.0 - f, 1.0))
    else:
        if allowed[edge]:
            out.append(Option(u, f * times[edge], edge, 0.0, f))
        if tw >= 0 and allowed[tw]:
            out.append(Option(v, (1.0 - f) * times[tw], tw, 0.0, 1.0 - f))
    return out


def along_edge(
    geo: EdgeGeometry, mg: ModeGraph, start: tuple[int, float], end: tuple[int, float]
) -> tuple[float, int, float, float] | None:
    """Direct travel between two *canonical* positions ``(edge, fraction)`` on one road.

    Returns ``(cost_s, edge, f0, f1)`` of the cheaper direction the mode may use (the
    piece of directed ``edge`` from ``f0`` to ``f1``), or ``None`` when the positions are
    on different roads or the mode may not drive from one to the other directly.
    """
    e, fa = start
    e2, fb = end
    if e != e2:
        return None
    allowed, times = mg.allowed_l, mg.time_l
    best: tuple[float, int, float, float] | None = None
    if allowed[e] and fb >= fa:
        best = ((fb - fa) * times[e], e, fa, fb)
    tw = geo.twins_l[e]
    if tw >= 0 and allowed[tw] and fa >= fb:
        cand = ((fa - fb) * times[tw], tw, 1.0 - fa, 1.0 - fb)
        if best is None or cand[0] < best[0]:
            best = cand
    return best


def with_sources(
    matrix: sparse.csr_matrix, sources: Sequence[tuple[IntArray, FloatArray]]
) -> sparse.csr_matrix:
    """``matrix`` with one virtual source row per item of ``sources``.

    Source ``j`` becomes node ``n + j``, joined to each of its seed nodes by an edge of the
    seed's initial cost (the cheapest one where a node is given twice). Explicit zeros in
    a CSR matrix are edges for scipy, so zero-cost seeds stay exact.
    """
    n = matrix.shape[0]
    rows_idx: list[IntArray] = []
    rows_val: list[FloatArray] = []
    counts = np.zeros(len(sources), dtype=np.int64)
    for j, (seed_nodes, seed_costs) in enumerate(sources):
        raw_nodes = np.asarray(seed_nodes, dtype=np.int64)
        raw_costs = np.asarray(seed_costs, dtype=np.float64)
        order = np.lexsort((raw_costs, raw_nodes))
        nodes, costs = raw_nodes[order], raw_costs[order]
        first = np.ones(nodes.shape[0], dtype=bool)
        first[1:] = nodes[1:] != nodes[:-1]
        rows_idx.append(nodes[first])
        rows_val.append(costs[first])
        counts[j] = int(first.sum())
    indptr = np.concatenate([matrix.indptr, matrix.indptr[-1] + np.cumsum(counts)])
    indices = np.concatenate([matrix.indices, *rows_idx])
    data = np.concatenate([matrix.data, *rows_val])
    size = n + len(sources)
    return sparse.csr_matrix((data, indices, indptr), shape=(size, size))


@dataclass(frozen=True)
class SearchResult:
    """Result of :func:`search`.

    ``time_s[n]`` is ``inf`` where node ``n`` was not reached within the bound. With
    trees: ``predecessor[n]`` is the previous node on the search's path (-1 at seeds and
    unreached nodes) and ``seed[n]`` the index (into the seed arrays) of the seed whose
    tree holds ``n`` (-1 if unreached); without trees both are ``None``.
    """

    time_s: FloatArray
    predecessor: IntArray | None = None
    seed: IntArray | None = None

    def trees(self) -> tuple[IntArray, IntArray]:
        """``(predecessor, seed)``; raises when the search ran without trees."""
        if self.predecessor is None or self.seed is None:
            raise ValueError("this search kept no trees (search(..., trees=True))")
        return self.predecessor, self.seed


def search(
    csr: DirectedCsr,
    seed_nodes: npt.ArrayLike,
    seed_costs: npt.ArrayLike,
    *,
    limit_s: float = np.inf,
    trees: bool = False,
    one_pass: bool = False,
) -> SearchResult:
    """One Dijkstra search from many seeds, each with its own initial cost.

    Parameters
    ----------
    csr
        The mode's adjacency in the search's direction.
    seed_nodes, seed_costs
        Start nodes and the cost already paid to reach them (seconds).
    limit_s
        Nodes beyond this many seconds stay unreached (``inf``).
    trees
        Keep the shortest-path trees (predecessors and seed labels).
    one_pass
        Search once from a virtual super-source even with few seeds and a bound (for
        bounds that cover most of the network, where one search per seed costs more).
    """
    n = csr.n_nodes
    nodes = np.asarray(seed_nodes, dtype=np.int64).reshape(-1)
    costs = np.asarray(seed_costs, dtype=np.float64).reshape(-1)
    if nodes.size == 0:
        none = np.full(n, -1, dtype=np.int64)
        return SearchResult(np.full(n, np.inf), none if trees else None, none if trees else None)
    if nodes.size <= PER_SEED_LIMIT and np.isfinite(limit_s) and not one_pass:
        return _per_seed(csr, nodes, costs, limit_s, trees)
    aug = with_sources(csr.matrix, [(nodes, costs)])
    if not trees:
        dist = dijkstra(aug, directed=True, indices=n, return_predecessors=False, limit=limit_s)
        time_s = np.asarray(dist[:n], dtype=np.float64).copy()
        time_s[~(time_s <= limit_s)] = np.inf
        return SearchResult(time_s)
    dist, pred_row = dijkstra(
        aug, directed=True, indices=n, return_predecessors=True, limit=limit_s
    )
    time_s = np.asarray(dist[:n], dtype=np.float64).copy()
    pred = np.asarray(pred_row[:n], dtype=np.int64).copy()
    reached = time_s <= limit_s
    time_s[~reached] = np.inf
    pred[(pred >= n) | ~reached] = -1
    # the seed of a tree is the cheapest seed placed on its root node
    seed_at = np.full(n, -1, dtype=np.int64)
    for i in np.argsort(costs, kind="stable")[::-1]:
        seed_at[nodes[i]] = i
    seed = np.where(reached, seed_at[roots(pred)], -1).astype(np.int64)
    return SearchResult(time_s, pred, seed)


def _per_seed(
    csr: DirectedCsr, nodes: IntArray, costs: FloatArray, limit_s: float, trees: bool
) -> SearchResult:
    """:func:`search` as one bounded scipy search per seed, combined by minimum."""
    n = csr.n_nodes
    rows: list[FloatArray] = []
    preds: list[IntArray] = []
    for node, cost in zip(nodes.tolist(), costs.tolist(), strict=True):
        if cost > limit_s:
            rows.append(np.full(n, np.inf))
            preds.append(np.full(n, -9999, dtype=np.int64))
            continue
        out = dijkstra(
            csr.matrix,
            directed=True,
            indices=node,
            return_predecessors=trees,
            limit=limit_s - cost,
        )
        if trees:
            d, p = out
            preds.append(np.asarray(p, dtype=np.int64))
        else:
            d = out
        rows.append(np.asarray(d, dtype=np.float64) + cost)
    if not trees:
        best = rows[0] if len(rows) == 1 else np.minimum.reduce(rows)
        best[~(best <= limit_s)] = np.inf
        return SearchResult(best)
    dist = np.vstack(rows)
    which = np.argmin(dist, axis=0)
    cols = np.arange(n)
    time_s = dist[which, cols]
    pred = np.vstack(preds)[which, cols]
    reached = time_s <= limit_s
    time_s = np.where(reached, time_s, np.inf)
    pred = np.where(reached & (pred >= 0), pred, -1)
    # each node keeps the predecessor of its own best row, so on ties a chain may pass
    # from one seed's tree into another's (still along shortest paths): the seed of a
    # node is the seed of its chain's root, not its own argmin
    seed = np.where(reached, which[roots(pred)], -1).astype(np.int64)
    return SearchResult(time_s, pred, seed)


def search_from(
    csr: DirectedCsr, options: Sequence[Option], *, limit_s: float = np.inf
) -> SearchResult:
    """:func:`search` with trees from a point's :func:`entries` (the seeds are the
    options' nodes and costs; ``seed`` indexes ``options``)."""
    return search(
        csr, [o.node for o in options], [o.cost_s for o in options], limit_s=limit_s, trees=True
    )


def roots(pred: IntArray) -> IntArray:
    """The root of every node's predecessor chain (pointer jumping; -1 marks a root)."""
    parent = np.where(pred >= 0, pred, np.arange(pred.shape[0]))
    while True:
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            return parent
        parent = nxt


def tree_path(result: SearchResult, csr: DirectedCsr, node: int) -> tuple[IntArray, int]:
    """The edges from the root of ``node``'s tree down to ``node``, and that root.

    In a ``"from"`` search the edges run in travel order from the root; in a ``"to"``
    search (reverse adjacency) they are the directed edges from ``node`` back to the root
    in travel order, listed from the root's side.
    """
    pred, _ = result.trees()
    chain = [node]
    p = int(pred[node])
    while p >= 0:
        chain.append(p)
        p = int(pred[p])
    if len(chain) < 2:
        return np.zeros(0, dtype=np.int64), node
    arr = np.array(chain[::-1], dtype=np.int64)
    return csr.edges_between(arr[:-1], arr[1:]), int(arr[0])
