"""Coverage of a region by the stations' service circles, and the gaps they leave.

One multi-source search on the reverse graph labels every node with the time to its
nearest station. From those labels each physical road is covered by a fraction (its
partially reached ends, plus the stretch around a station on the road itself), demand
points are covered when their own travel time is within the budget, and the uncovered
stretches come back as geometry: the gaps a planner looks at.

**Road length has one definition everywhere**: the length of a road as the network states
it (``edge_length_m``, each physical road once), times a fraction of it. Covered length
is the covered fraction times that length; a region's length is the fraction of the
road's polyline that lies inside the region (measured along the polyline in the
artifact's projected CRS) times that length. So the rows of a table add up to the figure
of their union, and the whole network is the same figure by either path.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from scipy.sparse.csgraph import dijkstra
from shapely.geometry.base import BaseGeometry

from locator.analysis.isochrones import IsochroneEngine, Place
from locator.errors import LocatorError
from locator.network.core import Network
from locator.network.geometry import EdgeGeometry
from locator.network.projection import Projector
from locator.network.reach import Intervals, complement, reached_intervals
from locator.network.search import search, with_sources
from locator.network.snapping import Snap

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


#: Most region road lengths kept per engine (leagues, banners and ports are a few hundred;
#: bounding boxes sent by clients would otherwise grow it without end).
ROAD_M_MEMO_SIZE = 1024


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
        Circle engine of the network (its seeds are the circles' seeds).
    stations
        Station places: :class:`Snap` or node ids.
    mode
        Travel mode.
    limit_s
        Stop the search at this many seconds (nodes beyond stay ``inf``).
    """
    nodes, costs, owner, snaps = engine.seeds(stations, mode, "to")
    result = search(engine.net.mode(mode).reverse, nodes, costs, limit_s=limit_s, trees=True)
    _, seed = result.trees()
    station = np.where(seed >= 0, owner[np.maximum(seed, 0)] if owner.size else -1, -1)
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
        w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64)
        return cls(
            lon=np.array([s.lon for s in snaps], dtype=np.float64),
            lat=np.array([s.lat for s in snaps], dtype=np.float64),
            weight=w,
            edge=np.array([s.edge for s in snaps], dtype=np.int64),
            fraction=np.array([s.fraction for s in snaps], dtype=np.float64),
        )

    @classmethod
    def from_nodes(
        cls, net: Network, nodes: npt.ArrayLike, weight: npt.ArrayLike | None = None
    ) -> DemandPoints:
        """Demand at network nodes."""
        idx = np.asarray(nodes, dtype=np.int64)
        w = np.ones(idx.shape[0]) if weight is None else np.asarray(weight, dtype=np.float64)
        g = net.graph
        return cls(lon=g.node_lon[idx], lat=g.node_lat[idx], weight=w, node=idx)

    @property
    def total(self) -> float:
        return float(self.weight.sum())

    def inside(self, projector: Projector, poly_xy: BaseGeometry | None) -> BoolArray:
        """Which points lie in a projected polygon (all of them for ``None``)."""
        if poly_xy is None:
            return np.ones(self.lon.shape[0], dtype=bool)
        x, y = projector.forward(self.lon, self.lat)
        return np.asarray(shapely.contains_xy(poly_xy, x, y), dtype=bool)


def standing_demand(
    net: Network,
    places: Sequence[tuple[float, float, float]],
    *,
    max_snap_m: float,
) -> list[Snap]:
    """The standing demand points (ports, worker homes) placed on the network.

    ``places`` are ``(lon, lat, snap radius m)``; a place with no road within its radius
    is left out (it is not on the network).
    """
    snaps: list[Snap] = []
    for lon, lat, radius_m in places:
        with contextlib.suppress(LocatorError):
            snaps.append(net.snapper.snap(lon, lat, max_snap_m=max(radius_m, max_snap_m)))
    return snaps


def demand_points(
    standing: Sequence[Snap], extra: Sequence[Snap], weights: Sequence[float]
) -> DemandPoints | None:
    """The standing demand (weight 1 each) and ``extra`` snapped points with weights."""
    snaps = [*standing, *extra]
    if not snaps:
        return None
    return DemandPoints.from_snaps(snaps, np.array([1.0] * len(standing) + list(weights)))


