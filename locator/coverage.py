"""Coverage of a region by the stations' service circles, and the gaps they leave.

One multi-source search on the reverse graph labels every node with the time to its
nearest station. From those labels each physical road is covered by a fraction (its
partially reached ends, plus the stretch around a station on the road itself), demand
points are covered when their own travel time is within the budget, and the uncovered
stretches come back as geometry: the gaps a planner looks at.

Road length is counted once per physical road (an edge and its reverse twin are one road).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from locator.isochrones import IsochroneEngine, Place
from locator.search import Snap, multi_source_dijkstra
from locator.segments import Intervals, complement

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Region: TypeAlias = BaseGeometry | tuple[float, float, float, float]


@dataclass(frozen=True)
class CoverageLabels:
    """Time from every node to its nearest station (one reverse multi-source search).

    Attributes
    ----------
    mode
        Travel mode of the search.
    time_s
        Seconds from each node to the nearest station; ``inf`` beyond ``limit_s``.
    station
        Index (into the ``stations`` passed to :func:`label_nodes`) of that station, -1.
    limit_s
        Search bound.
    snaps
        The stations placed part-way along roads (their own roads count as covered near
        them).
    """

    mode: str
    time_s: FloatArray
    station: IntArray
    limit_s: float
    snaps: tuple[Snap, ...]


def label_nodes(
    engine: IsochroneEngine,
    stations: Sequence[Place],
    *,
    mode: str,
    limit_s: float = np.inf,
) -> CoverageLabels:
    """Label every node with the time to its nearest station.

    Parameters
    ----------
    engine
        Engine of the network (holds the cached reverse search graph).
    stations
        Station places: :class:`Snap` or node ids.
    mode
        Travel mode.
    limit_s
        Stop the search at this many seconds (nodes beyond stay ``inf``).
    """
    nodes_parts: list[IntArray] = []
    costs_parts: list[FloatArray] = []
    owner_parts: list[IntArray] = []
    snaps: list[Snap] = []
    for i, place in enumerate(stations):
        nodes, costs, snap_list = engine.seeds([place], mode, "to")
        nodes_parts.append(nodes)
        costs_parts.append(costs)
        owner_parts.append(np.full(nodes.shape[0], i, dtype=np.int64))
        snaps.extend(snap_list)
    if nodes_parts:
        seed_nodes = np.concatenate(nodes_parts)
        seed_costs = np.concatenate(costs_parts)
        owner = np.concatenate(owner_parts)
    else:
        seed_nodes = np.zeros(0, dtype=np.int64)
        seed_costs = np.zeros(0)
        owner = np.zeros(0, dtype=np.int64)
    result = multi_source_dijkstra(
        engine.mode_graph(mode, "to"), seed_nodes, seed_costs, limit_s=limit_s
    )
    station = np.where(result.seed >= 0, owner[np.maximum(result.seed, 0)], -1)
    return CoverageLabels(mode, result.time_s, station.astype(np.int64), limit_s, tuple(snaps))


@dataclass(frozen=True)
class DemandPoints:
    """Weighted demand (workers, trips) placed on the network.

    Either ``edge``/``fraction`` (snapped points) or ``node`` (points on nodes) is given.
    """

    lon: FloatArray
    lat: FloatArray
    weight: FloatArray
    edge: IntArray | None = None
    fraction: FloatArray | None = None
    node: IntArray | None = None

    @classmethod
    def from_snaps(cls, snaps: Sequence[Snap], weight: npt.ArrayLike | None = None) -> DemandPoints:
        """Demand at snapped points (position on the road, original lon/lat kept)."""
        n = len(snaps)
        w = np.ones(n) if weight is None else np.asarray(weight, dtype=float)
        return cls(
            lon=np.array([s.lon for s in snaps], dtype=float),
            lat=np.array([s.lat for s in snaps], dtype=float),
            weight=w,
            edge=np.array([s.edge for s in snaps], dtype=np.int64),
            fraction=np.array([s.fraction for s in snaps], dtype=float),
        )

    @classmethod
    def from_nodes(
        cls, engine: IsochroneEngine, nodes: npt.ArrayLike, weight: npt.ArrayLike | None = None
    ) -> DemandPoints:
        """Demand at network nodes."""
        idx = np.asarray(nodes, dtype=np.int64)
        w = np.ones(idx.shape[0]) if weight is None else np.asarray(weight, dtype=float)
        g = engine.graph
        return cls(lon=g.node_lon[idx], lat=g.node_lat[idx], weight=w, node=idx)


@dataclass(frozen=True)
class RegionCoverage:
    """Coverage of one region (one row of the planner's table)."""

    code: str
    road_km: float
    covered_km: float
    share: float
    demand_total: float
    demand_covered: float


class Coverage:
    """What the stations' ``minutes`` circles cover, from :class:`CoverageLabels`.

    Parameters
    ----------
    engine
        Engine of the network.
    labels
        Node labels (search bound at least ``minutes``).
    minutes
        Time budget of the service circle.
    """

    def __init__(self, engine: IsochroneEngine, labels: CoverageLabels, minutes: float) -> None:
        limit_s = float(minutes) * 60.0
        if limit_s > labels.limit_s:
            raise ValueError(
                f"labels were searched to {labels.limit_s:.0f} s, less than {limit_s:.0f} s"
            )
        self.engine = engine
        self.labels = labels
        self.minutes = float(minutes)
        self.limit_s = limit_s
        geo = engine.geometry
        self.covered: Intervals = geo.reached_intervals(
            labels.time_s, labels.mode, "to", limit_s, list(labels.snaps)
        )
        self.road_fraction: FloatArray = np.minimum(
            self.covered.fraction_per_road(geo.n_roads), 1.0
        )
        self._lines_all: npt.NDArray[np.object_] | None = None
        self._lines_covered: npt.NDArray[np.object_] | None = None
        self._lines_uncovered: npt.NDArray[np.object_] | None = None

    # ------------------------------------------------------------------ totals
    @property
    def total_length_m(self) -> float:
        """Length of every physical road usable by the mode in either direction."""
        return float(self.engine.geometry.road_length_m[self._mode_roads()].sum())

    @property
    def covered_length_m(self) -> float:
        """Road length inside the circles."""
        geo = self.engine.geometry
        # an elementwise product and sum: np.dot would wake BLAS threads on every request
        return float((self.road_fraction * geo.road_length_m).sum())

    @property
    def share(self) -> float:
        """Covered share of the road length (0 when there is no road)."""
        total = self.total_length_m
        return self.covered_length_m / total if total > 0 else 0.0

    def _mode_roads(self) -> BoolArray:
        geo = self.engine.geometry
        allowed = self.engine.graph.edge_allowed[self.labels.mode]
        p = geo.partner
        ok: BoolArray = allowed[geo.canon] | ((p >= 0) & allowed[np.maximum(p, 0)])
        return ok

    # ------------------------------------------------------------------ points
    def point_times(self, edge: npt.ArrayLike, fraction: npt.ArrayLike) -> FloatArray:
        """Seconds from snapped points (``edge``, ``fraction``) to the nearest station."""
        e = np.asarray(edge, dtype=np.int64)
        f = np.asarray(fraction, dtype=float)
        graph = self.engine.graph
        geo = self.engine.geometry
        mode = self.labels.mode
        allowed = graph.edge_allowed[mode]
        times = graph.edge_time_s[mode]
        t = self.labels.time_s
        twin = geo.twins[e]
        tw = np.maximum(twin, 0)
        with np.errstate(invalid="ignore"):
            ahead = np.where(allowed[e], (1.0 - f) * times[e] + t[graph.edge_v[e]], np.inf)
            back = np.where((twin >= 0) & allowed[tw], f * times[tw] + t[graph.edge_u[e]], np.inf)
        best = np.minimum(ahead, back)
        # a station on the same road reaches nearby points directly
        for snap in self.labels.snaps:
            road = geo.road_of_edge[snap.edge]
            same = np.nonzero(geo.road_of_edge[e] == road)[0]
            if same.size == 0:
                continue
            canon = int(geo.canon[road])
            partner = int(geo.partner[road])
            s_c = 1.0 - snap.fraction if geo.flipped[snap.edge] else snap.fraction
            d_c = np.where(geo.flipped[e[same]], 1.0 - f[same], f[same])
            direct = np.full(same.shape[0], np.inf)
            if allowed[canon]:  # drive along the canonical direction up to the station
                fwd = d_c <= s_c
                direct[fwd] = (s_c - d_c[fwd]) * times[canon]
            if partner >= 0 and allowed[partner]:
                bwd = d_c >= s_c
                direct[bwd] = np.minimum(direct[bwd], (d_c[bwd] - s_c) * times[partner])
            best[same] = np.minimum(best[same], direct)
        return np.where(best <= self.labels.limit_s, best, np.inf)

    def demand_times(self, demand: DemandPoints) -> FloatArray:
        """Seconds from each demand point to the nearest station (``inf`` beyond)."""
        if demand.edge is not None and demand.fraction is not None:
            return self.point_times(demand.edge, demand.fraction)
        if demand.node is not None:
            return self.labels.time_s[demand.node]
        raise ValueError("demand points need snapped edges/fractions or node ids")

    def demand_covered(self, demand: DemandPoints) -> BoolArray:
        """Which demand points reach a station within the budget."""
        covered: BoolArray = self.demand_times(demand) <= self.limit_s
        return covered

    # ------------------------------------------------------------------ geometry
    def _lines(
        self,
    ) -> tuple[npt.NDArray[np.object_], npt.NDArray[np.object_], npt.NDArray[np.object_]]:
        if self._lines_all is None or self._lines_covered is None or self._lines_uncovered is None:
            geo = self.engine.geometry
            roads = np.nonzero(self._mode_roads())[0]
            whole = Intervals(roads, np.zeros(roads.shape[0]), np.ones(roads.shape[0]))
            self._lines_all = geo.cut(whole)
            self._lines_covered = geo.cut(self.covered)
            gaps = complement(self.covered, geo.n_roads)
            mode_ok = self._mode_roads()[gaps.road]
            gaps = Intervals(gaps.road[mode_ok], gaps.start[mode_ok], gaps.end[mode_ok])
            self._lines_uncovered = geo.cut(gaps)
        return self._lines_all, self._lines_covered, self._lines_uncovered

    def _region_projected(self, region: Region) -> tuple[BaseGeometry, BaseGeometry]:
        poly = shapely.box(*region) if isinstance(region, tuple) else region
        if not shapely.is_valid(poly):
            poly = shapely.make_valid(poly)
        return poly, self.engine.geometry.to_projected(poly)

    def uncovered(self, region: Region | None = None) -> BaseGeometry:
        """Uncovered road stretches (MultiLineString, lon/lat), optionally clipped."""
        _, _, gaps = self._lines()
        if gaps.size == 0:
            return shapely.MultiLineString()
        geo = self.engine.geometry
        if region is None:
            return geo.to_lonlat(shapely.multilinestrings(gaps))
        _, poly_xy = self._region_projected(region)
        clipped = _clip_lines(gaps, poly_xy)
        parts = shapely.get_parts(clipped)
        parts = parts[shapely.get_type_id(parts) == 1]  # LineStrings (drop touching points)
        return geo.to_lonlat(shapely.multilinestrings(parts))

    def region(
        self, code: str, region: Region, demand: DemandPoints | None = None
    ) -> RegionCoverage:
        """Road km, covered km, share and covered demand inside one region."""
        all_lines, covered_lines, _ = self._lines()
        poly, poly_xy = self._region_projected(region)
        road_m = _clipped_length(all_lines, poly_xy)
        covered_m = _clipped_length(covered_lines, poly_xy)
        demand_total = demand_covered = 0.0
        if demand is not None:
            inside = shapely.contains_xy(poly, demand.lon, demand.lat)
            hit = self.demand_covered(demand)
            demand_total = float(demand.weight[inside].sum())
            demand_covered = float(demand.weight[inside & hit].sum())
        return RegionCoverage(
            code=code,
            road_km=road_m / 1000.0,
            covered_km=covered_m / 1000.0,
            share=covered_m / road_m if road_m > 0 else 0.0,
            demand_total=demand_total,
            demand_covered=demand_covered,
        )

    def table(
        self, regions: Mapping[str, Region], demand: DemandPoints | None = None
    ) -> list[RegionCoverage]:
        """One :class:`RegionCoverage` row per region code."""
        return [self.region(code, region, demand) for code, region in regions.items()]


def _clip_lines(lines: npt.NDArray[np.object_], poly_xy: BaseGeometry) -> BaseGeometry:
    """Union-free clip of many lines to a polygon (exact at the boundary)."""
    tree = shapely.STRtree(lines)
    inside = tree.query(poly_xy, predicate="contains")
    touching = np.setdiff1d(tree.query(poly_xy, predicate="intersects"), inside)
    cut = shapely.intersection(lines[touching], poly_xy)
    return shapely.geometrycollections(np.concatenate([lines[inside], cut]))


def _clipped_length(lines: npt.NDArray[np.object_], poly_xy: BaseGeometry) -> float:
    if lines.size == 0:
        return 0.0
    return float(shapely.length(_clip_lines(lines, poly_xy)))
