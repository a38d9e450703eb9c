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

from locator.analysis.nearest.targets import NearestResult, StationTargets
from locator.errors import NoRouteError
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
    into the station included; inf if unreachable or removed) and ``succ[node, s]`` the
    next node toward ``s`` (-2 at the node where the path leaves onto the station's edge,
    -1 where unreached). Node-major layout: a query reads two contiguous rows.

    Computed by ONE scipy Dijkstra call on the reverse mode graph with one virtual source
    per station (:func:`~locator.network.search.with_sources`). Read-only: an edit makes
    a new table with one column replaced (:meth:`replaced`).
    """

    BYTES_PER_ENTRY = 12

    def __init__(
        self, targets: StationTargets, time_s: FloatArray, succ: npt.NDArray[np.int32]
    ) -> None:
        self.targets = targets
        self.mode = targets.mode
        self.time_s = time_s
        self.succ = succ
        self._succ_l = np.ascontiguousarray(succ).data.toreadonly()

    @classmethod
    def fits(cls, n_nodes: int, n_stations: int, max_bytes: int) -> bool:
        """Whether a table for ``n_stations`` on ``n_nodes`` fits in ``max_bytes``."""
        return n_nodes * max(n_stations, 1) * cls.BYTES_PER_ENTRY <= max_bytes

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return int(self.time_s.nbytes + self.succ.nbytes)

    @classmethod
    def compute(cls, targets: StationTargets) -> StationTimes:
        """The table of every station of ``targets`` (one scipy call)."""
        stations = np.arange(len(targets.snaps), dtype=np.int64)
        time_s, succ = _columns(targets, stations)
        return cls(targets, time_s, succ)

    def replaced(self, targets: StationTargets, index: int) -> StationTimes:
        """The table for ``targets`` where only station ``index`` changed (moved, removed,
        or appended as the last one); the other columns are copied, not recomputed."""
        n_st = len(targets.snaps)
        col_t, col_s = _columns(targets, np.array([index]))
        if index == self.time_s.shape[1] and n_st == index + 1:
            time_s = np.hstack([self.time_s, col_t])
            succ = np.hstack([self.succ, col_s])
        elif self.time_s.shape[1] == n_st and 0 <= index < n_st:
            time_s = self.time_s.copy()
            succ = self.succ.copy()
            time_s[:, index] = col_t[:, 0]
            succ[:, index] = col_s[:, 0]
        else:
            raise ValueError("station table and targets disagree; recompute the table")
        return StationTimes(targets, time_s, succ)

    def from_table(
        self, snap: Snap, *, k: int, mask: BoolArray | None = None, bound_s: float = np.inf
    ) -> list[NearestResult]:
        """The ``k`` stations among ``mask`` fastest to reach within ``bound_s``."""
        t = self.targets
        cand = t.candidates(mask)
        starts = t.starts(snap)
        n_st = len(t.snaps)
        which = np.zeros(n_st, dtype=np.int64)
        if not starts:
            best = np.full(n_st, np.inf)
        elif len(starts) == 1:
            best = starts[0].cost_s + self.time_s[starts[0].node]
        else:
            both = np.stack([o.cost_s + self.time_s[o.node] for o in starts])
            which = np.argmin(both, axis=0)
            best = both[which, np.arange(n_st)]
        forward = t.routing.net.mode(self.mode).forward

        def path_to(i: int) -> tuple[Option, IntArray, Option]:
            first = starts[int(which[i])]
            nodes, slot = self._walk(first.node, i)
            middle = (
                forward.edges_between(nodes[:-1], nodes[1:])
                if len(nodes) > 1
                else np.zeros(0, dtype=np.int64)
            )
            return first, middle, t.end_option(i, slot)

        return t.results(snap, best, cand=cand, k=k, bound_s=bound_s, path_to=path_to)

    def _walk(self, node: int, station: int) -> tuple[list[int], int]:
        """Nodes from ``node`` to where the path leaves for ``station``, and that slot."""
        succ = self._succ_l
        nodes = [node]
        nxt = succ[node, station]
        while nxt >= 0:
            node = nxt
            nodes.append(node)
            nxt = succ[node, station]
        if nxt != -2:  # pragma: no cover - only reached nodes are walked
            raise NoRouteError("inconsistent station table", mode=self.mode)
        t = self.targets
        costs = np.where(t.node[station] == node, t.cost_s[station], np.inf)
        return nodes, int(np.argmin(costs))


def _columns(t: StationTargets, stations: IntArray) -> tuple[FloatArray, npt.NDArray[np.int32]]:
    """``(time_s, succ)`` columns of the table for ``stations`` (one scipy call)."""
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
    succ = np.where(pred >= n, -2, np.where(pred < 0, -1, pred)).astype(np.int32)
    return np.ascontiguousarray(dist.T), np.ascontiguousarray(succ.T)