@dataclass(frozen=True)
class RegionCoverage:
    """Coverage of one region (one row of the planner's table)."""

    code: str
    road_km: float
    covered_km: float
    share: float
    demand_total: float
    demand_covered: float


@dataclass(frozen=True)
class DemandResult:
    """One demand point of a report: where it is, its weight, whether a station of the
    kind is within the budget and how far (``time_s``: ``None`` beyond the budget)."""

    lon: float
    lat: float
    weight: float
    covered: bool
    time_s: float | None
    standing: bool
    """A port or worker home (the standing demand), not a point given with the request."""


@dataclass(frozen=True)
class CoverageReport:
    """What the stations of one kind cover within ``minutes``, for one region."""

    kind: str
    mode: str
    minutes: float
    region: str
    road_km: float
    covered_km: float
    share: float
    demand_total: float
    demand_covered: float
    rows: list[RegionCoverage]
    uncovered: BaseGeometry
    stations_used: int
    extra: dict[str, Any] = field(default_factory=dict)
    demand_points: tuple[DemandResult, ...] = ()
    """The demand points inside the region, each covered or not."""


class Coverage:
    """What the stations' ``minutes`` circles cover, from :class:`CoverageLabels`.

    Parameters
    ----------
    engine
        Circle engine of the network.
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
        self.net = engine.net
        self.labels = labels
        self._demand_memo: tuple[DemandPoints, FloatArray] | None = None
        self.minutes = float(minutes)
        self.limit_s = limit_s
        geo = self.net.geometry
        self.mode_graph = self.net.mode(labels.mode)
        self.covered: Intervals = reached_intervals(
            geo, self.mode_graph, labels.time_s, "to", limit_s, snaps=labels.snaps
        )
        self.road_fraction: FloatArray = self.covered.fraction_per_road(geo.n_roads)
        allowed = self.mode_graph.allowed
        p = geo.partner
        #: roads the mode may use in at least one direction (the only ones counted)
        self.mode_roads: BoolArray = allowed[geo.canon] | ((p >= 0) & allowed[np.maximum(p, 0)])
        self._xy_length = geo.road_xy_length_m

    # ------------------------------------------------------------------ totals
    @property
    def total_length_m(self) -> float:
        """Length of every road usable by the mode in either direction."""
        return float(self.net.geometry.road_length_m[self.mode_roads].sum())

    @property
    def covered_length_m(self) -> float:
        """Road length inside the circles."""
        # an elementwise product and sum: np.dot would wake BLAS threads on every request
        return float((self.road_fraction * self.net.geometry.road_length_m).sum())

    @property
    def share(self) -> float:
        """Covered share of the road length (0 when there is no road)."""
        total = self.total_length_m
        return self.covered_length_m / total if total > 0 else 0.0

    # ------------------------------------------------------------------ points
    def point_times(self, edge: npt.ArrayLike, fraction: npt.ArrayLike) -> FloatArray:
        """Seconds from snapped points (``edge``, ``fraction``) to the nearest station."""
        e = np.asarray(edge, dtype=np.int64)
        f = np.asarray(fraction, dtype=np.float64)
        graph = self.net.graph
        geo = self.net.geometry
        mg = self.mode_graph
        allowed, times = mg.allowed, mg.time_s
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
        """Seconds from each demand point to the nearest station (``inf`` beyond); once
        per demand set (a report asks for every row)."""
        cached = self._demand_memo
        if cached is not None and cached[0] is demand:
            return cached[1]
        if demand.edge is not None and demand.fraction is not None:
            times = self.point_times(demand.edge, demand.fraction)
        elif demand.node is not None:
            times = self.labels.time_s[demand.node]
        else:
            raise ValueError("demand points need snapped edges/fractions or node ids")
        times.setflags(write=False)  # kept for the other rows: nobody may change it
        self._demand_memo = (demand, times)
        return times

    def demand_results(
        self, demand: DemandPoints, region: BaseGeometry | None, n_standing: int
    ) -> tuple[DemandResult, ...]:
        """Each demand point inside ``region`` (all for ``None``) with its time and cover;
        the first ``n_standing`` points are the standing demand."""
        times = self.demand_times(demand)
        poly_xy = None if region is None else projected_region(self.engine, region)
        keep = demand.inside(self.net.projector, poly_xy)
        return tuple(
            DemandResult(
                lon=float(demand.lon[i]),
                lat=float(demand.lat[i]),
                weight=float(demand.weight[i]),
                covered=bool(times[i] <= self.limit_s),
                time_s=float(times[i]) if times[i] <= self.limit_s else None,
                standing=bool(i < n_standing),
            )
            for i in np.flatnonzero(keep)
        )

    def demand_covered(self, demand: DemandPoints) -> BoolArray:
        """Which demand points reach a station within the budget."""
        covered: BoolArray = self.demand_times(demand) <= self.limit_s
        return covered

    # ------------------------------------------------------------------ regions
    def gaps(self) -> Intervals:
        """The uncovered stretches of the mode's roads."""
        gaps = complement(self.covered, self.net.geometry.n_roads)
        return gaps.select(self.mode_roads[gaps.road])

    @functools.cached_property
    def _whole(self) -> _Pieces:
        """The mode's whole roads with their projected lines and boxes (cut only when a
        region's road length is not known yet)."""
        roads = np.nonzero(self.mode_roads)[0]
        whole = Intervals(roads, np.zeros(roads.shape[0]), np.ones(roads.shape[0]))
        return _Pieces.of(whole, self.net.geometry)

    @functools.cached_property
    def _covered_pieces(self) -> _Pieces:
        """The covered pieces: cut once per report, clipped once per region."""
        covered = self.covered.select(self.mode_roads[self.covered.road])
        return _Pieces.of(covered, self.net.geometry)

    def _region_length_m(self, pieces: _Pieces, poly_xy: BaseGeometry) -> float:
        """Stated length of ``pieces`` inside a projected polygon (the module's rule)."""
        if pieces.road.size == 0:
            return 0.0
        geo = self.net.geometry
        inside_xy = _clipped_lengths(pieces, poly_xy)
        denom = self._xy_length[pieces.road]
        share = np.divide(inside_xy, denom, out=np.zeros_like(inside_xy), where=denom > 0)
        return float(np.sum(share * geo.road_length_m[pieces.road]))

    def region(
        self, code: str, region: BaseGeometry, demand: DemandPoints | None = None
    ) -> RegionCoverage:
        """Road km, covered km, share and covered demand inside one lon/lat polygon."""
        digest = region_key(region)
        poly_xy = projected_region(self.engine, region, digest)
        shapely.prepare(poly_xy)  # this request's own polygon: preparing it is safe
        # the region's road length does not depend on the stations: once per region
        key = (self.labels.mode, digest)
        memo = self.engine.road_m_memo
        road_m = memo.get(key)
        if road_m is None:
            road_m = self._region_length_m(self._whole, poly_xy)
            if len(memo) >= ROAD_M_MEMO_SIZE:  # arbitrary boxes from requests: stay bounded
                memo.clear()
            memo[key] = road_m
        covered_m = self._region_length_m(self._covered_pieces, poly_xy)
        demand_total = demand_covered = 0.0
        if demand is not None:
            inside = demand.inside(self.net.projector, poly_xy)
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

    def whole(self, demand: DemandPoints | None = None) -> RegionCoverage:
        """The figures of the whole network (the same rule, no clipping)."""
        road_m, covered_m = self.total_length_m, self.covered_length_m
        d_total = d_cov = 0.0
        if demand is not None:
            d_total = demand.total
            d_cov = float(demand.weight[self.demand_covered(demand)].sum())
        return RegionCoverage(
            "all",
            road_m / 1000.0,
            covered_m / 1000.0,
            covered_m / road_m if road_m > 0 else 0.0,
            d_total,
            d_cov,
        )

    def table(
        self, regions: Mapping[str, BaseGeometry], demand: DemandPoints | None = None
    ) -> list[RegionCoverage]:
        """One :class:`RegionCoverage` row per region code."""
        return [self.region(code, region, demand) for code, region in regions.items()]

    def uncovered(self, region: BaseGeometry | None = None) -> BaseGeometry:
        """Uncovered road stretches (MultiLineString, lon/lat), optionally clipped."""
        geo = self.net.geometry
        gaps = self.gaps()
        poly_xy = None
        if region is not None:
            # only the gaps on roads whose box meets the region's box are cut and clipped
            poly_xy = projected_region(self.engine, region)
            x0, y0, x1, y1 = shapely.bounds(poly_xy)
            b = geo.road_bounds[gaps.road]
            gaps = gaps.select(
                (b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1)
            )
        lines = gaps.lines(geo)
        if lines.size == 0:
            return shapely.MultiLineString()
        if poly_xy is None:
            return geo.to_lonlat(shapely.multilinestrings(lines), densify_m=0.0)
        # flatten twice: a road crossing the boundary twice clips to a MultiLineString
        parts = shapely.get_parts(shapely.get_parts(_clip_lines(lines, poly_xy)))
        parts = parts[shapely.get_type_id(parts) == 1]  # LineStrings (drop touching points)
        return geo.to_lonlat(shapely.multilinestrings(parts), densify_m=0.0)


