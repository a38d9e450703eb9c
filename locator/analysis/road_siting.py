"""Site suggestions that maximise exactly the covered road length of ``/v1/coverage``.

Covered road is the reached part of each road (partial roads included) within
``minutes`` of a station, clipped to the region by the coverage rule: a piece counts the
share of its polyline inside the region times the road's stated length (see
:mod:`locator.analysis.coverage`). Fractions along a road are proportional to its
projected length, so that rule is the measure of the piece's fractions that lie inside
the region, times the stated length: the region becomes a set of intervals once
(:func:`region_intervals`) and every gain is interval arithmetic.

A site's gain is the increase of the region's covered length if a station were placed
there, given the existing stations and the sites chosen before it — the very figure
``/v1/coverage`` would report after adding it (tested). Greedy selection with lazy
re-evaluation (coverage of a union is submodular: at least 63 % of the optimum).
Candidates are the mode's nodes inside the region and, by default, inside China.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from scipy import sparse
from scipy.sparse.csgraph import dijkstra
from shapely.geometry.base import BaseGeometry

from locator.analysis.coverage import Coverage, DemandPoints, label_nodes, projected_region
from locator.analysis.isochrones import IsochroneEngine
from locator.analysis.siting import SiteSuggestion, SitingResult, greedy_max_cover
from locator.errors import InvalidParameterError
from locator.network.geometry import EdgeGeometry
from locator.network.reach import Intervals, candidate_roads, reached_intervals
from locator.network.search import entries, search
from locator.network.snapping import Snap

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: Candidate searches per compiled scipy call.
_BATCH = 64


@dataclass(frozen=True)
class Line:
    """Disjoint sorted intervals on one line: road ``r`` spans ``[2r, 2r + 1]`` (a gap of
    1 between roads, so pieces of different roads never touch); :func:`measure_m` weighs
    them by each road's stated length."""

    lo: FloatArray
    hi: FloatArray

    @classmethod
    def of(cls, iv: Intervals) -> Line:
        order = np.lexsort((iv.start, iv.road))
        r = iv.road[order].astype(np.float64) * 2.0
        return cls(r + iv.start[order], r + iv.end[order])

    @classmethod
    def empty(cls) -> Line:
        return cls(np.zeros(0), np.zeros(0))


def _combine(a: Line, b: Line, need: int) -> Line:
    """Segments covered by at least ``need`` of the two (1: union, 2: intersection)."""
    if need == 2 and (a.lo.size == 0 or b.lo.size == 0):
        return Line.empty()
    x = np.concatenate([a.lo, a.hi, b.lo, b.hi])
    if x.size == 0:
        return Line.empty()
    d = np.concatenate(
        [np.ones(a.lo.size), -np.ones(a.hi.size), np.ones(b.lo.size), -np.ones(b.hi.size)]
    )
    order = np.lexsort((d, x))  # at one coordinate, ends before starts
    xs, c = x[order], np.cumsum(d[order])
    on = c[:-1] >= need
    lo, hi = xs[:-1][on], xs[1:][on]
    keep = hi > lo
    lo, hi = lo[keep], hi[keep]
    if lo.size > 1:  # join touching segments
        new = np.ones(lo.size, dtype=bool)
        new[1:] = lo[1:] > hi[:-1]
        first = np.nonzero(new)[0]
        last = np.append(first[1:] - 1, lo.size - 1)
        lo, hi = lo[first], hi[last]
    return Line(lo, hi)


def union(a: Line, b: Line) -> Line:
    return _combine(a, b, 1)


def intersect(a: Line, b: Line) -> Line:
    return _combine(a, b, 2)


def measure_m(line: Line, road_length_m: FloatArray) -> float:
    """Stated road length inside ``line`` (metres)."""
    if line.lo.size == 0:
        return 0.0
    road = np.floor(line.lo / 2.0).astype(np.int64)
    return float(np.sum((line.hi - line.lo) * road_length_m[road]))


