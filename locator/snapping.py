"""Snapping query points to the nearest road edge.

A :class:`SnapIndex` is built once per graph: every edge polyline is projected to the
artifact's metric CRS once, one of each edge/twin pair is kept (the *canonical* edge, the
lower id), its segments go into a shapely ``STRtree`` (one tree per mode, built lazily,
holding only edges the mode may use in at least one direction), and a query returns a
:class:`~locator.search.Snap` on the nearest *segment*, with the position along the edge
as a fraction of its length.

Distances (``max_snap_m``, ``Snap.distance_m``) are measured in the projected CRS.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import numpy.typing as npt
import shapely
from pyproj import Transformer

from locator.errors import (
    InvalidCoordinateError,
    LocatorError,
    OutsideServiceAreaError,
    SnapError,
)
from locator.graph import RoadGraph
from locator.projection import Projector
from locator.search import Snap, edge_twins

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Metres per degree of latitude (used only for the coarse service-area test).
_M_PER_DEG = 111_320.0


@dataclass(frozen=True)
class EdgeGeometry:
    """Projected edge polylines and per-vertex position along their edge.

    Attributes
    ----------
    x, y
        Projected coordinates (metres) of every polyline vertex (parallel to
        ``graph.geom_lon``/``geom_lat``).
    vertex_fraction
        For every vertex, its position along its own edge from 0 (tail) to 1 (head), by
        projected length.
    edge_of_vertex
        The edge each vertex belongs to.
    projected_length_m
        Projected length of each edge polyline.
    """

    x: FloatArray
    y: FloatArray
    vertex_fraction: FloatArray
    edge_of_vertex: IntArray
    projected_length_m: FloatArray

    @classmethod
    def build(cls, graph: RoadGraph, projector: Projector | None = None) -> EdgeGeometry:
        """Project every polyline once and measure it."""
        projector = projector or Projector(graph.crs)
        x, y = projector.forward(graph.geom_lon, graph.geom_lat)
        x = np.asarray(x, dtype=float).reshape(-1)
        y = np.asarray(y, dtype=float).reshape(-1)
        offsets = graph.geom_offsets.astype(np.int64)
        counts = np.diff(offsets)
        edge_of_vertex = np.repeat(np.arange(graph.n_edges, dtype=np.int64), counts)
        seg = np.hypot(np.diff(x), np.diff(y)) if x.size else np.zeros(0)
        # zero out the "segments" that jump from one edge's last vertex to the next edge
        same_edge = edge_of_vertex[1:] == edge_of_vertex[:-1] if x.size else np.zeros(0, bool)
        seg = np.where(same_edge, seg, 0.0)
        cum = np.concatenate([[0.0], np.cumsum(seg)])
        start_cum = cum[offsets[:-1]]
        end_cum = cum[offsets[1:] - 1]
        total = end_cum - start_cum
        along = cum - start_cum[edge_of_vertex]
        tot_v = total[edge_of_vertex]
        frac = np.where(tot_v > 0, along / np.where(tot_v > 0, tot_v, 1.0), 0.0)
        # the last vertex of every edge is exactly 1 (also for zero-length edges)
        frac[offsets[1:] - 1] = 1.0
        return cls(x, y, np.clip(frac, 0.0, 1.0), edge_of_vertex, total)


def canonical_edges(twins: IntArray) -> npt.NDArray[np.bool_]:
    """True for the edge kept of each edge/twin pair (the lower id; edges without twin)."""
    ids = np.arange(twins.shape[0])
    return (twins < 0) | (ids < twins)


def validate_lonlat(lon: float, lat: float) -> None:
    """Raise :class:`InvalidCoordinateError` for NaN, infinite or out-of-range WGS 84."""
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidCoordinateError(
            f"coordinate ({lon}, {lat}) is not a finite number", lon=lon, lat=lat
        )
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InvalidCoordinateError(
            f"coordinate ({lon}, {lat}) is outside the WGS 84 range "
            "(lon -180..180, lat -90..90; order is lon, lat)",
            lon=lon,
            lat=lat,
        )


class SnapIndex:
    """Nearest-edge index of one graph (frozen, built once per artifact).

    Parameters
    ----------
    graph
        The road network.
    projector, geometry, twins
        Optional precomputed helpers for ``graph`` (built here when omitted).
    """

    def __init__(
        self,
        graph: RoadGraph,
        *,
        projector: Projector | None = None,
        geometry: EdgeGeometry | None = None,
        twins: IntArray | None = None,
    ) -> None:
        self.graph = graph
        self.projector = projector or Projector(graph.crs)
        self.geometry = geometry or EdgeGeometry.build(graph, self.projector)
        self.twins = edge_twins(graph) if twins is None else twins
        # scalar fast path (Projector.forward wraps every call in arrays)
        self._fwd = Transformer.from_crs("EPSG:4326", self.projector.crs, always_xy=True)
        self._inv = Transformer.from_crs(self.projector.crs, "EPSG:4326", always_xy=True)
        offsets = graph.geom_offsets.astype(np.int64)
        canon = canonical_edges(self.twins)
        # segment i joins vertex seg_start[i] to seg_start[i] + 1
        is_last = np.zeros(self.geometry.x.shape[0], dtype=bool)
        is_last[offsets[1:] - 1] = True
        seg_start = np.nonzero(~is_last)[0].astype(np.int64)
        seg_edge = self.geometry.edge_of_vertex[seg_start]
        keep = canon[seg_edge]
        self._seg_start = seg_start[keep]
        self._seg_edge = seg_edge[keep]
        self._trees: dict[str | None, tuple[shapely.STRtree, IntArray]] = {}
        # the service area: bbox of every edge shape (shapes may bulge beyond the nodes)
        if graph.geom_lon.size:
            lo_lon, hi_lon = float(graph.geom_lon.min()), float(graph.geom_lon.max())
            lo_lat, hi_lat = float(graph.geom_lat.min()), float(graph.geom_lat.max())
        else:
            lo_lon = lo_lat = hi_lon = hi_lat = 0.0
        self._bbox = (lo_lon, lo_lat, hi_lon, hi_lat)
        self._max_abs_lat = max(abs(lo_lat), abs(hi_lat))

    # ------------------------------------------------------------------ trees
    def _tree(self, mode: str | None) -> tuple[shapely.STRtree, IntArray]:
        """The STRtree of segments usable by ``mode`` and the segment ids it holds."""
        hit = self._trees.get(mode)
        if hit is not None:
            return hit
        if mode is None:
            segs = np.arange(self._seg_start.shape[0], dtype=np.int64)
        else:
            allowed = self.graph.edge_allowed.get(mode)
            if allowed is None:
                raise ValueError(f"mode {mode!r} is not available on this network")
            e = self._seg_edge
            tw = self.twins[e]
            usable = allowed[e] | ((tw >= 0) & allowed[np.maximum(tw, 0)])
            segs = np.nonzero(usable)[0].astype(np.int64)
        a = self._seg_start[segs]
        gx, gy = self.geometry.x, self.geometry.y
        coords = np.stack(
            [np.column_stack((gx[a], gy[a])), np.column_stack((gx[a + 1], gy[a + 1]))], axis=1
        )
        tree = shapely.STRtree(shapely.linestrings(coords))
        self._trees[mode] = (tree, segs)
        log.debug("snap index for mode %s: %d segments", mode, segs.size)
        return tree, segs

    # ------------------------------------------------------------------ checks
    def _check_area(self, lon: float, lat: float, max_snap_m: float) -> None:
        lo_lon, lo_lat, hi_lon, hi_lat = self._bbox
        margin_lat = max_snap_m / _M_PER_DEG
        cos_lat = max(math.cos(math.radians(min(self._max_abs_lat + margin_lat, 89.0))), 1e-6)
        margin_lon = max_snap_m / (_M_PER_DEG * cos_lat)
        if not (
            lo_lon - margin_lon <= lon <= hi_lon + margin_lon
            and lo_lat - margin_lat <= lat <= hi_lat + margin_lat
        ):
            raise OutsideServiceAreaError(
                f"point ({lon:.6f}, {lat:.6f}) is outside the area covered by this network "
                f"(lon {lo_lon:.3f}..{hi_lon:.3f}, lat {lo_lat:.3f}..{hi_lat:.3f})",
                lon=lon,
                lat=lat,
            )

    # ------------------------------------------------------------------ queries
    def snap(self, lon: float, lat: float, *, max_snap_m: float, mode: str | None = None) -> Snap:
        """Place one point on the nearest edge usable by ``mode`` (any edge if None).

        Raises
        ------
        InvalidCoordinateError
            NaN, infinite or out-of-range coordinates.
        OutsideServiceAreaError
            The point lies outside the network's area (bbox grown by ``max_snap_m``).
        SnapError
            No usable road within ``max_snap_m`` metres.
        """
        lon, lat = float(lon), float(lat)
        validate_lonlat(lon, lat)
        if not (math.isfinite(max_snap_m) and max_snap_m > 0):
            raise ValueError(f"max_snap_m must be a positive number, got {max_snap_m}")
        self._check_area(lon, lat, max_snap_m)
        px, py = self._fwd.transform(lon, lat)
        tree, segs = self._tree(mode)
        idx, _dist = tree.query_nearest(
            shapely.Point(px, py), max_distance=max_snap_m, return_distance=True
        )
        if idx.size == 0:
            raise SnapError(
                f"no road within {max_snap_m:g} m of ({lon:.6f}, {lat:.6f})"
                + (f" usable by {mode}" if mode else ""),
                lon=lon,
                lat=lat,
                max_snap_m=max_snap_m,
            )
        # ties: the lowest segment id, so answers do not depend on the tree's order
        seg = int(segs[int(idx.min())])
        edge, fraction, sx, sy, dist = self._project_on(seg, px, py)
        slon, slat = self._inv.transform(sx, sy)
        return Snap(lon, lat, edge, fraction, dist, float(slon), float(slat))

    def _project_on(self, seg: int, px: float, py: float) -> tuple[int, float, float, float, float]:
        a = int(self._seg_start[seg])
        edge = int(self._seg_edge[seg])
        g = self.geometry
        ax, ay, bx, by = float(g.x[a]), float(g.y[a]), float(g.x[a + 1]), float(g.y[a + 1])
        dx, dy = bx - ax, by - ay
        seg_len2 = dx * dx + dy * dy
        t = 0.0
        if seg_len2 > 0:
            t = min(1.0, max(0.0, ((px - ax) * dx + (py - ay) * dy) / seg_len2))
        sx, sy = ax + t * dx, ay + t * dy
        f0, f1 = float(g.vertex_fraction[a]), float(g.vertex_fraction[a + 1])
        fraction = min(1.0, max(0.0, f0 + t * (f1 - f0)))
        return edge, fraction, sx, sy, math.hypot(px - sx, py - sy)

    @overload
    def snap_many(
        self,
        lons: npt.ArrayLike,
        lats: npt.ArrayLike,
        *,
        max_snap_m: float,
        mode: str | None = ...,
        on_error: Literal["raise"] = ...,
    ) -> list[Snap]: ...

    @overload
    def snap_many(
        self,
        lons: npt.ArrayLike,
        lats: npt.ArrayLike,
        *,
        max_snap_m: float,
        mode: str | None = ...,
        on_error: Literal["return"],
    ) -> list[Snap | LocatorError]: ...

    def snap_many(
        self,
        lons: npt.ArrayLike,
        lats: npt.ArrayLike,
        *,
        max_snap_m: float,
        mode: str | None = None,
        on_error: Literal["raise", "return"] = "raise",
    ) -> list[Snap] | list[Snap | LocatorError]:
        """Vectorised :meth:`snap` for many points (one tree query for all of them).

        ``on_error="raise"`` raises the first point's error (same errors as :meth:`snap`);
        ``on_error="return"`` puts the error object in that point's place instead.
        """
        lon = np.atleast_1d(np.asarray(lons, dtype=float)).reshape(-1)
        lat = np.atleast_1d(np.asarray(lats, dtype=float)).reshape(-1)
        if lon.shape != lat.shape:
            raise ValueError("lons and lats must have the same length")
        if not (math.isfinite(max_snap_m) and max_snap_m > 0):
            raise ValueError(f"max_snap_m must be a positive number, got {max_snap_m}")
        n = lon.shape[0]
        out: list[Snap | LocatorError | None] = [None] * n
        ok = np.ones(n, dtype=bool)
        for i in np.nonzero(
            ~(np.isfinite(lon) & np.isfinite(lat))
            | (np.abs(lon) > 180.0)
            | (np.abs(lat) > 90.0)
            | ~self._inside_area(lon, lat, max_snap_m)
        )[0]:
            try:
                validate_lonlat(float(lon[i]), float(lat[i]))
                self._check_area(float(lon[i]), float(lat[i]), max_snap_m)
            except LocatorError as exc:
                out[i] = exc
                ok[i] = False
        good = np.nonzero(ok)[0]
        if good.size:
            px, py = self.projector.forward(lon[good], lat[good])
            tree, segs = self._tree(mode)
            pairs, _ = tree.query_nearest(
                shapely.points(px, py), max_distance=max_snap_m, return_distance=True
            )
            # lowest segment id per point on ties (matches snap())
            best = np.full(good.size, np.iinfo(np.int64).max, dtype=np.int64)
            np.minimum.at(best, pairs[0], pairs[1])
            found = best != np.iinfo(np.int64).max
            seg_of = np.where(found, segs[np.where(found, best, 0)], -1)
            edge, frac, sx, sy, dist = self._project_many(seg_of[found], px[found], py[found])
            slon, slat = self.projector.inverse(sx, sy)
            slon = np.atleast_1d(slon)
            slat = np.atleast_1d(slat)
            for j, i in enumerate(good[found]):
                out[int(i)] = Snap(
                    float(lon[i]),
                    float(lat[i]),
                    int(edge[j]),
                    float(frac[j]),
                    float(dist[j]),
                    float(slon[j]),
                    float(slat[j]),
                )
            for i in good[~found]:
                out[int(i)] = SnapError(
                    f"no road within {max_snap_m:g} m of ({lon[i]:.6f}, {lat[i]:.6f})"
                    + (f" usable by {mode}" if mode else ""),
                    lon=float(lon[i]),
                    lat=float(lat[i]),
                    max_snap_m=max_snap_m,
                )
        if on_error == "raise":
            for item in out:
                if isinstance(item, LocatorError):
                    raise item
            return [s for s in out if isinstance(s, Snap)]
        return [s for s in out if s is not None]

    def _inside_area(
        self, lon: FloatArray, lat: FloatArray, max_snap_m: float
    ) -> npt.NDArray[np.bool_]:
        lo_lon, lo_lat, hi_lon, hi_lat = self._bbox
        margin_lat = max_snap_m / _M_PER_DEG
        cos_lat = max(math.cos(math.radians(min(self._max_abs_lat + margin_lat, 89.0))), 1e-6)
        margin_lon = max_snap_m / (_M_PER_DEG * cos_lat)
        with np.errstate(invalid="ignore"):
            return np.asarray(
                (lon >= lo_lon - margin_lon)
                & (lon <= hi_lon + margin_lon)
                & (lat >= lo_lat - margin_lat)
                & (lat <= hi_lat + margin_lat)
            )

    def _project_many(
        self, seg: IntArray, px: FloatArray, py: FloatArray
    ) -> tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        a = self._seg_start[seg]
        edge = self._seg_edge[seg]
        g = self.geometry
        ax, ay, bx, by = g.x[a], g.y[a], g.x[a + 1], g.y[a + 1]
        dx, dy = bx - ax, by - ay
        seg_len2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(seg_len2 > 0, ((px - ax) * dx + (py - ay) * dy) / seg_len2, 0.0)
        t = np.clip(t, 0.0, 1.0)
        sx, sy = ax + t * dx, ay + t * dy
        f0, f1 = g.vertex_fraction[a], g.vertex_fraction[a + 1]
        frac = np.clip(f0 + t * (f1 - f0), 0.0, 1.0)
        return edge, frac, sx, sy, np.hypot(px - sx, py - sy)


def snap_points(
    index: SnapIndex,
    points: Sequence[tuple[float, float]],
    *,
    max_snap_m: float,
    mode: str | None = None,
) -> list[Snap]:
    """Snap a sequence of ``(lon, lat)`` pairs (raises on the first bad point)."""
    if not points:
        return []
    arr = np.asarray(points, dtype=float)
    return index.snap_many(arr[:, 0], arr[:, 1], max_snap_m=max_snap_m, mode=mode)
