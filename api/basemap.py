"""Offline base map layers made from the loaded artifact.

The widget draws no external tiles: its base map is the artifact's own road network and
administrative outlines, served as GeoJSON, with one overlay of every station's service
circles (one request instead of one per station). The layers are derived once per loaded
:class:`~locator.service.Locator` (first request) and kept as serialised bytes, plain and
gzip-compressed, so a request costs a dictionary lookup (plus a bounding-box query for
roads; circles are re-derived when a station is added, moved or removed).

Roads: the directed edges are folded into undirected segments, merged into long lines,
simplified (Douglas-Peucker, ``ROAD_TOLERANCE_DEG``) and rounded to ``COORD_DECIMALS``
decimals (about 10 m). Regions: league and banner outlines simplified with
``REGION_TOLERANCE_DEG``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from shapely.geometry import mapping

from locator.errors import (
    InvalidParameterError,
    OutsideServiceAreaError,
    RequestTooLargeError,
    SnapError,
)
from locator.graph import RoadGraph
from locator.prepared import DEFAULT_MINUTES, stations_fingerprint
from locator.regions import AdminUnit, AdminUnits
from locator.service import Locator
from locator.stations import StationKind

log = logging.getLogger(__name__)

ROAD_TOLERANCE_DEG = 0.002
"""Simplification tolerance of road lines (degrees, about 150-220 m in the region)."""
REGION_TOLERANCE_DEG = 0.005
"""Simplification tolerance of league and banner outlines (degrees, about 0.5 km)."""
COORD_DECIMALS = 4
"""Decimals kept in served road and outline coordinates (1e-4 degree is about 10 m)."""
CIRCLE_DECIMALS = 5
"""Decimals kept in served circle coordinates (about 1 m)."""

RegionLevel = Literal["league", "banner", "all"]


@dataclass(frozen=True)
class GeoJSONBody:
    """A serialised FeatureCollection, plain and gzip-compressed, with its ETag."""

    raw: bytes
    gz: bytes
    etag: str
    features: int

    @classmethod
    def from_collection(cls, collection: dict[str, Any]) -> GeoJSONBody:
        raw = json.dumps(collection, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        digest = hashlib.sha256(raw).hexdigest()[:32]
        return cls(
            raw=raw,
            gz=gzip.compress(raw, compresslevel=6, mtime=0),
            etag=f'"{digest}"',
            features=len(collection.get("features", [])),
        )


def _round_geometry(geom: shapely.Geometry, decimals: int = COORD_DECIMALS) -> dict[str, Any]:
    """GeoJSON geometry dict with coordinates rounded to ``decimals``."""
    rounded = shapely.set_precision(geom, 10.0**-decimals, mode="pointwise")
    return dict(mapping(rounded))


def road_lines(
    graph: RoadGraph, tolerance_deg: float = ROAD_TOLERANCE_DEG
) -> list[shapely.LineString]:
    """The network as merged, simplified undirected lines (WGS 84).

    Parameters
    ----------
    graph
        The artifact's road graph (directed edges with polylines).
    tolerance_deg
        Douglas-Peucker tolerance in degrees; 0 keeps every vertex.

    Returns
    -------
    list of shapely.LineString
        One line per merged chain of roads; each physical road appears once.
    """
    if graph.n_edges == 0:
        return []
    lo = np.minimum(graph.edge_u, graph.edge_v).astype(np.int64)
    hi = np.maximum(graph.edge_u, graph.edge_v).astype(np.int64)
    key = lo * np.int64(graph.n_nodes) + hi
    _, first = np.unique(key, return_index=True)
    keep = np.sort(first)
    keep = keep[graph.edge_u[keep] != graph.edge_v[keep]]
    starts = graph.geom_offsets[keep]
    ends = graph.geom_offsets[keep + 1]
    counts = (ends - starts).astype(np.int64)
    # gather every kept edge's polyline vertices in one go
    idx = np.repeat(starts - np.cumsum(np.concatenate(([0], counts[:-1]))), counts) + np.arange(
        int(counts.sum())
    )
    coords = np.column_stack((graph.geom_lon[idx], graph.geom_lat[idx]))
    line_index = np.repeat(np.arange(keep.size), counts)
    lines = shapely.linestrings(coords, indices=line_index)
    merged = shapely.line_merge(shapely.multilinestrings(lines))
    parts = shapely.get_parts(merged)
    if tolerance_deg > 0:
        parts = shapely.simplify(parts, tolerance_deg, preserve_topology=False)
    return [p for p in parts.tolist() if not p.is_empty and p.length > 0]


class RoadLayer:
    """Road lines of one graph, grouped in grid cells, with a cached full body.

    Lines are grouped by the ``cell_deg`` grid cell of their midpoint into one
    MultiLineString feature per cell (per-feature overhead would otherwise dominate: the
    regional network has few degree-2 nodes to merge through). A bounding-box request
    returns the cells whose lines intersect it.
    """

    def __init__(
        self, graph: RoadGraph, tolerance_deg: float = ROAD_TOLERANCE_DEG, cell_deg: float = 1.0
    ) -> None:
        lines = np.array(road_lines(graph, tolerance_deg), dtype=object)
        self.n_lines = int(lines.size)
        if lines.size:
            mid = shapely.get_coordinates(
                shapely.line_interpolate_point(lines, 0.5, normalized=True)
            )
            cell_x = np.floor(mid[:, 0] / cell_deg).astype(np.int64)
            cell_y = np.floor(mid[:, 1] / cell_deg).astype(np.int64)
            cells, inverse = np.unique(
                np.column_stack((cell_x, cell_y)), axis=0, return_inverse=True
            )
            inverse = inverse.ravel()
        else:
            cells, inverse = np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64)
        geoms = [shapely.multilinestrings(lines[inverse == i]) for i in range(len(cells))]
        self._geoms = np.array(geoms, dtype=object)
        self._tree = shapely.STRtree(self._geoms)
        self._features = [
            {
                "type": "Feature",
                "geometry": _round_geometry(geom),
                "properties": {
                    "cell": [float(cx * cell_deg), float(cy * cell_deg)],
                    "lines": int(np.count_nonzero(inverse == i)),
                },
            }
            for i, (geom, (cx, cy)) in enumerate(zip(geoms, cells, strict=True))
        ]
        self.full = GeoJSONBody.from_collection(self._collection(self._features))
        log.info(
            "basemap roads: %d lines in %d cells, %d bytes (%d gzipped)",
            self.n_lines,
            len(geoms),
            len(self.full.raw),
            len(self.full.gz),
        )

    @staticmethod
    def _collection(features: Sequence[dict[str, Any]]) -> dict[str, Any]:
        return {"type": "FeatureCollection", "features": list(features)}

    def body(self, bbox: tuple[float, float, float, float] | None = None) -> GeoJSONBody:
        """Cells with lines intersecting ``bbox`` (min_lon, min_lat, max_lon, max_lat), or all."""
        if bbox is None:
            return self.full
        hits = np.sort(self._tree.query(shapely.box(*bbox), predicate="intersects"))
        return GeoJSONBody.from_collection(self._collection([self._features[i] for i in hits]))


def region_collection(
    regions: AdminUnits | None,
    level: RegionLevel = "all",
    tolerance_deg: float = REGION_TOLERANCE_DEG,
) -> dict[str, Any]:
    """League and/or banner outlines as a FeatureCollection (empty without admin units)."""
    units: list[AdminUnit] = []
    if regions is not None:
        if level in ("league", "all"):
            units.extend(regions.leagues())
        if level in ("banner", "all"):
            units.extend(regions.banners())
    features = []
    for unit in units:
        geom = shapely.simplify(unit.geometry, tolerance_deg, preserve_topology=True)
        if geom.is_empty:
            continue
        features.append(
            {
                "type": "Feature",
                "id": unit.code,
                "geometry": _round_geometry(geom),
                "properties": unit.properties(),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def check_minutes(loc: Locator, minutes: Sequence[float]) -> list[float]:
    """Sorted unique intervals within the service limits (as the isochrone route checks).

    Raises
    ------
    InvalidParameterError
        No interval given.
    RequestTooLargeError
        Too many intervals, or one outside ``(0, max_minutes]``.
    """
    mins = sorted({float(m) for m in minutes})
    if not mins:
        raise InvalidParameterError("give at least one interval in minutes", parameter="minutes")
    limits = loc.settings
    if len(mins) > limits.max_contours:
        raise RequestTooLargeError(
            f"at most {limits.max_contours} intervals per request", max_contours=limits.max_contours
        )
    if not all(math.isfinite(m) and 0 < m <= limits.max_minutes for m in mins):
        raise RequestTooLargeError(
            f"minutes must be in (0, {limits.max_minutes:g}]", max_minutes=limits.max_minutes
        )
    return mins


def circle_collection(
    loc: Locator,
    *,
    minutes: Sequence[float],
    mode: str,
    kind: StationKind | None = None,
) -> dict[str, Any]:
    """The service circles of every station (of one kind) as one FeatureCollection.

    Uses the circles precomputed at build time when ``minutes`` is a subset of
    ``DEFAULT_MINUTES`` (5, 10, 15), else computes them (and the facade caches nothing
    new). A station without a usable road nearby has no circle and is left out.

    Raises
    ------
    InvalidParameterError, RequestTooLargeError
        Bad or too many intervals (the facade's limits).
    """
    wanted = check_minutes(loc, minutes)
    ask = list(DEFAULT_MINUTES) if set(wanted) <= set(DEFAULT_MINUTES) else wanted
    features = []
    for st in loc.stations():
        if kind is not None and st.kind != kind:
            continue
        try:
            contours = loc.isochrones(station_id=st.id, minutes=ask, mode=mode)
        except (SnapError, OutsideServiceAreaError):
            continue
        for c in sorted(contours, key=lambda c: -c.minutes):
            if c.minutes not in wanted or c.polygon.is_empty:
                continue
            features.append(
                {
                    "type": "Feature",
                    "geometry": _round_geometry(c.polygon, CIRCLE_DECIMALS),
                    "properties": {
                        "station_id": st.id,
                        "kind": st.kind.value,
                        "minutes": c.minutes,
                        "mode": mode,
                        "area_km2": round(c.area_km2, 3),
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


class Basemap:
    """The base layers of one loaded artifact, built lazily and thread-safely."""

    def __init__(self, loc: Locator, max_cached_circles: int = 16) -> None:
        self._loc = loc
        self._lock = threading.Lock()
        self._roads: RoadLayer | None = None
        self._region_bodies: dict[str, GeoJSONBody] = {}
        self._circle_bodies: OrderedDict[tuple[Any, ...], GeoJSONBody] = OrderedDict()
        self._max_cached_circles = max_cached_circles

    @property
    def roads(self) -> RoadLayer:
        with self._lock:
            if self._roads is None:
                self._roads = RoadLayer(self._loc.graph)
            return self._roads

    def regions(self, level: RegionLevel = "all") -> GeoJSONBody:
        with self._lock:
            body = self._region_bodies.get(level)
            if body is None:
                body = GeoJSONBody.from_collection(region_collection(self._loc.regions, level))
                self._region_bodies[level] = body
            return body

    def circles(
        self, *, minutes: Sequence[float], mode: str | None = None, kind: StationKind | None = None
    ) -> GeoJSONBody:
        """Circles of all stations; bodies are cached until a station is added or moved."""
        used_mode = self._loc.check_mode(mode)
        fingerprint = stations_fingerprint(self._loc.stations())
        key = (
            fingerprint,
            used_mode,
            tuple(check_minutes(self._loc, minutes)),
            kind.value if kind else None,
        )
        with self._lock:
            body = self._circle_bodies.get(key)
            if body is not None:
                self._circle_bodies.move_to_end(key)
                return body
        body = GeoJSONBody.from_collection(
            circle_collection(self._loc, minutes=minutes, mode=used_mode, kind=kind)
        )
        with self._lock:
            self._circle_bodies[key] = body
            while len(self._circle_bodies) > self._max_cached_circles:
                self._circle_bodies.popitem(last=False)
        return body


__all__ = [
    "CIRCLE_DECIMALS",
    "COORD_DECIMALS",
    "REGION_TOLERANCE_DEG",
    "ROAD_TOLERANCE_DEG",
    "Basemap",
    "GeoJSONBody",
    "RoadLayer",
    "check_minutes",
    "circle_collection",
    "region_collection",
    "road_lines",
]