def region_intervals(geo: EdgeGeometry, roads: IntArray, poly_xy: BaseGeometry | None) -> Intervals:
    """The fractions of ``roads`` whose polyline lies inside the projected polygon (every
    road whole without one): whole roads inside, nothing for roads outside, and for roads
    crossing the boundary the located ends of each inside part."""
    ones = np.ones(roads.shape[0])
    if poly_xy is None:
        return Intervals(roads, np.zeros(roads.shape[0]), ones)
    lines = geo.cut(roads, np.zeros(roads.shape[0]), ones)
    shapely.prepare(poly_xy)  # this request's own polygon
    inside = np.asarray(shapely.contains(poly_xy, lines), dtype=bool)
    cross = np.nonzero(~inside & np.asarray(shapely.intersects(poly_xy, lines), dtype=bool))[0]
    road = [roads[inside]]
    start = [np.zeros(int(inside.sum()))]
    end = [np.ones(int(inside.sum()))]
    for i in cross.tolist():
        parts = shapely.get_parts(shapely.intersection(lines[i], poly_xy))
        parts = parts[shapely.get_type_id(parts) == 1]  # LineStrings
        if parts.size == 0:
            continue
        ends = shapely.get_coordinates(parts)
        counts = shapely.get_num_coordinates(parts)
        firsts = np.cumsum(counts) - counts
        lasts = firsts + counts - 1
        a = shapely.line_locate_point(lines[i], shapely.points(ends[firsts]), normalized=True)
        b = shapely.line_locate_point(lines[i], shapely.points(ends[lasts]), normalized=True)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        road.append(np.full(lo.shape[0], roads[i]))
        start.append(lo)
        end.append(hi)
    return Intervals(np.concatenate(road), np.concatenate(start), np.concatenate(end))


@dataclass(frozen=True)
class RoadCover:
    """The region and the existing stations' coverage on the line of :class:`Line`."""

    inside: Line
    covered: Line  # existing coverage inside the region
    road_length_m: FloatArray

    @property
    def road_m(self) -> float:
        return measure_m(self.inside, self.road_length_m)

    @property
    def covered_m(self) -> float:
        return measure_m(self.covered, self.road_length_m)


def road_cover(
    engine: IsochroneEngine,
    stations: Sequence[Snap],
    *,
    mode: str,
    minutes: float,
    region_xy: BaseGeometry | None,
) -> tuple[RoadCover, Coverage]:
    """The region as intervals and what the stations cover in it (the coverage rule)."""
    labels = label_nodes(engine, stations, mode=mode, limit_s=minutes * 60.0)
    cov = Coverage(engine, labels, minutes)
    geo = engine.net.geometry
    roads = np.nonzero(cov.mode_roads)[0].astype(np.int64)
    inside = Line.of(region_intervals(geo, roads, region_xy))
    covered = cov.covered.select(cov.mode_roads[cov.covered.road])
    return RoadCover(inside, intersect(Line.of(covered), inside), geo.road_length_m), cov


def node_reach_lines(
    engine: IsochroneEngine, mode: str, nodes: IntArray, limit_s: float, inside: Line
) -> list[Line]:
    """For each node: the road it covers within ``limit_s`` (travel to it), inside the
    region. One bounded reverse search per node, in compiled batches."""
    net = engine.net
    mg = net.mode(mode)
    geo = net.geometry
    out: list[Line] = []
    for b in range(0, nodes.shape[0], _BATCH):
        chunk = nodes[b : b + _BATCH]
        dist = np.atleast_2d(
            dijkstra(mg.reverse.matrix, directed=True, indices=chunk, limit=limit_s)
        )
        for row in dist:
            t = np.where(row <= limit_s, row, np.inf)
            roads = candidate_roads(geo, t)
            iv = reached_intervals(geo, mg, t, "to", limit_s, roads=roads)
            out.append(intersect(Line.of(iv), inside))
    return out


