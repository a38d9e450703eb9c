"""Compact road graph: the arrays every query runs on.

A :class:`RoadGraph` is a directed graph stored as flat numpy arrays (one entry per
directed edge), written by ``geodata`` at build time and loaded here. Travel is allowed
per mode by a boolean mask and costs ``edge_time_s[mode]`` seconds. Edge shapes are kept as
polylines in WGS 84 (``geom_offsets`` into ``geom_lon``/``geom_lat``; every polyline
includes both end nodes).

File layout inside an artifact directory::

    graph.npz         numeric arrays (see ``ARRAY_FIELDS``), uncompressed and aligned
    graph_meta.json   modes, CRS, highway classes, street names, network kind

The arrays are memory-mapped, not read (:func:`save_npz`, :func:`map_npz`): a loaded
graph's arrays are read-only views of the file's pages, which the page cache shares
between every process that serves the same artifact (workers, replicas on one host).
"""

from __future__ import annotations

import json
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from locator.errors import UNREADABLE, ArtifactError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
BoolArray = npt.NDArray[np.bool_]

GRAPH_FORMAT_VERSION = 3  # 3: graph.npz members aligned for mapping (save_npz)
MODES = ("truck", "car", "walk")

ARRAY_FIELDS = (
    "node_lon",
    "node_lat",
    "node_x",
    "node_y",
    "edge_u",
    "edge_v",
    "edge_length_m",
    "edge_highway",
    "edge_name",
    "edge_oneway",
    "geom_offsets",
    "geom_lon",
    "geom_lat",
)


