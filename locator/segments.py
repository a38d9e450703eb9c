"""Partially reached roads: reach intervals along physical roads and exact cutting.

Service circles (:mod:`locator.isochrones`) and coverage (:mod:`locator.coverage`) both ask
"which part of each road lies within ``T`` seconds of a place?". The answer comes from the
node times of one search plus the travel time of each edge: a road ``u -> v`` whose tail
was reached at ``t_u`` is reached for the first ``(T - t_u) / t_e`` of its length, and the
same road entered from ``v`` (through its reverse twin, when the mode may use it) for the
last ``(T - t_v) / t_twin``. A query point sitting on a road adds a growing interval
around its own position.

A physical road (a directed edge and its reverse twin) is handled once, as its
*canonical* edge; fractions are measured along the canonical edge's polyline in the
artifact's projected CRS. Everything here is vectorised over edges: most roads are fully
reached or not at all, and only the frontier needs cutting.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import shapely

from locator.graph import RoadGraph
from locator.projection import Projector
from locator.search import Snap, edge_twins

Direction = Literal["from", "to"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Smallest edge time used in divisions (matches the search graph's zero-time guard).
_MIN_EDGE_TIME_S = 1e-9


@dataclass(frozen=True)
class Intervals:
    """Disjoint reached intervals on canonical roads, sorted by road then start.

    Attributes
    ----------
    road
        Index into :attr:`EdgeGeometry.canon` (one physical road).
    start, end
        Fractions ``0 <= start < end <= 1`` along the canonical edge's polyline.
    """

    road: IntArray
    start: FloatArray
    end: FloatArray

    def __len__(self) -> int:
        return int(self.road.shape[0])

    def fraction_per_road(self, n_roads: int) -> FloatArray:
        """Covered fraction of every road (0..1), length ``n_roads``."""
        out = np.bincount(self.road, weights=self.end - self.start, minlength=n_roads)
        return out.astype(np.float64)


class EdgeGeometry:
    """Projected edge polylines, twin pairing and cumulative fractions (built once).

    Parameters
    ----------
    graph
        The road network.
    projector
        Projector for ``graph.crs``; built here when omitted.

    Attributes
    ----------
    canon
        Edge id of each physical road's canonical edge.
    partner
        The reverse twin of each canonical edge, or -1 (one-way or unpaired road).
    road_of_edge
        For every directed edge the index of its road in ``canon``.
    flipped
        True where the directed edge runs against its road's canonical direction.
    road_length_m
        Length of each physical road (``edge_length_m`` of the canonical edge).
    """

    def __init__(
        self,
        graph: RoadGraph,
        projector: Projector | None = None,
        *,
        twins: IntArray | None = None,
        projected_xy: tuple[FloatArray, FloatArray] | None = None,
    ) -> None:
        self.graph = graph
        self.projector = projector or Projector(graph.crs)
        e = graph.n_edges
        # callers that already hold them (the snap index) pass the twins and the
        # projected vertices, so a loaded artifact computes each only once
        twins = edge_twins(graph) if twins is None else twins
        ids = np.arange(e, dtype=np.int64)
        safe = np.where(twins >= 0, twins, 0)
        mutual = (twins >= 0) & (twins[safe] == ids)
        is_canon = ~mutual | (ids < twins)
        self.twins = twins
        self.canon: IntArray = ids[is_canon]
        self.partner: IntArray = np.where(mutual[self.canon], twins[self.canon], -1)
        road_of_edge = np.full(e, -1, dtype=np.int64)
        road_of_edge[self.canon] = np.arange(self.canon.shape[0], dtype=np.int64)
        paired = self.partner >= 0
        road_of_edge[self.partner[paired]] = np.nonzero(paired)[0]
        self.road_of_edge = road_of_edge
        self.flipped: BoolArray = np.zeros(e, dtype=bool)
        self.flipped[self.partner[paired]] = True
        self.road_length_m: FloatArray = graph.edge_length_m[self.canon].astype(float)
        self.road_u: IntArray = graph.edge_u[self.canon].astype(np.int64)
        self.road_v: IntArray = graph.edge_v[self.canon].astype(np.int64)

        offsets = graph.geom_offsets.astype(np.int64)
        self.offsets = offsets
        x, y = (
            projected_xy
            if projected_xy is not None
            else self.projector.forward(graph.geom_lon, graph.geom_lat)
        )
        self.x: FloatArray = x
        self.y: FloatArray = y
        n_pts = x.shape[0]
        counts = np.diff(offsets)
        edge_of_point = np.repeat(np.arange(e, dtype=np.int64), counts)
        step = np.zeros(n_pts)
        if n_pts > 1:
            step[1:] = np.hypot(np.diff(x), np.diff(y))
        step[offsets[:-1]] = 0.0  # first point of every edge starts afresh
        cum = np.cumsum(step)
        cum -= np.repeat(cum[offsets[:-1]], counts)
        total = np.repeat(cum[offsets[1:] - 1], counts)
        index_in_edge = np.arange(n_pts) - np.repeat(offsets[:-1], counts)
        by_index = index_in_edge / np.repeat(np.maximum(counts - 1, 1), counts)
        frac = np.where(total > 0, cum / np.where(total > 0, total, 1.0), by_index)
        frac[offsets[1:] - 1] = 1.0
        self.frac: FloatArray = frac.astype(np.float64)
        self._key: FloatArray = (2.0 * edge_of_point + frac).astype(np.float64)

    @property
    def n_roads(self) -> int:
        return int(self.canon.shape[0])

    @functools.cached_property
    def unnoded_roads(self) -> BoolArray:
        """Roads that meet another road (or themselves) anywhere but at shared ends.

        True for roads crossing without a common node (bridges, tunnels), ending on the
        middle of another road, overlapping another road, self-intersecting, or closed
        loops touching other roads. All other roads meet only end to end, so any pieces
        of them form a properly noded line set without running a noding pass. Computed
        on first use (an STR-tree join over all roads: ~0.1-0.3 s on 20-35k roads).
        """
        n = self.n_roads
        ids = np.arange(n, dtype=np.int64)
        lines = self.cut(Intervals(ids, np.zeros(n), np.ones(n)))
        flag = ~shapely.is_simple(lines)
        left, right = shapely.STRtree(lines).query(lines, predicate="intersects")
        pair = left < right
        left, right = left[pair], right[pair]
        # DE-9IM: interiors disjoint and no end point on the other's interior
        clean = shapely.relate_pattern(lines[left], lines[right], "FF*F*****")
        flag[left[~clean]] = True
        flag[right[~clean]] = True
        return np.asarray(flag, dtype=bool)

    @functools.cached_property
    def node_roads(self) -> tuple[IntArray, IntArray]:
        """CSR ``(indptr, roads)`` of the roads meeting each node at either end.

        Roads of node ``n`` are ``roads[indptr[n]:indptr[n + 1]]`` (ascending; a closed
        loop is listed twice at its node). Built on first use.
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

    def candidate_roads(self, node_time_s: FloatArray) -> IntArray:
        """Roads that may be reached: an end node has a finite time (sorted, unique).

        Every road outside this set gets nothing from :meth:`node_reach` for any budget,
        so passing it as ``roads`` to :meth:`reached_intervals` changes no result while
        the work follows the reached area instead of the network size.
        """
        return self.roads_at(np.flatnonzero(np.isfinite(node_time_s)))

    # ------------------------------------------------------------------ reach
    def node_reach(
        self,
        node_time_s: FloatArray,
        mode: str,
        direction: Direction,
        limit_s: float,
        *,
        roads: IntArray | None = None,
    ) -> tuple[FloatArray, FloatArray]:
        """Reached fraction of every road (or of ``roads``) from its start and end node.

        Parameters
        ----------
        node_time_s
            Search result: time from the place to each node (``direction="from"``) or
            from each node to the place (``"to"``); ``inf`` where unreached.
        mode
            Travel mode whose permissions and edge times apply.
        direction
            ``"from"`` (travel away from the place) or ``"to"`` (travel to it).
        limit_s
            Time budget ``T``.
        roads
            Evaluate only these road indices (e.g. :meth:`candidate_roads`); ``None``
            evaluates every road.

        Returns
        -------
        lo, hi
            ``[0, lo]`` and ``[1 - hi, 1]`` of each canonical road (of ``roads``, in
            that order) are within ``T``.
        """
        graph = self.graph
        allowed = graph.edge_allowed[mode]
        edge_time_s = graph.edge_time_s[mode]
        if roads is None:
            c, p = self.canon, self.partner
            road_u, road_v = self.road_u, self.road_v
        else:
            c, p = self.canon[roads], self.partner[roads]
            road_u, road_v = self.road_u[roads], self.road_v[roads]
        has_p = p >= 0
        p_safe = np.where(has_p, p, 0)
        c_ok = allowed[c]
        p_ok = has_p & allowed[p_safe]
        c_t = np.maximum(edge_time_s[c], _MIN_EDGE_TIME_S)
        p_t = np.maximum(edge_time_s[p_safe], _MIN_EDGE_TIME_S)
        # "from": leave u along c, leave v along the twin; "to": reach u along the
        # twin (positions near u drive back to u), reach v along c.
        if direction == "from":
            lo_ok, lo_t, hi_ok, hi_t = c_ok, c_t, p_ok, p_t
        else:
            lo_ok, lo_t, hi_ok, hi_t = p_ok, p_t, c_ok, c_t
        with np.errstate(invalid="ignore"):
            lo = np.clip((limit_s - node_time_s[road_u]) / lo_t, 0.0, 1.0)
            hi = np.clip((limit_s - node_time_s[road_v]) / hi_t, 0.0, 1.0)
        lo = np.where(lo_ok & np.isfinite(lo), lo, 0.0)
        hi = np.where(hi_ok & np.isfinite(hi), hi, 0.0)
        return lo, hi

    def snap_intervals(
        self, snaps: list[Snap], mode: str, direction: Direction, limit_s: float
    ) -> tuple[IntArray, FloatArray, FloatArray]:
        """Intervals reached directly along the road each snapped place sits on.

        Returns ``(road, start, end)`` in canonical fractions (possibly empty).
        """
        graph = self.graph
        allowed = graph.edge_allowed[mode]
        edge_time_s = graph.edge_time_s[mode]
        roads: list[int] = []
        starts: list[float] = []
        ends: list[float] = []
        for snap in snaps:
            e = int(snap.edge)
            f = float(snap.fraction)
            twin = int(self.twins[e])
            # only the two edges' times: a copy over all edges costs O(network) per call
            times = np.maximum(edge_time_s[[e, max(twin, 0)]], _MIN_EDGE_TIME_S)
            # along e (same direction as e): "from" reaches ahead, "to" collects behind
            pieces: list[tuple[float, float]] = []
            if allowed[e]:
                d = limit_s / float(times[0])
                pieces.append((f, f + d) if direction == "from" else (f - d, f))
            if twin >= 0 and allowed[twin]:
                d = limit_s / float(times[1])
                pieces.append((f - d, f) if direction == "from" else (f, f + d))
            road = int(self.road_of_edge[e])
            for a, b in pieces:
                a_c, b_c = (1.0 - b, 1.0 - a) if self.flipped[e] else (a, b)
                roads.append(road)
                starts.append(max(0.0, a_c))
                ends.append(min(1.0, b_c))
            if not pieces:  # a point on a road closed to the mode still reaches itself
                roads.append(road)
                f_c = 1.0 - f if self.flipped[e] else f
                starts.append(f_c)
                ends.append(f_c)
        return (
            np.array(roads, dtype=np.int64),
            np.array(starts, dtype=float),
            np.array(ends, dtype=float),
        )

    def reached_intervals(
        self,
        node_time_s: FloatArray,
        mode: str,
        direction: Direction,
        limit_s: float,
        snaps: list[Snap] | None = None,
        *,
        roads: IntArray | None = None,
    ) -> Intervals:
        """All reached intervals (merged, disjoint) within ``limit_s``.

        ``roads`` limits the node-driven part to these sorted road indices; with
        :meth:`candidate_roads` of the same ``node_time_s`` the result is identical to
        the full pass (``None``, every road: what coverage of a whole region needs)
        at a cost that follows the reached area. Roads of ``snaps`` are always handled.
        """
        lo, hi = self.node_reach(node_time_s, mode, direction, limit_s, roads=roads)
        full = lo + hi >= 1.0
        idx = np.arange(self.n_roads, dtype=np.int64) if roads is None else roads
        lo_part = ~full & (lo > 0)
        hi_part = ~full & (hi > 0)
        road = [idx[full], idx[lo_part], idx[hi_part]]
        start = [np.zeros(int(full.sum())), np.zeros(int(lo_part.sum())), 1.0 - hi[hi_part]]
        end = [np.ones(int(full.sum())), lo[lo_part], np.ones(int(hi_part.sum()))]
        if snaps:
            r, a, b = self.snap_intervals(snaps, mode, direction, limit_s)
            road.append(r)
            start.append(a)
            end.append(b)
        return merge_intervals(np.concatenate(road), np.concatenate(start), np.concatenate(end))

    # ------------------------------------------------------------------ geometry
    def cut(self, intervals: Intervals) -> npt.NDArray[np.object_]:
        """Projected LineStrings of the intervals, cut at exact fractions along the shape.

        Degenerate intervals (start == end) become zero-length lines at that point.
        """
        k = len(intervals)
        if k == 0:
            return np.empty(0, dtype=object)
        edge = self.canon[intervals.road]
        a = intervals.start
        b = intervals.end
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
        # whole-road ends are the node coordinates bit for bit, so pieces of adjacent
        # roads share their end points exactly (polygonizing relies on that)
        at_first = a <= 0.0
        ax = np.where(at_first, self.x[first], ax)
        ay = np.where(at_first, self.y[first], ay)
        at_last = b >= 1.0
        bx = np.where(at_last, self.x[last], bx)
        by = np.where(at_last, self.y[last], by)
        n_inner = t - s
        n_pts = n_inner + 2
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
        """Point at fraction ``f`` between geometry points ``after - 1`` and ``after``."""
        f0 = self.frac[after - 1]
        f1 = self.frac[after]
        span = f1 - f0
        w = np.where(span > 0, (f - f0) / np.where(span > 0, span, 1.0), 0.0)
        w = np.clip(w, 0.0, 1.0)
        x = self.x[after - 1] + w * (self.x[after] - self.x[after - 1])
        y = self.y[after - 1] + w * (self.y[after] - self.y[after - 1])
        return x, y

    def to_lonlat(self, geom: shapely.Geometry) -> shapely.Geometry:
        """Transform a projected geometry to WGS 84 (lon, lat)."""
        proj = self.projector

        def _inv(xy: FloatArray) -> FloatArray:
            lon, lat = proj.inverse(xy[:, 0], xy[:, 1])
            return np.column_stack((lon, lat))

        return shapely.transform(geom, _inv)

    def to_projected(self, geom: shapely.Geometry) -> shapely.Geometry:
        """Transform a WGS 84 (lon, lat) geometry to the graph's projected CRS."""
        proj = self.projector

        def _fwd(xy: FloatArray) -> FloatArray:
            x, y = proj.forward(xy[:, 0], xy[:, 1])
            return np.column_stack((x, y))

        return shapely.transform(geom, _fwd)