def candidate_nodes(  # noqa: PLR0917 (the siting functions' own arguments, in order)
    engine: IsochroneEngine,
    mode: str,
    region_xy: BaseGeometry | None,
    in_country: Callable[[FloatArray, FloatArray], BoolArray] | None,
    max_candidates: int,
    seed: int,
) -> IntArray:
    """The mode's nodes inside the (projected) region and the country; a seeded sample of
    ``max_candidates`` when there are more.

    Raises
    ------
    InvalidParameterError
        No such node.
    """
    net = engine.net
    graph = net.graph
    allowed = net.mode(mode).allowed
    used = np.zeros(graph.n_nodes, dtype=bool)
    used[graph.edge_u[allowed]] = True
    used[graph.edge_v[allowed]] = True
    if region_xy is not None:
        used &= np.asarray(shapely.contains_xy(region_xy, graph.node_x, graph.node_y), dtype=bool)
    if in_country is not None:
        used &= np.asarray(in_country(graph.node_lon, graph.node_lat), dtype=bool)
    cand = np.nonzero(used)[0].astype(np.int64)
    if cand.size == 0:
        raise InvalidParameterError(
            "no network node to place a station in the region"
            + (" inside the country" if in_country is not None else ""),
            parameter="region",
        )
    if cand.size > max_candidates:
        rng = np.random.default_rng(seed)
        cand = np.sort(rng.choice(cand, size=max_candidates, replace=False))
    return cand


def demand_cover(  # noqa: PLR0917 (the kernel's inputs, in order)
    engine: IsochroneEngine,
    mode: str,
    demand: DemandPoints,
    cand: IntArray,
    limit_s: float,
    points: IntArray | None = None,
) -> sparse.csr_matrix:
    """Boolean ``(candidate, demand point)`` matrix: a station at the candidate node would
    be reached from the point within ``limit_s`` (the coverage rule's direction: travel
    from the demand to the station). One bounded forward search per demand point (only
    the ``points`` given, when given: the others' columns stay empty)."""
    mg = engine.net.mode(mode)
    col_of = np.full(engine.net.graph.n_nodes, -1, dtype=np.int64)
    col_of[cand] = np.arange(cand.shape[0])
    rows: list[IntArray] = []
    cols: list[IntArray] = []
    if demand.edge is None or demand.fraction is None:
        raise ValueError("demand points need snapped edges/fractions")
    for j in range(demand.lon.shape[0]) if points is None else points.tolist():
        snap_seeds = entries(
            engine.geometry, mg, int(demand.edge[j]), float(demand.fraction[j]), "from"
        )
        nodes = np.array([o.node for o in snap_seeds], dtype=np.int64)
        costs = np.array([o.cost_s for o in snap_seeds], dtype=np.float64)
        if nodes.size == 0:
            continue
        t = search(mg.forward, nodes, costs, limit_s=limit_s).time_s
        hit = col_of[np.flatnonzero(t <= limit_s)]
        hit = hit[hit >= 0]
        rows.append(hit)
        cols.append(np.full(hit.shape[0], j, dtype=np.int64))
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    return sparse.csr_matrix(
        (np.ones(row.shape[0], dtype=bool), (row, col)),
        shape=(cand.shape[0], demand.lon.shape[0]),
    )


def suggest_demand_sites(
    engine: IsochroneEngine,
    stations: Sequence[Snap],
    demand: DemandPoints,
    *,
    mode: str,
    minutes: float,
    k: int,
    region: BaseGeometry | None = None,
    in_country: Callable[[FloatArray, FloatArray], BoolArray] | None = None,
) -> SitingResult:
    """``k`` sites maximising the weight of the region's demand points within ``minutes``
    of a station — exactly ``/v1/coverage``'s ``demand_covered`` — by lazy greedy
    (:func:`~locator.analysis.siting.greedy_max_cover`). Demand points outside the region
    do not count; those the existing stations cover already count as covered.

    Candidates are every node of the mode in the region (and country): the work is one
    search per uncovered demand point, whatever their number, so they are not sampled
    (unlike :func:`suggest_road_sites`, whose work grows with the candidates)."""
    graph = engine.net.graph
    limit_s = float(minutes) * 60.0
    region_xy = None if region is None else projected_region(engine, region)
    cand = candidate_nodes(engine, mode, region_xy, in_country, graph.n_nodes, 0)
    labels = label_nodes(engine, stations, mode=mode, limit_s=limit_s)
    covered = Coverage(engine, labels, minutes).demand_covered(demand)
    weight = np.where(demand.inside(engine.net.projector, region_xy), demand.weight, 0.0)
    remaining = np.where(covered, 0.0, weight)
    cover = demand_cover(engine, mode, demand, cand, limit_s, np.flatnonzero(remaining > 0))
    chosen, gains = greedy_max_cover(cover, remaining, k)
    return SitingResult(
        sites=_suggestions(engine, cand[chosen].tolist(), gains.tolist()),
        total_demand=float(weight.sum()),
        covered_before=float(weight[covered].sum()),
        candidates_evaluated=int(cand.shape[0]),
    )


