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
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypedDict

import numpy as np
import numpy.typing as npt
import shapely
from scipy.spatial import cKDTree
from shapely.geometry.base import BaseGeometry

from locator.errors import NoRouteError
from locator.network.core import Network
from locator.network.geometry import element_view
from locator.network.kernels import jit, readonly_all
from locator.network.multitarget import MultiTargetSearch
from locator.network.p2p import PointToPoint
from locator.network.search import along_edge, entries
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


@dataclass(frozen=True, eq=False)
class Route:
    """A fastest path between two points on the network.

    Attributes
    ----------
    mode
        Travel mode.
    duration_s, distance_m
        Travel time and length, partial edges at both ends included.
    coordinates
        ``(lon, lat)`` polyline from the snapped start point to the snapped end point: a
        read-only float array of shape ``(n, 2)``, ``n >= 2`` (a route along 1 km
        densified roads has about one vertex per kilometre).
    edges
        Directed edge ids in travel order (the partial first/last edges included).
    steps
        Consecutive edges grouped by road name (``None`` where unnamed).
    crosses_border
        True when the polyline has points both inside and outside the China outline
        given to the engine (always False without one). Only polyline vertices are tested.
    border_crossings
        Where the polyline passes the outline, in travel order: for each change of side,
        the ``(lon, lat)`` of the first vertex on the new side (empty when it stays on one
        side).
    """

    mode: str
    duration_s: float
    distance_m: float
    coordinates: FloatArray
    edges: list[int]
    steps: list[Step]
    crosses_border: bool
    border_crossings: tuple[tuple[float, float], ...] = ()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Route):
            return NotImplemented
        return (
            self.mode == other.mode
            and self.duration_s == other.duration_s
            and self.distance_m == other.distance_m
            and np.array_equal(self.coordinates, other.coordinates)
            and self.edges == other.edges
            and self.steps == other.steps
            and self.crosses_border == other.crosses_border
            and self.border_crossings == other.border_crossings
        )

    __hash__ = None  # type: ignore[assignment]  # mutable-looking: not hashable


@dataclass(frozen=True)
class Middle:
    """Full edges between a route's two partial end edges, as the route needs them.

    Attributes
    ----------
    edges
        Directed edge ids in travel order.
    vertices
        Their runs (interior vertices and head of each edge), concatenated.
    length_m, time_s
        Their summed length and travel time (of the route's mode).
    """

    edges: IntArray
    vertices: IntArray
    length_m: float
    time_s: float


