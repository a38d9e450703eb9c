"""The public Python API: :class:`Locator`, a loaded artifact and the questions it answers.

``Locator.open(directory)`` loads an artifact once (:mod:`locator.artifact.loader`);
every method then checks its arguments (:mod:`locator.arguments`, the service limits of
:class:`~locator.config.Settings`) and hands the question to the one function that
answers it. The facade holds no algorithm and no cache of its own: the station-dependent
structures live in one immutable :class:`~locator.artifact.state.StationState`, which an
edit replaces whole, so concurrent queries see the old or the new stations, never a mix.

Every bad argument raises a :mod:`locator.errors` class naming it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np
from shapely.geometry.base import BaseGeometry

from locator.analysis.coverage import (
    CoverageReport,
    DemandPoints,
    coverage_report,
    demand_points,
)
from locator.analysis.isochrones import SHAPES, Contour
from locator.analysis.nearest.offline import OfflineNearest, offline_nearest
from locator.analysis.nearest.targets import Accept
from locator.analysis.regions import AdminUnits, RegionArg, resolve_region
from locator.analysis.road_siting import suggest_demand_sites, suggest_road_sites
from locator.analysis.routing import Route
from locator.analysis.siting import MAX_CANDIDATES, SitingResult
from locator.analysis.trips import (
    RULES,
    Candidate,
    RestPlan,
    RestRule,
    Trip,
    TripSearch,
    build_plan,
    leg_matrix,
    plan_stops,
    rest_gap,
    trip_candidates,
    trip_station,
    with_legs,
)
from locator.arguments import (
    check_bbox,
    check_choice,
    check_demand,
    check_enum,
    check_enum_list,
    check_instant,
    check_k,
    check_lonlat,
    check_max_time,
    check_minutes,
    check_one_minutes,
    check_point,
    check_positive,
    check_text,
    format_minutes,
)
from locator.artifact.loader import Artifact, open_artifact
from locator.artifact.manifest import manifest_summary
from locator.artifact.state import StationState
from locator.config import DEFAULT_DETOUR_S, DEFAULT_MINUTES, DEFAULT_TRIP_STATIONS, Settings
from locator.errors import (
    InvalidParameterError,
    LocatorError,
    NoRestPlanError,
    NoRouteError,
    PortNotFoundError,
    RequestTooLargeError,
    RowProblem,
    SnapError,
    StationNotFoundError,
    StationValidationError,
    StoreUnavailableError,
)
from locator.network.core import Network
from locator.network.datum import bd09_to_gcj02, gcj02_to_bd09, gcj02_to_wgs84, wgs84_to_gcj02
from locator.network.geometry import road_lines
from locator.network.snapping import Snap
from locator.stations.catalogue import Catalogue, StationFilter
from locator.stations.model import Port, Service, Station, StationKind
from locator.stations.store import Change, Revision, StationStore

log = logging.getLogger(__name__)

#: Datums accepted for input coordinates (output is always WGS 84).
DATUMS = ("wgs84", "gcj02", "bd09")


@dataclass(frozen=True)
class NearestAnswer:
    """One station reached from a query point.

    With a departure time, ``arrival_at`` is departure + ``duration_s`` and
    ``open_on_arrival`` whether the opening hours include it (both ``None`` without).
    """

    station: Station
    duration_s: float
    distance_m: float
    route: Route
    arrival_at: datetime | None = None
    open_on_arrival: bool | None = None


class Locator:
    """A loaded artifact with its query indexes (build with :meth:`open`).

    Examples
    --------
    >>> loc = Locator.open(Path("artifacts/regional"))            # doctest: +SKIP
    >>> best = loc.nearest(111.98, 43.65, kind="driver_station")[0]  # doctest: +SKIP
    >>> best.station.name.en, round(best.duration_s)              # doctest: +SKIP
    """

    def __init__(self, artifact: Artifact) -> None:
        self._art = artifact
        self._engines = artifact.engines
        self._state = StationState.initial(artifact)
        # the state owns the loaded indexes and circles now: no second reference may keep
        # them alive after the first edit replaces them (+25 MiB after 10 moves)
        artifact.indexes, artifact.circles = {}, {}
        self._write_lock = threading.Lock()

    # ------------------------------------------------------------------ loading
    @classmethod
    def open(cls, directory: Path | str, settings: Settings | None = None) -> Locator:
        """Load the artifact in ``directory``.

        Raises
        ------
        ArtifactError
            The directory is missing, incomplete, corrupt or of another version.
        """
        directory = Path(directory)
        return cls(open_artifact(directory, settings or Settings(artifact_dir=directory)))

    def close(self) -> None:
        """Close the station store."""
        self._art.store.close()

    def warm(self) -> None:
        """Build the lazily built indexes now (snap grids, the road-crossing check of the
        circle engine, the per-station time tables) so the first requests do not pay for
        them. Each is published whole; the API runs this in a background thread."""
        started = time.perf_counter()
        net = self._engines.net
        _ = net.geometry.unnoded_roads
        net.snapper.build_all()  # and the snap kernel compiled (or loaded from its cache)
        self._engines.routing.warm()  # route kernels compiled (or cached), landmarks
        self._engines.circles.warm()
        for index in list(self._state.indexes.values()):
            index.ensure_table()
            index.forest.warm()
        log.info("warmed query indexes in %.2f s", time.perf_counter() - started)

    # ------------------------------------------------------------------ basics
    @property
    def directory(self) -> Path:
        return self._art.directory

    @property
    def settings(self) -> Settings:
        return self._art.settings

    @property
    def manifest(self) -> dict[str, Any]:
        return self._art.manifest

    @property
    def store(self) -> StationStore:
        """The station store (audit log, exports); edits go through the Locator."""
        return self._art.store

    @property
    def network(self) -> Network:
        """The loaded road network (graph, geometry, mode graphs, snap index); read-only."""
        return self._engines.net

    @property
    def regions(self) -> AdminUnits | None:
        """Leagues and banners (``None`` when the artifact has none)."""
        return self._engines.regions

    @property
    def ports(self) -> list[Port]:
        return list(self._engines.ports)

    @property
    def network_kind(self) -> str:
        return self._engines.net.kind

    @property
    def modes(self) -> tuple[str, ...]:
        return self._engines.net.modes.modes

    @property
    def load_seconds(self) -> float:
        return self._art.load_seconds

    @property
    def max_snap_m(self) -> float:
        return self._art.max_snap_m

    @property
    def default_mode(self) -> str:
        return "truck" if "truck" in self.modes else self.modes[0]

    @property
    def stations_version(self) -> str:
        """A fingerprint of the current station set (changes with every move or edit)."""
        return self._state.catalogue.fingerprint

    def check_mode(self, mode: object) -> str:
        """The mode to use (``None``: the default); :class:`InvalidParameterError` for a
        mode the network does not have."""
        if mode is None:
            return self.default_mode
        return check_choice(mode, self.modes, name="mode")

    def bbox(self) -> tuple[float, float, float, float]:
        """``(min_lon, min_lat, max_lon, max_lat)`` of the network's nodes."""
        return self._engines.net.graph.bbox()

    def summary(self) -> dict[str, Any]:
        """Manifest summary plus live counts (for ``GET /health``)."""
        out = manifest_summary(self.manifest)
        out["stations"] = len(self._state.catalogue)
        out["load_seconds"] = round(self.load_seconds, 3)
        # "stored": forests and circles as built; "recomputed": the store changed since
        out["prepared"] = "recomputed" if self._art.recomputed else "stored"
        return out

    def snap(self, lon: float, lat: float, mode: str | None = None) -> Snap:
        """Place a point on the nearest road usable by ``mode``.

        Raises
        ------
        InvalidCoordinateError, OutsideServiceAreaError, SnapError
            The point cannot be placed on the network.
        """
        return self._engines.net.snapper.snap(
            lon, lat, max_snap_m=self.max_snap_m, mode=self.check_mode(mode)
        )

    def to_wgs84(self, lon: float, lat: float, datum: str = "wgs84") -> tuple[float, float]:
        """A coordinate in ``datum`` (``wgs84``, ``gcj02`` or ``bd09``) as WGS 84.

        GCJ-02 is shifted only inside China (the artifact's national outline), so
        Mongolian and Russian points are left alone; Baidu's BD-09 step applies everywhere.
        """
        datum = check_choice(datum, DATUMS, name="crs")
        lon, lat = check_lonlat(lon, lat)
        if datum == "wgs84":
            return lon, lat
        if datum == "bd09":
            lon, lat = check_lonlat(*bd09_to_gcj02(lon, lat))
        regions = self.regions
        inside = bool(regions.in_china(lon, lat)) if regions and regions.has_country else None
        return check_lonlat(*gcj02_to_wgs84(lon, lat, inside=inside))

    def from_wgs84(self, lon: float, lat: float, datum: str = "wgs84") -> tuple[float, float]:
        """A WGS 84 coordinate in ``datum`` (the inverse of :meth:`to_wgs84`), for hand-offs
        to apps that expect GCJ-02 (Amap) or BD-09 (Baidu)."""
        datum = check_choice(datum, DATUMS, name="crs")
        lon, lat = check_lonlat(lon, lat)
        if datum == "wgs84":
            return lon, lat
        regions = self.regions
        inside = bool(regions.in_china(lon, lat)) if regions and regions.has_country else None
        gcj = wgs84_to_gcj02(lon, lat, inside=inside)
        return gcj if datum == "gcj02" else gcj02_to_bd09(*gcj)

    def road_lines(self, tolerance_deg: float = 0.0) -> list[BaseGeometry]:
        """The network as undirected, merged, simplified lines (WGS 84), for base maps."""
        return list(road_lines(self._engines.net.graph, tolerance_deg))

    # ------------------------------------------------------------------ stations
    def station(self, station_id: str) -> Station:
        """A station by id; :class:`StationNotFoundError` if unknown."""
        return self._state.catalogue.get(check_text(station_id, name="station_id", max_length=64))

    def stations(
        self,
        *,
        kind: StationKind | str | None = None,
        services: Sequence[Service | str] = (),
        open_at: datetime | None = None,
        bbox: tuple[float, float, float, float] | None = None,
        port: str | None = None,
    ) -> list[Station]:
        """Every station matching all filters, sorted by id (no filter: all of them)."""
        where = StationFilter(
            kind=None if kind is None else check_enum(kind, StationKind, name="kind"),
            services=tuple(check_enum_list(services, Service, name="services")),
            open_at=check_instant(open_at),
            bbox=None if bbox is None else check_bbox(bbox),
            port=None if port is None else check_text(port, name="port", max_length=64),
        )
        return self._state.catalogue.select(where)

    def port(self, port_id: str) -> Port:
        """A port by id; :class:`PortNotFoundError` if unknown."""
        for p in self._engines.ports:
            if p.id == port_id:
                return p
        raise PortNotFoundError(f"no port with id {port_id!r}", port_id=port_id)

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
        depart_at: datetime | None = None,
        open_on_arrival: bool = False,
    ) -> list[NearestAnswer]:
        """The ``k`` stations fastest to reach from a point, with their routes.

        ``open_at``: only stations open at that instant. ``depart_at``: every answer says
        when the driver arrives and whether the station is open then;
        ``open_on_arrival=True`` keeps only those (the hours are evaluated at departure
        plus each station's travel time, not at departure).

        Every query is answered under the same bound (``max_time_s`` and
        ``Settings.max_search_s``; none by default), whichever path answers it: the
        precomputed forest (one kind, k = 1, no other filter), the per-station tables, or
        one bounded search on networks too large for the tables.

        Raises
        ------
        SnapError, OutsideServiceAreaError, InvalidCoordinateError
            The point cannot be placed on the network.
        NoRouteError
            No station passing the filters is reachable (within the bound, if any).
        InvalidParameterError
            A bad argument (unknown kind or service, ``k`` not a whole number >= 1, ...).
        RequestTooLargeError
            ``k`` above ``Settings.max_k``.
        """
        mode = self.check_mode(mode)
        k = check_k(k, self.settings.max_k)
        kinds = list(StationKind) if kind is None else [check_enum(kind, StationKind, name="kind")]
        where = StationFilter(
            services=tuple(check_enum_list(services, Service, name="services")),
            open_at=check_instant(open_at),
        )
        limit = check_max_time(max_time_s)
        depart = _check_departure(depart_at, open_on_arrival)
        bound_s = min(limit or math.inf, self.settings.max_search_s or math.inf)
        snap = self.snap(lon, lat, mode)
        state = self._state  # one version for the whole query
        answers: list[NearestAnswer] = []
        for kd in kinds:
            index = state.index(mode, kd)
            mask = None if where.by_kind_only else state.catalogue.mask(index.ids, where)
            if mask is not None and not mask.any():
                continue
            accept = None
            if open_on_arrival and depart is not None:
                accept = _open_on_arrival(state.catalogue, index.ids, depart)
            for res in index.nearest(snap, k=k, mask=mask, bound_s=bound_s, accept=accept):
                st = state.catalogue.find(index.ids[res.station])
                if st is None:
                    continue
                arrival = None if depart is None else depart + timedelta(seconds=res.duration_s)
                answers.append(
                    NearestAnswer(
                        st,
                        res.duration_s,
                        res.route.distance_m,
                        res.route,
                        arrival,
                        None if arrival is None else st.hours.is_open(arrival),
                    )
                )
        answers.sort(key=lambda a: (a.duration_s, a.station.id))
        if not answers:
            within = f" within {format_minutes(bound_s)}" if math.isfinite(bound_s) else ""
            raise NoRouteError(
                f"no station matching the filters{within} of this point"
                if within
                else "no station matching the filters can be reached from this point",
                lon=snap.lon,
                lat=snap.lat,
                bound_s=bound_s if math.isfinite(bound_s) else None,
            )
        return answers[:k]

    def offline_nearest(self, mode: str | None = None) -> OfflineNearest:
        """The compact per-node copy of the nearest-station forests of every kind, for an
        app that must answer "nearest station" without the network
        (:mod:`locator.analysis.nearest.offline`)."""
        mode = self.check_mode(mode)
        state = self._state
        return offline_nearest(
            self._engines.net.graph, mode, {kd.value: state.index(mode, kd) for kd in StationKind}
        )

    # ------------------------------------------------------------------ routes
    def route(
        self,
        from_lonlat: tuple[float, float],
        to: tuple[float, float] | str,
        *,
        mode: str | None = None,
    ) -> Route:
        """Fastest route between two points, or from a point to a station id.

        Raises
        ------
        NoRouteError
            The end cannot be reached from the start by ``mode``.
        """
        mode = self.check_mode(mode)
        a = self.snap(*check_point(from_lonlat, name="from"), mode)
        if isinstance(to, str):
            st = self.station(to)
            b = self.snap(st.lon, st.lat, mode)
        else:
            b = self.snap(*check_point(to, name="to"), mode)
        return self._engines.routing.route(mode, a, b)

    # ------------------------------------------------------------------ trips
    def _trip_end(self, value: object, name: str, mode: str) -> Snap:
        """A trip's origin or destination: ``(lon, lat)``, a station id or a port id (a
        port is placed on the nearest road within its ``location_accuracy_m``, at least the
        snap radius)."""
        if isinstance(value, str):
            key = check_text(value, name=name, max_length=64)
            st = self._state.catalogue.find(key)
            if st is not None:
                return self.snap(st.lon, st.lat, mode)
            for p in self._engines.ports:
                if p.id == key:
                    # a port's published position is uncertain to its stated accuracy
                    radius = max(self.max_snap_m, p.location_accuracy_m)
                    return self._engines.net.snapper.snap(
                        p.lon, p.lat, max_snap_m=radius, mode=mode
                    )
            raise StationNotFoundError(
                f"{name}: no station or port with id {key!r:.70}", station_id=key, parameter=name
            )
        return self.snap(*check_point(value, name=name), mode)

    def _check_detour(self, value: object) -> float:
        limit_s = self.settings.max_detour_min * 60.0
        if not _is_seconds(value):
            raise InvalidParameterError(
                f"max_detour_s must be a finite number of seconds >= 0, got {value!r:.40}",
                parameter="max_detour_s",
            )
        if value > limit_s:
            raise RequestTooLargeError(
                f"max_detour_s must be at most {limit_s:g} s "
                f"({format_minutes(limit_s)}, service limit)",
                parameter="max_detour_s",
                max_detour_s=limit_s,
            )
        return float(value)

    def _kinds(self, kind: object) -> list[StationKind]:
        """``None`` (every kind), one kind, or a sequence of kinds."""
        if kind is None:
            return list(StationKind)
        if isinstance(kind, str | StationKind):
            return [check_enum(kind, StationKind, name="kind")]
        kinds = check_enum_list(kind, StationKind, name="kind")
        return kinds or list(StationKind)

    def _trip_search(
        self, origin: object, destination: object, mode: str, detour_s: float
    ) -> TripSearch:
        a = self._trip_end(origin, "origin", mode)
        b = self._trip_end(destination, "destination", mode)
        longest_s = self.settings.max_trip_h * 3600.0
        trip = TripSearch(self._engines.routing, mode, a, b, bound_s=longest_s + detour_s)
        if not math.isfinite(trip.direct_s) and trip.exhausted:
            raise NoRouteError(
                f"no {mode} route from ({a.lon:.6f}, {a.lat:.6f}) to ({b.lon:.6f}, {b.lat:.6f})",
                mode=mode,
            )
        if not trip.direct_s <= longest_s:
            takes = (
                f"takes {format_minutes(trip.direct_s)}"
                if math.isfinite(trip.direct_s)
                else f"takes longer than {format_minutes(longest_s + detour_s)}"
            )
            raise RequestTooLargeError(
                f"the trip {takes}; trips up to {format_minutes(longest_s)} of driving "
                "are served (Settings.max_trip_h)",
                parameter="destination",
                max_trip_s=longest_s,
            )
        return trip

    def _trip_candidates(
        self,
        trip: TripSearch,
        *,
        mode: str,
        kind: object,
        services: Sequence[Service | str],
        detour_s: float,
    ) -> list[Candidate]:
        kinds = self._kinds(kind)
        where = StationFilter(services=tuple(check_enum_list(services, Service, name="services")))
        state = self._state  # one version for the whole query
        groups = []
        for kd in kinds:
            index = state.index(mode, kd)
            mask = None if where.by_kind_only else state.catalogue.mask(index.ids, where)
            groups.append((index, mask))
        return trip_candidates(trip, groups, state.catalogue, max_detour_s=detour_s)

    def along_route(
        self,
        origin: tuple[float, float] | str,
        destination: tuple[float, float] | str,
        *,
        mode: str | None = None,
        kind: StationKind | str | Sequence[StationKind | str] | None = None,
        services: Sequence[Service | str] = (),
        depart_at: datetime | None = None,
        open_on_arrival: bool = False,
        max_detour_s: float = DEFAULT_DETOUR_S,
        limit: int = DEFAULT_TRIP_STATIONS,
        routes: bool | str = False,
    ) -> Trip:
        """The stations on the way from ``origin`` to ``destination`` with their detours.

        ``origin``/``destination``: ``(lon, lat)`` (snapped like every query), a station
        id or a port id. A station's detour is ``t(origin -> station) + t(station ->
        destination) - t(origin -> destination)``, exact on the network; stations with a
        detour above ``max_detour_s`` (default 15 min, at most ``Settings.max_detour_min``)
        are left out. The first ``limit`` by ``reach_s`` (time from the origin) come back.

        ``depart_at``: opening hours are evaluated at the arrival time (departure plus
        ``reach_s``); ``open_on_arrival=True`` keeps only stations open then.
        ``routes``: attach ``route_to``/``route_on`` to every station (``True``) or to
        the one with this id.

        Examples
        --------
        >>> hohhot = (111.75, 40.84)
        >>> trip = loc.along_route("erenhot", hohhot, services=["hot_meals"])  # doctest: +SKIP
        >>> [(s.station.id, round(s.detour_s / 60)) for s in trip.stations]  # doctest: +SKIP

        Raises
        ------
        SnapError, OutsideServiceAreaError, InvalidCoordinateError
            An end cannot be placed on the network.
        StationNotFoundError
            An id that is neither a station nor a port.
        NoRouteError
            The destination cannot be reached from the origin.
        RequestTooLargeError
            ``max_detour_s``, ``limit`` or the trip's length above the service limits.
        InvalidParameterError
            Any other bad argument.
        """
        mode = self.check_mode(mode)
        detour_s = self._check_detour(max_detour_s)
        limit = check_k(limit, self.settings.max_trip_stations, name="limit")
        depart = _check_departure(depart_at, open_on_arrival)
        if not isinstance(routes, bool | str):
            raise InvalidParameterError(
                "routes must be True, False or a station id", parameter="routes"
            )
        trip = self._trip_search(origin, destination, mode, detour_s)
        cands = self._trip_candidates(
            trip, mode=mode, kind=kind, services=services, detour_s=detour_s
        )
        stations = []
        for c in cands:
            rec = trip_station(trip, c, depart_at=depart)
            if open_on_arrival and not rec.open_on_arrival:
                continue
            want = routes is True or (isinstance(routes, str) and routes == c.station.id)
            stations.append(with_legs(trip, c, rec) if want else rec)
            if len(stations) == limit:
                break
        if isinstance(routes, str) and not any(s.station.id == routes for s in stations):
            raise InvalidParameterError(
                f"station {routes!r:.70} is not among the stations along this trip",
                parameter="routes",
            )
        return Trip(trip.direct_route(), stations, depart)

    def _check_rule(
        self, rule: object, max_drive_s: float | None, min_rest_s: float | None
    ) -> RestRule:
        """A named rule or a :class:`RestRule`, with the overrides applied."""
        if isinstance(rule, RestRule):
            base = rule
        else:
            base = RULES[check_choice(rule, tuple(RULES), name="rule")]
        drive = base.max_drive_s if max_drive_s is None else max_drive_s
        rest = base.min_rest_s if min_rest_s is None else min_rest_s
        drive = check_positive(drive, "max_drive_s")
        if not _is_seconds(rest):
            raise InvalidParameterError(
                f"min_rest_s must be a finite number >= 0, got {rest!r:.40}",
                parameter="min_rest_s",
            )
        if (drive, rest) == (base.max_drive_s, base.min_rest_s):
            return base
        return RestRule("custom", drive, float(rest))

    def rest_plan(
        self,
        origin: tuple[float, float] | str,
        destination: tuple[float, float] | str,
        *,
        mode: str | None = None,
        rule: str | RestRule = "cn",
        max_drive_s: float | None = None,
        min_rest_s: float | None = None,
        kind: StationKind | str | Sequence[StationKind | str] | None = None,
        services: Sequence[Service | str] = (),
        depart_at: datetime | None = None,
        max_detour_s: float = DEFAULT_DETOUR_S,
    ) -> RestPlan:
        """The fastest sequence of rest stops that keeps every driving leg within a rule.

        ``rule``: ``"cn"`` (4 h, then 20 min; China), ``"aetr"`` (4 h 30 min, then 45
        min) or a :class:`~locator.analysis.trips.RestRule`; ``max_drive_s`` /
        ``min_rest_s`` override its numbers. Stops are stations passing ``kind`` and
        ``services`` with a detour of at most ``max_detour_s`` (the
        ``Settings.max_trip_stations`` smallest detours); the plan minimises driving plus
        rests and is exact over those candidates. A trip within the limit has no stop.
        With ``depart_at`` every stop says whether it is open on arrival.

        Examples
        --------
        >>> plan = loc.rest_plan("manzhouli", "erenhot", rule="cn")  # doctest: +SKIP
        >>> [(s.station.id, round(s.arrival_s / 3600, 1)) for s in plan.stops]  # doctest: +SKIP

        Raises
        ------
        NoRestPlanError
            No legal plan: ``exc.gap`` is the stretch of the route without a usable
            station, ``exc.plan`` the legs that can be planned up to it.
        NoRouteError, SnapError, StationNotFoundError, RequestTooLargeError,
        InvalidParameterError
            As :meth:`along_route`.
        """
        mode = self.check_mode(mode)
        detour_s = self._check_detour(max_detour_s)
        the_rule = self._check_rule(rule, max_drive_s, min_rest_s)
        depart = check_instant(depart_at, name="depart_at")
        trip = self._trip_search(origin, destination, mode, detour_s)
        cands = self._trip_candidates(
            trip, mode=mode, kind=kind, services=services, detour_s=detour_s
        )
        cap = self.settings.max_trip_stations
        if len(cands) > cap:
            keep = sorted(cands, key=lambda c: (c.reach_s + c.onward_s, c.station.id))[:cap]
            cands = sorted(keep, key=lambda c: (c.reach_s, c.station.id))
        reach = np.array([c.reach_s for c in cands], dtype=np.float64)
        onward = np.array([c.onward_s for c in cands], dtype=np.float64)
        legs_s = leg_matrix(
            trip, [(c.index, c.position) for c in cands], limit_s=the_rule.max_drive_s
        )
        plan = plan_stops(reach, onward, legs_s, trip.direct_s, the_rule)
        legs, stops = build_plan(trip, cands, plan, the_rule, depart_at=depart)
        if plan.feasible:
            return RestPlan(the_rule, legs, stops, plan.total_s, trip.direct_s, depart)
        gap = rest_gap(trip, cands, plan)
        partial = RestPlan(the_rule, legs, stops, plan.total_s, trip.direct_s, depart)
        where = "the origin" if gap.after is None else f"station {gap.after}"
        raise NoRestPlanError(
            f"no rest plan keeps every leg within {format_minutes(the_rule.max_drive_s)}: "
            f"after {where} ({format_minutes(gap.from_s)} along the route) the next usable "
            f"station or the destination is {format_minutes(gap.length_s)} further on",
            plan=partial,
            gap=gap,
            mode=mode,
            rule=the_rule.name,
            max_drive_s=the_rule.max_drive_s,
            gap_from_s=round(gap.from_s, 1),
            gap_to_s=round(gap.to_s, 1),
            gap_length_s=round(gap.length_s, 1),
            after_station_id=gap.after,
            planned_stops=[s.station.id for s in stops],
        )

    # ------------------------------------------------------------------ circles
    def _check_minutes(self, minutes: Any) -> list[float]:
        s = self.settings
        return check_minutes(minutes, max_minutes=s.max_minutes, max_contours=s.max_contours)

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
    ) -> list[Contour]:
        """Service circles of a station (precomputed for the default minutes) or a point.

        Contours come back ascending, each containing the smaller ones exactly.

        Raises
        ------
        InvalidParameterError
            Neither or both of a station and a point, bad minutes, direction or shape.
        RequestTooLargeError
            More intervals than ``max_contours`` or one above ``max_minutes``.
        """
        mode = self.check_mode(mode)
        mins = self._check_minutes(minutes)
        direction = check_choice(direction, ("to", "from"), name="direction")
        shape = check_choice(shape, SHAPES, name="shape")
        if station_id is not None and (lon is not None or lat is not None):
            raise InvalidParameterError(
                "give either station_id or lon and lat, not both", parameter="station_id"
            )
        if station_id is None:
            if lon is None or lat is None:
                raise InvalidParameterError(
                    "give a station_id or both lon and lat", parameter="lon/lat"
                )
            return self._circles(self.snap(lon, lat, mode), mode, mins, direction, shape)
        st = self.station(station_id)
        if direction == "to" and shape == "roads" and mins == list(DEFAULT_MINUTES):
            return self._station_circles(st, mode)
        return self._circles(self.snap(st.lon, st.lat, mode), mode, mins, direction, shape)

    def _circles(
        self, snap: Snap, mode: str, mins: list[float], direction: str, shape: str
    ) -> list[Contour]:
        return self._engines.circles.isochrones(
            snap,
            mode=mode,
            minutes=mins,
            buffer_m=self._art.buffer_m,
            direction="to" if direction == "to" else "from",
            shape="roads" if shape == "roads" else "concave",
        )

    def _station_circles(self, st: Station, mode: str) -> list[Contour]:
        """A station's default circles: precomputed, or computed once and kept in the
        current state (the very same list is returned until the station changes)."""
        cache = self._state.circles[mode]
        hit = cache.get(st.id)
        if hit is None:
            hit = self._circles(
                self.snap(st.lon, st.lat, mode), mode, list(DEFAULT_MINUTES), "to", "roads"
            )
            cache[st.id] = hit  # one key, published whole
        return hit

    def station_circles(
        self,
        *,
        minutes: Sequence[float],
        mode: str | None = None,
        kind: StationKind | str | None = None,
    ) -> list[tuple[Station, Contour]]:
        """The default-minutes circles of every station (of one kind) whose minutes are in
        ``minutes`` (a subset of 5, 10, 15), for maps; stations without a road nearby are
        left out."""
        mode = self.check_mode(mode)
        wanted = set(self._check_minutes(minutes))
        if not wanted <= set(DEFAULT_MINUTES):
            raise InvalidParameterError(
                "station circles are served for 5, 10 and 15 minutes", parameter="minutes"
            )
        out: list[tuple[Station, Contour]] = []
        for st in self.stations(kind=kind):
            try:
                contours = self._station_circles(st, mode)
            except LocatorError:
                continue
            out.extend((st, c) for c in contours if c.minutes in wanted)
        return out

    # ------------------------------------------------------------------ coverage
    def region_polygon(self, region: RegionArg) -> tuple[str, BaseGeometry | None]:
        """A region argument (admin code, port id, bbox, polygon, None) as a lon/lat
        polygon (``None``: the whole network)."""
        return resolve_region(
            region,
            units=self.regions,
            ports=self._engines.ports,
            projector=self._engines.net.projector,
        )

    def _demand(self, state: StationState, extra: object) -> DemandPoints | None:
        """The standing demand plus checked ``extra`` ``(lon, lat, weight)`` points."""
        points = check_demand(extra, max_points=self.settings.max_points)
        snaps = [self.snap(lon, lat) for lon, lat, _ in points]
        return demand_points(state.demand, snaps, [w for _, _, w in points])

    def coverage(
        self,
        *,
        kind: StationKind | str,
        minutes: float = 15.0,
        mode: str | None = None,
        region: RegionArg = None,
        demand: Sequence[tuple[float, float, float]] = (),
    ) -> CoverageReport:
        """Share of road length and demand inside the ``minutes`` circles of one kind.

        Road length is the network's stated length of each road times the fraction
        covered or inside the region (see :mod:`locator.analysis.coverage`). Demand
        points are the ports and worker homes (weight 1 each) plus any ``demand`` points
        given as ``(lon, lat, weight)``. Rows: per banner of a league, per league for the
        whole network.
        """
        mode = self.check_mode(mode)
        kd = check_enum(kind, StationKind, name="kind")
        mins = check_one_minutes(minutes, max_minutes=self.settings.max_minutes)
        state = self._state
        snaps = list(_placed_stations(state, mode, kd).values())
        return self._coverage_of(state, snaps, kd, mode, mins, region, demand)

    def _coverage_of(  # noqa: PLR0917 (private; the checked arguments)
        self,
        state: StationState,
        snaps: Sequence[Snap],
        kd: StationKind,
        mode: str,
        mins: float,
        region: RegionArg,
        demand: Sequence[tuple[float, float, float]],
    ) -> CoverageReport:
        name, poly = self.region_polygon(region)
        units = self.regions.table_units(region) if self.regions is not None else []
        return coverage_report(
            self._engines.circles,
            snaps,
            kind=kd.value,
            mode=mode,
            minutes=mins,
            region=(name, poly),
            rows={u.code: u.clip_geometry() for u in units},
            demand=self._demand(state, demand),
            n_standing=len(state.demand),
        )

    def evaluate_plan(
        self,
        *,
        kind: StationKind | str,
        minutes: float = 15.0,
        mode: str | None = None,
        region: RegionArg = None,
        add: Sequence[tuple[float, float]] = (),
        move: Sequence[tuple[str, float, float]] = (),
        remove: Sequence[str] = (),
        demand: Sequence[tuple[float, float, float]] = (),
    ) -> CoverageReport:
        r"""What :meth:`coverage` would report if stations of ``kind`` were added at ``add``
        points, ``move``\ d (``(id, lon, lat)``) or ``remove``\ d — nothing is saved.
        Each point is placed on the road as a new station would be; the figures are those
        of the same report after the real edits (tested).

        Raises
        ------
        StationNotFoundError
            A moved or removed id that is not a station of ``kind``.
        RequestTooLargeError
            More than ``Settings.max_points`` changes.
        SnapError, OutsideServiceAreaError, InvalidCoordinateError
            A point that cannot be placed on the network.
        """
        mode = self.check_mode(mode)
        kd = check_enum(kind, StationKind, name="kind")
        mins = check_one_minutes(minutes, max_minutes=self.settings.max_minutes)
        changes = [_as_list(x, n) for x, n in ((add, "add"), (move, "move"), (remove, "remove"))]
        if sum(len(c) for c in changes) > self.settings.max_points:
            raise RequestTooLargeError(
                f"at most {self.settings.max_points} changes per evaluation",
                parameter="add/move/remove",
                max_points=self.settings.max_points,
            )
        state = self._state
        current = _placed_stations(state, mode, kd)

        def known(value: object, name: str) -> str:
            sid = check_text(value, name=name, max_length=64)
            if sid not in current:
                raise StationNotFoundError(
                    f"{name}: no {kd.value} station {sid!r:.70}", station_id=sid, parameter=name
                )
            return sid

        for sid in changes[2]:
            del current[known(sid, "remove")]
        for item in changes[1]:
            if not isinstance(item, Sequence) or isinstance(item, str) or len(item) != 3:
                raise InvalidParameterError(
                    "move items are (station id, lon, lat)", parameter="move"
                )
            sid = known(item[0], "move")
            current[sid] = self.snap(*check_point(item[1:], name="move"), mode)
        for n, point in enumerate(changes[0]):
            current[f"+{n}"] = self.snap(*check_point(point, name="add"), mode)
        return self._coverage_of(state, list(current.values()), kd, mode, mins, region, demand)

    def suggest_sites(
        self,
        *,
        kind: StationKind | str,
        k: int,
        minutes: float = 15.0,
        mode: str | None = None,
        region: RegionArg = None,
        max_candidates: int = 2000,
        within_country: bool = True,
        objective: str = "road",
        demand: Sequence[tuple[float, float, float]] = (),
    ) -> SitingResult:
        """Greedy suggestions for ``k`` new stations of ``kind``.

        ``objective="road"`` (default) maximises the region's covered road length exactly
        as :meth:`coverage` measures it: each site's ``gain`` (metres) is the increase of
        ``coverage(...).covered_km`` (x 1000) if a station were added there, after the
        sites before it. ``objective="demand"`` maximises the covered demand weight
        instead (the ports and worker homes, weight 1 each, plus the ``demand`` points
        ``(lon, lat, weight)``): each ``gain`` is the increase of
        ``coverage(..., demand=demand).demand_covered``.

        Candidates are the mode's nodes inside the region and, with ``within_country``
        (default), inside China (the artifact's national outline); a seeded sample of
        ``max_candidates`` when there are more.
        """
        mode = self.check_mode(mode)
        kd = check_enum(kind, StationKind, name="kind")
        mins = check_one_minutes(minutes, max_minutes=self.settings.max_minutes)
        k = check_k(k, self.settings.max_k)
        max_candidates = check_k(max_candidates, MAX_CANDIDATES, name="max_candidates")
        if not isinstance(within_country, bool):
            raise InvalidParameterError(
                "within_country must be True or False", parameter="within_country"
            )
        objective = check_text(objective, name="objective", max_length=16)
        if objective not in ("road", "demand"):
            raise InvalidParameterError(
                f"objective must be 'road' or 'demand', not {objective!r:.20}",
                parameter="objective",
            )
        if demand and objective != "demand":
            raise InvalidParameterError(
                "demand points are used by objective='demand' only", parameter="demand"
            )
        state = self._state
        # the demand points are checked (and placed) before any search
        points = self._demand(state, demand) if objective == "demand" else None
        _, poly = self.region_polygon(region)
        snaps = list(_placed_stations(state, mode, kd).values())
        regions = self.regions
        country = (
            regions.in_china
            if within_country and regions is not None and regions.has_country
            else None
        )
        engine = self._engines.circles
        if objective == "demand":
            if points is None:
                return SitingResult([], 0.0, 0.0, 0)
            return suggest_demand_sites(
                engine,
                snaps,
                points,
                mode=mode,
                minutes=mins,
                k=k,
                region=poly,
                in_country=country,
            )
        return suggest_road_sites(
            engine,
            snaps,
            mode=mode,
            minutes=mins,
            k=k,
            region=poly,
            in_country=country,
            max_candidates=max_candidates,
        )

    # ------------------------------------------------------------------ edits
    def _require_road(self, station: Station) -> None:
        """Reject a station no mode can reach (farther than the snap radius from roads);
        a position outside the network's area raises :class:`OutsideServiceAreaError`."""
        reason = "no road nearby"
        for mode in self.modes:
            try:
                self.snap(station.lon, station.lat, mode)
                return
            except SnapError as exc:
                reason = exc.message
        raise StationValidationError(
            [RowProblem(0, "lon/lat", f"{reason}; stations must lie on the road network")],
            what="station",
        )

    @staticmethod
    def _check_station(station: object) -> Station:
        if not isinstance(station, Station):
            raise InvalidParameterError(
                "station must be a locator.stations.Station record", parameter="station"
            )
        return station

    def add_station(self, station: Station, *, actor: str) -> Revision:
        """Add a station to the store and the indexes; the next query sees it.

        Returns the stored revision (its ``version`` is the station's ETag).

        Raises
        ------
        StationValidationError
            Invalid record or no road within the snap radius.
        StationExistsError
            The id is taken.
        StoreUnavailableError
            The store cannot take writes (read-only file, full disk).
        """
        station = self._check_station(station)
        actor = check_text(actor, name="actor")
        self._require_road(station)
        rev = self.store.add(station, actor=actor)
        self.sync()
        return rev

    def update_station(
        self, station: Station, *, actor: str, if_version: int | None = None
    ) -> Revision:
        """Replace a station (same id); a move or a change of kind updates the indexes
        (a move replaces the station's column of the time table).

        ``if_version``: only if the station is still at this version
        (:class:`PreconditionFailedError` otherwise), as HTTP ``If-Match``.
        """
        station = self._check_station(station)
        actor = check_text(actor, name="actor")
        rev = self.store.update(
            station,
            actor=actor,
            if_version=_check_version_arg(if_version),
            check=self._require_road,
        )
        self.sync()
        return rev

    def patch_station(
        self,
        station_id: str,
        changes: Mapping[str, Any],
        *,
        actor: str,
        if_version: int | None = None,
    ) -> Revision:
        """Change the given fields of a station (JSON merge patch, RFC 7396; ``None``
        resets a field, ``name`` merges language by language). The merge happens inside
        the store's write transaction: concurrent patches of different fields all survive.

        Raises
        ------
        StationNotFoundError, PreconditionFailedError, StationValidationError
            Unknown id, stale ``if_version``, or an invalid result.
        """
        station_id = check_text(station_id, name="station_id", max_length=64)
        actor = check_text(actor, name="actor")
        rev = self.store.patch(
            station_id,
            changes,
            actor=actor,
            if_version=_check_version_arg(if_version),
            check=self._require_road,
        )
        self.sync()
        return rev

    def delete_station(
        self, station_id: str, *, actor: str, if_version: int | None = None
    ) -> Revision:
        """Remove a station from the store and the indexes; returns what was removed."""
        station_id = check_text(station_id, name="station_id", max_length=64)
        actor = check_text(actor, name="actor")
        rev = self.store.delete(station_id, actor=actor, if_version=_check_version_arg(if_version))
        self.sync()
        return rev

    def station_revision(self, station_id: str) -> tuple[Station, int]:
        """A station and its store version (its ETag), from one consistent state."""
        catalogue = self._state.catalogue
        station_id = check_text(station_id, name="station_id", max_length=64)
        return catalogue.get(station_id), catalogue.version(station_id)

    def station_versions(self) -> Mapping[str, int]:
        """Every station's store version (read-only), as this process last applied them."""
        return self._state.catalogue.versions

    def refresh(self) -> int:
        """:meth:`sync` if the store has writes this process has not applied, else
        nothing (one indexed read of the store's edit sequence: cheap enough for every
        request). A store that cannot be read right now leaves the answers as they are.
        Returns the edit sequence number the answers reflect."""
        current = self._state.catalogue.seq
        try:
            latest = self.store.seq()
        except StoreUnavailableError as exc:
            log.warning("cannot read the station store's sequence (%s); answers may lag", exc)
            return current
        return current if latest == current else self.sync()

    def sync(self) -> int:
        """Apply the store's committed writes this process has not applied yet (its own,
        other threads', other processes' on the same store), in commit order; return the
        edit sequence number the answers now reflect."""
        with self._write_lock:
            state = self._state
            changes = self.store.changes_since(state.catalogue.seq)
            for change in changes:
                if change.seq <= state.catalogue.seq:
                    continue  # already in a reloaded snapshot
                state = self._applied(state, change)
            self._state = state
            return state.catalogue.seq

    def _applied(self, state: StationState, change: Change) -> StationState:
        engines, snap_m = self._engines, self.max_snap_m
        if change.action in ("add", "update") and change.after is not None:
            station = Station.model_validate(change.after)
            return state.with_station(station, engines, snap_m, version=change.seq, seq=change.seq)
        if change.action == "delete" and change.station_id is not None:
            if change.station_id in state.catalogue:
                return state.without(change.station_id, engines, snap_m, seq=change.seq)
            return state.advanced(change.seq)
        # an import (or anything else): re-read the whole store, recompute the indexes
        revisions, seq = self.store.snapshot()
        return StationState.reloaded(Catalogue.from_revisions(revisions, seq=seq), engines, snap_m)