def _valid(poly: BaseGeometry) -> BaseGeometry:
    return poly if shapely.is_valid(poly) else shapely.make_valid(poly)


#: Most projected regions kept per engine (units are ~120; boxes come from requests).
PROJECTED_MEMO_SIZE = 256


def region_key(region: BaseGeometry) -> bytes:
    """A digest of a lon/lat region's exact coordinates (the memos' key)."""
    return hashlib.sha1(shapely.to_wkb(region)).digest()


def projected_region(
    engine: IsochroneEngine, region: BaseGeometry, key: bytes | None = None
) -> BaseGeometry:
    """``region`` (lon/lat) in the network's CRS, densified and made valid — the same
    polygon every time, computed once per region (a bounded per-engine memo of WKB).
    The caller gets its own geometry, which it may prepare. ``key``: the region's
    :func:`region_key` when the caller has it."""
    key = region_key(region) if key is None else key
    memo = engine.projected_memo
    wkb = memo.get(key)
    if wkb is not None:
        return shapely.from_wkb(wkb)
    poly = _valid(engine.net.geometry.to_projected(region))
    if len(memo) >= PROJECTED_MEMO_SIZE:
        memo.clear()
    memo[key] = shapely.to_wkb(poly)
    return poly


def _clip_lines(lines: npt.NDArray[np.object_], poly_xy: BaseGeometry) -> BaseGeometry:
    """Union-free clip of many lines to a polygon (exact at the boundary)."""
    inside, touching = _split_by(lines, poly_xy)
    cut = shapely.intersection(lines[touching], poly_xy)
    return shapely.geometrycollections(np.concatenate([lines[inside], cut]))