class RoutingEngine:
    """Route assembly and point-to-point routes on one network; build once and reuse.

    Parameters
    ----------
    net
        The network.
    inside_country
        Optional vectorised predicate ``(lons, lats) -> bool array`` (inside China).
        Routes with vertices on both sides get ``crosses_border=True``.
    outline
        The (multi)polygon the predicate tests against (WGS 84). With it, a route's end
        point near a vertex far from the outline's boundary takes that vertex's side
        (:func:`clear_radius`) instead of a call of the predicate; without it, both end
        points are tested.
    """

    def __init__(
        self,
        net: Network,
        *,
        inside_country: AreaPredicate | None = None,
        outline: BaseGeometry | None = None,
    ) -> None:
        self.net = net
        graph = net.graph
        self.graph = graph
        self.geometry = net.geometry
        self._inside = inside_country
        #: per polyline vertex: inside the country (classified once; None without one)
        self._vertex_inside: BoolArray | None = (
            None
            if inside_country is None
            else np.asarray(inside_country(graph.geom_lon, graph.geom_lat), dtype=bool)
        )
        #: per vertex: how far (degrees, both axes) every point is on the vertex's side
        self._vertex_clear: FloatArray | None = (
            clear_radius(graph.geom_lon, graph.geom_lat, outline)
            if self._vertex_inside is not None and outline is not None
            else None
        )
        self._runs()
        self._length_l = element_view(graph.edge_length_m.astype(np.float64))
        self._times_l = {
            m: element_view(t.astype(np.float64)) for m, t in graph.edge_time_s.items()
        }
        #: the polyline kernel's read-only inputs (empty side arrays: no border test)
        self._poly_args = readonly_all(
            self.run_start,
            self.run_len,
            self.run_vertices,
            self._run_vf,
            graph.geom_lon.astype(np.float64),
            graph.geom_lat.astype(np.float64),
            np.zeros(0, dtype=bool) if self._vertex_inside is None else self._vertex_inside,
            np.zeros(0) if self._vertex_clear is None else self._vertex_clear,
        )
        #: whether any edge has a name (the regional network has none: one step)
        self._named = bool(
            np.count_nonzero((graph.edge_name >= 0) & (graph.edge_name < len(graph.names)))
        )
        #: the point-to-point search of every mode (compiled kernel, per-call work sets)
        self._p2p = {mode: PointToPoint(net.mode(mode)) for mode in net.modes}
        #: the nearest-targets search of every mode (k nearest stations on networks too
        #: large for the per-station tables)
        self.targets_search = {mode: MultiTargetSearch(net.mode(mode)) for mode in net.modes}

    def warm(self) -> None:
        """Compute every mode's landmarks and compile (or load from numba's cache) the
        search and polyline kernels now, so the first routes do not pay for them."""
        for p2p in self._p2p.values():
            p2p.warm()
        for multi in self.targets_search.values():
            multi.warm()
        if self.graph.n_edges:  # the polyline kernel, on the engine's own arrays
            self.assemble(
                self.net.modes.modes[0],
                [0],
                start_fraction=0.0,
                end_fraction=1.0,
                start=(0.0, 0.0),
                end=(0.0, 0.0),
            )

    def _runs(self) -> None:
        """Every edge's *run*: the vertices a route passing it in full adds after the
        previous edge (its interior vertices and its head), without the vertices that
        repeat the one before them. Runs are stored back to back (``run_vertices``,
        ``run_start``, ``run_len``) with each vertex's fraction along its edge, so the
        part of an end edge before or after a fraction is one binary search."""
        g = self.graph
        offsets = g.geom_offsets.astype(np.int64)
        n_pts = g.geom_lon.shape[0]
        first = np.zeros(n_pts, dtype=bool)
        first[offsets[:-1]] = True
        same = np.zeros(n_pts, dtype=bool)
        same[1:] = (g.geom_lon[1:] == g.geom_lon[:-1]) & (g.geom_lat[1:] == g.geom_lat[:-1])
        keep = ~first & ~same
        edge_of = self.geometry.edge_of_vertex
        self.run_vertices: IntArray = np.flatnonzero(keep).astype(np.int64)
        self.run_len: IntArray = np.bincount(edge_of[keep], minlength=g.n_edges).astype(np.int64)
        self.run_start: IntArray = np.cumsum(self.run_len) - self.run_len
        self._run_vf = self.geometry.vertex_fraction[self.run_vertices].astype(np.float64)

    def point_at(self, edge: int, fraction: float) -> tuple[float, float]:
        """The point ``fraction`` (by length) along directed ``edge``, (lon, lat)."""
        g = self.graph
        a, b = int(g.geom_offsets[edge]), int(g.geom_offsets[edge + 1])
        vf = self.geometry.vertex_fraction[a:b]
        f = min(max(float(fraction), 0.0), 1.0)
        return (
            float(np.interp(f, vf, g.geom_lon[a:b])),
            float(np.interp(f, vf, g.geom_lat[a:b])),
        )

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
        points (lon, lat). The middle edges are gathered by :meth:`middle` and the route
        finished by :meth:`assemble_parts`, which every answer path shares.
        """
        e = np.asarray(edges, dtype=np.int64)
        if e.shape[0] == 1:
            return self._single(mode, int(e[0]), start_fraction, end_fraction, start, end)
        return self.assemble_parts(
            mode,
            first=int(e[0]),
            start_fraction=start_fraction,
            middle=self.middle(mode, e[1:-1]),
            last=int(e[-1]),
            end_fraction=end_fraction,
            start=start,
            end=end,
        )

    def middle(self, mode: str, edges: IntArray) -> Middle:
        """The parts of a chain of full edges: their vertex runs, length and time."""
        lens = self.run_len[edges]
        lead = np.cumsum(lens) - lens
        total = int(np.add.reduce(lens)) if lens.shape[0] else 0
        vertices = self.run_vertices[
            np.repeat(self.run_start[edges] - lead, lens) + np.arange(total)
        ]
        return Middle(
            edges,
            vertices,
            float(np.add.reduce(self.graph.edge_length_m[edges])),
            float(np.add.reduce(self.graph.edge_time_s[mode][edges])),
        )

    def assemble_parts(
        self,
        mode: str,
        *,
        first: int,
        start_fraction: float,
        middle: Middle,
        last: int,
        end_fraction: float,
        start: tuple[float, float],
        end: tuple[float, float],
    ) -> Route:
        """A :class:`Route` entering ``first`` at ``start_fraction``, along ``middle`` in
        full, leaving ``last`` at ``end_fraction``: a fixed handful of array operations
        whatever the route's length (only the two end edges are cut at fractions)."""
        a0, b1 = float(start_fraction), float(end_fraction)
        length, times = self._length_l, self._times_l[mode]
        share0, share1 = 1.0 - a0, b1
        dist_m = middle.length_m + length[first] * share0 + length[last] * share1
        dur_s = middle.time_s + times[first] * share0 + times[last] * share1
        # a point exactly at a node leaves an empty piece at that end: not part of the route
        head = [first] if a0 < 1.0 else []
        tail = [last] if b1 > 0.0 else []
        if not head and not tail and middle.edges.shape[0] == 0:
            head = [first]  # a route from a node to itself: keep one (empty) piece
        edges = [*head, *middle.edges.tolist(), *tail]
        steps = None
        if self._named:
            e = np.array(edges, dtype=np.int64)
            steps = self._steps(mode, e, share0 if head else None, share1 if tail else None)
        if steps is None:
            steps = [Step(name=None, distance_m=dist_m, duration_s=dur_s)]
        poly = _polyline(
            False, first, a0, last, b1, middle.vertices, *start, *end, *self._poly_args
        )
        return self._finish(mode, poly, edges, dist_m, dur_s, steps)

    def _single(  # noqa: PLR0917 (private; assemble's arguments)
        self,
        mode: str,
        edge: int,
        a0: float,
        b1: float,
        start: tuple[float, float],
        end: tuple[float, float],
    ) -> Route:
        """A route along one edge, from fraction ``a0`` to ``b1``."""
        share = b1 - a0
        dist_m = self._length_l[edge] * share
        dur_s = self._times_l[mode][edge] * share
        name = self._name_of(int(self.graph.edge_name[edge]))
        steps = [Step(name=name, distance_m=dist_m, duration_s=dur_s)]
        poly = _polyline(True, edge, a0, edge, b1, _NO_EDGES, *start, *end, *self._poly_args)
        return self._finish(mode, poly, [edge], dist_m, dur_s, steps)

    def _finish(  # noqa: PLR0917 (private; the parts the assemblers computed)
        self,
        mode: str,
        poly: tuple[FloatArray, IntArray, int, int, int],
        edges: list[int],
        dist_m: float,
        dur_s: float,
        steps: list[Step],
    ) -> Route:
        """The :class:`Route` of a polyline from :func:`_polyline`, with its border flag:
        the route's vertices were classified at load; an end point whose side the kernel
        could not take from its neighbour (outside that vertex's clear radius) is
        tested, both in one call."""
        coords, vidx, n_in, side0, side1 = poly
        coords.flags.writeable = False
        crosses = False
        crossings: tuple[tuple[float, float], ...] = ()
        if n_in >= 0 and self._inside is not None and self._vertex_inside is not None:
            if side0 < 0 or side1 < 0:
                ends = self._inside(coords[[0, -1], 0], coords[[0, -1], 1])
                side0, side1 = int(bool(ends[0])), int(bool(ends[1]))
            k = int(vidx.shape[0])
            if 0 < n_in + side0 + side1 < k + 2:
                # crossing routes are rare: the change points are off the hot path
                side = np.concatenate([[bool(side0)], self._vertex_inside[vidx], [bool(side1)]])
                flips = np.flatnonzero(side[1:] != side[:-1]) + 1
                crosses = True
                crossings = tuple(
                    (float(coords[i, 0]), float(coords[i, 1])) for i in flips.tolist()
                )
        return Route(
            mode=mode,
            duration_s=dur_s,
            distance_m=dist_m,
            coordinates=coords,
            edges=edges,
            steps=steps,
            crosses_border=crosses,
            border_crossings=crossings,
        )

    def _steps(
        self, mode: str, e: IntArray, share0: float | None, share1: float | None
    ) -> list[Step] | None:
        """Consecutive edges grouped by road name (``None``: one unnamed step).

        ``share0``/``share1`` are the shares of the first and last edge of ``e`` that the
        route uses (``None``: that end edge is not in ``e``, all edges count in full).
        """
        if not self._named:
            return None
        names = self.graph.edge_name[e]
        name0 = int(names[0])
        if not np.count_nonzero(names != name0):
            if self._name_of(name0) is None:
                return None
            first = np.zeros(1, dtype=np.int64)
        else:
            first = np.concatenate([[0], np.flatnonzero(names[1:] != names[:-1]) + 1])
        share = np.ones(e.shape[0])
        if share0 is not None:
            share[0] = share0
        if share1 is not None:
            share[-1] = share1
        d = np.add.reduceat(self.graph.edge_length_m[e] * share, first).tolist()
        t = np.add.reduceat(self.graph.edge_time_s[mode][e] * share, first).tolist()
        return [
            Step(name=self._name_of(int(names[s])), distance_m=d[i], duration_s=t[i])
            for i, s in enumerate(first.tolist())
        ]

    def _name_of(self, k: int) -> str | None:
        table = self.graph.names
        return table[k] if 0 <= k < len(table) else None

    # ------------------------------------------------------------------ queries
    def route(self, mode: str, from_snap: Snap, to_snap: Snap) -> Route:
        """The fastest route from one snapped point to another.

        One point-to-point search (:class:`~locator.network.p2p.PointToPoint`: A* with
        landmarks, or a bidirectional Dijkstra before the warm-up) from the start point's
        entries to the end point's, bounded by the direct travel along a shared road when
        there is one.

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
        start_ll = (from_snap.snapped_lon, from_snap.snapped_lat)
        end_ll = (to_snap.snapped_lon, to_snap.snapped_lat)
        found = self._p2p[mode].path(
            [(o.node, o.cost_s) for o in starts],
            [(o.node, o.cost_s) for o in ends],
            bound_s=direct[0] if direct is not None else np.inf,
        )
        if found is None:
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
        first, last = starts[found.source], ends[found.target]
        return self.assemble(
            mode,
            [first.edge, *found.edges.tolist(), last.edge],
            start_fraction=first.f0,
            end_fraction=last.f1,
            start=start_ll,
            end=end_ll,
        )


_NO_EDGES = np.zeros(0, dtype=np.int64)


@jit
def _polyline(  # noqa: PLR0917 (a compiled kernel: plain arguments only)
    single: bool,
    first: int,
    a0: float,
    last: int,
    b1: float,
    middle: IntArray,
    start_lon: float,
    start_lat: float,
    end_lon: float,
    end_lat: float,
    run_start: IntArray,
    run_len: IntArray,
    run_vertices: IntArray,
    run_vf: FloatArray,
    vlon: FloatArray,
    vlat: FloatArray,
    inside: BoolArray,
    clear: FloatArray,
) -> tuple[FloatArray, IntArray, int, int, int]:
    """A route's polyline: the start point, the vertices of the first edge's run beyond
    ``a0``, the ``middle`` vertices, those of the last edge's run short of ``b1`` (with
    ``single``: of one edge's run between ``a0`` and ``b1``), the end point; an end
    vertex equal to the end point next to it is dropped.

    Returns ``(coords, vertices, n_inside, side0, side1)``: the ``(n, 2)`` lon/lat array,
    the interior vertex ids, how many of them are inside the country (-1 without the
    per-vertex flags ``inside``) and each end point's side when it lies within its
    neighbouring vertex's clear radius (``clear``, :func:`clear_radius`), else -1."""
    s = run_start[first]
    e = s + run_len[first]
    h_lo = s + np.searchsorted(run_vf[s:e], a0, side="right")
    if single:
        h_hi = max(h_lo, s + np.searchsorted(run_vf[s:e], b1, side="left"))
        n_mid = 0
        t_lo = t_hi = 0
    else:
        h_hi = e
        n_mid = middle.shape[0]
        t_lo = run_start[last]
        t_hi = t_lo + np.searchsorted(run_vf[t_lo : t_lo + run_len[last]], b1, side="left")
    k = (h_hi - h_lo) + n_mid + (t_hi - t_lo)
    verts = np.empty(k, dtype=np.int64)
    j = 0
    for i in range(h_lo, h_hi):
        verts[j] = run_vertices[i]
        j += 1
    for i in range(n_mid):
        verts[j] = middle[i]
        j += 1
    for i in range(t_lo, t_hi):
        verts[j] = run_vertices[i]
        j += 1
    lo = 0
    hi = k
    if hi > lo and vlon[verts[0]] == start_lon and vlat[verts[0]] == start_lat:
        lo = 1
    if hi > lo and vlon[verts[hi - 1]] == end_lon and vlat[verts[hi - 1]] == end_lat:
        hi -= 1
    m = hi - lo
    out = verts[lo:hi].copy()
    coords = np.empty((m + 2, 2))
    coords[0, 0] = start_lon
    coords[0, 1] = start_lat
    for i in range(m):
        coords[i + 1, 0] = vlon[out[i]]
        coords[i + 1, 1] = vlat[out[i]]
    coords[m + 1, 0] = end_lon
    coords[m + 1, 1] = end_lat
    n_in = -1
    side0 = -1
    side1 = -1
    if inside.shape[0]:
        n_in = 0
        for i in range(m):
            n_in += inside[out[i]]
        if clear.shape[0] and m:
            v = out[0]
            if abs(start_lon - vlon[v]) < clear[v] and abs(start_lat - vlat[v]) < clear[v]:
                side0 = int(inside[v])
            v = out[m - 1]
            if abs(end_lon - vlon[v]) < clear[v] and abs(end_lat - vlat[v]) < clear[v]:
                side1 = int(inside[v])
    return coords, out, n_in, side0, side1


