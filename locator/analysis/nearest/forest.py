"""The nearest station of one kind for every node: answered without a graph search.

A :class:`NearestForest` is ONE reverse multi-source search from all stations of a set
(at build time, or after an edit): for every node, the nearest station, the time to it
and the next edge toward it. :meth:`NearestForest.from_forest` then needs no search: the
point's two ways onto the network (plus a station on its own road) and the forest times
give the answer, and the path is read off the successor pointers in O(log n) slices (a
heavy-path decomposition of the forest).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp
from scipy.sparse.csgraph import depth_first_order

from locator.analysis.nearest.targets import NearestResult, StationTargets
from locator.analysis.routing import Middle, RoutingEngine
from locator.errors import ArtifactError, NoRouteError
from locator.network.geometry import element_view
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
        order, pos, head_pos = heavy_paths(node_next)
        self._pos_l = element_view(pos)
        self._head_pos_l = element_view(head_pos)
        self._order_l = element_view(order)
        self._edge_by_pos = node_next_edge[order]
        self._runs_by_pos()

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

    def _runs_by_pos(self) -> None:
        """The vertex runs, lengths and times of the edges laid out by heavy-path position,
        in descending position order: the edges of one heavy-path piece (positions
        ``end`` down to ``top``) are then ONE slice of vertices and two subtractions."""
        routing = self.routing
        e = self._edge_by_pos
        n = e.shape[0]
        valid = e >= 0
        safe = np.where(valid, e, 0)
        run_len = np.where(valid, routing.run_len[safe], 0)
        desc = np.arange(n - 1, -1, -1)
        start_desc = np.cumsum(run_len[desc]) - run_len[desc]
        run_start = np.empty(n, dtype=np.int64)
        run_start[desc] = start_desc
        total = int(run_len.sum())
        self._vertices_desc = routing.run_vertices[
            np.repeat(routing.run_start[safe][desc] - start_desc, run_len[desc]) + np.arange(total)
        ]
        self._run_start_l = element_view(np.append(run_start, total))
        graph = routing.graph
        length = np.where(valid, graph.edge_length_m[safe], 0.0)
        times = np.where(valid, graph.edge_time_s[self.mode][safe], 0.0)
        # suffix sums: the full edges of positions p..n-1
        self._length_from_l = element_view(np.append(np.cumsum(length[::-1])[::-1], 0.0))
        self._time_from_l = element_view(np.append(np.cumsum(times[::-1])[::-1], 0.0))

    # ------------------------------------------------------------------ query
    def _path(self, node: int) -> tuple[Middle, int]:
        """The full edges from ``node`` to its tree's root (the root's own edge, which
        holds the station, excluded) as route parts, and the root.

        The root path is cut into O(log n) heavy-path pieces, each a reversed slice of
        the edges, one slice of the vertex runs and two subtractions of suffix sums,
        instead of one step per node or per edge.
        """
        pos, head_pos, order, nxt = self._pos_l, self._head_pos_l, self._order_l, self._next_l
        by_pos, verts = self._edge_by_pos, self._vertices_desc
        run_start, length_from, time_from = (
            self._run_start_l,
            self._length_from_l,
            self._time_from_l,
        )
        edges, vertices = [], []
        length_m = time_s = 0.0
        while True:
            top = head_pos[node]
            end = pos[node]
            root = order[top]
            node = nxt[root]
            # the last piece stops before its top: the root's edge holds the station
            stop = top if node >= 0 else top + 1
            if end >= stop:
                edges.append(by_pos[end : stop - 1 if stop > 0 else None : -1])
                vertices.append(verts[run_start[end] : run_start[stop - 1] if stop > 0 else None])
                length_m += length_from[stop] - length_from[end + 1]
                time_s += time_from[stop] - time_from[end + 1]
            if node < 0:
                break
        middle = Middle(
            _joined(edges),
            _joined(vertices),
            length_m,
            time_s,
        )
        return middle, root

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


def heavy_paths(nxt: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Heavy-path decomposition of the forest given by next-node pointers.

    Returns ``order`` (nodes in a depth-first preorder that visits each node's largest
    subtree first), ``pos`` (position of each node in ``order``) and ``head_pos`` (per
    node, the position of the top of its heavy path). A heavy path is contiguous in
    ``order`` from its top down, and any node's path to its root crosses at most
    ``log2(n)`` heavy paths.

    Built with three scipy depth-first traversals from a virtual root over all trees:
    subtree sizes come from ``size = post - pre + depth + 1`` (preorder and postorder
    positions, the postorder being the reversed preorder with children visited in the
    reverse order), depths from pointer doubling.
    """
    n = int(nxt.shape[0])
    root = n  # virtual root above every tree
    parent = np.where(nxt >= 0, nxt, root).astype(np.int64)
    # isolated nodes (unreached, or a station's lone node) stay out of the traversals:
    # scipy's DFS rescans a node's children on every return to it, so thousands of
    # them under the virtual root would cost quadratic time; they are appended at the end
    has_child = np.bincount(nxt[nxt >= 0], minlength=n) > 0
    member = (nxt >= 0) | has_child
    kids = np.flatnonzero(member).astype(np.int64)
    kid_parent = parent[kids]
    indptr = np.concatenate([[0], np.cumsum(np.bincount(kid_parent, minlength=n + 1))])
    ones = np.ones(kids.shape[0])  # float64: another dtype makes scipy copy (sorting rows)

    def preorder(sort_key: IntArray) -> IntArray:
        by = np.lexsort((sort_key, kid_parent))
        csr = sp.csr_matrix((ones, kids[by], indptr), shape=(n + 1, n + 1))
        return np.asarray(depth_first_order(csr, root, return_predecessors=False), np.int64)

    first = preorder(kids)
    pre = np.zeros(n + 1, dtype=np.int64)
    pre[first] = np.arange(first.shape[0])
    post = np.zeros(n + 1, dtype=np.int64)
    post[preorder(-kids)[::-1]] = np.arange(first.shape[0])
    depth = np.ones(n + 1, dtype=np.int64)  # edges to the virtual root
    depth[root] = 0
    up = np.append(parent, root)
    while True:
        step = np.flatnonzero(up != root)
        if step.shape[0] == 0:
            break
        depth[step] += depth[up[step]]
        up[step] = up[up[step]]
    size = post - pre + depth + 1  # meaningful for members
    order = np.concatenate([preorder(-size[kids])[1:], np.flatnonzero(~member)])
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n)
    # a node continues its parent's heavy path iff it directly follows the parent
    parent_pos = np.where(nxt >= 0, pos[np.maximum(nxt, 0)], -2)
    light = pos != parent_pos + 1
    head_pos = np.maximum.accumulate(np.where(light[order], np.arange(n), 0))[pos]
    return order, pos, head_pos


_EMPTY = np.zeros(0, dtype=np.int64)


def _joined(parts: list[IntArray]) -> IntArray:
    if not parts:
        return _EMPTY
    return parts[0] if len(parts) == 1 else np.concatenate(parts)
