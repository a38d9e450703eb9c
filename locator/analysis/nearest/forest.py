"""The nearest station of one kind for every node: answered without a graph search.

A :class:`NearestForest` is ONE reverse multi-source search from all stations of a set
(at build time, or after an edit): for every node, the nearest station, the time to it
and the next edge toward it. :meth:`NearestForest.from_forest` then needs no search: the
point's two ways onto the network (plus a station on its own road) and the forest times
give the answer, and the path is read off the successor pointers by a compiled walk
(:func:`walk_to_root`: edges, vertex runs, length and time in one pass).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from locator.analysis.nearest.targets import NearestResult, StationTargets
from locator.analysis.routing import Middle, RoutingEngine
from locator.errors import ArtifactError, NoRouteError
from locator.network.geometry import element_view
from locator.network.kernels import jit, readonly
from locator.network.search import search
from locator.network.snapping import Snap

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

FOREST_FORMAT_VERSION = 2


class NearestForest:
    """Per node: the nearest station of a set, the time to it and the way there.

    Read-only; an edit computes a new forest (:meth:`compute`, a few ms on the regional
    network).

    Attributes
    ----------
    targets
        The stations.
    node_station
        Per node: index of the nearest station (-1 where none is reachable).
    node_time_s
        Per node: travel time to the nearest station (inf where none).
    node_next
        Per node: next node toward the station (-1 at the last node and unreached).
    node_next_edge
        Per node: edge to ``node_next``; at the last node the edge holding the station.
    """

    def __init__(
        self,
        targets: StationTargets,
        node_station: IntArray,
        node_time_s: FloatArray,
        node_next: IntArray,
        node_next_edge: IntArray,
    ) -> None:
        self.targets = targets
        self.routing = targets.routing
        self.mode = targets.mode
        self.node_station = node_station
        self.node_time_s = node_time_s
        self.node_next = node_next
        self.node_next_edge = node_next_edge
        # memoryviews: per-element reads from Python ~2x faster than numpy scalars
        self._station_l = element_view(node_station)
        self._time_l = element_view(node_time_s)
        self._next_l = element_view(node_next)
        self._next_edge_l = element_view(node_next_edge)
        graph = self.routing.graph
        # the walk's read-only inputs (shared with the routing engine, no copies)
        self._walk_args = (
            readonly(node_next),
            readonly(node_next_edge),
            readonly(self.routing.run_start),
            readonly(self.routing.run_len),
            readonly(self.routing.run_vertices),
            readonly(graph.edge_length_m.astype(np.float64, copy=False)),
            readonly(graph.edge_time_s[self.mode].astype(np.float64, copy=False)),
        )

    # ------------------------------------------------------------------ build
    @classmethod
    def compute(cls, targets: StationTargets) -> NearestForest:
        """The reverse multi-source search from every station of ``targets``."""
        routing, mode = targets.routing, targets.mode
        mg = routing.net.mode(mode)
        ok = targets.node >= 0
        seed_station = np.nonzero(ok)[0].astype(np.int64)
        seed_slot = np.nonzero(ok)[1].astype(np.int64)
        res = search(mg.reverse, targets.node[ok], targets.cost_s[ok], trees=True)
        pred, seed = res.trees()
        reached = seed >= 0
        station = np.full(reached.shape[0], -1, dtype=np.int64)
        station[reached] = seed_station[seed[reached]]
        time_s = np.where(reached, res.time_s, np.inf)
        # in the reverse search a node's predecessor is the next node toward its station
        nxt = np.where(reached, pred, -1).astype(np.int64)
        next_edge = np.full(nxt.shape[0], -1, dtype=np.int64)
        inner = np.nonzero(nxt >= 0)[0]
        if inner.size:
            next_edge[inner] = mg.forward.edges_between(inner, nxt[inner])
        term = np.nonzero(reached & (nxt < 0))[0]
        if term.size:
            s = seed[term]
            next_edge[term] = targets.edge[seed_station[s], seed_slot[s]]
        log.debug("nearest forest %s: %d stations", mode, int(targets.active.sum()))
        return cls(targets, station, time_s, nxt, next_edge)

    # ------------------------------------------------------------------ storage
    def to_arrays(self) -> dict[str, npt.NDArray[np.generic]]:
        """Arrays to store in an ``.npz`` without pickling (see :meth:`from_arrays`)."""
        snaps = self.targets.snaps
        n = len(snaps)
        vals = np.full((n, 6), np.nan)
        edge = np.full(n, -1, dtype=np.int64)
        for i, s in enumerate(snaps):
            if s is not None:
                edge[i] = s.edge
                vals[i] = (s.lon, s.lat, s.fraction, s.distance_m, s.snapped_lon, s.snapped_lat)
        return {
            "format_version": np.array(FOREST_FORMAT_VERSION, dtype=np.int64),
            "mode": np.array(self.mode),
            "station_edge": edge,
            "station_values": vals,
            "node_station": self.node_station,
            "node_time_s": self.node_time_s,
            "node_next": self.node_next,
            "node_next_edge": self.node_next_edge,
        }

    @classmethod
    def from_arrays(
        cls, routing: RoutingEngine, arrays: Mapping[str, npt.NDArray[np.generic]]
    ) -> NearestForest:
        """Rebuild a forest saved with :meth:`to_arrays` for the same network.

        Raises
        ------
        ArtifactError
            Another format version, or arrays that do not fit the network.
        """
        version = int(np.asarray(arrays["format_version"]))
        if version != FOREST_FORMAT_VERSION:
            raise ArtifactError(
                f"forest format {version}; this version reads {FOREST_FORMAT_VERSION}: "
                "rebuild the artifact"
            )
        mode = str(arrays["mode"])
        edge = np.asarray(arrays["station_edge"], dtype=np.int64)
        vals = np.asarray(arrays["station_values"], dtype=np.float64)
        snaps: list[Snap | None] = []
        for i in range(edge.shape[0]):
            if edge[i] < 0:
                snaps.append(None)
            else:
                lon, lat, frac, dist, slon, slat = (float(x) for x in vals[i])
                snaps.append(Snap(lon, lat, int(edge[i]), frac, dist, slon, slat))
        n = routing.graph.n_nodes
        for name in ("node_station", "node_time_s", "node_next", "node_next_edge"):
            if np.asarray(arrays[name]).shape != (n,):
                raise ArtifactError(f"forest array {name} does not match the graph ({n} nodes)")
        return cls(
            StationTargets(routing, mode, snaps),
            np.asarray(arrays["node_station"], dtype=np.int64),
            np.asarray(arrays["node_time_s"], dtype=np.float64),
            np.asarray(arrays["node_next"], dtype=np.int64),
            np.asarray(arrays["node_next_edge"], dtype=np.int64),
        )

    # ------------------------------------------------------------------ query
    def warm(self) -> None:
        """Compile (or load from numba's cache) the path walk for this forest's arrays."""
        if self.node_next.shape[0]:
            walk_to_root(0, *self._walk_args)

    def _path(self, node: int) -> tuple[Middle, int]:
        """The full edges from ``node`` to its tree's root (the root's own edge, which
        holds the station, excluded) as route parts, and the root."""
        edges, vertices, length_m, time_s, root = walk_to_root(node, *self._walk_args)
        if root < 0:  # pragma: no cover - forests come from a shortest-path tree
            raise NoRouteError("inconsistent forest (a cycle)", mode=self.mode)
        return Middle(edges, vertices, float(length_m), float(time_s)), int(root)

    def from_forest(self, snap: Snap, *, bound_s: float = np.inf) -> NearestResult | None:
        """The nearest station from a snapped point, with its route; no graph search.

        Returns ``None`` when no station of the set is reachable within ``bound_s``.
        """
        t = self.targets
        time_l = self._time_l
        best_t = np.inf
        best_opt = None
        for o in t.starts(snap):
            tt = o.cost_s + time_l[o.node]
            if tt < best_t:
                best_t, best_opt = tt, o
        # a station on the point's own road, reached directly
        direct = t.along_own_road(snap)
        if direct:
            i, d = min(direct, key=lambda item: (item[1][0], item[0]))
            if d[0] < best_t:
                if d[0] > bound_s:
                    return None
                r = t.route_direct(snap, i, d)
                return NearestResult(i, r.duration_s, r)
        if best_opt is None or best_t > bound_s:
            return None
        station = self._station_l[best_opt.node]
        middle, root = self._path(best_opt.node)
        last = self._next_edge_l[root]  # the edge holding the station
        s = t.snaps[station]
        if s is None:  # pragma: no cover - forests are built from their own targets
            raise NoRouteError("inconsistent forest", mode=self.mode)
        f_end = s.fraction if last == s.edge else 1.0 - s.fraction
        r = self.routing.assemble_parts(
            self.mode,
            first=best_opt.edge,
            start_fraction=best_opt.f0,
            middle=middle,
            last=last,
            end_fraction=f_end,
            start=(snap.snapped_lon, snap.snapped_lat),
            end=(s.snapped_lon, s.snapped_lat),
        )
        return NearestResult(station, r.duration_s, r)


@jit
def walk_to_root(  # noqa: PLR0917 (a compiled kernel: plain arguments only)
    node: int,
    nxt: IntArray,
    next_edge: IntArray,
    run_start: IntArray,
    run_len: IntArray,
    run_vertices: IntArray,
    length_m: FloatArray,
    time_s: FloatArray,
) -> tuple[IntArray, IntArray, float, float, int]:
    """Follow the successor pointers from ``node`` to its root: the edges passed (the
    root's own excluded), their vertex runs back to back, their summed length and time
    (in travel order), and the root; root -1 if the pointers hold a cycle. Two passes
    (count, then fill) over the path; reads only its arguments (safe from any thread)."""
    n = nxt.shape[0]
    n_edges = 0
    n_vertices = 0
    u = node
    while nxt[u] >= 0:
        n_edges += 1
        n_vertices += run_len[next_edge[u]]
        u = nxt[u]
        if n_edges > n:
            return np.empty(0, np.int64), np.empty(0, np.int64), 0.0, 0.0, -1
    edges = np.empty(n_edges, np.int64)
    vertices = np.empty(n_vertices, np.int64)
    total_m = 0.0
    total_s = 0.0
    i = 0
    j = 0
    u = node
    while nxt[u] >= 0:
        e = next_edge[u]
        edges[i] = e
        i += 1
        s = run_start[e]
        for k in range(run_len[e]):
            vertices[j] = run_vertices[s + k]
            j += 1
        total_m += length_m[e]
        total_s += time_s[e]
        u = nxt[u]
    return edges, vertices, total_m, total_s, u
