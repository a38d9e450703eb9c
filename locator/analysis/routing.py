"""Fastest routes between snapped points, with partial edges at both ends.

A :class:`RoutingEngine` is built once per artifact over the shared
:class:`~locator.network.core.Network`. A path is a chain of directed edges entered at a
fraction of the first and left at a fraction of the last;
:meth:`RoutingEngine.assemble` turns it into a :class:`Route` (time, distance, polyline,
steps, border flag) with vectorised numpy. Nearest-station answers are assembled by the
same method, so every route the service returns is built one way.
"""

from __future__ import annotations

import logging
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import numpy.typing as npt

from locator.errors import NoRouteError
from locator.network.core import Network
from locator.network.search import along_edge, entries, search, tree_path
from locator.network.snapping import Snap

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


class RoutingEngine:
    """Route assembly and point-to-point routes on one network; build once and reuse.

    Parameters
    ----------
    net
        The network.
    inside_country
        Optional vectorised predicate ``(lons, lats) -> bool array`` (inside China).
        Routes with vertices on both sides get ``crosses_border=True``.
    """

    def __init__(self, net: Network, *, inside_country: AreaPredicate | None = None) -> None:
        self.net = net
        graph = net.graph
        self.graph = graph
        self.geometry = net.geometry
        self._inside = inside_country
        # edges drawn as one straight segment (no interior vertices)
        self._straight = np.diff(graph.geom_offsets) == 2
        # straight edges of positive length (zero-length ones would repeat a vertex)
        self._simple = self._straight & (graph.edge_length_m > 0)
        # per edge: its name index where simple, else -2 (one gather tests both)
        self._simple_name = np.where(self._simple, graph.edge_name.astype(np.int64), -2)
        first = graph.geom_offsets[:-1]
        #: (lon, lat) of every edge's first shape vertex (the simple path's coordinates)
        self._edge_starts: list[tuple[float, float]] = list(
            zip(graph.geom_lon[first].tolist(), graph.geom_lat[first].tolist(), strict=True)
        )

    def _crosses(self, lons: FloatArray, lats: FloatArray) -> bool:
        if self._inside is None:
            return False
        ins = self._inside(lons, lats)
        return bool(ins.any() and not ins.all())

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
        crosses = self._crosses(lons, lats)
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
            coords.append(self._edge_starts[edge_list[1]])
        elif len(edge_list) > 2:
            # first vertex of every piece after the first, gathered in C
            coords += operator.itemgetter(*edge_list[1:])(self._edge_starts)
        if coords[-1] != end or len(coords) == 1:
            coords.append(end)
        if len(coords) > 2 and coords[1] == start:
            coords.pop(0)
        arr = np.asarray(coords, dtype=np.float64)
        crosses = self._crosses(arr[:, 0], arr[:, 1])
        return Route(
            mode=mode,
            duration_s=dur_s,
            distance_m=dist_m,
            coordinates=coords,
            edges=edge_list,
            steps=[Step(name=self._name_of(name), distance_m=dist_m, duration_s=dur_s)],
            crosses_border=crosses,
        )

    def _name_of(self, k: int) -> str | None:
        table = self.graph.names
        return table[k] if 0 <= k < len(table) else None

    # ------------------------------------------------------------------ queries
    def route(self, mode: str, from_snap: Snap, to_snap: Snap) -> Route:
        """The fastest route from one snapped point to another.

        One search from the start point's entries, bounded by the direct travel along a
        shared road when there is one.

        Raises
        ------
        NoRouteError
            The end point cannot be reached from the start point by ``mode``.
        """
        geo = self.geometry
        mg = self.net.mode(mode)
        starts = entries(geo, mg, from_snap.edge, from_snap.fraction, "from")
        ends = entries(geo, mg, to_snap.edge, to_snap.fraction, "to")
        direct = along_edge(
            geo,
            mg,
            geo.canonical(from_snap.edge, from_snap.fraction),
            geo.canonical(to_snap.edge, to_snap.fraction),
        )
        best_cost = direct[0] if direct is not None else np.inf
        start_ll = (from_snap.snapped_lon, from_snap.snapped_lat)
        end_ll = (to_snap.snapped_lon, to_snap.snapped_lat)
        best_end = None
        if starts and ends:
            result = search(
                mg.forward,
                [o.node for o in starts],
                [o.cost_s for o in starts],
                limit_s=best_cost,
                trees=True,
            )
            for o in ends:
                total = float(result.time_s[o.node]) + o.cost_s
                if total < best_cost:
                    best_cost, best_end = total, o
        if best_end is None:
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
        middle, root = tree_path(result, mg.forward, best_end.node)
        _, seed = result.trees()
        first = starts[int(seed[root])]
        return self.assemble(
            mode,
            [first.edge, *middle.tolist(), best_end.edge],
            start_fraction=first.f0,
            end_fraction=best_end.f1,
            start=start_ll,
            end=end_ll,
        )
