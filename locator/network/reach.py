"""Partially reached roads: reach intervals along physical roads.

Service circles (:mod:`locator.analysis.isochrones`) and coverage
(:mod:`locator.analysis.coverage`) both ask "which part of each road lies within ``T``
seconds of a place?". The answer comes from the node times of one search plus the travel
time of each edge: a road ``u -> v`` whose tail was reached at ``t_u`` is reached for the
first ``(T - t_u) / t_e`` of its length, and the same road entered from ``v`` (through its
twin, when the mode may use it) for the last ``(T - t_v) / t_twin``. A place sitting on a
road adds a growing interval around its own position.

A physical road is handled once, as its canonical edge
(:class:`~locator.network.geometry.EdgeGeometry`); fractions are along the canonical
edge's polyline. Everything here is vectorised over roads: most roads are fully reached
or not at all, and only the frontier needs cutting.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from locator.network.geometry import EdgeGeometry
from locator.network.kernels import jit
from locator.network.modegraph import MIN_EDGE_TIME_S, Direction, ModeGraph
from locator.network.snapping import Snap

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Intervals:
    """Disjoint reached intervals on canonical roads, sorted by road then start.

    Attributes
    ----------
    road
        Index into :attr:`~locator.network.geometry.EdgeGeometry.canon` (one road).
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
        return np.minimum(out.astype(np.float64), 1.0)

    def length_m(self, geo: EdgeGeometry) -> float:
        """Road length inside the intervals, by the network's stated road lengths."""
        # summed over the intervals only; np.dot over all roads goes through a
        # multithreaded BLAS whose wake-ups cost milliseconds on a busy machine
        return float(np.sum((self.end - self.start) * geo.road_length_m[self.road]))

    def lines(self, geo: EdgeGeometry) -> npt.NDArray[np.object_]:
        """Projected LineStrings of the intervals (see :meth:`EdgeGeometry.cut`)."""
        return geo.cut(self.road, self.start, self.end)

    def select(self, keep: BoolArray) -> Intervals:
        """The intervals where ``keep`` is True."""
        return Intervals(self.road[keep], self.start[keep], self.end[keep])

    def minus(self, other: Intervals) -> Intervals:
        """The parts of these intervals outside ``other`` (non-empty pieces, same order).

        One merge-like pass over both sorted lists (:func:`_difference`)."""
        if not len(self) or not len(other):
            return self
        road, start, end = _difference(
            self.road, self.start, self.end, other.road, other.start, other.end
        )
        return Intervals(road, start, end)


def candidate_roads(geo: EdgeGeometry, node_time_s: FloatArray) -> IntArray:
    """Roads that may be reached: an end node has a finite time (sorted, unique).

    Every road outside this set gets nothing from :func:`node_reach` for any budget, so
    passing it as ``roads`` to :func:`reached_intervals` changes no result while the work
    follows the reached area instead of the network size.
    """
    return geo.roads_at(np.flatnonzero(np.isfinite(node_time_s)))