def _split_by(lines: npt.NDArray[np.object_], poly_xy: BaseGeometry) -> tuple[IntArray, IntArray]:
    """Indices of the lines inside ``poly_xy`` and of those crossing its boundary (the
    STR-tree is local to the call: nothing native is shared between requests)."""
    tree = shapely.STRtree(lines)
    inside = tree.query(poly_xy, predicate="contains")
    touching = np.setdiff1d(tree.query(poly_xy, predicate="intersects"), inside)
    return inside, touching


@dataclass(frozen=True)
class _Pieces:
    """Road pieces with their projected lines, lengths and (road) boxes."""

    road: IntArray
    lines: npt.NDArray[np.object_]
    length_xy: FloatArray
    bounds: FloatArray

    @classmethod
    def of(cls, pieces: Intervals, geo: EdgeGeometry) -> _Pieces:
        lines = pieces.lines(geo) if len(pieces) else np.empty(0, dtype=object)
        return cls(
            pieces.road, lines, np.asarray(shapely.length(lines)), geo.road_bounds[pieces.road]
        )


def _clipped_lengths(pieces: _Pieces, poly_xy: BaseGeometry) -> FloatArray:
    """Per piece: its projected length inside ``poly_xy`` (prepared by the caller). Boxes
    that miss the polygon's box are skipped in numpy; a prepared ``contains`` settles
    the pieces wholly inside; only those crossing the boundary are intersected."""
    out = np.zeros(pieces.road.shape[0])
    if out.size == 0:
        return out
    x0, y0, x1, y1 = shapely.bounds(poly_xy)
    b = pieces.bounds
    near = np.nonzero((b[:, 2] >= x0) & (b[:, 0] <= x1) & (b[:, 3] >= y0) & (b[:, 1] <= y1))[0]
    if near.size == 0:
        return out
    lines = pieces.lines[near]
    inside = np.asarray(shapely.contains(poly_xy, lines), dtype=bool)
    out[near[inside]] = pieces.length_xy[near[inside]]
    rest = near[~inside]
    rest = rest[np.asarray(shapely.intersects(poly_xy, pieces.lines[rest]), dtype=bool)]
    if rest.size:
        out[rest] = shapely.length(shapely.intersection(pieces.lines[rest], poly_xy))
    return out


