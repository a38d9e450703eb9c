"""Shortest-path search on compact arrays (scipy.sparse.csgraph, compiled Dijkstra).

This module is the shared core of routing, nearest-station forests, isochrones and
coverage. A query point enters the graph as a :class:`Snap` (a position part-way along a
directed edge); :func:`seeds_for` turns it into start nodes with initial costs (the
partial edges), and :func:`multi_source_dijkstra` runs one bounded search from any
number of seeds with initial costs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from locator.graph import RoadGraph

Direction = Literal["from", "to"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Above this many seeds one search from a virtual super-source beats one search per seed.
_PER_SEED_LIMIT = 4


@dataclass(frozen=True)
class Snap:
    """A query point placed on the network.

    Attributes
    ----------
    lon, lat
        The query point (WGS 84).
    edge
        Directed edge (``u -> v``) whose shape passes nearest to the point.
    fraction
        Position along that edge from ``u`` (0) to ``v`` (1), by length.
    distance_m
        Straight-line distance from the query point to the road, in metres.
    snapped_lon, snapped_lat
        The point on the road.
    """

    lon: float
    lat: float
    edge: int
    fraction: float
    distance_m: float
    snapped_lon: float
    snapped_lat: float


def edge_twins(graph: RoadGraph) -> npt.NDArray[np.int64]:
    """For each directed edge the reverse edge (same end nodes, same length), or -1.

    When parallel edges exist the reverse edge of equal length (within 1 cm) is used.
    """
    e = graph.n_edges
    u = graph.edge_u.astype(np.int64)
    v = graph.edge_v.astype(np.int64)
    n = np.int64(max(graph.n_nodes, 1))
    length_cm = np.round(graph.edge_length_m * 100).astype(np.int64)
    key_fwd = (u * n + v) * (1 << 24) + (length_cm % (1 << 24))
    key_rev = (v * n + u) * (1 << 24) + (length_cm % (1 << 24))
    order = np.argsort(key_fwd, kind="stable")
    sorted_keys = key_fwd[order]
    pos = np.searchsorted(sorted_keys, key_rev)
    pos_c = np.minimum(pos, e - 1) if e else pos
    found = (pos < e) & (sorted_keys[pos_c] == key_rev) if e else np.zeros(0, dtype=bool)
    twins = np.full(e, -1, dtype=np.int64)
    twins[found] = order[pos_c[found]]
    twins[twins == np.arange(e)] = -1
    return twins


class ModeGraph:
    """The CSR adjacency of one mode in one direction, with the edge behind each entry.

    ``reverse=False`` follows edges forward (travel *from* a source); ``reverse=True``
    follows them backwards (travel *to* a target), so a search on it yields the time from
    every node to the seeds.
    """

    def __init__(self, graph: RoadGraph, mode: str, *, reverse: bool = False) -> None:
        if mode not in graph.edge_allowed:
            raise ValueError(f"mode {mode!r} is not available on this network")
        self.mode = mode
        self.reverse = reverse
        self.n_nodes = graph.n_nodes
        mask = graph.edge_allowed[mode]
        edge_ids = np.nonzero(mask)[0].astype(np.int64)
        tail = graph.edge_u[edge_ids].astype(np.int64)
        head = graph.edge_v[edge_ids].astype(np.int64)
        if reverse:
            tail, head = head, tail
        # scipy drops explicit zeros, so zero-time edges get a negligible positive weight
        weight = np.maximum(graph.edge_time_s[mode][edge_ids], 1e-9)
        order = np.lexsort((weight, head, tail))
        tail, head, weight, edge_ids = tail[order], head[order], weight[order], edge_ids[order]
        keep = np.ones(tail.shape[0], dtype=bool)
        keep[1:] = (tail[1:] != tail[:-1]) | (head[1:] != head[:-1])
        tail, head, weight, edge_ids = tail[keep], head[keep], weight[keep], edge_ids[keep]
        n = self.n_nodes
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(tail, minlength=n), out=indptr[1:])
        self.matrix = sparse.csr_matrix((weight, head, indptr), shape=(n, n))
        self.entry_edge = edge_ids
        self._indptr = indptr
        self._indices = head

    def edge_between(self, tail: int, head: int) -> int:
        """The (cheapest) edge id joining ``tail`` to ``head`` in this graph's direction."""
        a, b = int(self._indptr[tail]), int(self._indptr[tail + 1])
        hits = np.nonzero(self._indices[a:b] == head)[0]
        if hits.size == 0:
            raise KeyError((tail, head))
        return int(self.entry_edge[a + int(hits[0])])

    def edges_between(self, tails: IntArray, heads: IntArray) -> IntArray:
        """Vectorised :meth:`edge_between` (``tails``/``heads`` of equal length)."""
        return np.array(
            [self.edge_between(int(t), int(h)) for t, h in zip(tails, heads, strict=True)],
            dtype=np.int64,
        )