#: Spacing of the samples taken along the outline's boundary, degrees (~1 km).
BOUNDARY_SAMPLE_DEG = 0.01

#: Clear radii are computed up to this distance from the boundary, degrees (~20 km: far
#: longer than a segment of a densified road; bounds the load-time search).
CLEAR_CAP_DEG = 0.2


def clear_radius(lon: FloatArray, lat: FloatArray, outline: BaseGeometry) -> FloatArray:
    """Per vertex, a radius ``r`` (degrees, 0 near the boundary) such that every point
    ``p`` with ``|p - v| < r`` on both axes lies on the same side of ``outline`` as the
    vertex ``v``.

    The boundary is sampled every :data:`BOUNDARY_SAMPLE_DEG` or closer, so each of its
    points is within half that of a sample: the boundary is at least ``d - h`` from ``v``
    (``d`` the distance to the nearest sample, ``h`` the half spacing; plain degrees, the
    metric the outline test uses). The square of half-side ``r = (d - h) / sqrt(2)``
    around ``v`` lies in that boundary-free disc, and so does the segment from ``v`` to
    any point of it: that point is inside the outline exactly when ``v`` is (the route's
    end points take their neighbour's side this way, with no geometry call per request).
    """
    if lon.shape[0] == 0:
        return np.zeros(0)
    boundary = shapely.segmentize(shapely.boundary(outline), BOUNDARY_SAMPLE_DEG)
    samples = shapely.get_coordinates(boundary)
    if samples.shape[0] == 0:
        return np.full(lon.shape[0], CLEAR_CAP_DEG / math.sqrt(2.0))
    half = BOUNDARY_SAMPLE_DEG / 2.0  # segmentize leaves no piece longer than the spacing
    # only the samples near the network matter: farther than CLEAR_CAP_DEG counts as that
    cap = CLEAR_CAP_DEG
    margin = cap + BOUNDARY_SAMPLE_DEG  # a sample within h of a boundary point within cap
    lo_x, hi_x = float(lon.min()) - margin, float(lon.max()) + margin
    lo_y, hi_y = float(lat.min()) - margin, float(lat.max()) + margin
    near = (
        (samples[:, 0] >= lo_x)
        & (samples[:, 0] <= hi_x)
        & (samples[:, 1] >= lo_y)
        & (samples[:, 1] <= hi_y)
    )
    d = np.full(lon.shape[0], cap)
    if near.any():
        got, _ = cKDTree(samples[near]).query(
            np.column_stack([lon, lat]), k=1, distance_upper_bound=cap
        )
        d = np.minimum(np.asarray(got, dtype=np.float64), cap)
    # 0.999: a margin for the rounding of d
    return np.maximum((d - half) / math.sqrt(2.0) * 0.999, 0.0)
