"""Time from every node to every station of a set: k-nearest with any filter, no search.

A :class:`StationTimes` table is kept beside a forest when it fits in memory. With it the
``k`` fastest stations among an arbitrary mask (services, opening hours...) need no graph
search: the point's two entries onto the network plus two table rows give every
station's time, and each route is read off that station's successor tree.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.sparse.csgraph import dijkstra

from locator.analysis.nearest.targets import Accept, NearestResult, StationTargets
from locator.errors import NoRouteError
from locator.network.geometry import element_view
from locator.network.search import Option, with_sources
from locator.network.snapping import Snap

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Default memory budget of one table (time + successor per node and station, 12 bytes
#: each); larger station sets answer by a bounded search per query instead.
MAX_TABLE_BYTES = 200_000_000


class StationTimes:
    """Time from every node to every station of a set, with each station's path tree.

    ``time_s[node, s]`` is the travel time from ``node`` to station ``s`` (partial edge
    into the station included; inf if unreachable or removed): node-major, so a query
    reads two contiguous rows. ``next_edge[s, node]`` is the edge to take from ``node``
    toward ``s`` (-2 at the node where the path leaves onto the station's edge, -1 where
    unreached): station-major, so a route walks one contiguous column of edge ids.

    Computed by ONE scipy Dijkstra call on the reverse mode graph with one virtual source
    per station (:func:`~locator.network.search.with_sources`). Read-only: an edit makes
    a new table with one column replaced (:meth:`replaced`).
    """

    BYTES_PER_ENTRY = 12

    def __init__(
        self, targets: StationTargets, time_s: FloatArray, next_edge: npt.NDArray[np.int32]
    ) -> None:
        self.targets = targets
        self.mode = targets.mode
        self.time_s = time_s
        self.next_edge = next_edge
        # memoryviews: per-element reads from Python in the walk (one 1-D view per station)
        self._next_l = [element_view(col) for col in next_edge]
        self._head_l = element_view(targets.routing.graph.edge_v.astype(np.int64))
        self._node_l = [tuple(int(n) for n in row) for row in targets.node]

    @classmethod
    def fits(cls, n_nodes: int, n_stations: int, max_bytes: int) -> bool:
        """Whether a table for ``n_stations`` on ``n_nodes`` fits in ``max_bytes``."""
        return n_nodes * max(n_stations, 1) * cls.BYTES_PER_ENTRY <= max_bytes

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(self.time_s.nbytes + self.next_edge.nbytes)

    @classmethod
    def compute(cls, targets: StationTargets) -> StationTimes:
        """The table of every station of ``targets`` (one scipy call)."""
        stations = np.arange(len(targets.snaps), dtype=np.int64)
        time_s, next_edge = _columns(targets, stations)
        return cls(targets, time_s, next_edge)

    def replaced(self, targets: StationTargets, index: int) -> StationTimes:
        """The table for ``targets`` where only station ``index`` changed (moved, removed,
        or appended as the last one); the other columns are copied, not recomputed."""
        n_st = len(targets.snaps)
        col_t, col_e = _columns(targets, np.array([index]))
        if index == self.time_s.shape[1] and n_st == index + 1:
            time_s = np.hstack([self.time_s, col_t])
            next_edge = np.vstack([self.next_edge, col_e])
        elif self.time_s.shape[1] == n_st and 0 <= index < n_st:
            time_s = self.time_s.copy()
            next_edge = self.next_edge.copy()
            time_s[:, index] = col_t[:, 0]
            next_edge[index] = col_e[0]
        else:
            raise ValueError("station table and targets disagree; recompute the table")
        return StationTimes(targets, time_s, next_edge)

    def from_table(
        self,
        snap: Snap,
        *,
        k: int,
        mask: BoolArray | None = None,
        bound_s: float = np.inf,
        accept: Accept | None = None,
    ) -> list[NearestResult]:
        """The ``k`` stations among ``mask`` (and taken by ``accept``) fastest to reach
        within ``bound_s``."""
        t = self.targets
        cand = t.candidates(mask)
        starts = t.starts(snap)
        n_st = len(t.snaps)
        which = np.zeros(n_st, dtype=np.int64)
        best = np.full(n_st, np.inf)
        for j, o in enumerate(starts):  # per station the faster way onto the network
            via = o.cost_s + self.time_s[o.node]
            faster = via < best
            which[faster] = j
            best = np.where(faster, via, best)

        def path_to(i: int) -> tuple[Option, IntArray, Option]:
            first = starts[int(which[i])]
            middle, slot = self._walk(first.node, i)
            return first, middle, t.end_option(i, slot)

        return t.results(
            snap, best, cand=cand, k=k, bound_s=bound_s, path_to=path_to, accept=accept
        )

    def _walk(self, node: int, station: int) -> tuple[IntArray, int]:
        """The full edges from ``node`` to where the path leaves for ``station``, and the
        station's entry slot used there."""
        nxt, head = self._next_l[station], self._head_l
        edges: list[int] = []
        e = nxt[node]
        while e >= 0:
            edges.append(e)
            node = head[e]
            e = nxt[node]
        if e != -2:  # pragma: no cover - only reached nodes are walked
            raise NoRouteError("inconsistent station table", mode=self.mode)
        t = self.targets
        slots = [j for j, n in enumerate(self._node_l[station]) if n == node]
        slot = min(slots, key=lambda j: float(t.cost_s[station, j]))
        return np.array(edges, dtype=np.int64), slot


def _columns(t: StationTargets, stations: IntArray) -> tuple[FloatArray, npt.NDArray[np.int32]]:
    """``(time_s, next_edge)`` of the table for ``stations`` (one scipy call): times
    node-major, next edges station-major (see :class:`StationTimes`)."""
    mg = t.routing.net.mode(t.mode)
    n = mg.n_nodes
    sources = []
    for s in stations.tolist():
        ok = t.node[s] >= 0
        sources.append((t.node[s][ok], t.cost_s[s][ok]))
    aug = with_sources(mg.reverse.matrix, sources)
    dist, pred = dijkstra(
        aug, directed=True, indices=n + np.arange(len(sources)), return_predecessors=True
    )
    dist = np.atleast_2d(dist)[:, :n]
    pred = np.atleast_2d(pred)[:, :n]
    # in the reverse search a node's predecessor is the next node toward the station
    next_edge = np.where(pred >= n, -2, -1).astype(np.int32)
    inner = np.nonzero((pred >= 0) & (pred < n))
    if inner[0].size:
        next_edge[inner] = mg.forward.edges_between(inner[1], pred[inner])
    return np.ascontiguousarray(dist.T), next_edge