def seeds_for(
    graph: RoadGraph,
    snap: Snap,
    mode: str,
    direction: Direction,
    twins: npt.NDArray[np.int64],
) -> tuple[IntArray, FloatArray]:
    """Start nodes and their initial costs (seconds) for a snapped point.

    ``direction="from"``: leaving the point, reaching ``v`` along the edge costs
    ``(1 - fraction) * t``; reaching ``u`` along the reverse twin costs ``fraction * t'``.
    ``direction="to"``: the time *from* each node *to* the point, so ``u`` pays
    ``fraction * t`` and ``v`` pays ``(1 - fraction) * t'`` through the twin.
    Only edges the mode may use count.
    """
    allowed = graph.edge_allowed[mode]
    times = graph.edge_time_s[mode]
    e = snap.edge
    f = snap.fraction
    twin = int(twins[e])
    nodes: list[int] = []
    costs: list[float] = []
    u, v = int(graph.edge_u[e]), int(graph.edge_v[e])
    if direction == "from":
        if allowed[e]:
            nodes.append(v)
            costs.append((1.0 - f) * float(times[e]))
        if twin >= 0 and allowed[twin]:
            nodes.append(u)
            costs.append(f * float(times[twin]))
    else:
        if allowed[e]:
            nodes.append(u)
            costs.append(f * float(times[e]))
        if twin >= 0 and allowed[twin]:
            nodes.append(v)
            costs.append((1.0 - f) * float(times[twin]))
    return np.array(nodes, dtype=np.int64), np.array(costs, dtype=float)


@dataclass(frozen=True)
class SearchResult:
    """Result of :func:`multi_source_dijkstra`.

    ``time_s[n]`` is ``inf`` where node ``n`` was not reached within the limit;
    ``predecessor[n]`` is -1 at seeds and unreached nodes; ``seed[n]`` is the index (into
    the seed arrays) of the seed whose tree holds ``n``, -1 if unreached.
    """

    time_s: FloatArray
    predecessor: IntArray
    seed: IntArray


