"""Service circles (isochrones) along the road network.

A service circle for ``T`` minutes is the set of roads from which a place can be reached
within ``T`` (``direction="to"``: who can get to the station) or which can be reached from
it (``"from"``), *including partially reached roads*, buffered by ``buffer_m`` metres and
dissolved into one (multi)polygon. Unreached roads add no area and enclosed unreachable
blocks stay holes. Contours are nested by construction: each larger contour is united
with the smaller one. A concave hull of the reached points is available for comparison.

One bounded search (scipy's compiled Dijkstra) gives node times; the reached intervals
and their exact cutting are vectorised in :mod:`locator.segments`. The band around the
reached pieces is dissolved through the faces (blocks) of the reached network rather than
by uniting one buffer per road, see :func:`road_band`.
"""

from __future__ import annotations

import dataclasses
import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import shapely
from shapely.errors import GEOSException
from shapely.geometry.base import BaseGeometry

from locator.graph import RoadGraph
from locator.search import Direction, ModeGraph, Snap, multi_source_times, seeds_for
from locator.segments import EdgeGeometry, Intervals
from locator.snapping import SnapIndex

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Shape = Literal["roads", "concave"]
Place = Snap | int

DEFAULT_MINUTES: tuple[int, ...] = (5, 10, 15)
#: Default half-width of the road-hugging band: street networks vs the regional network.
DEFAULT_BUFFER_M = {"street": 100.0, "regional": 500.0}
ISOCHRONE_FORMAT_VERSION = 1


@dataclass(frozen=True)
class IsochroneContour:
    """One service circle.

    Attributes
    ----------
    minutes
        Time budget of the contour.
    polygon
        Polygon or MultiPolygon in WGS 84 (lon, lat); empty when nothing is reached.
    area_km2
        Area in the artifact's projected CRS, km².
    reached_length_m
        Length of road reached within the budget (each physical road counted once).
    """

    minutes: float
    polygon: BaseGeometry
    area_km2: float
    reached_length_m: float


