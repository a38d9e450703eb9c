"""Build-time precomputation stored in an artifact: nearest-station indexes and circles.

``forests.npz``  one :class:`~locator.analysis.nearest.StationIndex` per (mode, kind),
                 keys ``"{mode}|{kind}|{array}"``, plus the station fingerprint;
                 uncompressed and aligned, so the loaded forests are read-only memory
                 maps of the file (:func:`~locator.network.graph.map_npz`), shared by
                 every process serving the artifact until an edit replaces them.
``circles_{mode}.npz``  every station's service circles (direction "to", the default
                 minutes), one row per contour with its WKB; compressed, because the
                 loader turns the WKB into GEOS polygons (private memory) anyway.

Both are keyed to the station set they were computed from
(:func:`~locator.stations.stations_fingerprint`); when the store has changed since
(edits through the API), the loader recomputes them instead of serving stale answers.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import shapely

from locator.analysis.isochrones import Contour, IsochroneEngine, precompute_station_isochrones
from locator.analysis.nearest import StationIndex
from locator.analysis.routing import RoutingEngine
from locator.errors import UNREADABLE, ArtifactError, LocatorError
from locator.network.core import Network
from locator.network.graph import map_npz, read_npz, save_npz
from locator.network.snapping import Snap
from locator.stations.model import Station, StationKind

log = logging.getLogger(__name__)

FORESTS_FILE = "forests.npz"
CIRCLE_FORMAT_VERSION = 2

IndexKey = tuple[str, str]  # (mode, kind)


def circles_file(mode: str) -> str:
    """File name of the precomputed circles of one mode."""
    return f"circles_{mode}.npz"


def snap_stations(
    net: Network, stations: Sequence[Station], *, mode: str, max_snap_m: float
) -> list[Snap | None]:
    """Snap stations for one mode; a station with no usable road nearby gets ``None``."""
    out: list[Snap | None] = []
    for st in stations:
        try:
            out.append(net.snapper.snap(st.lon, st.lat, max_snap_m=max_snap_m, mode=mode))
        except LocatorError:
            log.warning("station %s has no %s road within %g m", st.id, mode, max_snap_m)
            out.append(None)
    return out


# ---------------------------------------------------------------------- indexes
def compute_indexes(
    routing: RoutingEngine, stations: Iterable[Station], *, max_snap_m: float
) -> dict[IndexKey, StationIndex]:
    """One :class:`StationIndex` per (mode, kind) over the stations of that kind, by id."""
    stations = list(stations)
    net = routing.net
    out: dict[IndexKey, StationIndex] = {}
    for kind in StationKind:
        of_kind = sorted((s for s in stations if s.kind == kind), key=lambda s: s.id)
        ids = [s.id for s in of_kind]
        for mode in net.modes:
            snaps = snap_stations(net, of_kind, mode=mode, max_snap_m=max_snap_m)
            out[(mode, kind.value)] = StationIndex.compute(routing, mode, ids, snaps)
    return out


def save_indexes(path: Path, indexes: Mapping[IndexKey, StationIndex], fingerprint: str) -> None:
    """Write the indexes (forests and station ids) to one ``.npz`` that
    :func:`load_indexes` maps in place (:func:`~locator.network.graph.save_npz`)."""
    arrays: dict[str, npt.NDArray[np.generic]] = {"fingerprint": np.array(fingerprint)}
    for (mode, kind), index in indexes.items():
        for name, arr in index.to_arrays().items():
            arrays[f"{mode}|{kind}|{name}"] = arr
    save_npz(path, arrays)


def read_fingerprint(path: Path) -> str:
    """The station fingerprint a forests file was computed for."""
    try:
        return str(map_npz(path)["fingerprint"])
    except UNREADABLE as exc:
        raise ArtifactError(f"cannot read {path.name}: {exc}") from exc


def load_indexes(path: Path, routing: RoutingEngine) -> tuple[str, dict[IndexKey, StationIndex]]:
    """Read :func:`save_indexes` output, the forests memory-mapped read-only; returns
    ``(fingerprint, indexes)``."""
    try:
        arrays = map_npz(path)
        fingerprint = str(arrays.pop("fingerprint"))
        groups: dict[IndexKey, dict[str, npt.NDArray[np.generic]]] = {}
        for key, arr in arrays.items():
            mode, kind, name = key.split("|", 2)
            groups.setdefault((mode, kind), {})[name] = arr
        out = {key: StationIndex.from_arrays(routing, group) for key, group in groups.items()}
    except ArtifactError:
        raise
    except UNREADABLE as exc:
        raise ArtifactError(f"cannot read {path.name}: {exc}") from exc
    return fingerprint, out


# ---------------------------------------------------------------------- circles
def compute_circles(
    engine: IsochroneEngine,
    stations: Sequence[Station],
    *,
    mode: str,
    max_snap_m: float,
    buffer_m: float,
    minutes: Sequence[float],
) -> dict[str, list[Contour]]:
    """Every station's service circles for one mode (direction "to")."""
    snaps = snap_stations(engine.net, stations, mode=mode, max_snap_m=max_snap_m)
    places = {st.id: s for st, s in zip(stations, snaps, strict=True) if s is not None}
    return precompute_station_isochrones(
        engine, places, mode=mode, minutes=minutes, buffer_m=buffer_m
    )


