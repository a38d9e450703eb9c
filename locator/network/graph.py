"""Compact road graph: the arrays every query runs on.

A :class:`RoadGraph` is a directed graph stored as flat numpy arrays (one entry per
directed edge), written by ``geodata`` at build time and loaded here. Travel is allowed
per mode by a boolean mask and costs ``edge_time_s[mode]`` seconds. Edge shapes are kept as
polylines in WGS 84 (``geom_offsets`` into ``geom_lon``/``geom_lat``; every polyline
includes both end nodes).

File layout inside an artifact directory::

    graph.npz         numeric arrays (see ``ARRAY_FIELDS``)
    graph_meta.json   modes, CRS, highway classes, street names, network kind
"""

from __future__ import annotations

import json
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

GRAPH_FORMAT_VERSION = 2
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
        """Write ``graph.npz`` and ``graph_meta.json`` into ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, npt.NDArray[Any]] = {name: getattr(self, name) for name in ARRAY_FIELDS}
        for mode in self.edge_allowed:
            arrays[f"allowed_{mode}"] = self.edge_allowed[mode]
            arrays[f"time_s_{mode}"] = self.edge_time_s[mode]
        np.savez(directory / "graph.npz", **arrays)  # type: ignore[arg-type]
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
        """Load a graph saved by :meth:`save`; raise :class:`ArtifactError` if broken."""
        try:
            meta = json.loads((directory / "graph_meta.json").read_text("utf-8"))
            arrays = read_npz(directory / "graph.npz")
        except UNREADABLE as exc:
            raise ArtifactError(f"cannot read graph in {directory}: {exc}") from exc
        if meta.get("format_version") != GRAPH_FORMAT_VERSION:
            raise ArtifactError(
                f"graph format {meta.get('format_version')} in {directory}; "
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