class IsochroneEngine:
    """Computes service circles on one network (build once per artifact, reuse).

    Parameters
    ----------
    graph
        The road network.
    geometry
        Shared :class:`~locator.segments.EdgeGeometry`; built here when omitted.
    """

    def __init__(self, graph: RoadGraph, geometry: EdgeGeometry | None = None) -> None:
        self.graph = graph
        self.geometry = geometry or EdgeGeometry(graph)
        self._mode_graphs: dict[tuple[str, bool], ModeGraph] = {}

    @classmethod
    def sharing(cls, index: SnapIndex) -> IsochroneEngine:
        """An engine that reuses a snap index's edge twins and projected polylines
        (so a loaded artifact computes each once)."""
        geometry = EdgeGeometry(
            index.graph,
            index.projector,
            twins=index.twins,
            projected_xy=(index.geometry.x, index.geometry.y),
        )
        return cls(index.graph, geometry)

    def mode_graph(self, mode: str, direction: Direction) -> ModeGraph:
        """The cached search graph for ``mode``; reversed for ``direction="to"``."""
        key = (mode, direction == "to")
        if key not in self._mode_graphs:
            self._mode_graphs[key] = ModeGraph(self.graph, mode, reverse=key[1])
        return self._mode_graphs[key]

    def seeds(
        self, places: Sequence[Place], mode: str, direction: Direction
    ) -> tuple[IntArray, FloatArray, list[Snap]]:
        """Seed nodes/costs for places given as :class:`Snap` or network node ids."""
        nodes: list[IntArray] = []
        costs: list[FloatArray] = []
        snaps: list[Snap] = []
        for place in places:
            if isinstance(place, Snap):
                n, c = seeds_for(self.graph, place, mode, direction, self.geometry.twins)
                nodes.append(n)
                costs.append(c)
                snaps.append(place)
            else:
                node = int(place)
                if not 0 <= node < self.graph.n_nodes:
                    raise ValueError(f"node {node} is not in the network")
                nodes.append(np.array([node], dtype=np.int64))
                costs.append(np.zeros(1))
        if not nodes:
            return np.zeros(0, dtype=np.int64), np.zeros(0), snaps
        return np.concatenate(nodes), np.concatenate(costs), snaps

    def node_times(
        self, places: Sequence[Place], mode: str, direction: Direction, limit_s: float
    ) -> tuple[FloatArray, list[Snap]]:
        """Bounded search: time between the places and every node (``inf`` beyond)."""
        nodes, costs, snaps = self.seeds(places, mode, direction)
        times = multi_source_times(self.mode_graph(mode, direction), nodes, costs, limit_s=limit_s)
        return times, snaps

    def reached(
        self,
        place: Place | Sequence[Place],
        *,
        mode: str,
        minutes: float,
        direction: Direction = "to",
    ) -> Intervals:
        """Reached road intervals within ``minutes`` (for tests and coverage maps)."""
        places = _as_places(place)
        limit_s = float(minutes) * 60.0
        times, snaps = self.node_times(places, mode, direction, limit_s)
        geo = self.geometry
        roads = geo.candidate_roads(times)
        return geo.reached_intervals(times, mode, direction, limit_s, snaps, roads=roads)

    def isochrones(
        self,
        place: Place | Sequence[Place],
        *,
        mode: str,
        minutes: Iterable[float] = DEFAULT_MINUTES,
        direction: Direction = "to",
        buffer_m: float | None = None,
        shape: Shape = "roads",
        concave_ratio: float = 0.3,
        quad_segs: int = 4,
        simplify_m: float = 0.0,
    ) -> list[IsochroneContour]:
        """Service circles around one place (or several places together).

        Parameters
        ----------
        place
            A :class:`Snap` (arbitrary point on a road), a node id (a station placed on a
            node), or a sequence of these (one combined circle).
        mode
            Travel mode (``"truck"``, ``"car"``, ``"walk"``).
        minutes
            Time budgets; contours come back sorted ascending.
        direction
            ``"to"``: roads from which the place is reachable within the budget;
            ``"from"``: roads reachable from the place.
        buffer_m
            Half-width of the band around reached roads; defaults by network kind
            (100 m street, 500 m regional).
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
        list of IsochroneContour
            One per budget, ascending; each contains the previous one.
        """
        budgets = sorted({float(m) for m in minutes})
        if not budgets:
            raise ValueError("at least one time budget is needed")
        if any(not np.isfinite(m) or m <= 0 for m in budgets):
            raise ValueError(f"time budgets must be positive minutes, got {budgets}")
        if buffer_m is None:
            buffer_m = DEFAULT_BUFFER_M.get(self.graph.network_kind, 100.0)
        if buffer_m <= 0:
            raise ValueError("buffer_m must be positive")
        places = _as_places(place)
        times, snaps = self.node_times(places, mode, direction, budgets[-1] * 60.0)
        geo = self.geometry
        # the only O(#nodes) step per request; everything after follows the reached area
        reached_nodes = np.flatnonzero(np.isfinite(times))
        roads = geo.roads_at(reached_nodes)
        contours: list[IsochroneContour] = []
        previous: BaseGeometry = shapely.Polygon()
        for budget in budgets:
            limit_s = budget * 60.0
            intervals = geo.reached_intervals(times, mode, direction, limit_s, snaps, roads=roads)
            # summed over the reached intervals only; np.dot over all roads goes through
            # a multithreaded BLAS whose wake-ups cost milliseconds on a busy machine
            reached_length_m = float(
                np.sum((intervals.end - intervals.start) * geo.road_length_m[intervals.road])
            )
            if shape == "roads":
                lines = geo.cut(intervals)
                unnoded = geo.unnoded_roads[intervals.road]
                piece = road_band(lines, buffer_m, quad_segs=quad_segs, unnoded=unnoded)
            elif shape == "concave":
                lines = geo.cut(intervals)
                piece = _concave(lines, times, reached_nodes, geo, limit_s, ratio=concave_ratio)
            else:
                raise ValueError(f"unknown shape {shape!r}")
            polygon = shapely.union_all([previous, piece]) if not previous.is_empty else piece
            if simplify_m > 0:
                polygon = shapely.simplify(polygon, simplify_m, preserve_topology=True)
                polygon = shapely.union_all([previous, polygon])
            polygon = _polygonal(polygon)
            previous = polygon
            contours.append(
                IsochroneContour(
                    minutes=budget,
                    polygon=geo.to_lonlat(polygon),
                    area_km2=float(polygon.area) / 1e6,
                    reached_length_m=reached_length_m,
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
        :attr:`~locator.segments.EdgeGeometry.unnoded_roads`); only those are noded.
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
    extra = _union_of_buffers(loose, points, buffer_m, quad_segs)
    if extra.is_empty:
        return band
    return shapely.union_all([band, extra])


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
    parts = [points]
    if lines.size:
        # buffering each merged line and dissolving with a cascaded union is several
        # times faster in GEOS than one buffer of the whole MultiLineString
        parts.append(shapely.get_parts(shapely.line_merge(shapely.multilinestrings(lines))))
    geoms = np.concatenate(parts)
    if geoms.size == 0:
        return shapely.Polygon()
    return shapely.union_all(shapely.buffer(geoms, buffer_m, quad_segs=quad_segs))


def _concave(
    lines: npt.NDArray[np.object_],
    node_time_s: FloatArray,
    finite_nodes: IntArray,
    geo: EdgeGeometry,
    limit_s: float,
    *,
    ratio: float,
) -> BaseGeometry:
    """Concave hull of the reached road points (cut ends, shape points and nodes).

    ``finite_nodes`` are the ascending ids of the nodes with a finite time.
    """
    parts = [shapely.get_coordinates(lines)] if lines.size else []
    reached = finite_nodes[node_time_s[finite_nodes] <= limit_s]
    parts.append(np.column_stack((geo.graph.node_x[reached], geo.graph.node_y[reached])))
    coords = np.concatenate(parts) if parts else np.zeros((0, 2))
    if coords.shape[0] == 0:
        return shapely.Polygon()
    hull = shapely.concave_hull(shapely.multipoints(coords), ratio=ratio)
    return hull


def _polygonal(geom: BaseGeometry) -> BaseGeometry:
    """Keep only the polygonal part (a hull of collinear points may be a line)."""
    if geom.is_empty or geom.geom_type in ("Polygon", "MultiPolygon"):
        return geom
    parts = shapely.get_parts(geom)
    polys = [p for p in parts if p.geom_type in ("Polygon", "MultiPolygon")]
    if not polys:
        return shapely.Polygon()
    return shapely.union_all(polys)


# ---------------------------------------------------------------------- precomputation
def precompute_station_isochrones(
    engine: IsochroneEngine,
    stations: Mapping[str, Place],
    *,
    mode: str,
    minutes: Iterable[float] = DEFAULT_MINUTES,
    direction: Direction = "to",
    buffer_m: float | None = None,
    simplify_m: float = 5.0,
) -> dict[str, list[IsochroneContour]]:
    """Service circles of many stations (build time).

    Parameters
    ----------
    engine
        Engine for the artifact's network.
    stations
        Station id -> its place on the network (:class:`Snap` or node id).
    mode, minutes, direction, buffer_m
        As for :meth:`IsochroneEngine.isochrones`.
    simplify_m
        Simplification tolerance in metres that keeps the stored polygons compact.
    """
    budgets = tuple(minutes)
    out: dict[str, list[IsochroneContour]] = {}
    for station_id, place in stations.items():
        out[station_id] = engine.isochrones(
            place,
            mode=mode,
            minutes=budgets,
            direction=direction,
            buffer_m=buffer_m,
            simplify_m=simplify_m,
        )
    log.info("precomputed service circles for %d stations", len(out))
    return out


def serialize_isochrones(
    circles: Mapping[str, Sequence[IsochroneContour]], *, precision: int = 6
) -> dict[str, npt.NDArray[np.generic]]:
    """Flat arrays (for ``np.savez``): one row per station contour, WKB concatenated.

    Coordinates are rounded to ``precision`` decimals of a degree (6 ≈ 0.1 m).
    """
    ids: list[str] = []
    minutes: list[float] = []
    area: list[float] = []
    length: list[float] = []
    blobs: list[bytes] = []
    for station_id, contours in circles.items():
        for contour in contours:
            ids.append(station_id)
            minutes.append(contour.minutes)
            area.append(contour.area_km2)
            length.append(contour.reached_length_m)
            geom = shapely.set_precision(contour.polygon, 10.0**-precision)
            blobs.append(shapely.to_wkb(geom))
    sizes = np.array([len(b) for b in blobs], dtype=np.int64)
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    wkb = np.frombuffer(b"".join(blobs), dtype=np.uint8) if blobs else np.zeros(0, np.uint8)
    return {
        "format_version": np.array(ISOCHRONE_FORMAT_VERSION, dtype=np.int64),
        "station_id": np.array(ids, dtype=str),
        "minutes": np.array(minutes, dtype=float),
        "area_km2": np.array(area, dtype=float),
        "reached_length_m": np.array(length, dtype=float),
        "wkb_offsets": offsets,
        "wkb": wkb,
    }


def deserialize_isochrones(
    arrays: Mapping[str, npt.NDArray[np.generic]],
) -> dict[str, list[IsochroneContour]]:
    """Inverse of :func:`serialize_isochrones`."""
    version = int(np.asarray(arrays["format_version"]))
    if version != ISOCHRONE_FORMAT_VERSION:
        raise ValueError(f"service circle format {version}, expected {ISOCHRONE_FORMAT_VERSION}")
    offsets = np.asarray(arrays["wkb_offsets"], dtype=np.int64)
    raw = np.asarray(arrays["wkb"], dtype=np.uint8).tobytes()
    blobs = [raw[offsets[i] : offsets[i + 1]] for i in range(offsets.shape[0] - 1)]
    geoms = shapely.from_wkb(np.array(blobs, dtype=object)) if blobs else []
    out: dict[str, list[IsochroneContour]] = {}
    ids = np.asarray(arrays["station_id"])
    mins = np.asarray(arrays["minutes"], dtype=float)
    area = np.asarray(arrays["area_km2"], dtype=float)
    length = np.asarray(arrays["reached_length_m"], dtype=float)
    for i, geom in enumerate(geoms):
        out.setdefault(str(ids[i]), []).append(
            IsochroneContour(float(mins[i]), geom, float(area[i]), float(length[i]))
        )
    return {sid: _renest(contours) for sid, contours in out.items()}


def _renest(contours: list[IsochroneContour]) -> list[IsochroneContour]:
    """Restore exact nesting after storage: each contour's coordinates were rounded on
    their own, which can leave slivers of a smaller contour outside the next one."""
    out: list[IsochroneContour] = []
    previous: BaseGeometry | None = None
    for c in sorted(contours, key=lambda c: c.minutes):
        poly = c.polygon if previous is None else shapely.union_all([previous, c.polygon])
        out.append(dataclasses.replace(c, polygon=poly))
        previous = poly
    return out


def save_isochrones(path: Path, circles: Mapping[str, Sequence[IsochroneContour]]) -> None:
    """Write precomputed circles to an ``.npz`` file."""
    buf = io.BytesIO()
    np.savez_compressed(buf, **serialize_isochrones(circles))  # type: ignore[arg-type]
    path.write_bytes(buf.getvalue())


def load_isochrones(path: Path) -> dict[str, list[IsochroneContour]]:
    """Read circles written by :func:`save_isochrones`."""
    with np.load(path, allow_pickle=False) as data:
        return deserialize_isochrones({k: data[k] for k in data.files})