def merge_intervals(road: IntArray, start: FloatArray, end: FloatArray) -> Intervals:
    """Union of possibly overlapping intervals per road (vectorised).

    Intervals with ``end < start`` are dropped; touching intervals are joined.
    """
    keep = end >= start
    road, start, end = road[keep], start[keep], end[keep]
    if road.size == 0:
        return Intervals(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    order = np.lexsort((start, road))
    road, start, end = road[order], start[order], end[order]
    # values in [0, 1] shifted by 2 * road: a running maximum never leaks across roads
    shifted_end = end + 2.0 * road
    running = np.maximum.accumulate(shifted_end)
    new_run = np.ones(road.shape[0], dtype=bool)
    new_run[1:] = (start[1:] + 2.0 * road[1:]) > running[:-1]
    run_id = np.cumsum(new_run) - 1
    first = np.nonzero(new_run)[0]
    last = np.append(first[1:] - 1, road.shape[0] - 1)
    out_road = road[first]
    out_start = start[first]
    out_end = running[last] - 2.0 * out_road
    del run_id
    nonempty = out_end > out_start
    # keep degenerate intervals only for roads that have nothing else
    if not np.all(nonempty):
        has_real = np.zeros(int(out_road.max()) + 1, dtype=bool)
        has_real[out_road[nonempty]] = True
        keep_run = nonempty | ~has_real[out_road]
        out_road, out_start, out_end = out_road[keep_run], out_start[keep_run], out_end[keep_run]
    return Intervals(out_road, out_start, np.minimum(out_end, 1.0))


def complement(intervals: Intervals, n_roads: int) -> Intervals:
    """The parts of all ``n_roads`` roads not inside ``intervals`` (non-empty pieces only)."""
    k = len(intervals)
    # gaps: before the first interval, between intervals, after the last (per road)
    road = intervals.road
    roads_all = np.arange(n_roads, dtype=np.int64)
    gap_road = [roads_all]
    gap_start = [np.zeros(n_roads)]
    gap_end = [np.ones(n_roads)]
    if k:
        first = np.ones(k, dtype=bool)
        first[1:] = road[1:] != road[:-1]
        # replace the whole-road gap of roads that have intervals
        touched = np.zeros(n_roads, dtype=bool)
        touched[road] = True
        gap_road = [roads_all[~touched]]
        gap_start = [np.zeros(int((~touched).sum()))]
        gap_end = [np.ones(int((~touched).sum()))]
        # before each road's first interval
        gap_road.append(road[first])
        gap_start.append(np.zeros(int(first.sum())))
        gap_end.append(intervals.start[first])
        # between consecutive intervals on the same road, and after the last
        last = np.append(~first[1:], False)  # True where the next interval is on this road
        nxt_start = np.append(intervals.start[1:], 1.0)
        gap_road.append(road)
        gap_start.append(intervals.end)
        gap_end.append(np.where(last, nxt_start, 1.0))
    r = np.concatenate(gap_road)
    a = np.concatenate(gap_start)
    b = np.concatenate(gap_end)
    keep = b > a
    order = np.lexsort((a[keep], r[keep]))
    return Intervals(r[keep][order], a[keep][order], b[keep][order])
