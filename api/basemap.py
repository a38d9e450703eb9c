"""Offline base map layers made from the loaded artifact.

The widget draws no external tiles: its base map is the artifact's own road network and
administrative outlines, served as GeoJSON, with one overlay of every station's service
circles (one request instead of one per station). The layers are derived once per loaded
:class:`~locator.service.Locator` (first request) and kept as serialised bytes, plain and
gzip-compressed, so a request costs a dictionary lookup (plus a bounding-box query for
roads; circles are re-derived when a station is added, moved or removed).

The road layer's STR-tree (for bounding-box requests) is a native GEOS object shared by
request threads, so it is only queried under the layer's lock.

Roads: the directed edges are folded into undirected segments, merged into long lines,
simplified (Douglas-Peucker, ``ROAD_TOLERANCE_DEG``) and rounded to ``BASEMAP_DECIMALS``
decimals (about 10 m). Regions: league and banner outlines simplified with
``REGION_TOLERANCE_DEG``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import shapely
from shapely.geometry import mapping

from locator import AdminUnit, AdminUnits, Locator
from locator.stations import StationKind

log = logging.getLogger(__name__)

ROAD_TOLERANCE_DEG = 0.002
"""Simplification tolerance of road lines (degrees, about 150-220 m in the region)."""
REGION_TOLERANCE_DEG = 0.005
"""Simplification tolerance of league and banner outlines (degrees, about 0.5 km)."""
BASEMAP_DECIMALS = 4
"""Decimals kept in served road and outline coordinates (1e-4 degree is about 10 m)."""

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


def _round_geometry(geom: shapely.Geometry, decimals: int = BASEMAP_DECIMALS) -> dict[str, Any]:
    """GeoJSON geometry dict with coordinates rounded to ``decimals``."""
    rounded = shapely.set_precision(geom, 10.0**-decimals, mode="pointwise")
    return dict(mapping(rounded))


class RoadLayer:
    """Road lines of one graph, grouped in grid cells, with a cached full body.

    Lines are grouped by the ``cell_deg`` grid cell of their midpoint into one
    MultiLineString feature per cell (per-feature overhead would otherwise dominate: the
    regional network has few degree-2 nodes to merge through). A bounding-box request
    returns the cells whose lines intersect it.
    """

    def __init__(
        self, loc: Locator, tolerance_deg: float = ROAD_TOLERANCE_DEG, cell_deg: float = 1.0
    ) -> None:
        lines = np.array(loc.road_lines(tolerance_deg), dtype=object)
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
        self._tree_lock = threading.Lock()
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
        with self._tree_lock:
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
        label = shapely.point_on_surface(unit.geometry)
        features.append(
            {
                "type": "Feature",
                "id": unit.code,
                "geometry": _round_geometry(geom),
                "properties": {
                    **unit.properties(),
                    # where a map label (or a search hit) goes: a point inside the unit
                    "label": [round(label.x, BASEMAP_DECIMALS), round(label.y, BASEMAP_DECIMALS)],
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


def circle_collection(
    loc: Locator,
    *,
    minutes: Sequence[float],
    mode: str,
    kind: StationKind | None = None,
) -> dict[str, Any]:
    """The service circles of every station (of one kind) as one FeatureCollection,
    largest first per station (coordinates as the engine nested them)."""
    features = []
    pairs = loc.station_circles(minutes=minutes, mode=mode, kind=kind)
    for st, c in sorted(pairs, key=lambda p: (p[0].id, -p[1].minutes)):
        if c.polygon.is_empty:
            continue
        features.append(
            {
                "type": "Feature",
                "geometry": dict(mapping(c.polygon)),
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
                self._roads = RoadLayer(self._loc)
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
        key = (
            self._loc.stations_version,
            used_mode,
            tuple(sorted(set(minutes))),
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
    "BASEMAP_DECIMALS",
    "REGION_TOLERANCE_DEG",
    "ROAD_TOLERANCE_DEG",
    "Basemap",
    "GeoJSONBody",
    "RoadLayer",
    "circle_collection",
    "region_collection",
]