def save_circles(path: Path, circles: Mapping[str, Sequence[Contour]]) -> None:
    """Write precomputed circles to an ``.npz`` file (one row per contour, WKB).

    Coordinates are stored as computed (already on the output grid; nesting exact), so a
    loaded contour is the very polygon the live engine returns.
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
            blobs.append(shapely.to_wkb(contour.polygon))
    offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
    np.cumsum([len(b) for b in blobs], out=offsets[1:])
    wkb = np.frombuffer(b"".join(blobs), dtype=np.uint8) if blobs else np.zeros(0, np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(
        buf,
        format_version=np.array(CIRCLE_FORMAT_VERSION, dtype=np.int64),
        station_id=np.array(ids, dtype=str),
        minutes=np.array(minutes, dtype=np.float64),
        area_km2=np.array(area, dtype=np.float64),
        reached_length_m=np.array(length, dtype=np.float64),
        wkb_offsets=offsets,
        wkb=wkb,
    )
    path.write_bytes(buf.getvalue())


def load_circles(path: Path) -> dict[str, list[Contour]]:
    """Read circles written by :func:`save_circles`.

    Raises
    ------
    ArtifactError
        Unreadable file or another format version.
    """
    try:
        arrays = read_npz(path)
        version = int(np.asarray(arrays["format_version"]))
    except UNREADABLE as exc:
        raise ArtifactError(f"cannot read {path.name}: {exc}") from exc
    if version != CIRCLE_FORMAT_VERSION:
        raise ArtifactError(
            f"{path.name} has circle format {version}; this version reads "
            f"{CIRCLE_FORMAT_VERSION}: rebuild the artifact"
        )
    offsets = np.asarray(arrays["wkb_offsets"], dtype=np.int64)
    raw = np.asarray(arrays["wkb"], dtype=np.uint8).tobytes()
    blobs = [raw[offsets[i] : offsets[i + 1]] for i in range(offsets.shape[0] - 1)]
    geoms = shapely.from_wkb(np.array(blobs, dtype=object)) if blobs else []
    ids = np.asarray(arrays["station_id"])
    mins = np.asarray(arrays["minutes"], dtype=np.float64)
    area = np.asarray(arrays["area_km2"], dtype=np.float64)
    length = np.asarray(arrays["reached_length_m"], dtype=np.float64)
    out: dict[str, list[Contour]] = {}
    for i, geom in enumerate(geoms):
        out.setdefault(str(ids[i]), []).append(
            Contour(float(mins[i]), geom, float(area[i]), float(length[i]))
        )
    return {sid: sorted(cs, key=lambda c: c.minutes) for sid, cs in out.items()}