def node_reach(
    geo: EdgeGeometry,
    mg: ModeGraph,
    node_time_s: FloatArray,
    direction: Direction,
    limit_s: float,
    *,
    roads: IntArray | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Reached fraction of every road (or of ``roads``) from its start and end node.

    Parameters
    ----------
    geo
        Edge geometry of the network.
    mg
        The travel mode (permissions and edge times).
    node_time_s
        Search result: time from the place to each node (``direction="from"``) or from
        each node to the place (``"to"``); ``inf`` where unreached.
    direction
        ``"from"`` (travel away from the place) or ``"to"`` (travel to it).
    limit_s
        Time budget ``T``.
    roads
        Evaluate only these road indices (e.g. :func:`candidate_roads`); ``None``
        evaluates every road.

    Returns
    -------
    lo, hi
        ``[0, lo]`` and ``[1 - hi, 1]`` of each canonical road (of ``roads``, in that
        order) are within ``T``.
    """
    allowed = mg.allowed
    edge_time_s = mg.time_s
    if roads is None:
        c, p = geo.canon, geo.partner
        road_u, road_v = geo.road_u, geo.road_v
    else:
        c, p = geo.canon[roads], geo.partner[roads]
        road_u, road_v = geo.road_u[roads], geo.road_v[roads]
    has_p = p >= 0
    p_safe = np.where(has_p, p, 0)
    c_ok = allowed[c]
    p_ok = has_p & allowed[p_safe]
    c_t = np.maximum(edge_time_s[c], MIN_EDGE_TIME_S)
    p_t = np.maximum(edge_time_s[p_safe], MIN_EDGE_TIME_S)
    # "from": leave u along c, leave v along the twin; "to": reach u along the twin
    # (positions near u drive back to u), reach v along c.
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
    geo: EdgeGeometry,
    mg: ModeGraph,
    snaps: Sequence[Snap],
    direction: Direction,
    limit_s: float,
) -> Intervals:
    """Intervals reached directly along the road each snapped place sits on (unmerged)."""
    allowed, times = mg.allowed_l, mg.time_l
    roads: list[int] = []
    starts: list[float] = []
    ends: list[float] = []
    for snap in snaps:
        e = int(snap.edge)
        f = float(snap.fraction)
        twin = geo.twins_l[e]
        # along e (same direction as e): "from" reaches ahead, "to" collects behind
        pieces: list[tuple[float, float]] = []
        if allowed[e]:
            d = limit_s / max(times[e], MIN_EDGE_TIME_S)
            pieces.append((f, f + d) if direction == "from" else (f - d, f))
        if twin >= 0 and allowed[twin]:
            d = limit_s / max(times[twin], MIN_EDGE_TIME_S)
            pieces.append((f - d, f) if direction == "from" else (f, f + d))
        road = int(geo.road_of_edge[e])
        flipped = bool(geo.flipped[e])
        for a, b in pieces:
            a_c, b_c = (1.0 - b, 1.0 - a) if flipped else (a, b)
            roads.append(road)
            starts.append(max(0.0, a_c))
            ends.append(min(1.0, b_c))
        if not pieces:  # a point on a road closed to the mode still reaches itself
            roads.append(road)
            f_c = 1.0 - f if flipped else f
            starts.append(f_c)
            ends.append(f_c)
    return Intervals(
        np.array(roads, dtype=np.int64),
        np.array(starts, dtype=np.float64),
        np.array(ends, dtype=np.float64),
    )


def reached_intervals(
    geo: EdgeGeometry,
    mg: ModeGraph,
    node_time_s: FloatArray,
    direction: Direction,
    limit_s: float,
    *,
    snaps: Sequence[Snap] = (),
    roads: IntArray | None = None,
) -> Intervals:
    """All reached intervals (merged, disjoint) within ``limit_s``.

    ``roads`` limits the node-driven part to these sorted road indices; with
    :func:`candidate_roads` of the same ``node_time_s`` the result is identical to the
    full pass (``None``, every road: what coverage of a whole region needs) at a cost that
    follows the reached area. Roads of ``snaps`` are always handled.
    """
    lo, hi = node_reach(geo, mg, node_time_s, direction, limit_s, roads=roads)
    full = lo + hi >= 1.0
    idx = np.arange(geo.n_roads, dtype=np.int64) if roads is None else roads
    lo_part = ~full & (lo > 0)
    hi_part = ~full & (hi > 0)
    road = [idx[full], idx[lo_part], idx[hi_part]]
    start = [np.zeros(int(full.sum())), np.zeros(int(lo_part.sum())), 1.0 - hi[hi_part]]
    end = [np.ones(int(full.sum())), lo[lo_part], np.ones(int(hi_part.sum()))]
    if snaps:
        own = snap_intervals(geo, mg, snaps, direction, limit_s)
        road.append(own.road)
        start.append(own.start)
        end.append(own.end)
    return merge_intervals(np.concatenate(road), np.concatenate(start), np.concatenate(end))


def merge_intervals(road: IntArray, start: FloatArray, end: FloatArray) -> Intervals:
    """Union of possibly overlapping intervals per road (vectorised, exact).

    Intervals with ``end < start`` are dropped; touching intervals are joined. A
    zero-length interval (a place reached only by itself) is kept only on a road that
    has no other interval.
    """
    keep = end >= start
    road, start, end = road[keep], start[keep], end[keep]
    if road.size == 0:
        return Intervals(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0))
    order = np.lexsort((start, road))
    road, start, end = road[order], start[order], end[order]
    # running maximum of (road, end) in lexicographic order (numpy orders complex
    # numbers so): it restarts at every road and keeps every end bit for bit
    running = np.maximum.accumulate(road.astype(np.float64) + 1j * end).imag
    new_run = np.ones(road.shape[0], dtype=bool)
    new_run[1:] = (road[1:] != road[:-1]) | (start[1:] > running[:-1])
    first = np.nonzero(new_run)[0]
    last = np.append(first[1:] - 1, road.shape[0] - 1)
    out_road = road[first]
    out_start = start[first]
    out_end = running[last]
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


@jit
def _difference(  # noqa: PLR0917 (a compiled kernel: plain arguments only)
    a_road: IntArray,
    a_start: FloatArray,
    a_end: FloatArray,
    b_road: IntArray,
    b_start: FloatArray,
    b_end: FloatArray,
) -> tuple[IntArray, FloatArray, FloatArray]:
    """``A \\ B`` for interval lists sorted by road then start, each disjoint: per
    interval of A, the gaps left by the intervals of B on the same road (pieces of zero
    length dropped). B's pointer only moves forward (both lists are sorted), so the pass
    is linear in ``len(A) + len(B)``."""
    n_a = a_road.shape[0]
    n_b = b_road.shape[0]
    cap = n_a + n_b
    out_road = np.empty(cap, np.int64)
    out_start = np.empty(cap, np.float64)
    out_end = np.empty(cap, np.float64)
    k = 0
    j = 0
    for i in range(n_a):
        r = a_road[i]
        lo = a_start[i]
        hi = a_end[i]
        # skip B intervals of earlier roads, or ending before this interval starts
        while j < n_b and (b_road[j] < r or (b_road[j] == r and b_end[j] <= lo)):
            j += 1
        m = j
        while m < n_b and b_road[m] == r and b_start[m] < hi:
            if b_start[m] > lo:
                out_road[k] = r
                out_start[k] = lo
                out_end[k] = b_start[m]
                k += 1
            lo = max(lo, b_end[m])
            if lo >= hi:
                break
            m += 1
        if lo < hi:
            out_road[k] = r
            out_start[k] = lo
            out_end[k] = hi
            k += 1
    return out_road[:k].copy(), out_start[:k].copy(), out_end[:k].copy()
