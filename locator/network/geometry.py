"""Edge geometry: projected polylines, positions along edges, twins and physical roads.

This is the one home of three concepts every engine needs:

- **Twins.** A directed edge ``u -> v`` and the edge ``v -> u`` of the same length (within
  1 cm) are one physical road travelled both ways when each names the other
  (:func:`edge_twins`). A road without such a pair is one-way in the graph.
- **Canonical roads.** Each physical road is handled once, as its *canonical* edge: the
  lower id of a twin pair, or the edge itself. A position on a directed edge at fraction
  ``f`` is the position ``1 - f`` on its twin (:meth:`EdgeGeometry.canonical`).
- **Fractions along an edge.** Positions are fractions of the polyline's length in the
  artifact's projected CRS, from the tail (0) to the head (1). Build-time densification
  (``RoadGraph.max_segment_m``) keeps segments short, so these fractions agree with the
  geodesic ones to millimetres.

:class:`EdgeGeometry` is built once per artifact and is read-only afterwards.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely

from locator.network.graph import RoadGraph
from locator.network.projection import Projector

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Before reprojecting a projected geometry to WGS 84 its straight segments are cut to at
#: most this many metres, so a straight side stays where it was to a few centimetres (a
#: vertex-by-vertex transform draws a long side as a different line; 1 km: < 0.05 m).
DENSIFY_M = 1000.0
#: The same rule the other way: lon/lat geometries are cut to segments of at most this
#: many degrees (about 2 km) before they are projected.
DENSIFY_DEG = 0.02


def element_view(arr: npt.NDArray[Any]) -> memoryview:
    """A read-only memoryview of ``arr`` (fast element reads from Python, no per-element
    objects; the scalar hot paths of snapping and routing read through these)."""
    return np.ascontiguousarray(arr).data.toreadonly()


def edge_twins(graph: RoadGraph) -> IntArray:
    """For each directed edge its reverse twin, or -1.

    The twin of ``u -> v`` is an edge ``v -> u`` of equal length (within 1 cm); twins are
    mutual (``twins[twins[e]] == e``): where parallel edges leave a reverse edge claimed
    by two, only the pair that names each other is kept, the others are one-way.
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
    ids = np.arange(e, dtype=np.int64)
    twins[twins == ids] = -1
    mutual = twins >= 0
    mutual[mutual] = twins[twins[mutual]] == ids[mutual]
    twins[~mutual] = -1
    return twins