def multi_source_dijkstra(
    mode_graph: ModeGraph,
    seed_nodes: IntArray,
    seed_costs: FloatArray,
    *,
    limit_s: float = np.inf,
) -> SearchResult:
    """One Dijkstra search from many seeds, each with its own initial cost.

    Few seeds: one bounded scipy search per seed, combined by minimum. Many seeds: a
    virtual super-source joined to every seed by an edge of the seed's cost.
    """
    n = mode_graph.n_nodes
    seed_nodes = np.asarray(seed_nodes, dtype=np.int64)
    seed_costs = np.asarray(seed_costs, dtype=float)
    if seed_nodes.size == 0:
        return SearchResult(
            np.full(n, np.inf), np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64)
        )
    if seed_nodes.size <= _PER_SEED_LIMIT:
        rows = []
        preds = []
        for node, cost in zip(seed_nodes, seed_costs, strict=True):
            if cost > limit_s:
                rows.append(np.full(n, np.inf))
                preds.append(np.full(n, -9999, dtype=np.int64))
                continue
            d, p = dijkstra(
                mode_graph.matrix,
                directed=True,
                indices=int(node),
                return_predecessors=True,
                limit=float(limit_s - cost) if np.isfinite(limit_s) else np.inf,
            )
            rows.append(d + cost)
            preds.append(p.astype(np.int64))
        dist = np.vstack(rows)
        best = np.argmin(dist, axis=0)
        time_s = dist[best, np.arange(n)]
        pred = np.vstack(preds)[best, np.arange(n)]
        reached = np.isfinite(time_s) & (time_s <= limit_s)
        time_s = np.where(reached, time_s, np.inf)
        pred = np.where(reached & (pred >= 0), pred, -1)
        # Each node keeps the predecessor of its own best row, so on ties a chain may
        # pass from one seed's tree into another's (still along shortest paths). The
        # seed of a node is therefore the seed of its chain's root, not its own argmin.
        root = _roots(pred)
        seed = np.where(reached, best[root], -1).astype(np.int64)
        return SearchResult(time_s, pred, seed)

    # virtual super-source at index n
    m = mode_graph.matrix
    order = np.argsort(seed_nodes, kind="stable")
    # explicit zeros in a CSR matrix are edges for scipy: zero-cost seeds stay exact
    s_nodes, s_costs = seed_nodes[order], seed_costs[order]
    # keep the cheapest entry per seed node
    first = np.ones(s_nodes.shape[0], dtype=bool)
    first[1:] = s_nodes[1:] != s_nodes[:-1]
    cheapest = np.minimum.reduceat(s_costs, np.nonzero(first)[0])
    uniq_nodes = s_nodes[first]
    indptr = np.concatenate([m.indptr, [m.indptr[-1] + uniq_nodes.size]])
    indices = np.concatenate([m.indices, uniq_nodes])
    data = np.concatenate([m.data, cheapest])
    aug = sparse.csr_matrix((data, indices, indptr), shape=(n + 1, n + 1))
    dist_row, pred_row = dijkstra(
        aug, directed=True, indices=n, return_predecessors=True, limit=limit_s
    )
    time_s = np.asarray(dist_row[:n], dtype=float).copy()
    pred = np.asarray(pred_row[:n], dtype=np.int64).copy()
    reached = np.isfinite(time_s) & (time_s <= limit_s)
    time_s[~reached] = np.inf
    pred[(pred == n) | ~reached] = -1
    parent = _roots(pred)
    # root node -> index of the cheapest seed placed on that node
    seed_index = np.full(n, -1, dtype=np.int64)
    for i in np.argsort(seed_costs, kind="stable")[::-1]:
        seed_index[seed_nodes[i]] = i
    seed = np.where(reached, seed_index[parent], -1).astype(np.int64)
    return SearchResult(time_s, pred, seed)


def multi_source_times(
    mode_graph: ModeGraph,
    seed_nodes: IntArray,
    seed_costs: FloatArray,
    *,
    limit_s: float = np.inf,
) -> FloatArray:
    """The times of :func:`multi_source_dijkstra` without its trees (faster on big graphs).

    For callers that need only how soon each node is reached (service circles): no
    predecessors, no seed labels, so nothing per node beyond one minimum.
    """
    n = mode_graph.n_nodes
    seed_nodes = np.asarray(seed_nodes, dtype=np.int64)
    seed_costs = np.asarray(seed_costs, dtype=float)
    if seed_nodes.size == 0:
        return np.full(n, np.inf)
    if seed_nodes.size > _PER_SEED_LIMIT:
        return multi_source_dijkstra(mode_graph, seed_nodes, seed_costs, limit_s=limit_s).time_s
    best: FloatArray | None = None
    for node, cost in zip(seed_nodes, seed_costs, strict=True):
        if cost > limit_s:
            continue
        d = dijkstra(
            mode_graph.matrix,
            directed=True,
            indices=int(node),
            return_predecessors=False,
            limit=float(limit_s - cost) if np.isfinite(limit_s) else np.inf,
        )
        d = np.asarray(d, dtype=float) + cost
        best = d if best is None else np.minimum(best, d)
    if best is None:
        return np.full(n, np.inf)
    best[best > limit_s] = np.inf
    return best


def _roots(pred: IntArray) -> IntArray:
    """The root of every node's predecessor chain (pointer jumping; -1 marks a root)."""
    parent = np.where(pred >= 0, pred, np.arange(pred.shape[0]))
    while True:
        nxt = parent[parent]
        if np.array_equal(nxt, parent):
            return parent
        parent = nxt
