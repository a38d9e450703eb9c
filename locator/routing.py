"""Fastest routes between snapped points, with partial edges at both ends.

A :class:`RoutingEngine` is built once per graph. It owns the per-mode CSR graphs
(:class:`~locator.search.ModeGraph`, forward and reverse), the edge twins, the projected
edge geometry and the optional China outline used for the border flag. A path is
described as *pieces* ``(edge, f0, f1)``: the stretch of a directed edge between
fractions ``f0 <= f1`` of its length; :meth:`RoutingEngine.assemble` turns pieces into a
:class:`Route` (time, distance, polyline, steps, border flag) with vectorised numpy.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, TypedDict

import numpy as np
import numpy.typing as npt
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra

from locator.errors import NoRouteError
from locator.graph import RoadGraph
from locator.search import (
    Direction,
    ModeGraph,
    SearchResult,
    Snap,
    edge_twins,
)
from locator.snapping import EdgeGeometry

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: A vectorised "inside China" test: (lons, lats) -> bool array.
AreaPredicate = Callable[[FloatArray, FloatArray], BoolArray]


class Step(TypedDict):
    """Consecutive edges sharing one road name."""

    name: str | None
    distance_m: float
    duration_s: float


@dataclass(frozen=True)
class Route:
    """A fastest path between two points on the network.

    Attributes
    ----------
    mode
        Travel mode.
    duration_s, distance_m
        Travel time and length, partial edges at both ends included.
    coordinates
        ``(lon, lat)`` polyline from the snapped start point to the snapped end point.
    edges
        Directed edge ids in travel order (the partial first/last edges included).
    steps
        Consecutive edges grouped by road name (``None`` where unnamed).
    crosses_border
        True when the polyline has points both inside and outside the China outline
        given to the engine (always False without one). Only polyline vertices are tested.
    """

    mode: str
    duration_s: float
    distance_m: float
    coordinates: list[tuple[float, float]]
    edges: list[int]
    steps: list[Step]
    crosses_border: bool


class Option(NamedTuple):
    """One way to enter or leave the network from a snapped point.

    ``node`` is reached (``direction="from"``) or left (``"to"``) at ``cost_s``; the
    partial piece runs along directed ``edge`` between fractions ``f0`` and ``f1``.
    """

    node: int
    cost_s: float
    edge: int
    f0: float
    f1: float


def element_view(arr: npt.NDArray[Any]) -> memoryview:
    """A read-only memoryview of ``arr`` (fast element reads from Python)."""
    return np.ascontiguousarray(arr).data.toreadonly()


class RoutingEngine:
    """Routing over one graph; build once per artifact and reuse.

    Parameters
    ----------
    graph
        The road network.
    china_area
        Optional China (or Inner Mongolia) outline in lon/lat: a shapely geometry or a
        vectorised predicate ``(lons, lats) -> bool array``. Routes leaving or entering
        it get ``crosses_border=True``.
    twins, geometry
        Optional precomputed :func:`~locator.search.edge_twins` and
        :class:`~locator.snapping.EdgeGeometry` of ``graph``.
    """

    def __init__(
        self,
        graph: RoadGraph,
        *,
        china_area: shapely.Geometry | AreaPredicate | None = None,
        twins: IntArray | None = None,
        geometry: EdgeGeometry | None = None,
    ) -> None:
        self.graph = graph
        self.twins = edge_twins(graph) if twins is None else twins
        self.geometry = geometry or EdgeGeometry.build(graph)
        # memoryviews: fast per-element reads from Python without per-element objects
        self._twins_list = element_view(self.twins)
        self._mode_graphs: dict[tuple[str, bool], ModeGraph] = {}
        self._max_edge_time: dict[str, float] = {}
        self._entry_keys: dict[tuple[str, bool], IntArray] = {}
        self._allowed: dict[str, memoryview] = {}
        self._times: dict[str, memoryview] = {}
        self._edge_u = element_view(graph.edge_u)
        self._edge_v = element_view(graph.edge_v)
        # edges drawn as one straight segment (no interior vertices)
        self._straight = np.diff(graph.geom_offsets) == 2
        # straight edges of positive length (zero-length ones would repeat a vertex)
        self._simple = self._straight & (graph.edge_length_m > 0)
        # per edge: its name index where simple, else -2 (one gather tests both)
        self._simple_name = np.where(self._simple, graph.edge_name.astype(np.int64), -2)
        self._start_points: list[tuple[float, float]] | None = None
        self._area: AreaPredicate | None = None
        self.set_china_area(china_area)

    # ------------------------------------------------------------------ setup
    def set_china_area(self, area: shapely.Geometry | AreaPredicate | None) -> None:
        """Set (or clear) the outline used for :attr:`Route.crosses_border`."""
        if area is None:
            self._area = None
        elif isinstance(area, shapely.Geometry):
            shapely.prepare(area)
            geom = area

            def inside(lons: FloatArray, lats: FloatArray) -> BoolArray:
                return np.asarray(shapely.contains_xy(geom, lons, lats), dtype=bool)

            self._area = inside
        else:
            self._area = area

    def max_edge_time_s(self, mode: str) -> float:
        """The longest single-edge travel time of ``mode`` (bounds how far past a search
        limit the next unreached node can lie)."""
        if mode not in self._max_edge_time:
            allowed = self.graph.edge_allowed[mode]
            times = self.graph.edge_time_s[mode][allowed]
            self._max_edge_time[mode] = float(times.max()) if times.size else 0.0
        return self._max_edge_time[mode]

    def mode_graph(self, mode: str, *, reverse: bool = False) -> ModeGraph:
        """The cached CSR graph of ``mode`` (``reverse=True`` for "time to" searches)."""
        key = (mode, reverse)
        mg = self._mode_graphs.get(key)
        if mg is None:
            mg = ModeGraph(self.graph, mode, reverse=reverse)
            self._mode_graphs[key] = mg
            m = mg.matrix
            tails = np.repeat(np.arange(mg.n_nodes, dtype=np.int64), np.diff(m.indptr))
            # CSR rows are sorted by head, so these keys are globally sorted
            self._entry_keys[key] = tails * mg.n_nodes + m.indices.astype(np.int64)
        return mg

    def edges_between(
        self, mode: str, tails: IntArray, heads: IntArray, *, reverse: bool = False
    ) -> IntArray:
        """Vectorised cheapest edge joining ``tails[i] -> heads[i]`` in the mode graph."""
        mg = self.mode_graph(mode, reverse=reverse)
        keys = self._entry_keys[(mode, reverse)]
        want = np.asarray(tails, dtype=np.int64) * mg.n_nodes + np.asarray(heads, dtype=np.int64)
        pos = np.searchsorted(keys, want)
        bad = pos >= keys.size
        if want.size and (bad.any() or np.any(keys[np.minimum(pos, keys.size - 1)] != want)):
            raise KeyError("no edge between some of the given node pairs")
        return mg.entry_edge[pos]

    def _mode_lists(self, mode: str) -> tuple[memoryview, memoryview]:
        if mode not in self._allowed:
            if mode not in self.graph.edge_allowed:
                raise ValueError(f"mode {mode!r} is not available on this network")
            self._allowed[mode] = element_view(self.graph.edge_allowed[mode].astype(bool))
            self._times[mode] = element_view(self.graph.edge_time_s[mode].astype(float))
        return self._allowed[mode], self._times[mode]

    # ------------------------------------------------------------------ snaps
    def canonical(self, snap: Snap) -> tuple[int, float]:
        """``(edge, fraction)`` of a snap on the lower id of its edge/twin pair."""
        tw = self._twins_list[snap.edge]
        if 0 <= tw < snap.edge:
            return tw, 1.0 - snap.fraction
        return snap.edge, snap.fraction

    def options(self, snap: Snap, mode: str, direction: Direction) -> list[Option]:
        """The ways to leave (``"from"``) or reach (``"to"``) a snapped point.

        Same nodes and costs as :func:`~locator.search.seeds_for`, with the partial piece.
        """
        allowed, times = self._mode_lists(mode)
        e, f = snap.edge, snap.fraction
        tw = self._twins_list[e]
        u, v = self._edge_u[e], self._edge_v[e]
        out: list[Option] = []
        if direction == "from":
            if allowed[e]:
                out.append(Option(v, (1.0 - f) * times[e], e, f, 1.0))
            if tw >= 0 and allowed[tw]:
                out.append(Option(u, f * times[tw], tw, 1.0 - f, 1.0))
        else:
            if allowed[e]:
                out.append(Option(u, f * times[e], e, 0.0, f))
            if tw >= 0 and allowed[tw]:
                out.append(Option(v, (1.0 - f) * times[tw], tw, 0.0, 1.0 - f))
        return out

    def same_edge(
        self, mode: str, start: tuple[int, float], end: tuple[int, float]
    ) -> tuple[float, int, float, float] | None:
        """Direct travel between two canonical positions on one edge, if the mode may.

        Returns ``(cost_s, edge, f0, f1)`` of the cheaper allowed direction, or None.
        """
        e, fa = start
        e2, fb = end
        if e != e2:
            return None
        allowed, times = self._mode_lists(mode)
        best: tuple[float, int, float, float] | None = None
        if allowed[e] and fb >= fa:
            best = ((fb - fa) * times[e], e, fa, fb)
        tw = self._twins_list[e]
        if tw >= 0 and allowed[tw] and fa >= fb:
            cand = ((fa - fb) * times[tw], tw, 1.0 - fa, 1.0 - fb)
            if best is None or cand[0] < best[0]:
                best = cand
        return best

    # ------------------------------------------------------------------ paths
    def tree_path(self, mode: str, search: SearchResult, node: int) -> list[int]:
        """Edges from the root of ``node``'s tree in a forward search down to ``node``."""
        pred = search.predecessor
        nodes = [node]
        p = int(pred[node])
        while p >= 0:
            nodes.append(p)
            p = int(pred[p])
        if len(nodes) < 2:
            return []
        arr = np.array(nodes[::-1], dtype=np.int64)
        return [int(x) for x in self.edges_between(mode, arr[:-1], arr[1:])]

    def assemble(
        self,
        mode: str,
        edges: Sequence[int] | IntArray,
        *,
        start_fraction: float,
        end_fraction: float,
        start: tuple[float, float],
        end: tuple[float, float],
    ) -> Route:
        """Build a :class:`Route` from a chain of directed edges.

        The route enters ``edges[0]`` at ``start_fraction``, runs the middle edges in
        full and leaves ``edges[-1]`` at ``end_fraction`` (with one edge: from
        ``start_fraction`` to ``end_fraction``). ``start``/``end`` are the snapped end
        points (lon, lat). ``edges`` may be a list or an int array. Vectorised with a
        small fixed cost: this runs on every nearest-station query.
        """
        fast = self._assemble_simple(
            mode, edges, start_fraction, end_fraction, start=start, end=end
        )
        if fast is not None:
            return fast
        g = self.graph
        e = np.array(edges, dtype=np.int64)
        n = e.size
        a = np.zeros(n)
        b = np.ones(n)
        a[0] = start_fraction
        b[-1] = end_fraction
        if n > 1:
            # drop empty partial pieces at the ends (a point exactly at a node)
            keep = np.ones(n, dtype=bool)
            keep[-1] = b[-1] > a[-1]
            keep[0] = b[0] > a[0] or not np.count_nonzero(keep[1:])
            if np.count_nonzero(keep) < n:
                e, a, b = e[keep], a[keep], b[keep]
                n = e.size
        share = b - a
        dist = g.edge_length_m[e] * share
        dur = g.edge_time_s[mode][e] * share
        names = g.edge_name[e]
        if n == 1 or not np.count_nonzero(names != names[0]):
            steps = [
                Step(
                    name=self._name_of(int(names[0])),
                    distance_m=float(np.add.reduce(dist)),
                    duration_s=float(np.add.reduce(dur)),
                )
            ]
        else:
            first = np.concatenate([[0], np.flatnonzero(names[1:] != names[:-1]) + 1])
            d = np.add.reduceat(dist, first).tolist()
            t = np.add.reduceat(dur, first).tolist()
            steps = [
                Step(name=self._name_of(int(names[s])), distance_m=d[i], duration_s=t[i])
                for i, s in enumerate(first.tolist())
            ]
        hi = g.geom_offsets[e + 1]
        if not np.count_nonzero(~self._straight[e]):
            vidx = hi[:-1] - 1  # straight edges: only the nodes joining the pieces
        else:
            lo = g.geom_offsets[e]
            counts = hi - lo
            piece = np.repeat(np.arange(n), counts)
            base = np.repeat(lo - np.concatenate([[0], np.cumsum(counts[:-1])]), counts)
            all_v = base + np.arange(piece.size)
            vf = self.geometry.vertex_fraction[all_v]
            inside = (vf > a[piece]) & (vf < b[piece])
            joint = (all_v == hi[piece] - 1) & (piece < n - 1)
            vidx = all_v[inside | joint]
        lons = np.concatenate([[start[0]], g.geom_lon[vidx], [end[0]]])
        lats = np.concatenate([[start[1]], g.geom_lat[vidx], [end[1]]])
        keep_v = np.ones(lons.size, dtype=bool)
        keep_v[1:] = (lons[1:] != lons[:-1]) | (lats[1:] != lats[:-1])
        if np.count_nonzero(keep_v) >= 2:
            lons, lats = lons[keep_v], lats[keep_v]
        else:
            lons, lats = lons[[0, -1]], lats[[0, -1]]
        crosses = False
        if self._area is not None:
            ins = self._area(lons, lats)
            crosses = bool(ins.any() and not ins.all())
        return Route(
            mode=mode,
            duration_s=float(np.add.reduce(dur)),
            distance_m=float(np.add.reduce(dist)),
            coordinates=list(zip(lons.tolist(), lats.tolist(), strict=True)),
            edges=e.tolist(),
            steps=steps,
            crosses_border=crosses,
        )

    def _assemble_simple(
        self,
        mode: str,
        edges: Sequence[int] | IntArray,
        start_fraction: float,
        end_fraction: float,
        *,
        start: tuple[float, float],
        end: tuple[float, float],
    ) -> Route | None:
        """Fast path of :meth:`assemble`: straight edges, one road name, no zero-length edge.

        Returns None when the path does not qualify (the general path then runs). Raw
        ufunc reductions: ``.sum()``/``.min()`` cost microseconds of Python overhead.
        """
        e = np.asarray(edges, dtype=np.int64)
        if e.shape[0] > 1 and start_fraction >= 1.0:
            e = e[1:]
            start_fraction = 0.0
        if e.shape[0] > 1 and end_fraction <= 0.0:
            e = e[:-1]
            end_fraction = 1.0
        key = self._simple_name[e]
        name = int(key[0])
        if name == -2 or np.count_nonzero(key != name):
            return None
        g = self.graph
        lengths = g.edge_length_m[e]
        times = g.edge_time_s[mode][e]
        if e.shape[0] == 1:
            share = end_fraction - start_fraction
            dist_m = float(lengths[0]) * share
            dur_s = float(times[0]) * share
        else:
            dist_m = float(np.add.reduce(lengths)) - float(lengths[0]) * start_fraction
            dist_m -= float(lengths[-1]) * (1.0 - end_fraction)
            dur_s = float(np.add.reduce(times)) - float(times[0]) * start_fraction
            dur_s -= float(times[-1]) * (1.0 - end_fraction)
        edge_list: list[int] = e.tolist()
        coords = [start]
        if len(edge_list) == 2:
            coords.append(self._edge_starts()[edge_list[1]])
        elif len(edge_list) > 2:
            # first vertex of every piece after the first, gathered in C
            coords += operator.itemgetter(*edge_list[1:])(self._edge_starts())
        if coords[-1] != end or len(coords) == 1:
            coords.append(end)
        if len(coords) > 2 and coords[1] == start:
            coords.pop(0)
        crosses = False
        if self._area is not None:
            arr = np.asarray(coords, dtype=float)
            ins = self._area(arr[:, 0], arr[:, 1])
            crosses = bool(ins.any() and not ins.all())
        return Route(
            mode=mode,
            duration_s=dur_s,
            distance_m=dist_m,
            coordinates=coords,
            edges=edge_list,
            steps=[Step(name=self._name_of(name), distance_m=dist_m, duration_s=dur_s)],
            crosses_border=crosses,
        )

    def _edge_starts(self) -> list[tuple[float, float]]:
        """``(lon, lat)`` of every edge's first shape vertex (built on first use)."""
        pts = self._start_points
        if pts is None:
            g = self.graph
            first = g.geom_offsets[:-1]
            pts = list(zip(g.geom_lon[first].tolist(), g.geom_lat[first].tolist(), strict=True))
            self._start_points = pts
        return pts

    def _name_of(self, k: int) -> str | None:
        table = self.graph.names
        return table[k] if 0 <= k < len(table) else None

    # ------------------------------------------------------------------ queries
    def _search_from(self, mode: str, starts: Sequence[Option], *, limit_s: float) -> SearchResult:
        """ONE scipy Dijkstra from the start options (virtual source, initial costs).

        :func:`~locator.search.multi_source_dijkstra` runs one search per seed for a
        few seeds; a point has two, so a virtual source joined to both halves the work.
        ``seed`` is the index into ``starts`` of the option each node's tree leaves by.
        """
        mg = self.mode_graph(mode)
        m = mg.matrix
        n = mg.n_nodes
        nodes = np.array([o.node for o in starts], dtype=np.int64)
        costs = np.array([o.cost_s for o in starts], dtype=float)
        order = np.lexsort((costs, nodes))
        keep = np.ones(order.shape[0], dtype=bool)
        keep[1:] = nodes[order][1:] != nodes[order][:-1]
        first = order[keep]  # cheapest option per node, nodes ascending
        # explicit zeros in a CSR matrix are edges for scipy: zero-cost seeds stay exact
        aug = sparse.csr_matrix(
            (
                np.concatenate([m.data, costs[first]]),
                np.concatenate([m.indices, nodes[first]]),
                np.concatenate([m.indptr, [m.indptr[-1] + first.shape[0]]]),
            ),
            shape=(n + 1, n + 1),
        )
        dist, pred = dijkstra(
            aug, directed=True, indices=n, return_predecessors=True, limit=limit_s
        )
        time_s = np.asarray(dist[:n], dtype=float)
        reached = np.isfinite(time_s) & (time_s <= limit_s)
        time_s = np.where(reached, time_s, np.inf)
        pr = np.asarray(pred[:n], dtype=np.int64)
        pr = np.where(reached & (pr >= 0) & (pr < n), pr, -1)
        # the option of a node's tree is found by the caller walking to the root; here
        # only the roots (start nodes) are labelled
        seed = np.full(n, -1, dtype=np.int64)
        seed[nodes[first]] = first
        return SearchResult(time_s, pr, seed)

    def route(self, mode: str, from_snap: Snap, to_snap: Snap) -> Route:
        """The fastest route from one snapped point to another.

        Raises
        ------
        NoRouteError
            The end point cannot be reached from the start point by ``mode``.
        """
        starts = self.options(from_snap, mode, "from")
        ends = self.options(to_snap, mode, "to")
        direct = self.same_edge(mode, self.canonical(from_snap), self.canonical(to_snap))
        best_cost = direct[0] if direct is not None else np.inf
        best_end: Option | None = None
        search: SearchResult | None = None
        if starts and ends:
            search = self._search_from(mode, starts, limit_s=best_cost)
            for o in ends:
                total = float(search.time_s[o.node]) + o.cost_s
                if total < best_cost:
                    best_cost, best_end = total, o
        start_ll = (from_snap.snapped_lon, from_snap.snapped_lat)
        end_ll = (to_snap.snapped_lon, to_snap.snapped_lat)
        if best_end is None or search is None:
            if direct is None:
                raise NoRouteError(
                    f"no {mode} route from ({from_snap.lon:.6f}, {from_snap.lat:.6f}) "
                    f"to ({to_snap.lon:.6f}, {to_snap.lat:.6f})",
                    mode=mode,
                )
            _, edge, d0, d1 = direct
            return self.assemble(
                mode, [edge], start_fraction=d0, end_fraction=d1, start=start_ll, end=end_ll
            )
        middle = self.tree_path(mode, search, best_end.node)
        root = int(self._edge_u[middle[0]]) if middle else best_end.node
        first = starts[int(search.seed[root])]
        return self.assemble(
            mode,
            [first.edge, *middle, best_end.edge],
            start_fraction=first.f0,
            end_fraction=best_end.f1,
            start=start_ll,
            end=end_ll,
        )


def route(
    graph: RoadGraph,
    mode: str,
    from_snap: Snap,
    to_snap: Snap,
    *,
    engine: RoutingEngine | None = None,
) -> Route:
    """Fastest route between two snapped points (see :meth:`RoutingEngine.route`).

    Pass a long-lived ``engine`` in servers; without one a temporary engine is built.
    """
    eng = engine if engine is not None else RoutingEngine(graph)
    if eng.graph is not graph:
        raise ValueError("engine was built for another graph")
    return eng.route(mode, from_snap, to_snap)


def route_to_geojson(r: Route) -> dict[str, Any]:
    """A GeoJSON Feature (LineString) of a route with its summary as properties."""
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [list(c) for c in r.coordinates]},
        "properties": {
            "mode": r.mode,
            "duration_s": r.duration_s,
            "distance_m": r.distance_m,
            "edges": r.edges,
            "steps": r.steps,
            "crosses_border": r.crosses_border,
        },
    }
