"""The station-dependent part of a loaded artifact, one immutable version at a time.

A :class:`StationState` holds the catalogue, the nearest-station indexes per (mode,
kind), the circle cache per mode and the standing demand points, all for ONE version of
the station set. An edit makes the next version (:meth:`StationState.with_station`,
:meth:`StationState.without`) and the service publishes it with one assignment, so a
query that took a state reads one consistent version from start to end: never ids from
one version and records from another.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from dataclasses import dataclass

from locator.analysis.coverage import standing_demand
from locator.analysis.isochrones import Contour
from locator.analysis.nearest import StationIndex
from locator.artifact.loader import Artifact, Engines
from locator.artifact.prepared import IndexKey, compute_indexes
from locator.errors import LocatorError
from locator.network.snapping import Snap
from locator.stations.catalogue import Catalogue
from locator.stations.model import Station, StationKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StationState:
    """One version of everything that depends on the stations.

    Attributes
    ----------
    catalogue
        The stations.
    indexes
        Nearest-station index per ``(mode, kind)``.
    circles
        Per mode, station id -> its circles at the default minutes. Filled on first
        request for stations the build did not precompute (one key per station, each
        value published whole); a new version starts without the edited station's.
    engines, max_snap_m
        What the standing demand is placed with.

    :attr:`demand`, the standing demand points (ports and worker homes on the network),
    is computed on first use and published whole.
    """

    catalogue: Catalogue
    indexes: Mapping[IndexKey, StationIndex]
    circles: Mapping[str, dict[str, list[Contour]]]
    engines: Engines
    max_snap_m: float

    @functools.cached_property
    def demand(self) -> tuple[Snap, ...]:
        """Ports and worker homes placed on the network (weight 1 each)."""
        return _demand(self.engines, self.catalogue, self.max_snap_m)

    @classmethod
    def initial(cls, art: Artifact) -> StationState:
        """The state of a freshly loaded artifact."""
        return cls(
            art.catalogue,
            dict(art.indexes),
            {mode: dict(c) for mode, c in art.circles.items()},
            art.engines,
            art.max_snap_m,
        )

    @classmethod
    def reloaded(cls, catalogue: Catalogue, engines: Engines, max_snap_m: float) -> StationState:
        """A state rebuilt from a whole catalogue (after an import): every index is
        recomputed, circles are computed again on request."""
        indexes = compute_indexes(engines.routing, catalogue, max_snap_m=max_snap_m)
        return cls(
            catalogue, indexes, {mode: {} for mode in engines.net.modes}, engines, max_snap_m
        )

    def advanced(self, seq: int) -> StationState:
        """The same stations, marked as reflecting the store up to ``seq``."""
        return StationState(
            self.catalogue.advanced(seq), self.indexes, self.circles, self.engines, self.max_snap_m
        )

    def index(self, mode: str, kind: StationKind) -> StationIndex:
        """The index of one mode and kind."""
        return self.indexes[(mode, kind.value)]

    # ------------------------------------------------------------------ edits
    def with_station(
        self,
        station: Station,
        engines: Engines,
        max_snap_m: float,
        *,
        version: int = 0,
        seq: int | None = None,
    ) -> StationState:
        """The next version with ``station`` added, or replaced when its id exists
        (``version``, ``seq``: the store write that made it, see :class:`Catalogue`)."""
        old = self.catalogue.find(station.id)
        indexes = dict(self.indexes)
        moved = old is None or (old.kind, old.lon, old.lat) != (
            station.kind,
            station.lon,
            station.lat,
        )
        if moved:
            for mode in engines.net.modes:
                if old is not None and old.kind != station.kind:
                    key = (mode, old.kind.value)
                    indexes[key] = indexes[key].without(old.id)
                key = (mode, station.kind.value)
                try:
                    snap = engines.net.snapper.snap(
                        station.lon, station.lat, max_snap_m=max_snap_m, mode=mode
                    )
                except LocatorError:
                    log.warning("station %s has no %s road nearby: not indexed", station.id, mode)
                    if station.id in indexes[key].ids:
                        indexes[key] = indexes[key].without(station.id)
                    continue
                indexes[key] = indexes[key].with_station(station.id, snap)
        catalogue = self.catalogue.with_station(station, version=version, seq=seq)
        return StationState(
            catalogue,
            indexes,
            self._circles_without(station.id) if moved else self.circles,
            engines,
            max_snap_m,
        )

    def without(
        self, station_id: str, engines: Engines, max_snap_m: float, *, seq: int | None = None
    ) -> StationState:
        """The next version without ``station_id`` (which must exist)."""
        old = self.catalogue.get(station_id)
        indexes = dict(self.indexes)
        for mode in engines.net.modes:
            key = (mode, old.kind.value)
            if station_id in indexes[key].ids:
                indexes[key] = indexes[key].without(station_id)
        catalogue = self.catalogue.without(station_id, seq=seq)
        return StationState(
            catalogue,
            indexes,
            self._circles_without(station_id),
            engines,
            max_snap_m,
        )

    def _circles_without(self, station_id: str) -> dict[str, dict[str, list[Contour]]]:
        return {
            mode: {sid: c for sid, c in by_id.items() if sid != station_id}
            for mode, by_id in self.circles.items()
        }


#: Ports may lie farther from the network than stations (a port's road may stop short of
#: the crossing): they are placed on the nearest road within this radius.
PORT_SNAP_M = 10_000.0


def _demand(engines: Engines, catalogue: Catalogue, max_snap_m: float) -> tuple[Snap, ...]:
    """Ports and worker homes placed on the network (weight 1 each)."""
    places = [(p.lon, p.lat, PORT_SNAP_M) for p in engines.ports]
    places += [
        (st.lon, st.lat, max_snap_m) for st in catalogue if st.kind == StationKind.worker_home
    ]
    return tuple(standing_demand(engines.net, places, max_snap_m=max_snap_m))
