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
from scipy.sparse.csgraph import dijkstra
from shapely.geometry.base import BaseGeometry

from locator.analysis.coverage import Coverage, label_nodes
from locator.analysis.isochrones import IsochroneEngine
from locator.analysis.siting import SiteSuggestion, SitingResult
from locator.errors import InvalidParameterError
from locator.network.geometry import EdgeGeometry
from locator.network.reach import Intervals, candidate_roads, reached_intervals
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
    net = engine.net
    geo = net.geometry
    graph = net.graph
    limit_s = float(minutes) * 60.0
    region_xy = None if region is None else geo.to_projected(region)
    rc, _ = road_cover(engine, stations, mode=mode, minutes=minutes, region_xy=region_xy)
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
    reach = node_reach_lines(engine, mode, cand, limit_s, rc.inside)
    lengths = rc.road_length_m
    covered = rc.covered

    def gain(i: int, have: Line) -> float:
        line = reach[i]
        return measure_m(line, lengths) - measure_m(intersect(line, have), lengths)

    heap = [(-gain(i, covered), int(cand[i]), i, 0) for i in range(cand.shape[0])]
    heapq.heapify(heap)
    sites: list[SiteSuggestion] = []
    total = 0.0
    rounds = 0
    while heap and len(sites) < k:
        neg, node, i, stamp = heapq.heappop(heap)
        if stamp != rounds:  # a stale bound: score again against what is covered now
            heapq.heappush(heap, (-gain(i, covered), node, i, rounds))
            continue
        if -neg <= 1e-9:
            break
        covered = union(covered, reach[i])
        total += -neg
        rounds += 1
        sites.append(
            SiteSuggestion(
                node=node,
                lon=float(graph.node_lon[node]),
                lat=float(graph.node_lat[node]),
                gain=-neg,
                cumulative_gain=total,
            )
        )
    return SitingResult(
        sites=sites,
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
