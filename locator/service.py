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
from datetime import datetime
from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry

from locator.analysis.coverage import (
    CoverageReport,
    DemandPoints,
    coverage_report,
    demand_points,
)
from locator.analysis.isochrones import SHAPES, Contour
from locator.analysis.regions import AdminUnits, RegionArg, resolve_region
from locator.analysis.routing import Route
from locator.analysis.siting import MAX_CANDIDATES, SitingResult, suggest_in_region
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
    check_text,
    format_minutes,
)
from locator.artifact.loader import Artifact, open_artifact
from locator.artifact.manifest import manifest_summary
from locator.artifact.state import StationState
from locator.config import DEFAULT_MINUTES, Settings
from locator.errors import (
    InvalidParameterError,
    LocatorError,
    NoRouteError,
    PortNotFoundError,
    RowProblem,
    SnapError,
    StationValidationError,
    StoreUnavailableError,
)
from locator.network.core import Network
from locator.network.datum import bd09_to_gcj02, gcj02_to_wgs84
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
    """One station reached from a query point."""

    station: Station
    duration_s: float
    distance_m: float
    route: Route


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
        net.snapper.build_all()
        for index in list(self._state.indexes.values()):
            index.ensure_table()
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
    ) -> list[NearestAnswer]:
        """The ``k`` stations fastest to reach from a point, with their routes.

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
        bound_s = min(limit or math.inf, self.settings.max_search_s or math.inf)
        snap = self.snap(lon, lat, mode)
        state = self._state  # one version for the whole query
        answers: list[NearestAnswer] = []
        for kd in kinds:
            index = state.index(mode, kd)
            mask = None if where.by_kind_only else state.catalogue.mask(index.ids, where)
            if mask is not None and not mask.any():
                continue
            for res in index.nearest(snap, k=k, mask=mask, bound_s=bound_s):
                st = state.catalogue.find(index.ids[res.station])
                if st is not None:
                    answers.append(
                        NearestAnswer(st, res.duration_s, res.route.distance_m, res.route)
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
        name, poly = self.region_polygon(region)
        state = self._state
        index = state.index(mode, kd)
        snaps = [s for s, i in zip(index.targets.snaps, index.ids, strict=True) if s and i]
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
        )

    def suggest_sites(
        self,
        *,
        kind: StationKind | str,
        k: int,
        minutes: float = 15.0,
        mode: str | None = None,
        region: RegionArg = None,
        max_candidates: int = 2000,
    ) -> SitingResult:
        """Greedy maximal-covering suggestions for ``k`` new stations of ``kind``.

        Demand is road length (each node carries half of its roads); with a region, only
        demand and candidates inside it count.
        """
        mode = self.check_mode(mode)
        kd = check_enum(kind, StationKind, name="kind")
        mins = check_one_minutes(minutes, max_minutes=self.settings.max_minutes)
        k = check_k(k, self.settings.max_k)
        max_candidates = check_k(max_candidates, MAX_CANDIDATES, name="max_candidates")
        _, poly = self.region_polygon(region)
        index = self._state.index(mode, kd)
        snaps = [s for s, i in zip(index.targets.snaps, index.ids, strict=True) if s and i]
        return suggest_in_region(
            self._engines.circles,
            snaps,
            mode=mode,
            minutes=mins,
            k=k,
            region=poly,
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


def _check_version_arg(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidParameterError(
            f"if_version must be a station version (a non-negative integer), got {value!r:.40}",
            parameter="if_version",
        )
    return value


__all__ = ["DATUMS", "Locator", "NearestAnswer"]
