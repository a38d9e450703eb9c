"""Service circles (isochrones) along the road network.

A service circle for ``T`` minutes is the set of roads from which a place can be reached
within ``T`` (``direction="to"``: who can get to the station) or which can be reached from
it (``"from"``), *including partially reached roads*, buffered by ``buffer_m`` metres and
dissolved into one (multi)polygon. Unreached roads add no area and enclosed unreachable
blocks stay holes. A concave hull of the reached points is available for comparison.

One bounded search gives node times; the reached intervals come from
:mod:`locator.network.reach`. The band around the reached pieces is dissolved through the
faces (blocks) of the reached network rather than by uniting one buffer per road, see
:func:`road_band`.

Nesting holds in the coordinates a client receives: each contour is reprojected to WGS 84
(long sides densified first), rounded to :data:`~locator.config.COORD_DECIMALS` and then
united with the smaller contour *in WGS 84*, so the 5-minute polygon lies inside the
10-minute one exactly, not only in the projected CRS.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from locator.config import COORD_DECIMALS
from locator.network.core import Network
from locator.network.graph import RoadGraph
from locator.network.modegraph import Direction
from locator.network.reach import Intervals, candidate_roads, reached_intervals
from locator.network.search import entries, search
from locator.network.snapping import Snap

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Shape = Literal["roads", "concave"]
SHAPES: tuple[Shape, ...] = ("roads", "concave")
#: Road pieces are simplified by this many metres before they are buffered (far below
#: the band's half-width and the output grid; removes the build's collinear vertices).
BAND_SIMPLIFY_M = 0.1
#: Radius (m) of the disc that keeps every reached point inside a concave hull.
HULL_POINT_M = 1.0
#: A place a circle is drawn around: a snapped point, or a network node id.
Place = Snap | int


@dataclass(frozen=True)
class Contour:
    """One service circle.

    Attributes
    ----------
    minutes
        Time budget of the contour.
    polygon
        Polygon or MultiPolygon in WGS 84 (lon, lat); empty when nothing is reached.
        Contains every smaller contour of the same request exactly.
    area_km2
        Area in the artifact's projected CRS, km².
    reached_length_m
        Length of road reached within the budget (each physical road counted once).
    """

    minutes: float
    polygon: BaseGeometry
    area_km2: float
    reached_length_m: float


def round_lonlat(geom: BaseGeometry, decimals: int = COORD_DECIMALS) -> BaseGeometry:
    """A valid polygonal geometry with every vertex on the ``10**-decimals`` grid.

    The grid values are the doubles nearest to the decimals (so they print short).
    Rounding rarely makes a polygon invalid (a ring touching itself may cross itself by
    a hair); then it is repaired and snapped again with GEOS's valid-output mode.
    """
    rounded = shapely.transform(geom, lambda c: np.round(c, decimals))
    if shapely.is_valid(rounded):
        return _polygonal(rounded)
    repaired = _polygonal(shapely.make_valid(geom)) if not shapely.is_valid(geom) else geom
    snapped = shapely.set_precision(repaired, 10.0**-decimals, mode="valid_output")
    return _polygonal(shapely.transform(snapped, lambda c: np.round(c, decimals)))


class IsochroneEngine:
    """Computes service circles on one network (build once per artifact, reuse).

    Parameters
    ----------
    net
        The network (geometry and mode graphs are shared with the other engines).
    """

    def __init__(self, net: Network) -> None:
        self.net = net
        self.graph = net.graph
        self.geometry = net.geometry
        #: figures that depend on the network only (a region's road length per mode),
        #: kept across requests: plain floats, so sharing them between threads is safe
        #: and a miss computed twice at once is harmless
        self.road_m_memo: dict[tuple[str, bytes], float] = {}
        #: regions (lon/lat polygons) projected to the network's CRS and made valid, as
        #: WKB keyed by the region's own WKB digest: bytes are immutable, and every caller
        #: reads its own geometry from them (so it may prepare it: nothing native shared)
        self.projected_memo: dict[bytes, bytes] = {}

    def warm(self) -> None:
        """Compile (or load from numba's cache) the interval kernel of stepped circles."""
        one = Intervals(np.zeros(1, dtype=np.int64), np.zeros(1), np.ones(1))
        one.minus(one)

    def seeds(
        self, places: Sequence[Place], mode: str, direction: Direction
    ) -> tuple[IntArray, FloatArray, IntArray, list[Snap]]:
        """Seed nodes, their costs and the place each seed belongs to, for places given as
        :class:`Snap` or network node ids; plus the snapped places."""
        geo, mg = self.geometry, self.net.mode(mode)
        nodes: list[int] = []
        costs: list[float] = []
        owner: list[int] = []
        snaps: list[Snap] = []
        for i, place in enumerate(places):
            if isinstance(place, Snap):
                for o in entries(geo, mg, place.edge, place.fraction, direction):
                    nodes.append(o.node)
                    costs.append(o.cost_s)
                    owner.append(i)
                snaps.append(place)
            else:
                node = int(place)
                if not 0 <= node < self.graph.n_nodes:
                    raise ValueError(f"node {node} is not in the network")
                nodes.append(node)
                costs.append(0.0)
                owner.append(i)
        return (
            np.array(nodes, dtype=np.int64),
            np.array(costs, dtype=np.float64),
            np.array(owner, dtype=np.int64),
            snaps,
        )

    def node_times(
        self, places: Sequence[Place], mode: str, direction: Direction, limit_s: float
    ) -> tuple[FloatArray, list[Snap]]:
        """Bounded search: time between the places and every node (``inf`` beyond)."""
        nodes, costs, _owner, snaps = self.seeds(places, mode, direction)
        csr = self.net.mode(mode).csr(direction)
        return search(csr, nodes, costs, limit_s=limit_s).time_s, snaps

    def reached(
        self,
        place: Place | Sequence[Place],
        *,
        mode: str,
        minutes: float,
        direction: Direction = "to",
    ) -> Intervals:
        """Reached road intervals within ``minutes``."""
        places = _as_places(place)
        limit_s = float(minutes) * 60.0
        times, snaps = self.node_times(places, mode, direction, limit_s)
        roads = candidate_roads(self.geometry, times)
        return reached_intervals(
            self.geometry, self.net.mode(mode), times, direction, limit_s, snaps=snaps, roads=roads
        )

    def isochrones(
        self,
        place: Place | Sequence[Place],
        *,
        mode: str,
        minutes: Iterable[float],
        buffer_m: float,
        direction: Direction = "to",
        shape: Shape = "roads",
        concave_ratio: float = 0.3,
        quad_segs: int = 4,
        simplify_m: float = 0.0,
    ) -> list[Contour]:
        """Service circles around one place (or several places together).

        Parameters
        ----------
        place
            A :class:`Snap` (arbitrary point on a road), a node id (a station placed on a
            node), or a sequence of these (one combined circle).
        mode
            Travel mode (``"truck"``, ``"car"``, ``"walk"``).
        minutes
            Positive time budgets; contours come back sorted ascending.
        buffer_m
            Half-width of the band around reached roads (``Settings.circle_buffer_m``).
        direction
            ``"to"``: roads from which the place is reachable within the budget;
            ``"from"``: roads reachable from the place.
        shape
            ``"roads"`` (buffered reached roads) or ``"concave"`` (concave hull of the
            reached road points, for comparison).
        concave_ratio
            ``ratio`` passed to :func:`shapely.concave_hull` (0 = tightest).
        quad_segs
            Segments per quarter circle in the buffer.
        simplify_m
            Simplify each contour by this tolerance (metres) before nesting; 0 = exact.

        Returns
        -------
        list of Contour
            One per budget, ascending; each contains the previous one.
        """
        budgets = sorted({float(m) for m in minutes})
        if not budgets or any(not np.isfinite(m) or m <= 0 for m in budgets):
            raise ValueError(f"time budgets must be positive minutes, got {budgets}")
        if not (np.isfinite(buffer_m) and buffer_m > 0):
            raise ValueError("buffer_m must be positive")
        if shape not in SHAPES:
            raise ValueError(f"unknown shape {shape!r}")
        places = _as_places(place)
        mg = self.net.mode(mode)
        times, snaps = self.node_times(places, mode, direction, budgets[-1] * 60.0)
        geo = self.geometry
        # the only O(#nodes) step per request; everything after follows the reached area
        reached_nodes = np.flatnonzero(np.isfinite(times))
        roads = geo.roads_at(reached_nodes)
        contours: list[Contour] = []
        prev_ll: BaseGeometry = shapely.Polygon()
        prev: Intervals | None = None
        for budget in budgets:
            limit_s = budget * 60.0
            intervals = reached_intervals(
                geo, mg, times, direction, limit_s, snaps=snaps, roads=roads
            )
            if shape == "roads":
                # the band of a union is the union of the bands: beyond the first budget
                # only the road reached since the smaller one is banded, then united
                # with the smaller contour (which the nesting unites with anyway)
                fresh = intervals if prev is None or simplify_m > 0 else intervals.minus(prev)
                lines = fresh.lines(geo)
                unnoded = geo.unnoded_roads[fresh.road]
                # the build densified long roads along the geodesic (every 2 km); in
                # the projected CRS those vertices lie on a line to centimetres, and
                # buffering pays for every vertex: drop the ones within BAND_SIMPLIFY_M
                lines = shapely.simplify(lines, BAND_SIMPLIFY_M, preserve_topology=False)
                piece = road_band(lines, buffer_m, quad_segs=quad_segs, unnoded=unnoded)
            else:
                lines = intervals.lines(geo)
                piece = _concave(
                    lines, times, reached_nodes, self.graph, limit_s, ratio=concave_ratio
                )
            if simplify_m > 0:
                piece = shapely.simplify(piece, simplify_m, preserve_topology=True)
            # nested where the client sees it: each piece in WGS 84, on the output grid,
            # united with the smaller contour (one union per contour)
            lonlat = round_lonlat(geo.to_lonlat(_polygonal(piece)))
            if not prev_ll.is_empty:
                lonlat = _polygonal(shapely.union_all([prev_ll, lonlat]))
            prev_ll = lonlat
            prev = intervals
            contours.append(
                Contour(
                    minutes=budget,
                    polygon=lonlat,
                    area_km2=float(geo.to_projected(lonlat).area) / 1e6,
                    reached_length_m=intervals.length_m(geo),
                )
            )
        return contours


def _as_places(place: Place | Sequence[Place]) -> list[Place]:
    if isinstance(place, Snap | int | np.integer):
        return [place if isinstance(place, Snap) else int(place)]
    return list(place)


def road_band(
    lines: npt.NDArray[np.object_],
    buffer_m: float,
    *,
    quad_segs: int = 4,
    unnoded: npt.NDArray[np.bool_] | None = None,
) -> BaseGeometry:
    """Dissolved buffer of many road pieces: everything within ``buffer_m`` of a line.

    Uniting one buffer per road costs a cascade of overlays whose work goes almost all
    into the overlaps; on a street network nearly every point is covered many times. The
    band is built from the faces of the line network instead: the city blocks enclosed
    by the lines are filled (their union is a coverage union, no overlaps), the filled
    area is buffered once, and the *core* of each block, the points farther than
    ``buffer_m`` from its boundary (a negative buffer), is cut out again. A point in a
    block is nearest to that block's boundary or to a line inside it, so with the lines
    that bound no block (dead ends, bridges between blocks, frontier pieces) buffered
    and added back the result is the same point set as the union of the line buffers,
    up to the circle approximation (``quad_segs``), where both are inscribed in the
    exact band.

    Parameters
    ----------
    lines
        Projected LineStrings; zero-length lines stand for a single reached point.
    buffer_m
        Band half-width in the lines' units (metres).
    quad_segs
        Segments per quarter circle.
    unnoded
        Per line: True where it may meet other lines anywhere but end to end (see
        :attr:`~locator.network.geometry.EdgeGeometry.unnoded_roads`); only those are noded.
        ``None`` nodes all lines.

    Returns
    -------
    Polygon or MultiPolygon (empty for no lines).
    """
    if lines.size == 0:
        return shapely.Polygon()
    dot = shapely.length(lines) <= 0.0
    points = shapely.get_point(lines[dot], 0)
    real = lines[~dot]
    if real.size == 0:
        return _union_of_buffers(np.empty(0, dtype=object), points, buffer_m, quad_segs)
    flag = np.ones(real.size, dtype=bool) if unnoded is None else unnoded[~dot]
    if flag.any():
        noded = shapely.get_parts(shapely.node(shapely.multilinestrings(real[flag])))
        real = np.concatenate([real[~flag], noded])
    polys, cuts, dangles, invalid = shapely.polygonize_full(real)
    faces = shapely.get_parts(polys)
    if faces.size == 0:
        return _union_of_buffers(real, points, buffer_m, quad_segs)
    filled = _coverage_union(faces)
    if filled is None:  # not a clean coverage (should not happen on noded lines)
        log.warning("road faces overlap; falling back to a plain union of buffers")
        return _union_of_buffers(real, points, buffer_m, quad_segs)
    band = shapely.buffer(filled, buffer_m, quad_segs=quad_segs)
    cores = shapely.get_parts(shapely.buffer(faces, -buffer_m, quad_segs=quad_segs))
    cores = cores[~shapely.is_empty(cores)]
    core = shapely.multipolygons(cores) if cores.size else None
    if core is not None:
        band = shapely.difference(band, core)
    loose = np.concatenate(
        [shapely.get_parts(cuts), shapely.get_parts(dangles), shapely.get_parts(invalid)]
    )
    if loose.size:
        # a loose line inside the filled blocks and farther than the band from every
        # core adds nothing: its band lies in the filled blocks' band, outside the cores
        shapely.prepare(filled)
        redundant = shapely.covered_by(loose, filled)
        if core is not None:
            redundant &= ~shapely.dwithin(loose, core, buffer_m)
        loose = loose[~redundant]
    extra = _buffers(loose, points, buffer_m, quad_segs)
    if extra.size == 0:
        return band
    return shapely.union_all(np.concatenate([[band], extra]))  # one cascaded union


def _coverage_union(faces: npt.NDArray[np.object_]) -> BaseGeometry | None:
    """Union of non-overlapping faces, or ``None`` when they overlap after all."""
    try:
        filled = shapely.coverage_union_all(faces)
    except GEOSException:
        return None
    total_m2 = float(np.sum(shapely.area(faces)))
    if abs(float(filled.area) - total_m2) > 1e-6 * max(total_m2, 1.0):
        return None
    return filled


def _union_of_buffers(
    lines: npt.NDArray[np.object_],
    points: npt.NDArray[np.object_],
    buffer_m: float,
    quad_segs: int,
) -> BaseGeometry:
    """Plain dissolve: buffer each merged line (and point) and unite the buffers."""
    geoms = _buffers(lines, points, buffer_m, quad_segs)
    if geoms.size == 0:
        return shapely.Polygon()
    return shapely.union_all(geoms)


def _buffers(
    lines: npt.NDArray[np.object_],
    points: npt.NDArray[np.object_],
    buffer_m: float,
    quad_segs: int,
) -> npt.NDArray[np.object_]:
    """One buffer per merged line and per point (not yet united)."""
    parts = [points]
    if lines.size:
        # buffering each merged line and dissolving with a cascaded union is several
        # times faster in GEOS than one buffer of the whole MultiLineString
        parts.append(shapely.get_parts(shapely.line_merge(shapely.multilinestrings(lines))))
    buffers: npt.NDArray[np.object_] = shapely.buffer(
        np.concatenate(parts), buffer_m, quad_segs=quad_segs
    )
    return buffers


def _concave(
    lines: npt.NDArray[np.object_],
    node_time_s: FloatArray,
    finite_nodes: IntArray,
    graph: RoadGraph,
    limit_s: float,
    *,
    ratio: float,
) -> BaseGeometry:
    """Concave hull of the reached road points (cut ends, shape points and nodes).

    ``finite_nodes`` are the ascending ids of the nodes with a finite time. GEOS may
    reach a point by a zero-width spike of the hull (which a valid polygon cannot keep),
    so the hull is grown by :data:`HULL_POINT_M`: every reached point stays inside.
    """
    reached = finite_nodes[node_time_s[finite_nodes] <= limit_s]
    if lines.size == 0 and reached.size == 0:
        return shapely.Polygon()
    # the hull is of every vertex of the parts: no point object per road vertex
    nodes = shapely.multipoints(np.column_stack((graph.node_x[reached], graph.node_y[reached])))
    parts = shapely.geometrycollections([shapely.multilinestrings(lines), nodes])
    hull = shapely.concave_hull(parts, ratio=ratio)
    # a 1 m band turns zero-width spikes into thin polygons that survive reprojection and
    # repair, so every reached point stays inside (one buffer of a small polygon)
    return _polygonal(shapely.buffer(hull, HULL_POINT_M, quad_segs=2))


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep only the polygonal part (a hull of collinear points may be a line)."""
    if geom.is_empty or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = shapely.get_parts(geom)
    polys = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        return shapely.Polygon()
    return shapely.union_all(polys)


def precompute_station_isochrones(
    engine: IsochroneEngine,
    stations: Mapping[str, Place],
    *,
    mode: str,
    minutes: Iterable[float],
    buffer_m: float,
    simplify_m: float = 5.0,
) -> dict[str, list[Contour]]:
    """Service circles (direction "to") of many stations (build time).

    ``simplify_m`` is the simplification tolerance in metres that keeps the stored
    polygons compact.
    """
    budgets = tuple(minutes)
    out: dict[str, list[Contour]] = {}
    for station_id, place in stations.items():
        out[station_id] = engine.isochrones(
            place, mode=mode, minutes=budgets, buffer_m=buffer_m, simplify_m=simplify_m
        )
    log.info("precomputed service circles for %d stations", len(out))
    return out
