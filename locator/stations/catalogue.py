"""The stations in memory: an immutable catalogue with ONE filter.

A :class:`Catalogue` is a snapshot of the station store taken when an artifact loads and
replaced whole after every edit (:meth:`Catalogue.with_station`,
:meth:`Catalogue.without`), so request threads read it without locks. Every "which
stations match?" question of the service — the station list of the API, the candidates of
a nearest-station query, the stations whose circles count in coverage — goes through
:class:`StationFilter`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import numpy as np
import numpy.typing as npt

from locator.errors import StationNotFoundError
from locator.stations.model import Service, Station, StationKind
from locator.stations.store import Revision


@dataclass(frozen=True)
class StationFilter:
    """What a station must be to match; every field left at its default matches all.

    Attributes
    ----------
    kind
        Only this kind.
    services
        Every one of these services must be offered.
    open_at
        Open at this instant (aware, or naive = China Standard Time).
    bbox
        ``(min_lon, min_lat, max_lon, max_lat)`` the position must lie in (WGS 84).
    port
        Serving this port id.
    """

    kind: StationKind | None = None
    services: tuple[Service, ...] = ()
    open_at: datetime | None = None
    bbox: tuple[float, float, float, float] | None = None
    port: str | None = None

    @property
    def by_kind_only(self) -> bool:
        """True when nothing but the kind is asked for (the precomputed forests answer)."""
        return not self.services and self.open_at is None and self.bbox is None and not self.port

    def matches(self, st: Station) -> bool:
        """Whether ``st`` passes every condition."""
        if self.kind is not None and st.kind != self.kind:
            return False
        if self.port is not None and st.port_id != self.port:
            return False
        if self.services and not set(self.services).issubset(st.services):
            return False
        if self.bbox is not None:
            a, b, c, d = self.bbox
            if not (a <= st.lon <= c and b <= st.lat <= d):
                return False
        return self.open_at is None or st.hours.is_open(self.open_at)


def stations_fingerprint(stations: Iterable[Station]) -> str:
    """A hash of what precomputed structures depend on: id, kind and position."""
    digest = hashlib.sha256()
    for st in sorted(stations, key=lambda s: s.id):
        digest.update(f"{st.id}|{st.kind.value}|{st.lon:.7f}|{st.lat:.7f}\n".encode())
    return digest.hexdigest()[:16]


class Catalogue:
    """An immutable, id-sorted snapshot of the stations.

    Parameters
    ----------
    stations
        The records (ids must be unique, as the store guarantees).
    versions
        Each station's store version (its ETag; 0 where unknown).
    seq
        The store's edit sequence this snapshot reflects (the last write applied).
    """

    def __init__(
        self,
        stations: Iterable[Station],
        versions: Mapping[str, int] | None = None,
        *,
        seq: int = 0,
    ) -> None:
        self._by_id = {st.id: st for st in sorted(stations, key=lambda s: s.id)}
        self._sorted = tuple(self._by_id.values())
        given = versions or {}
        self._versions = {sid: int(given.get(sid, 0)) for sid in self._by_id}
        self.seq = int(seq)
        self.fingerprint = stations_fingerprint(self._sorted)

    @classmethod
    def from_revisions(cls, revisions: Sequence[Revision], *, seq: int | None = None) -> Catalogue:
        """The catalogue of a store snapshot (:meth:`StationStore.revisions`)."""
        last = max((r.seq for r in revisions), default=0) if seq is None else seq
        return cls(
            (r.station for r in revisions), {r.station.id: r.version for r in revisions}, seq=last
        )

    def __len__(self) -> int:
        return len(self._sorted)

    def __iter__(self) -> Iterator[Station]:
        return iter(self._sorted)

    def __contains__(self, station_id: object) -> bool:
        return station_id in self._by_id

    def get(self, station_id: str) -> Station:
        """The station with this id.

        Raises
        ------
        StationNotFoundError
            No station has this id.
        """
        st = self._by_id.get(station_id)
        if st is None:
            raise StationNotFoundError(f"no station with id {station_id!r}", station_id=station_id)
        return st

    @property
    def versions(self) -> Mapping[str, int]:
        """Station id -> store version (read-only view)."""
        return MappingProxyType(self._versions)

    def version(self, station_id: str) -> int:
        """The store version of a station (:class:`StationNotFoundError` if unknown)."""
        self.get(station_id)
        return self._versions[station_id]

    def find(self, station_id: str | None) -> Station | None:
        """The station with this id, or ``None``."""
        return None if station_id is None else self._by_id.get(station_id)

    def select(self, where: StationFilter) -> list[Station]:
        """The stations matching ``where``, sorted by id."""
        return [st for st in self._sorted if where.matches(st)]

    def mask(self, ids: Sequence[str | None], where: StationFilter) -> npt.NDArray[np.bool_]:
        """Per id (an index's station order): whether that station exists and matches."""
        out = np.zeros(len(ids), dtype=bool)
        for i, sid in enumerate(ids):
            st = self.find(sid)
            out[i] = st is not None and where.matches(st)
        return out

    def with_station(
        self, station: Station, *, version: int = 0, seq: int | None = None
    ) -> Catalogue:
        """A new catalogue with ``station`` added or replaced (same id) at ``version``,
        reflecting the store up to ``seq`` (default: unchanged)."""
        versions = {**self._versions, station.id: version}
        return Catalogue(
            [*(s for s in self._sorted if s.id != station.id), station],
            versions,
            seq=self.seq if seq is None else seq,
        )

    def advanced(self, seq: int) -> Catalogue:
        """The same stations, reflecting the store up to ``seq``."""
        return Catalogue(self._sorted, self._versions, seq=seq)

    def without(self, station_id: str, *, seq: int | None = None) -> Catalogue:
        """A new catalogue without ``station_id``."""
        return Catalogue(
            (s for s in self._sorted if s.id != station_id),
            self._versions,
            seq=self.seq if seq is None else seq,
        )