class EdgeGeometry:
    """Projected polylines, twins, canonical roads and vertex fractions of one graph.

    Parameters
    ----------
    graph
        The road network.
    projector
        Projector for ``graph.crs``; built here when omitted.

    Attributes
    ----------
    twins
        :func:`edge_twins` of the graph.
    x, y
        Projected coordinates (metres) of every polyline vertex (parallel to
        ``graph.geom_lon``/``geom_lat``).
    offsets
        ``graph.geom_offsets`` as int64: edge ``i`` owns vertices ``offsets[i]:offsets[i+1]``.
    vertex_fraction
        Every vertex's position along its own edge, 0 (tail) to 1 (head), by projected
        length (by vertex index on a zero-length edge).
    edge_of_vertex
        The edge each vertex belongs to.
    canon
        Edge id of each physical road's canonical edge (ascending).
    partner
        The twin of each canonical edge, or -1 (a one-way road).
    road_of_edge
        For every directed edge the index of its road in ``canon``.
    flipped
        True where a directed edge runs against its road's canonical direction.
    road_length_m
        Length of each road as the network states it (``edge_length_m`` of the canonical
        edge); every length figure of the engine is this length times a fraction.
    road_u, road_v
        End nodes of each road (tail and head of the canonical edge).
    """

    def __init__(self, graph: RoadGraph, projector: Projector | None = None) -> None:
        self.graph = graph
        self.projector = projector or Projector(graph.crs)
        e = graph.n_edges
        ids = np.arange(e, dtype=np.int64)
        self.twins: IntArray = edge_twins(graph)
        is_canon = (self.twins < 0) | (ids < self.twins)
        self.canon: IntArray = ids[is_canon]
        self.partner: IntArray = self.twins[self.canon]
        road_of_edge = np.full(e, -1, dtype=np.int64)
        road_of_edge[self.canon] = np.arange(self.canon.shape[0], dtype=np.int64)
        paired = self.partner >= 0
        road_of_edge[self.partner[paired]] = np.nonzero(paired)[0]
        self.road_of_edge: IntArray = road_of_edge
        self.flipped: BoolArray = ~is_canon
        self.road_length_m: FloatArray = graph.edge_length_m[self.canon].astype(np.float64)
        self.road_u: IntArray = graph.edge_u[self.canon].astype(np.int64)
        self.road_v: IntArray = graph.edge_v[self.canon].astype(np.int64)

        offsets = graph.geom_offsets.astype(np.int64)
        self.offsets: IntArray = offsets
        x, y = self.projector.forward(graph.geom_lon, graph.geom_lat)
        self.x: FloatArray = np.asarray(x, dtype=np.float64).reshape(-1)
        self.y: FloatArray = np.asarray(y, dtype=np.float64).reshape(-1)
        n_pts = self.x.shape[0]
        counts = np.diff(offsets)
        self.edge_of_vertex: IntArray = np.repeat(ids, counts)
        step = np.zeros(n_pts)
        if n_pts > 1:
            step[1:] = np.hypot(np.diff(self.x), np.diff(self.y))
        step[offsets[:-1]] = 0.0  # the first vertex of every edge starts afresh
        cum = np.cumsum(step)
        cum -= np.repeat(cum[offsets[:-1]], counts)
        total = np.repeat(cum[offsets[1:] - 1], counts)
        index_in_edge = np.arange(n_pts) - np.repeat(offsets[:-1], counts)
        by_index = index_in_edge / np.repeat(np.maximum(counts - 1, 1), counts)
        frac = np.where(total > 0, cum / np.where(total > 0, total, 1.0), by_index)
        frac[offsets[1:] - 1] = 1.0
        self.vertex_fraction: FloatArray = np.clip(frac, 0.0, 1.0).astype(np.float64)
        # sorted search key: 2 * edge + fraction (vertices of one edge are contiguous)
        self._key: FloatArray = (2.0 * self.edge_of_vertex + self.vertex_fraction).astype(
            np.float64
        )
        # scalar hot paths (snap -> canonical position, entries onto the network)
        self.twins_l = element_view(self.twins)
        self.edge_u_l = element_view(graph.edge_u.astype(np.int64))
        self.edge_v_l = element_view(graph.edge_v.astype(np.int64))

    @property
    def n_roads(self) -> int:
        return int(self.canon.shape[0])

    # ------------------------------------------------------------------ positions
    def canonical(self, edge: int, fraction: float) -> tuple[int, float]:
        """The position ``fraction`` along directed ``edge`` on its road's canonical edge."""
        tw = self.twins_l[edge]
        if 0 <= tw < edge:
            return tw, 1.0 - fraction
        return edge, fraction

    def canonical_segments(self) -> tuple[IntArray, IntArray]:
        """``(first vertex, edge)`` of every straight segment of every canonical edge.

        Segment ``i`` joins vertex ``start[i]`` to ``start[i] + 1`` of edge ``edge[i]``
        (ascending by vertex): the index snapping searches, each road once.
        """
        is_last = np.zeros(self.x.shape[0], dtype=bool)
        is_last[self.offsets[1:] - 1] = True
        start = np.nonzero(~is_last)[0].astype(np.int64)
        edge = self.edge_of_vertex[start]
        keep = ~self.flipped[edge]
        return start[keep], edge[keep]

    # ------------------------------------------------------------------ roads at nodes
    @functools.cached_property
    def node_roads(self) -> tuple[IntArray, IntArray]:
        """CSR ``(indptr, roads)`` of the roads meeting each node at either end.

        Roads of node ``n`` are ``roads[indptr[n]:indptr[n + 1]]`` (ascending; a closed
        loop is listed twice at its node). Built on first use and published whole.
        """
        n_nodes = self.graph.n_nodes
        ids = np.arange(self.n_roads, dtype=np.int64)
        ends = np.concatenate([self.road_u, self.road_v])
        both = np.concatenate([ids, ids])
        roads = both[np.lexsort((both, ends))]
        indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(np.bincount(ends, minlength=n_nodes), out=indptr[1:])
        return indptr, roads

    def roads_at(self, nodes: IntArray) -> IntArray:
        """Sorted unique roads with an end at any of ``nodes``."""
        indptr, roads = self.node_roads
        nodes = np.asarray(nodes, dtype=np.int64)
        first = indptr[nodes]
        counts = indptr[nodes + 1] - first
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64)
        base = np.repeat(first - (np.cumsum(counts) - counts), counts)
        return np.unique(roads[base + np.arange(total, dtype=np.int64)])

    @functools.cached_property
    def unnoded_roads(self) -> BoolArray:
        """Roads that meet another road (or themselves) anywhere but at shared ends.

        True for roads crossing without a common node (bridges, tunnels), ending on the
        middle of another road, overlapping another road, self-intersecting, or closed
        loops touching other roads. All other roads meet only end to end, so any pieces
        of them form a properly noded line set without a noding pass. Computed on first
        use (an STR-tree join over all roads, local to the call: ~0.1-0.3 s on 20-35k
        roads) and published whole.
        """
        n = self.n_roads
        ids = np.arange(n, dtype=np.int64)
        lines = self.cut(ids, np.zeros(n), np.ones(n))
        flag = ~shapely.is_simple(lines)
        left, right = shapely.STRtree(lines).query(lines, predicate="intersects")
        pair = left < right
        left, right = left[pair], right[pair]
        # DE-9IM: interiors disjoint and no end point on the other's interior
        clean = shapely.relate_pattern(lines[left], lines[right], "FF*F*****")
        flag[left[~clean]] = True
        flag[right[~clean]] = True
        return np.asarray(flag, dtype=bool)

    # ------------------------------------------------------------------ cutting
    def cut(self, road: IntArray, start: FloatArray, end: FloatArray) -> npt.NDArray[np.object_]:
        """Projected LineStrings of road pieces, cut at exact fractions along the shape.

        Piece ``i`` runs along road ``road[i]`` (an index into :attr:`canon`) from
        fraction ``start[i]`` to ``end[i]`` of its canonical edge. A piece with
        ``start == end`` becomes a zero-length line at that point. Whole-road ends are the
        node coordinates bit for bit, so pieces of adjacent roads share their end points
        exactly (polygonizing relies on that).
        """
        k = int(np.asarray(road).shape[0])
        if k == 0:
            return np.empty(0, dtype=object)
        edge = self.canon[road]
        a = np.asarray(start, dtype=np.float64)
        b = np.asarray(end, dtype=np.float64)
        key = self._key
        s = np.searchsorted(key, 2.0 * edge + a, side="right")
        t = np.searchsorted(key, 2.0 * edge + b, side="left")
        first = self.offsets[edge]
        last = self.offsets[edge + 1] - 1
        s = np.clip(s, first + 1, last)
        t = np.clip(t, first + 1, last)
        t = np.maximum(t, s)
        ax, ay = self._interp(s, a)
        bx, by = self._interp(t, b)
        at_first = a <= 0.0
        ax = np.where(at_first, self.x[first], ax)
        ay = np.where(at_first, self.y[first], ay)
        at_last = b >= 1.0
        bx = np.where(at_last, self.x[last], bx)
        by = np.where(at_last, self.y[last], by)
        n_pts = t - s + 2
        total = int(n_pts.sum())
        line_id = np.repeat(np.arange(k, dtype=np.int64), n_pts)
        starts = np.cumsum(n_pts) - n_pts
        pos = np.arange(total, dtype=np.int64) - np.repeat(starts, n_pts)
        src = np.repeat(s, n_pts) + pos - 1
        xs = self.x[np.clip(src, 0, self.x.shape[0] - 1)]
        ys = self.y[np.clip(src, 0, self.y.shape[0] - 1)]
        is_first = pos == 0
        is_last = pos == np.repeat(n_pts - 1, n_pts)
        xs[is_first] = ax
        ys[is_first] = ay
        xs[is_last] = bx
        ys[is_last] = by
        return np.asarray(
            shapely.linestrings(np.column_stack((xs, ys)), indices=line_id), dtype=object
        )

    def _interp(self, after: IntArray, f: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Point at fraction ``f`` between vertices ``after - 1`` and ``after``."""
        f0 = self.vertex_fraction[after - 1]
        f1 = self.vertex_fraction[after]
        span = f1 - f0
        w = np.where(span > 0, (f - f0) / np.where(span > 0, span, 1.0), 0.0)
        w = np.clip(w, 0.0, 1.0)
        x = self.x[after - 1] + w * (self.x[after] - self.x[after - 1])
        y = self.y[after - 1] + w * (self.y[after] - self.y[after - 1])
        return x, y

    @functools.cached_property
    def road_xy_length_m(self) -> FloatArray:
        """Projected length of every road's polyline (the denominator of its fractions;
        computed on first use and published whole)."""
        c = self.canon
        ends = self.offsets[c + 1] - 1
        first = self.offsets[c]
        step = np.hypot(np.diff(self.x), np.diff(self.y)) if self.x.size > 1 else np.zeros(0)
        cum = np.concatenate([[0.0], np.cumsum(step)])
        return np.asarray(cum[ends] - cum[first], dtype=np.float64)

    @functools.cached_property
    def road_bounds(self) -> FloatArray:
        """``(n_roads, 4)`` bounding box (min x, min y, max x, max y) of every road's
        projected polyline: a numpy pre-filter for "which roads can touch this area"
        (computed on first use and published whole; no native object is shared)."""
        c = self.canon
        out = np.zeros((c.shape[0], 4))
        if c.size == 0:
            return out
        starts = self.offsets[:-1]  # every edge's polyline is contiguous and non-empty
        for col, (values, reduce) in enumerate(
            ((self.x, np.minimum), (self.y, np.minimum), (self.x, np.maximum), (self.y, np.maximum))
        ):
            out[:, col] = reduce.reduceat(values, starts)[c]
        return out

    # ------------------------------------------------------------------ reprojection
    def to_lonlat(self, geom: shapely.Geometry, *, densify_m: float = DENSIFY_M) -> Any:
        """A projected geometry in WGS 84 (lon, lat).

        Straight segments are first cut to at most ``densify_m`` metres, so a long side
        keeps its place instead of bending with the projection (two polygons sharing a
        side through different vertices would otherwise part by metres).
        """
        return _reproject(geom, self.projector.inverse, densify_m)

    def to_projected(self, geom: shapely.Geometry, *, densify_deg: float = DENSIFY_DEG) -> Any:
        """A WGS 84 (lon, lat) geometry in the graph's projected CRS.

        Straight segments are first cut to at most ``densify_deg`` degrees: a long side
        (a bbox's edge, a coarse outline) is a curve in the projected CRS, and clipping
        against its chord would cut off what lies between.
        """
        return _reproject(geom, self.projector.forward, densify_deg)


def _reproject(
    geom: shapely.Geometry,
    transform: Callable[[FloatArray, FloatArray], tuple[FloatArray, FloatArray]],
    densify: float,
) -> Any:
    """``geom`` through ``transform``, its segments first cut to at most ``densify``."""
    if densify > 0 and not geom.is_empty:
        geom = shapely.segmentize(geom, densify)

    def apply(xy: FloatArray) -> FloatArray:
        a, b = transform(xy[:, 0], xy[:, 1])
        return np.column_stack((a, b))

    return shapely.transform(geom, apply)


def road_lines(graph: RoadGraph, tolerance_deg: float = 0.0) -> list[shapely.LineString]:
    """The network drawn as merged, simplified undirected lines (WGS 84), for base maps.

    Every pair of nodes joined by a road appears once (directions and parallel roads
    folded), chains through degree-2 nodes are merged, and each line is simplified by
    Douglas-Peucker with ``tolerance_deg`` (0 keeps every vertex).
    """
    if graph.n_edges == 0:
        return []
    lo = np.minimum(graph.edge_u, graph.edge_v).astype(np.int64)
    hi = np.maximum(graph.edge_u, graph.edge_v).astype(np.int64)
    key = lo * np.int64(graph.n_nodes) + hi
    _, first = np.unique(key, return_index=True)
    keep = np.sort(first)
    keep = keep[graph.edge_u[keep] != graph.edge_v[keep]]
    starts = graph.geom_offsets[keep]
    ends = graph.geom_offsets[keep + 1]
    counts = (ends - starts).astype(np.int64)
    # gather every kept edge's polyline vertices in one go
    idx = np.repeat(starts - np.cumsum(np.concatenate(([0], counts[:-1]))), counts) + np.arange(
        int(counts.sum())
    )
    coords = np.column_stack((graph.geom_lon[idx], graph.geom_lat[idx]))
    line_index = np.repeat(np.arange(keep.size), counts)
    lines = shapely.linestrings(coords, indices=line_index)
    merged = shapely.line_merge(shapely.multilinestrings(lines))
    parts = shapely.get_parts(merged)
    if tolerance_deg > 0:
        parts = shapely.simplify(parts, tolerance_deg, preserve_topology=False)
    return [p for p in parts.tolist() if not p.is_empty and p.length > 0]
