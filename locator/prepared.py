"""Build-time precomputation stored in an artifact: nearest-station forests and circles.

``forests.npz``  one :class:`~locator.nearest.NearestForest` per (mode, kind), keys
                 ``"{mode}|{kind}|{array}"`` plus the station ids of each forest.
``circles_{mode}.npz``  every station's 5/10/15-minute service circles (direction "to").

Both are keyed to the station set they were computed from (``stations_fingerprint``);
when the store has changed since (edits through the API), the loader recomputes them
instead of serving stale answers.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from locator.errors import LocatorError
from locator.isochrones import (
    IsochroneContour,
    IsochroneEngine,
    load_isochrones,
    precompute_station_isochrones,
    save_isochrones,
)
from locator.nearest import NearestForest
from locator.routing import RoutingEngine
from locator.search import Snap
from locator.snapping import SnapIndex
from locator.stations import Station, StationKind

log = logging.getLogger(__name__)

FORESTS_FILE = "forests.npz"
DEFAULT_MINUTES = (5.0, 10.0, 15.0)


def circles_file(mode: str) -> str:
    """File name of the precomputed circles of one mode."""
    return f"circles_{mode}.npz"


def stations_fingerprint(stations: Iterable[Station]) -> str:
    """A hash of what the precomputed structures depend on: id, kind and position."""
    digest = hashlib.sha256()
    for st in sorted(stations, key=lambda s: s.id):
        digest.update(f"{st.id}|{st.kind.value}|{st.lon:.7f}|{st.lat:.7f}\n".encode())
    return digest.hexdigest()[:16]


def snap_stations(
    index: SnapIndex, stations: Sequence[Station], *, mode: str, max_snap_m: float
) -> list[Snap | None]:
    """Snap stations for one mode; a station with no usable road nearby gets ``None``."""
    out: list[Snap | None] = []
    for st in stations:
        try:
            out.append(index.snap(st.lon, st.lat, max_snap_m=max_snap_m, mode=mode))
        except LocatorError:
            log.warning("station %s has no %s road within %g m", st.id, mode, max_snap_m)
            out.append(None)
    return out


def compute_forests(
    routing: RoutingEngine,
    index: SnapIndex,
    stations: Sequence[Station],
    *,
    modes: Sequence[str],
    max_snap_m: float,
) -> dict[tuple[str, str], tuple[NearestForest, list[str | None]]]:
    """One forest per (mode, kind) over the stations of that kind (sorted by id)."""
    out: dict[tuple[str, str], tuple[NearestForest, list[str | None]]] = {}
    for kind in StationKind:
        of_kind = sorted((s for s in stations if s.kind == kind), key=lambda s: s.id)
        ids: list[str | None] = [s.id for s in of_kind]
        for mode in modes:
            snaps = snap_stations(index, of_kind, mode=mode, max_snap_m=max_snap_m)
            out[(mode, kind.value)] = (NearestForest.compute(routing, mode, snaps), list(ids))
    return out


def save_forests(
    path: Path,
    forests: Mapping[tuple[str, str], tuple[NearestForest, list[str | None]]],
    fingerprint: str,
) -> None:
    """Write forests (and the station ids behind their indices) to one ``.npz``."""
    arrays: dict[str, npt.NDArray[np.generic]] = {"fingerprint": np.array(fingerprint)}
    for (mode, kind), (forest, ids) in forests.items():
        for name, arr in forest.to_arrays().items():
            arrays[f"{mode}|{kind}|{name}"] = arr
        arrays[f"{mode}|{kind}|ids"] = np.array([i or "" for i in ids], dtype=str)
    np.savez(path, **arrays)  # type: ignore[arg-type]


def load_forests_fingerprint(path: Path) -> str:
    """The station fingerprint a forests file was computed for."""
    with np.load(path, allow_pickle=False) as data:
        return str(data["fingerprint"])


def load_forests(
    path: Path, routing: RoutingEngine
) -> tuple[str, dict[tuple[str, str], tuple[NearestForest, list[str | None]]]]:
    """Read :func:`save_forests` output; returns (fingerprint, forests)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    fingerprint = str(arrays.pop("fingerprint"))
    groups: dict[tuple[str, str], dict[str, npt.NDArray[np.generic]]] = {}
    for key, arr in arrays.items():
        mode, kind, name = key.split("|", 2)
        groups.setdefault((mode, kind), {})[name] = arr
    out: dict[tuple[str, str], tuple[NearestForest, list[str | None]]] = {}
    for key, group in groups.items():
        ids: list[str | None] = [str(i) or None for i in group.pop("ids").tolist()]
        out[key] = (NearestForest.from_arrays(routing, group, defer_station_times=True), ids)
    return fingerprint, out


def compute_circles(
    engine: IsochroneEngine,
    index: SnapIndex,
    stations: Sequence[Station],
    *,
    mode: str,
    max_snap_m: float,
    buffer_m: float,
    minutes: Sequence[float] = DEFAULT_MINUTES,
) -> dict[str, list[IsochroneContour]]:
    """Every station's service circles for one mode (direction "to")."""
    snaps = snap_stations(index, stations, mode=mode, max_snap_m=max_snap_m)
    places = {st.id: s for st, s in zip(stations, snaps, strict=True) if s is not None}
    return precompute_station_isochrones(
        engine, places, mode=mode, minutes=minutes, direction="to", buffer_m=buffer_m
    )


__all__ = [
    "DEFAULT_MINUTES",
    "FORESTS_FILE",
    "circles_file",
    "compute_circles",
    "compute_forests",
    "load_forests",
    "load_isochrones",
    "save_forests",
    "save_isochrones",
    "snap_stations",
    "stations_fingerprint",
]
