"""The loaded artifact as one object: what the API (and other callers) query.

``Locator.open(directory, settings)`` loads an artifact once and builds the frozen query
indexes (snap index, routing engine, circle engine); every later query reuses them. The
common driver question — nearest station of one kind, k = 1 — is answered from the
precomputed forest without a graph search. Station edits update the store, the forests
and the circles together, so the very next query sees the change.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from locator.artifact import load_manifest, manifest_summary
from locator.config import Settings
from locator.coverage import Coverage, DemandPoints, RegionCoverage, label_nodes
from locator.errors import (
    InvalidParameterError,
    LocatorError,
    NoRouteError,
    PortNotFoundError,
    RegionNotFoundError,
    RequestTooLargeError,
    RowProblem,
    StationNotFoundError,
    StationValidationError,
)
from locator.graph import RoadGraph
from locator.isochrones import IsochroneContour, IsochroneEngine
from locator.nearest import NearestForest
from locator.prepared import (
    DEFAULT_MINUTES,
    FORESTS_FILE,
    circles_file,
    compute_circles,
    compute_forests,
    load_forests,
    load_isochrones,
    stations_fingerprint,
)
from locator.projection import Projector
from locator.regions import AdminUnits
from locator.routing import Route, RoutingEngine
from locator.search import Snap
from locator.siting import SitingResult, road_length_per_node, suggest_sites
from locator.snapping import SnapIndex, validate_lonlat
from locator.stations import Port, Service, Station, StationKind

log = logging.getLogger(__name__)

ADMIN_FILE = "admin_units.geojson.gz"
PORTS_FILE = "ports.json"


@dataclass(frozen=True)
class NearestAnswer:
    """One station reached from a query point."""

    station: Station
    duration_s: float
    distance_m: float
    route: Route


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


class Locator:
    """A loaded artifact with its query indexes."""

    def __init__(
        self, directory: Path, settings: Settings, manifest: dict[str, Any], graph: RoadGraph
    ) -> None:
        from locator.store import StationStore

        self.directory = directory
        self.settings = settings
        self.manifest = manifest
        self.graph = graph
        self.store = StationStore(directory / "stations.sqlite")
        self.projector = Projector(graph.crs)
        self.ports: list[Port] = _load_ports(directory / PORTS_FILE)
        self.regions: AdminUnits | None = (
            AdminUnits.load(directory / ADMIN_FILE) if (directory / ADMIN_FILE).is_file() else None
        )
        self.snap_index = SnapIndex(graph, projector=self.projector)
        self.routing = RoutingEngine(
            graph,
            # the China outline decides the border-crossing flag of routes
            china_area=self.regions.in_china if self.regions is not None else None,
            twins=self.snap_index.twins,
            geometry=self.snap_index.geometry,
        )
        self.circles_engine = IsochroneEngine.sharing(self.snap_index)
        self._lock = threading.RLock()
        self.forests: dict[tuple[str, str], tuple[NearestForest, list[str | None]]] = {}
        self.circles: dict[str, dict[str, list[IsochroneContour]]] = {}
        self._stations: dict[str, Station] = {}
        self._region_shapes: dict[str, BaseGeometry] = {}
        self._demand_cache: tuple[list[Snap], list[float]] | None = None
        self.load_seconds = 0.0

    # ------------------------------------------------------------------ loading
    @classmethod
    def open(cls, directory: Path, settings: Settings | None = None) -> Locator:
        """Load the artifact in ``directory``; raise ``ArtifactError`` if it is unusable."""
        started = time.perf_counter()
        settings = settings or Settings(artifact_dir=directory)
        manifest = load_manifest(directory)
        graph = RoadGraph.load(directory)
        loc = cls(directory, settings, manifest, graph)
        loc._load_prepared()
        loc.load_seconds = time.perf_counter() - started
        log.info("loaded artifact %s in %.3f s", directory, loc.load_seconds)
        return loc

    def _load_prepared(self) -> None:
        stations = self.store.all()
        self._stations = {s.id: s for s in stations}
        fingerprint = stations_fingerprint(stations)
        path = self.directory / FORESTS_FILE
        stored_fp = None
        if path.is_file():
            stored_fp, forests = load_forests(path, self.routing)
            if stored_fp == fingerprint:
                self.forests = forests
        if stored_fp != fingerprint:
            log.warning("station store changed since the build: recomputing forests")
            self.forests = compute_forests(
                self.routing,
                self.snap_index,
                stations,
                modes=self.graph.modes,
                max_snap_m=self.max_snap_m,
            )
        for mode in self.graph.modes:
            cpath = self.directory / circles_file(mode)
            if stored_fp != fingerprint or not cpath.is_file():
                # stations were added, moved or removed since the build (edits through the
                # API or the store): stored circles may be stale, so every station's circles
                # are recomputed on first request instead
                self.circles[mode] = {}
                continue
            circles = load_isochrones(cpath)
            self.circles[mode] = circles

    def warm(self) -> None:
        """Build the lazily computed indexes now (the road-crossing check of the circle
        engine, the snap grids of every mode) so the first requests do not pay for them.
        The API calls this in a background thread after startup."""
        started = time.perf_counter()
        _ = self.circles_engine.geometry.unnoded_roads
        for forest, _ids in list(self.forests.values()):
            forest.ensure_station_times()
        for mode in self.graph.modes:
            node = 0
            with contextlib.suppress(LocatorError):
                self.snap_index.snap(
                    float(self.graph.node_lon[node]),
                    float(self.graph.node_lat[node]),
                    max_snap_m=self.max_snap_m,
                    mode=mode,
                )
        log.info("warmed query indexes in %.2f s", time.perf_counter() - started)

    # ------------------------------------------------------------------ basics
    @property
    def max_snap_m(self) -> float:
        return self.settings.max_snap_m(self.graph.network_kind)

    @property
    def buffer_m(self) -> float:
        if self.graph.network_kind == "regional":
            return self.settings.circle_buffer_m_regional
        return self.settings.circle_buffer_m_street

    @property
    def default_mode(self) -> str:
        modes = self.graph.modes
        return "truck" if "truck" in modes else modes[0]

    def check_mode(self, mode: str | None) -> str:
        """The mode to use; raise :class:`InvalidParameterError` for an unavailable one."""
        if mode is None:
            return self.default_mode
        if mode not in self.graph.modes:
            raise InvalidParameterError(
                f"mode {mode!r} is not available on this network; use one of "
                f"{', '.join(self.graph.modes)}",
                mode=mode,
            )
        return mode

    def summary(self) -> dict[str, Any]:
        """Manifest summary plus live counts (for ``GET /health``)."""
        out = manifest_summary(self.manifest)
        out["stations"] = self.store.count()
        out["load_seconds"] = round(self.load_seconds, 3)
        return out

    def snap(self, lon: float, lat: float, mode: str | None = None) -> Snap:
        """Place a point on the nearest road usable by ``mode`` (errors per SnapIndex)."""
        return self.snap_index.snap(
            lon, lat, max_snap_m=self.max_snap_m, mode=self.check_mode(mode)
        )

    # ------------------------------------------------------------------ stations
    def station(self, station_id: str) -> Station:
        """A station by id; :class:`StationNotFoundError` if unknown."""
        st = self._stations.get(station_id)
        if st is None:
            raise StationNotFoundError(f"no station with id {station_id!r}", station_id=station_id)
        return st

    def stations(self) -> list[Station]:
        """Every station, sorted by id."""
        return sorted(self._stations.values(), key=lambda s: s.id)

    def port(self, port_id: str) -> Port:
        for p in self.ports:
            if p.id == port_id:
                return p
        raise PortNotFoundError(f"no port with id {port_id!r}", port_id=port_id)

    def _mask(
        self, ids: Sequence[str | None], services: Sequence[Service], open_at: datetime | None
    ) -> np.ndarray:
        mask = np.zeros(len(ids), dtype=bool)
        need = set(services)
        for i, sid in enumerate(ids):
            if sid is None:
                continue
            st = self._stations.get(sid)
            if st is None or not need.issubset(set(st.services)):
                continue
            if open_at is not None and not st.hours.is_open(open_at):
                continue
            mask[i] = True
        return mask

    # ------------------------------------------------------------------ nearest
    def nearest(
        self,
        lon: float,
        lat: float,
        *,
        mode: str | None = None,
        kind: StationKind | str | None = None,
        services: Sequence[Service | str] = (),
        open_at: datetime | None = None,
        k: int = 1,
        max_time_s: float | None = None,
    ) -> list[NearestAnswer]:
        """The ``k`` stations fastest to reach from a point, with their routes.

        With one ``kind``, ``k == 1`` and no other filter, the answer comes from the
        precomputed forest (no graph search); otherwise one bounded search from the point.

        Raises
        ------
        SnapError, OutsideServiceAreaError, InvalidCoordinateError
            The point cannot be placed on the network.
        NoRouteError
            No station passing the filters is reachable.
        RequestTooLargeError
            ``k`` above the configured limit.
        """
        mode = self.check_mode(mode)
        if not 1 <= k <= self.settings.max_k:
            raise RequestTooLargeError(
                f"k must be between 1 and {self.settings.max_k}", k=k, max_k=self.settings.max_k
            )
        kinds = [StationKind(kind)] if kind is not None else list(StationKind)
        svc = [Service(s) for s in services]
        limit = (
            self.settings.max_search_s
            if max_time_s is None
            else min(float(max_time_s), self.settings.max_search_s)
        )
        snap = self.snap(lon, lat, mode)
        answers: list[NearestAnswer] = []
        with self._lock:
            entries = [self.forests[(mode, kd.value)] for kd in kinds]
        fast = k == 1 and len(kinds) == 1 and not svc and open_at is None and max_time_s is None
        for forest, ids in entries:
            if fast:
                try:
                    res = forest.query(snap)
                except NoRouteError:
                    continue
                found = [res]
            else:
                mask = self._mask(ids, svc, open_at)
                if not mask.any():
                    continue
                found = forest.nearest_k(snap, k=k, mask=mask, max_time_s=limit)
            for res in found:
                sid = ids[res.station]
                if sid is None:
                    continue
                answers.append(
                    NearestAnswer(
                        self._stations[sid], res.duration_s, res.route.distance_m, res.route
                    )
                )
        answers.sort(key=lambda a: (a.duration_s, a.station.id))
        if not answers:
            raise NoRouteError(
                "no station matching the filters can be reached from this point"
                + (f" within {limit / 60:.0f} min" if math.isfinite(limit) else ""),
                lon=lon,
                lat=lat,
            )
        return answers[:k]

    # ------------------------------------------------------------------ routes
    def route(
        self,
        from_lonlat: tuple[float, float],
        to: tuple[float, float] | str,
        *,
        mode: str | None = None,
    ) -> Route:
        """Fastest route between two points, or from a point to a station id."""
        mode = self.check_mode(mode)
        a = self.snap(from_lonlat[0], from_lonlat[1], mode)
        if isinstance(to, str):
            st = self.station(to)
            b = self.snap(st.lon, st.lat, mode)
        else:
            b = self.snap(to[0], to[1], mode)
        return self.routing.route(mode, a, b)

    # ------------------------------------------------------------------ circles
    def _check_minutes(self, minutes: Sequence[float]) -> list[float]:
        mins = sorted({float(m) for m in minutes})
        if not mins:
            raise InvalidParameterError("give at least one interval in minutes")
        if len(mins) > self.settings.max_contours:
            raise RequestTooLargeError(
                f"at most {self.settings.max_contours} intervals per request",
                max_contours=self.settings.max_contours,
            )
        for m in mins:
            if not (math.isfinite(m) and 0 < m <= self.settings.max_minutes):
                raise RequestTooLargeError(
                    f"minutes must be in (0, {self.settings.max_minutes:g}]",
                    max_minutes=self.settings.max_minutes,
                )
        return mins

    def isochrones(
        self,
        *,
        lon: float | None = None,
        lat: float | None = None,
        station_id: str | None = None,
        minutes: Sequence[float] = DEFAULT_MINUTES,
        mode: str | None = None,
        direction: str = "to",
        shape: str = "roads",
    ) -> list[IsochroneContour]:
        """Service circles for a station (precomputed when possible) or any point."""
        mode = self.check_mode(mode)
        mins = self._check_minutes(minutes)
        if direction not in ("to", "from"):
            raise InvalidParameterError("direction must be 'to' or 'from'")
        if shape not in ("roads", "concave"):
            raise InvalidParameterError("shape must be 'roads' or 'concave'")
        if station_id is not None:
            st = self.station(station_id)
            if direction == "to" and shape == "roads" and mins == list(DEFAULT_MINUTES):
                with self._lock:
                    cached = self.circles.get(mode, {}).get(station_id)
                if cached is not None:
                    return cached
            lon, lat = st.lon, st.lat
        if lon is None or lat is None:
            raise InvalidParameterError("give a station id or both lon and lat")
        snap = self.snap(lon, lat, mode)
        contours = self.circles_engine.isochrones(
            snap,
            mode=mode,
            minutes=mins,
            direction=direction,  # type: ignore[arg-type]
            buffer_m=self.buffer_m,
            shape=shape,  # type: ignore[arg-type]
        )
        if (
            station_id is not None
            and direction == "to"
            and shape == "roads"
            and mins == list(DEFAULT_MINUTES)
        ):
            with self._lock:
                self.circles.setdefault(mode, {})[station_id] = contours
        return contours

    # ------------------------------------------------------------------ coverage
    def region_polygon(
        self,
        region: str | tuple[float, float, float, float] | BaseGeometry | None,
        *,
        port_radius_km: float = 30.0,
    ) -> tuple[str, BaseGeometry | None]:
        """Resolve a region (admin code, port id, bbox, polygon, None) to a lon/lat polygon."""
        if region is None:
            return "all", None
        if isinstance(region, BaseGeometry):
            return "polygon", region
        if isinstance(region, tuple):
            validate_lonlat(region[0], region[1])
            validate_lonlat(region[2], region[3])
            if not (region[0] < region[2] and region[1] < region[3]):
                raise InvalidParameterError("bbox must be min_lon,min_lat,max_lon,max_lat")
            return "bbox", shapely.box(*region)
        if self.regions is not None:
            with contextlib.suppress(RegionNotFoundError):  # not an admin code: try ports
                return region, self._region_shape(region)
        for p in self.ports:
            if p.id == region:
                x, y = self.projector.forward(p.lon, p.lat)
                circle = shapely.Point(float(x), float(y)).buffer(
                    port_radius_km * 1000, quad_segs=16
                )
                coords = shapely.get_coordinates(circle)
                lon_, lat_ = self.projector.inverse(coords[:, 0], coords[:, 1])
                return region, shapely.Polygon(np.column_stack((lon_, lat_)))
        raise RegionNotFoundError(f"no admin unit or port with code {region!r}", region=region)

    def _region_shape(self, code: str) -> BaseGeometry:
        """An admin unit's outline, densified once per code (long straight sides bend
        when projected, so coverage clips against the densified shape)."""
        shape = self._region_shapes.get(code)
        if shape is None:
            assert self.regions is not None  # callers check
            shape = shapely.segmentize(self.regions.polygon(code), 0.02)
            self._region_shapes[code] = shape
        return shape

    def _standing_demand(self) -> tuple[list[Snap], list[float]]:
        """Ports and worker homes placed on the network (weight 1 each), computed once and
        again only after a station edit. Ports farther than 10 km from the network are
        left out (they are not on it)."""
        with self._lock:
            if self._demand_cache is not None:
                return self._demand_cache
            snaps: list[Snap] = []
            places = [(p.lon, p.lat, max(self.max_snap_m, 10_000.0)) for p in self.ports]
            places += [
                (st.lon, st.lat, self.max_snap_m)
                for st in self._stations.values()
                if st.kind == StationKind.worker_home
            ]
            for lon, lat, radius_m in places:
                with contextlib.suppress(LocatorError):
                    snaps.append(self.snap_index.snap(lon, lat, max_snap_m=radius_m))
            self._demand_cache = (snaps, [1.0] * len(snaps))
            return self._demand_cache

    def _demand(self, extra: Sequence[tuple[float, float, float]] = ()) -> DemandPoints | None:
        """The standing demand plus ``extra`` (lon, lat, weight) points; an ``extra`` point
        that cannot be placed raises the snapping error, naming it."""
        if len(extra) > self.settings.max_points:
            raise RequestTooLargeError(
                f"at most {self.settings.max_points} demand points per request",
                max_points=self.settings.max_points,
            )
        base_snaps, base_weights = self._standing_demand()
        snaps, weights = list(base_snaps), list(base_weights)
        for lon, lat, weight in extra:
            if not (math.isfinite(weight) and weight >= 0):
                raise InvalidParameterError(f"demand weight must be finite and >= 0, got {weight}")
            snaps.append(self.snap_index.snap(lon, lat, max_snap_m=self.max_snap_m))
            weights.append(float(weight))
        return DemandPoints.from_snaps(snaps, np.array(weights)) if snaps else None

    def coverage(
        self,
        *,
        kind: StationKind | str,
        minutes: float = 15.0,
        mode: str | None = None,
        region: str | tuple[float, float, float, float] | BaseGeometry | None = None,
        demand: Sequence[tuple[float, float, float]] = (),
    ) -> CoverageReport:
        """Share of roads and demand inside the ``minutes`` circles of one kind.

        Demand points are the ports and the worker homes (weight 1 each) plus any
        ``demand`` points given as (lon, lat, weight). Rows: per banner inside a league,
        per league for the whole network.
        """
        mode = self.check_mode(mode)
        kd = StationKind(kind)
        (mins,) = self._check_minutes([minutes])
        name, poly = self.region_polygon(region)
        with self._lock:
            forest, ids = self.forests[(mode, kd.value)]
        snaps = [s for s, i in zip(forest.targets.snaps, ids, strict=True) if s is not None and i]
        labels = label_nodes(self.circles_engine, snaps, mode=mode, limit_s=mins * 60.0)
        cov = Coverage(self.circles_engine, labels, mins)
        demand_points = self._demand(demand)
        rows: list[RegionCoverage] = []
        if self.regions is not None:
            if isinstance(region, str) and any(u.code == region for u in self.regions.leagues()):
                units = self.regions.banners(region)
            elif region is None:
                units = self.regions.leagues()
            else:
                units = []
            rows = cov.table({u.code: self._region_shape(u.code) for u in units}, demand_points)
        if poly is None:
            road_m, covered_m = cov.total_length_m, cov.covered_length_m
            d_total = float(demand_points.weight.sum()) if demand_points is not None else 0.0
            d_cov = (
                float(demand_points.weight[cov.demand_covered(demand_points)].sum())
                if demand_points is not None
                else 0.0
            )
            total = RegionCoverage(
                "all",
                road_m / 1000,
                covered_m / 1000,
                covered_m / road_m if road_m else 0.0,
                d_total,
                d_cov,
            )
            gaps = cov.uncovered()
        else:
            total = cov.region(name, poly, demand_points)
            gaps = cov.uncovered(poly)
        return CoverageReport(
            kind=kd.value,
            mode=mode,
            minutes=mins,
            region=name,
            road_km=total.road_km,
            covered_km=total.covered_km,
            share=total.share,
            demand_total=total.demand_total,
            demand_covered=total.demand_covered,
            rows=rows,
            uncovered=gaps,
            stations_used=len(snaps),
        )

    def suggest_sites(
        self,
        *,
        kind: StationKind | str,
        k: int,
        minutes: float = 15.0,
        mode: str | None = None,
        region: str | tuple[float, float, float, float] | BaseGeometry | None = None,
        max_candidates: int = 2000,
    ) -> SitingResult:
        """Greedy maximal-covering suggestions for ``k`` new stations of ``kind``.

        Demand is road length (each node carries half of its roads); with a region, only
        demand and candidates inside it count.
        """
        mode = self.check_mode(mode)
        kd = StationKind(kind)
        (mins,) = self._check_minutes([minutes])
        if not 1 <= k <= self.settings.max_k:
            raise RequestTooLargeError(f"k must be between 1 and {self.settings.max_k}")
        _, poly = self.region_polygon(region)
        with self._lock:
            forest, ids = self.forests[(mode, kd.value)]
        snaps = [s for s, i in zip(forest.targets.snaps, ids, strict=True) if s is not None and i]
        labels = label_nodes(self.circles_engine, snaps, mode=mode, limit_s=mins * 60.0)
        weight = road_length_per_node(self.circles_engine.geometry)
        candidates = None
        if poly is not None:
            inside = shapely.contains_xy(poly, self.graph.node_lon, self.graph.node_lat)
            weight = np.where(inside, weight, 0.0)
            candidates = np.nonzero(inside)[0]
            if candidates.size == 0:
                raise InvalidParameterError("the region holds no network node")
        return suggest_sites(
            self.circles_engine.geometry,
            self.circles_engine.mode_graph(mode, "to"),
            labels.time_s,
            weight,
            k=k,
            minutes=mins,
            candidates=candidates,
            max_candidates=max_candidates,
        )

    # ------------------------------------------------------------------ edits
    def _require_road(self, station: Station) -> None:
        """Reject a station no mode can reach (farther than the snap radius from roads)."""
        for mode in self.graph.modes:
            try:
                self.snap_index.snap(
                    station.lon, station.lat, max_snap_m=self.max_snap_m, mode=mode
                )
                return
            except LocatorError as exc:
                reason = exc.message
        raise StationValidationError(
            [RowProblem(0, "lon/lat", f"{reason}; stations must lie on the road network")],
            what="station",
        )

    def add_station(self, station: Station, *, actor: str) -> Station:
        """Add a station to the store, the forests and the circles.

        Raises
        ------
        StationValidationError
            Invalid record, duplicate id, or no road within the snap radius.
        """
        self._require_road(station)
        with self._lock:
            self.store.add(station, actor=actor)
            self._stations[station.id] = station
            self._place(station)
        return station

    def update_station(self, station: Station, *, actor: str) -> Station:
        """Replace a station (same id); position or kind changes update the forests."""
        self._require_road(station)
        with self._lock:
            old = self.station(station.id)
            self.store.update(station, actor=actor)
            self._stations[station.id] = station
            if old.kind != station.kind or (old.lon, old.lat) != (station.lon, station.lat):
                self._unplace(old)
                self._place(station)
        return station

    def delete_station(self, station_id: str, *, actor: str) -> Station:
        """Remove a station from the store, the forests and the circles."""
        with self._lock:
            old = self.station(station_id)
            self.store.delete(station_id, actor=actor)
            del self._stations[station_id]
            self._unplace(old)
        return old

    def _place(self, st: Station) -> None:
        self._demand_cache = None  # worker homes are demand points
        for mode in self.graph.modes:
            forest, ids = self.forests[(mode, st.kind.value)]
            try:
                snap = self.snap_index.snap(st.lon, st.lat, max_snap_m=self.max_snap_m, mode=mode)
            except LocatorError:
                log.warning("station %s has no %s road nearby: not in that forest", st.id, mode)
                continue
            index = forest.add_station(snap)
            while len(ids) < index:
                ids.append(None)
            ids.append(st.id)
            self.circles.setdefault(mode, {}).pop(st.id, None)

    def _unplace(self, st: Station) -> None:
        self._demand_cache = None
        for mode in self.graph.modes:
            forest, ids = self.forests[(mode, st.kind.value)]
            if st.id in ids:
                index = ids.index(st.id)
                forest.remove_station(index)
                ids[index] = None
            self.circles.get(mode, {}).pop(st.id, None)


def _load_ports(path: Path) -> list[Port]:
    import json

    if not path.is_file():
        return []
    data = json.loads(path.read_text("utf-8"))
    items = data if isinstance(data, list) else data.get("ports", [])
    return [Port.model_validate(p) for p in items]


__all__ = ["CoverageReport", "Locator", "NearestAnswer", "compute_circles"]