def _suggestions(
    engine: IsochroneEngine, nodes: Sequence[int], gains: Sequence[float]
) -> list[SiteSuggestion]:
    """Sites at ``nodes`` in the order chosen, with their gains and running totals."""
    graph = engine.net.graph
    out: list[SiteSuggestion] = []
    total = 0.0
    for node, gain in zip(nodes, gains, strict=True):
        total += gain
        out.append(
            SiteSuggestion(
                node=int(node),
                lon=float(graph.node_lon[node]),
                lat=float(graph.node_lat[node]),
                gain=float(gain),
                cumulative_gain=total,
            )
        )
    return out


def suggest_road_sites(
    engine: IsochroneEngine,
    stations: Sequence[Snap],
    *,
    mode: str,
    minutes: float,
    k: int,
    region: BaseGeometry | None = None,
    in_country: Callable[[FloatArray, FloatArray], BoolArray] | None = None,
    max_candidates: int = 2000,
    seed: int = 0,
) -> SitingResult:
    """``k`` sites maximising the region's covered road length (see the module docstring).

    Parameters
    ----------
    region
        Lon/lat polygon (``None``: the whole network).
    in_country
        Keep only candidates for which this ``(lons, lats) -> bool`` holds (China's
        outline by default in :class:`~locator.Locator`; ``None``: anywhere).
    max_candidates
        A seeded sample of the candidate nodes when there are more.

    Raises
    ------
    InvalidParameterError
        No candidate node in the region (and country).
    """
    limit_s = float(minutes) * 60.0
    region_xy = None if region is None else projected_region(engine, region)
    rc, _ = road_cover(engine, stations, mode=mode, minutes=minutes, region_xy=region_xy)
    cand = candidate_nodes(engine, mode, region_xy, in_country, max_candidates, seed)
    reach = node_reach_lines(engine, mode, cand, limit_s, rc.inside)
    lengths = rc.road_length_m
    covered = rc.covered

    def gain(i: int, have: Line) -> float:
        line = reach[i]
        return measure_m(line, lengths) - measure_m(intersect(line, have), lengths)

    heap = [(-gain(i, covered), int(cand[i]), i, 0) for i in range(cand.shape[0])]
    heapq.heapify(heap)
    nodes: list[int] = []
    gains: list[float] = []
    rounds = 0
    while heap and len(nodes) < k:
        neg, node, i, stamp = heapq.heappop(heap)
        if stamp != rounds:  # a stale bound: score again against what is covered now
            heapq.heappush(heap, (-gain(i, covered), node, i, rounds))
            continue
        if -neg <= 1e-9:
            break
        covered = union(covered, reach[i])
        rounds += 1
        nodes.append(node)
        gains.append(-neg)
    return SitingResult(
        sites=_suggestions(engine, nodes, gains),
        total_demand=rc.road_m,
        covered_before=rc.covered_m,
        candidates_evaluated=int(cand.shape[0]),
    )


__all__ = [
    "Line",
    "RoadCover",
    "intersect",
    "measure_m",
    "node_reach_lines",
    "region_intervals",
    "road_cover",
    "suggest_road_sites",
    "union",
]