def read_npz(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every array of an ``.npz`` file, read at once, the file closed however reading
    ends (``np.load(path)`` leaves its file open when the zip is damaged)."""
    with path.open("rb") as f, np.load(f, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


#: Where a mapped member's bytes start: npy headers pad the array data to 64 bytes, so a
#: member whose ``.npy`` starts on 64 has its array aligned for every dtype.
NPZ_ALIGN = 64
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")  # zip local file header (30 bytes)
_ZIP64_EXTRA = 20  # zipfile's zip64 field in a local header written with force_zip64
_PAD_ID = 0xD935  # the extra-field id zipalign pads with (readers skip unknown ids)


def save_npz(path: Path, arrays: Mapping[str, npt.NDArray[Any]]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` that :func:`map_npz` maps in place.

    Like :func:`numpy.savez`, but each member's ``.npy`` starts on a multiple of
    :data:`NPZ_ALIGN` bytes (padding in the local header's extra field, as Android's
    zipalign does), so the array data inside is aligned. Any zip or npz reader reads
    the file as usual.
    """
    with path.open("wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            fixed = _LOCAL_HEADER.size + len(info.filename.encode("utf-8")) + _ZIP64_EXTRA + 4
            pad = -(f.tell() + fixed) % NPZ_ALIGN
            info.extra = struct.pack("<HH", _PAD_ID, pad) + bytes(pad)
            with zf.open(info, "w", force_zip64=True) as out:
                if f.tell() % NPZ_ALIGN:  # pragma: no cover - zipfile changed its header
                    raise RuntimeError(f"{path}: member {name} is not aligned")
                np.lib.format.write_array(out, np.asanyarray(arr), allow_pickle=False)


def map_npz(path: Path) -> dict[str, npt.NDArray[Any]]:
    """Every array of an ``.npz`` file: members stored uncompressed and aligned (as
    :func:`save_npz` writes them) are read-only views of one memory map of the file;
    any other member (compressed, misaligned, empty) is read into memory, read-only too.
    """
    out: dict[str, npt.NDArray[Any]] = {}
    with path.open("rb") as f, zipfile.ZipFile(f) as zf:
        whole: np.memmap[Any, np.dtype[np.uint8]] | None = None
        for info in zf.infolist():
            name = info.filename.removesuffix(".npy")
            arr = None
            if info.compress_type == zipfile.ZIP_STORED:
                f.seek(info.header_offset)
                head = _LOCAL_HEADER.unpack(f.read(_LOCAL_HEADER.size))
                if head[0] != b"PK\x03\x04":
                    raise zipfile.BadZipFile(f"{path.name}: bad local header of {info.filename}")
                start = info.header_offset + _LOCAL_HEADER.size + head[-2] + head[-1]
                f.seek(start)
                version = np.lib.format.read_magic(f)
                if version in ((1, 0), (2, 0)):
                    read_header = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, fortran, dtype = read_header(f)
                    offset = f.tell()
                    count = int(np.prod(shape, dtype=np.int64))
                    if count and not dtype.hasobject and offset % NPZ_ALIGN == 0:
                        if whole is None:
                            whole = np.memmap(f, dtype=np.uint8, mode="r")
                        flat = whole[offset : offset + count * dtype.itemsize].view(dtype)
                        shaped = flat.reshape(shape, order="F") if fortran else flat.reshape(shape)
                        arr = shaped.view(np.ndarray)
            if arr is None:
                with zf.open(info) as member:
                    arr = np.lib.format.read_array(member, allow_pickle=False)
                arr.flags.writeable = False
            out[name] = arr
    return out


def is_mapped(arr: npt.NDArray[Any]) -> bool:
    """Whether ``arr`` is a view of a memory-mapped file (see :func:`map_npz`)."""
    base: object = arr
    while isinstance(base, np.ndarray):
        if isinstance(base, np.memmap):
            return True
        base = base.base
    return False


@dataclass
class RoadGraph:
    """A directed road network as flat arrays.

    Attributes
    ----------
    node_lon, node_lat
        WGS 84 coordinates of nodes.
    node_x, node_y
        Node coordinates in the artifact's projected CRS (metres), see ``crs``.
    edge_u, edge_v
        Tail and head node of each directed edge.
    edge_length_m
        Length along the edge shape in metres.
    edge_highway
        Index into ``highway_classes`` (-1 when unknown).
    edge_name
        Index into ``names`` (-1 when unnamed).
    edge_oneway
        True when the edge has no reverse twin for motor traffic.
    edge_allowed
        Per mode, whether the mode may travel the edge in its direction.
    edge_time_s
        Per mode, traversal time in seconds (meaningful only where allowed).
    geom_offsets, geom_lon, geom_lat
        Edge polylines: edge ``i`` runs through points ``geom_offsets[i]:geom_offsets[i+1]``.
    max_segment_m
        The build's densification rule: no straight polyline segment is longer than this
        along the geodesic (``None``: polylines as the source drew them). Straight means
        a different line in lon/lat, in the projected CRS and on the ellipsoid; short
        segments make the three agree to millimetres, so snapping, drawing and lengths
        agree (see ``geodata.densify``).
    """

    node_lon: FloatArray
    node_lat: FloatArray
    node_x: FloatArray
    node_y: FloatArray
    edge_u: Int32Array
    edge_v: Int32Array
    edge_length_m: FloatArray
    edge_highway: Int32Array
    edge_name: Int32Array
    edge_oneway: BoolArray
    geom_offsets: IntArray
    geom_lon: FloatArray
    geom_lat: FloatArray
    edge_allowed: dict[str, BoolArray]
    edge_time_s: dict[str, FloatArray]
    crs: str
    network_kind: str
    highway_classes: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    speeds_kph: dict[str, Any] = field(default_factory=dict)
    max_segment_m: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n_nodes(self) -> int:
        return int(self.node_lon.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_u.shape[0])

    @property
    def modes(self) -> list[str]:
        return [m for m in MODES if m in self.edge_allowed and bool(self.edge_allowed[m].any())]

    def bbox(self) -> tuple[float, float, float, float]:
        """(min_lon, min_lat, max_lon, max_lat) of all nodes."""
        return (
            float(self.node_lon.min()),
            float(self.node_lat.min()),
            float(self.node_lon.max()),
            float(self.node_lat.max()),
        )

    def edge_coords(self, edge: int) -> npt.NDArray[np.float64]:
        """The (lon, lat) polyline of one directed edge, shape (k, 2)."""
        a, b = int(self.geom_offsets[edge]), int(self.geom_offsets[edge + 1])
        return np.column_stack((self.geom_lon[a:b], self.geom_lat[a:b]))

    def validate(self) -> None:
        """Check array shapes and value ranges; raise :class:`ArtifactError`."""
        n, e = self.n_nodes, self.n_edges
        problems: list[str] = []
        for name in ("node_lat", "node_x", "node_y"):
            if getattr(self, name).shape != (n,):
                problems.append(f"{name} has shape {getattr(self, name).shape}, expected ({n},)")
        for name in ("edge_v", "edge_length_m", "edge_highway", "edge_name", "edge_oneway"):
            if getattr(self, name).shape != (e,):
                problems.append(f"{name} has shape {getattr(self, name).shape}, expected ({e},)")
        if self.geom_offsets.shape != (e + 1,):
            problems.append("geom_offsets must have one entry per edge plus one")
        elif e and (
            np.any(np.diff(self.geom_offsets) < 2) or self.geom_offsets[-1] != len(self.geom_lon)
        ):
            problems.append("every edge polyline needs at least two points")
        if e and (
            self.edge_u.min() < 0
            or self.edge_u.max() >= n
            or self.edge_v.min() < 0
            or self.edge_v.max() >= n
        ):
            problems.append("edge endpoints out of range")
        if not (np.all(np.isfinite(self.node_lon)) and np.all(np.isfinite(self.node_lat))):
            problems.append("non-finite node coordinates")
        if (e and not np.all(np.isfinite(self.edge_length_m))) or np.any(self.edge_length_m < 0):
            problems.append("edge lengths must be finite and non-negative")
        for mode, allowed in self.edge_allowed.items():
            if mode not in MODES:
                problems.append(f"unknown mode {mode!r}")
                continue
            t = self.edge_time_s.get(mode)
            if t is None or t.shape != (e,) or allowed.shape != (e,):
                problems.append(f"mode {mode}: arrays missing or mis-shaped")
            elif not np.all(np.isfinite(t[allowed])) or np.any(t[allowed] < 0):
                problems.append(f"mode {mode}: travel times must be finite and non-negative")
        if problems:
            raise ArtifactError("invalid graph: " + "; ".join(problems))

    # ------------------------------------------------------------------ persistence
    def save(self, directory: Path) -> None:
        """Write ``graph.npz`` (aligned for :func:`map_npz`) and ``graph_meta.json``."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, npt.NDArray[Any]] = {name: getattr(self, name) for name in ARRAY_FIELDS}
        for mode in self.edge_allowed:
            arrays[f"allowed_{mode}"] = self.edge_allowed[mode]
            arrays[f"time_s_{mode}"] = self.edge_time_s[mode]
        save_npz(directory / "graph.npz", arrays)
        meta = {
            "format_version": GRAPH_FORMAT_VERSION,
            "crs": self.crs,
            "network_kind": self.network_kind,
            "modes": list(self.edge_allowed),
            "highway_classes": self.highway_classes,
            "names": self.names,
            "speeds_kph": self.speeds_kph,
            "max_segment_m": self.max_segment_m,
            "extra": self.extra,
        }
        (directory / "graph_meta.json").write_text(json.dumps(meta, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, directory: Path) -> RoadGraph:
        """Load a graph saved by :meth:`save`, its arrays memory-mapped read-only; raise
        :class:`ArtifactError` if broken or of another format version."""
        try:
            meta = json.loads((directory / "graph_meta.json").read_text("utf-8"))
            version = meta.get("format_version")
            arrays = map_npz(directory / "graph.npz") if version == GRAPH_FORMAT_VERSION else {}
        except UNREADABLE as exc:
            raise ArtifactError(f"cannot read graph in {directory}: {exc}") from exc
        if version != GRAPH_FORMAT_VERSION:
            raise ArtifactError(
                f"graph format {version} in {directory}; "
                f"this version reads {GRAPH_FORMAT_VERSION}; rebuild the artifact"
            )
        missing = [a for a in ARRAY_FIELDS if a not in arrays]
        modes = list(meta.get("modes", []))
        missing += [
            f"{p}_{m}" for m in modes for p in ("allowed", "time_s") if f"{p}_{m}" not in arrays
        ]
        if missing:
            raise ArtifactError(f"graph in {directory} lacks arrays: {', '.join(missing)}")
        graph = cls(
            **{a: arrays[a] for a in ARRAY_FIELDS},
            edge_allowed={m: arrays[f"allowed_{m}"] for m in modes},
            edge_time_s={m: arrays[f"time_s_{m}"] for m in modes},
            crs=str(meta["crs"]),
            network_kind=str(meta["network_kind"]),
            highway_classes=list(meta.get("highway_classes", [])),
            names=list(meta.get("names", [])),
            speeds_kph=dict(meta.get("speeds_kph", {})),
            max_segment_m=meta.get("max_segment_m"),
            extra=dict(meta.get("extra", {})),
        )
        graph.validate()
        return graph