def _as_list(value: object, name: str) -> list[Any]:
    """A sequence argument as a list (a string is not a list of changes)."""
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise InvalidParameterError(f"{name} must be a list, got {value!r:.40}", parameter=name)
    return list(value)


def _check_departure(depart_at: object, open_on_arrival: object) -> datetime | None:
    """A departure time (China Standard Time) and whether only stations open on arrival
    may answer (which needs one)."""
    depart = check_instant(depart_at, name="depart_at")
    if not isinstance(open_on_arrival, bool):
        raise InvalidParameterError(
            "open_on_arrival must be True or False", parameter="open_on_arrival"
        )
    if open_on_arrival and depart is None:
        raise InvalidParameterError(
            "open_on_arrival needs a departure time (depart_at)", parameter="open_on_arrival"
        )
    return depart


def _open_on_arrival(catalogue: Catalogue, ids: Sequence[str | None], depart: datetime) -> Accept:
    """``accept(i, t)``: station ``ids[i]`` is open at ``depart + t`` seconds."""

    def accept(i: int, t: float) -> bool:
        st = catalogue.find(ids[i])
        return st is not None and st.hours.is_open(depart + timedelta(seconds=t))

    return accept


def _is_seconds(value: object) -> TypeGuard[float]:
    """A finite real number >= 0 (not a bool)."""
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def _check_version_arg(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterError(
            f"if_version must be a station version (a non-negative integer), got {value!r:.40}",
            parameter="if_version",
        )
    return value


def _placed_stations(state: StationState, mode: str, kind: StationKind) -> dict[str, Snap]:
    """The stations of ``kind`` placed on the mode's roads, by id (coverage, what-ifs and
    siting start from the same set)."""
    index = state.index(mode, kind)
    return {i: s for s, i in zip(index.targets.snaps, index.ids, strict=True) if s and i}


__all__ = ["DATUMS", "Locator", "NearestAnswer"]