def stations_reaching(
    engine: IsochroneEngine,
    stations: Sequence[Snap],
    *,
    mode: str,
    limit_s: float,
    region: BaseGeometry | None,
) -> int:
    """How many of ``stations`` have a circle that reaches into the region: some network
    node inside it reaches the station within ``limit_s``, or the station stands in it.
    One compiled search with one virtual source per station (each bounded)."""
    if not stations:
        return 0
    net = engine.net
    graph = net.graph
    if region is None:
        inside = np.ones(graph.n_nodes, dtype=bool)
        stands = np.ones(len(stations), dtype=bool)
    else:
        poly_xy = projected_region(engine, region)
        inside = np.asarray(shapely.contains_xy(poly_xy, graph.node_x, graph.node_y), dtype=bool)
        x, y = net.projector.forward(
            np.array([s.snapped_lon for s in stations]), np.array([s.snapped_lat for s in stations])
        )
        stands = np.asarray(shapely.contains_xy(poly_xy, x, y), dtype=bool)
    mg = net.mode(mode)
    nodes, costs, owner, _ = engine.seeds(stations, mode, "to")  # the circles' own seeds
    sources = [(nodes[owner == i], costs[owner == i]) for i in range(len(stations))]
    n = graph.n_nodes
    aug = with_sources(mg.reverse.matrix, sources)
    dist = np.atleast_2d(
        dijkstra(aug, directed=True, indices=n + np.arange(len(sources)), limit=limit_s)
    )[:, :n]
    reach = (dist[:, inside] <= limit_s).any(axis=1)
    return int(np.count_nonzero(reach | stands))


def coverage_report(
    engine: IsochroneEngine,
    stations: Sequence[Snap],
    *,
    kind: str,
    mode: str,
    minutes: float,
    region: tuple[str, BaseGeometry | None],
    rows: Mapping[str, BaseGeometry],
    demand: DemandPoints | None,
    n_standing: int = 0,
) -> CoverageReport:
    """Coverage of one kind's stations within ``minutes``: the region's figures, one row
    per unit of ``rows``, the uncovered stretches (clipped to the region) and each demand
    point in the region (the first ``n_standing`` of ``demand`` are the standing ones)."""
    labels = label_nodes(engine, stations, mode=mode, limit_s=minutes * 60.0)
    cov = Coverage(engine, labels, minutes)
    name, poly = region
    total = cov.whole(demand) if poly is None else cov.region(name, poly, demand)
    return CoverageReport(
        kind=kind,
        mode=mode,
        minutes=minutes,
        region=name,
        road_km=total.road_km,
        covered_km=total.covered_km,
        share=total.share,
        demand_total=total.demand_total,
        demand_covered=total.demand_covered,
        rows=cov.table(rows, demand),
        uncovered=cov.uncovered(poly),
        stations_used=stations_reaching(
            engine, stations, mode=mode, limit_s=minutes * 60.0, region=poly
        ),
        demand_points=() if demand is None else cov.demand_results(demand, poly, n_standing),
    )
