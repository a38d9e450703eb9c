"""Snapping query points to the nearest road edge.

A :class:`SnapIndex` is built once per graph from the shared
:class:`~locator.network.geometry.EdgeGeometry`: the straight segments of every canonical
edge (each road once) go into a uniform grid per mode (:class:`SegmentGrid`), and a query
returns a :class:`Snap` on the nearest *segment*, with the position along the edge as a
fraction of its length. Only segments of edges the mode may use in at least one direction
are searched. A query is a few array slices and one vectorised exact projection, no
shapely object, so request threads share the index without any native state.

Distances (``max_snap_m``, ``Snap.distance_m``) are measured in the projected CRS.
"""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass
from typing import Literal, overload

import numpy as np
import numpy.typing as npt

from locator.arguments import check_lonlat, check_positive
from locator.errors import InvalidParameterError, LocatorError, OutsideServiceAreaError, SnapError
from locator.network.geometry import EdgeGeometry, element_view
from locator.network.kernels import jit, jit_inline, readonly
from locator.network.projection import METRES_PER_DEGREE

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Distances within this many metres count as a tie (then the lowest segment id wins).
#: Far above the rounding error of projected coordinates (~1e-9 m), far below any
#: meaningful distance.
TIE_TOLERANCE_M = 1e-7

#: Slack added to each registered segment piece's box (guards the cell registration
#: against rounding in the piece end points).
_CELL_PAD_M = 1e-3

#: Mean number of segment midpoints per occupied cell the default cell size aims at.
_TARGET_OCCUPANCY = 12.0

#: Upper bound on the number of grid cells of one mode (memory guard).
_MAX_CELLS = 2_000_000

#: Segments registered per step of a grid build (bounds the build's temporary memory).
_CHUNK_SEGMENTS = 32_768


@dataclass(frozen=True)
class Snap:
    """A query point placed on the network.

    Attributes
    ----------
    lon, lat
        The query point (WGS 84).
    edge
        Directed edge (``u -> v``) whose shape passes nearest to the point (a canonical
        edge: the lower id of a twin pair).
    fraction
        Position along that edge from ``u`` (0) to ``v`` (1), by length.
    distance_m
        Straight-line distance from the query point to the road, in metres.
    snapped_lon, snapped_lat
        The point on the road.
    """

    lon: float
    lat: float
    edge: int
    fraction: float
    distance_m: float
    snapped_lon: float
    snapped_lat: float


class SegmentGrid:
    """Uniform-grid index of straight segments for exact nearest-segment queries.

    Every segment is cut into pieces no longer than the cell size; each piece's bounding
    box (padded by 1 mm) registers the segment in the cells it overlaps, so every point
    of a segment lies in a cell holding that segment. Per cell (CSR by cell, rows of
    cells contiguous) the table holds the segment's start ``(ax, ay)``, direction
    ``(dx, dy)``, ``1 / |d|**2`` (0 for a zero-length segment) and its id (exact as a
    float below 2**53). Both arrays are read-only; queries run :func:`_grid_nearest`.

    Parameters
    ----------
    ax, ay, bx, by
        Segment end points (projected metres).
    seg_id
        Id reported for each segment (ties go to the lowest id).
    cell_m
        Cell size in metres; by default twice the median segment length, grown until the
        grid has at most 2 million cells.
    """

    def __init__(
        self,
        ax: FloatArray,
        ay: FloatArray,
        bx: FloatArray,
        by: FloatArray,
        seg_id: IntArray,
        *,
        cell_m: float | None = None,
    ) -> None:
        m = int(seg_id.shape[0])
        dx, dy = bx - ax, by - ay
        length = np.hypot(dx, dy)
        if m == 0:
            self.x0 = self.y0 = 0.0
            self.cell_m = 1.0
            self.nx = self.ny = 1
            self.ptr: IntArray = readonly(np.zeros(2, dtype=np.int64))
            self.table: FloatArray = readonly(np.zeros((0, 6)))
            return
        lo_x = float(min(ax.min(), bx.min())) - _CELL_PAD_M
        lo_y = float(min(ay.min(), by.min())) - _CELL_PAD_M
        hi_x = float(max(ax.max(), bx.max())) + _CELL_PAD_M
        hi_y = float(max(ay.max(), by.max())) + _CELL_PAD_M
        min_cell_m = math.sqrt((hi_x - lo_x) * (hi_y - lo_y) / _MAX_CELLS)
        if cell_m is None:
            cell_m = self._auto_cell_m(
                (ax + bx) / 2.0 - lo_x, (ay + by) / 2.0 - lo_y, max(min_cell_m, 10.0)
            )
        if not (math.isfinite(cell_m) and cell_m > 0):
            raise ValueError(f"cell_m must be a positive number, got {cell_m}")
        cell_m = max(cell_m, min_cell_m)
        self.x0, self.y0, self.cell_m = lo_x, lo_y, cell_m
        self.nx = int((hi_x - lo_x) // cell_m) + 1
        self.ny = int((hi_y - lo_y) // cell_m) + 1
        key = np.unique(
            np.concatenate(
                [
                    self._cell_keys(ax, ay, dx, dy, length, lo, min(lo + _CHUNK_SEGMENTS, m))
                    for lo in range(0, m, _CHUNK_SEGMENTS)
                ]
            )
        )  # sorted by cell, then segment
        cell_of, seg_of = key // m, key % m
        n_cells = self.nx * self.ny
        self.ptr = readonly(
            np.concatenate([[0], np.cumsum(np.bincount(cell_of, minlength=n_cells))]).astype(
                np.int64
            )
        )
        with np.errstate(divide="ignore"):
            inv_len2 = np.where(length > 0, 1.0 / (length * length), 0.0)
        # one row per (cell, segment): start a, direction d, 1/|d|^2, id
        table = np.empty((seg_of.shape[0], 6), dtype=np.float64)
        for col, values in enumerate((ax, ay, dx, dy, inv_len2, seg_id.astype(np.float64))):
            table[:, col] = values[seg_of]
        self.table = readonly(table)

    def _cell_keys(  # noqa: PLR0917 (private; the segment columns of __init__)
        self,
        ax: FloatArray,
        ay: FloatArray,
        dx: FloatArray,
        dy: FloatArray,
        length: FloatArray,
        lo: int,
        hi: int,
    ) -> IntArray:
        """``cell * m + segment`` for segments ``lo:hi``, each cut into pieces of at most
        one cell length whose padded boxes register it in the cells they overlap (in
        chunks, so the build's temporary arrays stay a few MB whatever the network)."""
        m = int(ax.shape[0])
        n_pieces = np.maximum(np.ceil(length[lo:hi] / self.cell_m), 1.0).astype(np.int64)
        piece_seg = np.repeat(np.arange(lo, hi, dtype=np.int64), n_pieces)
        first = np.cumsum(n_pieces) - n_pieces
        k = (np.arange(piece_seg.shape[0]) - first[piece_seg - lo]).astype(float)
        n_of = n_pieces[piece_seg - lo].astype(float)
        t0, t1 = k / n_of, (k + 1.0) / n_of
        sx, sy, sdx, sdy = ax[piece_seg], ay[piece_seg], dx[piece_seg], dy[piece_seg]
        x_a, x_b = sx + t0 * sdx, sx + t1 * sdx
        y_a, y_b = sy + t0 * sdy, sy + t1 * sdy
        ix0 = self._index(np.minimum(x_a, x_b) - _CELL_PAD_M, self.x0, self.nx)
        ix1 = self._index(np.maximum(x_a, x_b) + _CELL_PAD_M, self.x0, self.nx)
        iy0 = self._index(np.minimum(y_a, y_b) - _CELL_PAD_M, self.y0, self.ny)
        iy1 = self._index(np.maximum(y_a, y_b) + _CELL_PAD_M, self.y0, self.ny)
        w = ix1 - ix0 + 1
        count = w * (iy1 - iy0 + 1)
        rep = np.repeat(np.arange(count.shape[0], dtype=np.int64), count)
        local = np.arange(rep.shape[0], dtype=np.int64) - (np.cumsum(count) - count)[rep]
        cell = (iy0[rep] + local // w[rep]) * self.nx + ix0[rep] + local % w[rep]
        return np.unique(cell * m + piece_seg[rep])

    @staticmethod
    def _auto_cell_m(mx: FloatArray, my: FloatArray, start_m: float) -> float:
        """Default cell size (see the class docstring); ``mx, my`` >= 0 are midpoints."""
        cell_m = start_m
        while cell_m < 1e6:
            nxt = 2.0 * cell_m
            keys = np.floor(mx / nxt).astype(np.int64) * (1 << 31) + np.floor(my / nxt).astype(
                np.int64
            )
            if mx.shape[0] / np.unique(keys).shape[0] > _TARGET_OCCUPANCY:
                break
            cell_m = nxt
        return cell_m

    def _index(self, v: FloatArray, lo: float, n: int) -> IntArray:
        """Cell index along one axis of coordinates ``v`` (clipped to the grid)."""
        return np.clip(np.floor((v - lo) / self.cell_m), 0, n - 1).astype(np.int64)

    def nearest(self, px: float, py: float, max_m: float) -> tuple[int, float]:
        """``(segment id, distance)`` of the nearest segment within ``max_m``.

        Returns ``(-1, inf)`` when no segment lies within ``max_m`` metres. Ties within
        :data:`TIE_TOLERANCE_M` go to the lowest id. The scan is :func:`_grid_nearest`, a
        compiled loop (see there for why the answer is exact).
        """
        seg, dist, _t = self.locate(px, py, max_m)
        return seg, dist

    def locate(self, px: float, py: float, max_m: float) -> tuple[int, float, float]:
        """:meth:`nearest` plus the position ``t`` (0..1) of the nearest point along the
        segment (0 when there is none)."""
        seg, dist, t = _grid_nearest(
            self.ptr, self.table, self.x0, self.y0, self.cell_m, self.nx, self.ny, px, py, max_m
        )
        return int(seg), float(dist), float(t)


@jit_inline
def _segment_distance(table: FloatArray, k: int, px: float, py: float) -> tuple[float, float]:
    """Distance from ``(px, py)`` to table row ``k``'s segment, and the position ``t``
    (0..1) of the nearest point on it."""
    wx = px - table[k, 0]
    wy = py - table[k, 1]
    dx = table[k, 2]
    dy = table[k, 3]
    t = min(max((wx * dx + wy * dy) * table[k, 4], 0.0), 1.0)
    return math.hypot(wx - t * dx, wy - t * dy), t


@jit
def _grid_nearest(  # noqa: PLR0917 (a compiled kernel: plain arguments only)
    ptr: IntArray,
    table: FloatArray,
    x0: float,
    y0: float,
    cell: float,
    nx: int,
    ny: int,
    px: float,
    py: float,
    max_m: float,
) -> tuple[int, float, float]:
    """Nearest segment of a :class:`SegmentGrid` to ``(px, py)`` within ``max_m``:
    ``(segment id, distance, position t along the segment)``, ``(-1, inf, 0)`` if none.

    ``table`` rows are ``(ax, ay, dx, dy, 1/|d|^2, id)`` in cell order, ``ptr`` the CSR
    offsets of the cells. Exactness: the scan covers the block of cells within ``r`` rings
    of the point's cell (``r = 1`` first). A segment with no entry in the block has no
    point in the block's rectangle (every point of a segment lies in a cell that lists
    it), so it is at least ``LB`` away, the distance from the point to the block's inner
    boundary (sides on the grid's edge do not count: no cell lies beyond them). The block
    grows until ``LB`` exceeds the best distance (or ``max_m``) plus the tie tolerance, so
    no segment outside it can be nearer or tied; within it the lowest id among the
    distances within the tolerance of the best wins. Reads only its arguments: safe from
    any number of threads (nogil).
    """
    fx = (px - x0) / cell
    fy = (py - y0) / cell
    i = 0 if fx < 0.0 else min(int(fx), nx - 1)
    j = 0 if fy < 0.0 else min(int(fy), ny - 1)
    r = 1
    while True:
        i0 = max(i - r, 0)
        i1 = min(i + r, nx - 1)
        j0 = max(j - r, 0)
        j1 = min(j + r, ny - 1)
        # pass 1: the best distance; pass 2: the lowest id within the tolerance of it
        best_d = np.inf
        for row in range(j0, j1 + 1):
            for k in range(ptr[row * nx + i0], ptr[row * nx + i1 + 1]):
                best_d = min(best_d, _segment_distance(table, k, px, py)[0])
        best_seg, best_t = -1, 0.0
        if best_d < np.inf:
            for row in range(j0, j1 + 1):
                for k in range(ptr[row * nx + i0], ptr[row * nx + i1 + 1]):
                    d, t = _segment_distance(table, k, px, py)
                    seg = int(table[k, 5])
                    if d <= best_d + TIE_TOLERANCE_M and (best_seg < 0 or seg < best_seg):
                        best_seg, best_t = seg, t
        lb = np.inf
        if i0 > 0:
            lb = px - (x0 + i0 * cell)
        if i1 < nx - 1:
            lb = min(lb, x0 + (i1 + 1) * cell - px)
        if j0 > 0:
            lb = min(lb, py - (y0 + j0 * cell))
        if j1 < ny - 1:
            lb = min(lb, y0 + (j1 + 1) * cell - py)
        target = (best_d if best_d < max_m else max_m) + TIE_TOLERANCE_M + _CELL_PAD_M
        if lb > target:
            break
        # grown past the grid's size the block covers it all (and LB is inf)
        grow = target // cell + 1.0
        r = max(nx, ny) if grow >= max(nx, ny) else max(r + 1, int(grow))
    if best_d > max_m:
        return -1, np.inf, 0.0
    return best_seg, best_d, best_t


class SnapIndex:
    """Nearest-edge index of one graph (read-only; built once per artifact).

    Parameters
    ----------
    geometry
        The shared edge geometry of the graph.

    The grid of a mode is built on its first query (or by :meth:`build_all` in the
    warm-up) and published whole under a lock, so concurrent first queries never see a
    half-built grid.
    """

    def __init__(self, geometry: EdgeGeometry) -> None:
        self.geometry = geometry
        self.graph = graph = geometry.graph
        self.projector = geometry.projector
        self._seg_start, self._seg_edge = geometry.canonical_segments()
        # element views: the per-query scalar reads of snap() (no numpy scalar objects)
        self._seg_start_l = element_view(self._seg_start)
        self._seg_edge_l = element_view(self._seg_edge)
        self._x_l = element_view(geometry.x)
        self._y_l = element_view(geometry.y)
        self._vf_l = element_view(geometry.vertex_fraction)
        self._grids: dict[str | None, SegmentGrid] = {}
        self._build_lock = threading.Lock()
        # the service area: bbox of every edge shape (shapes may bulge beyond the nodes)
        if graph.geom_lon.size:
            lo_lon, hi_lon = float(graph.geom_lon.min()), float(graph.geom_lon.max())
            lo_lat, hi_lat = float(graph.geom_lat.min()), float(graph.geom_lat.max())
        else:
            lo_lon = lo_lat = hi_lon = hi_lat = 0.0
        self._bbox = (lo_lon, lo_lat, hi_lon, hi_lat)
        self._max_abs_lat = max(abs(lo_lat), abs(hi_lat))

    # ------------------------------------------------------------------ grids
    def _mode_segments(self, mode: str | None) -> IntArray:
        """Ids (ascending) of the segments usable by ``mode`` (all if None)."""
        if mode is None:
            return np.arange(self._seg_start.shape[0], dtype=np.int64)
        allowed = self.graph.edge_allowed.get(mode)
        if allowed is None:
            raise InvalidParameterError(
                f"mode {mode!r} is not available on this network", parameter="mode", mode=mode
            )
        e = self._seg_edge
        tw = self.geometry.twins[e]
        usable = allowed[e] | ((tw >= 0) & allowed[np.maximum(tw, 0)])
        return np.nonzero(usable)[0].astype(np.int64)

    def grid(self, mode: str | None) -> SegmentGrid:
        """The grid of segments usable by ``mode`` (built on first use, published whole)."""
        grid = self._grids.get(mode)
        if grid is not None:
            return grid
        with self._build_lock:
            grid = self._grids.get(mode)
            if grid is None:
                segs = self._mode_segments(mode)
                a = self._seg_start[segs]
                gx, gy = self.geometry.x, self.geometry.y
                grid = SegmentGrid(gx[a], gy[a], gx[a + 1], gy[a + 1], segs)
                self._grids[mode] = grid
                log.debug(
                    "snap grid for mode %s: %d segments, %d x %d cells of %.0f m",
                    mode,
                    segs.size,
                    grid.nx,
                    grid.ny,
                    grid.cell_m,
                )
        return grid

    def build_all(self) -> None:
        """Build the grid of every mode now and compile its scan (the server's warm-up)."""
        for mode in self.graph.modes:
            grid = self.grid(mode)
            grid.locate(grid.x0, grid.y0, 1.0)

    # ------------------------------------------------------------------ checks
    def _check_area(self, lon: float, lat: float, max_snap_m: float) -> None:
        lo_lon, lo_lat, hi_lon, hi_lat = self._bbox
        margin_lat = max_snap_m / METRES_PER_DEGREE
        cos_lat = max(math.cos(math.radians(min(self._max_abs_lat + margin_lat, 89.0))), 1e-6)
        margin_lon = max_snap_m / (METRES_PER_DEGREE * cos_lat)
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
            Not numbers, NaN, infinite or out-of-range coordinates.
        OutsideServiceAreaError
            The point lies outside the network's area (bbox grown by ``max_snap_m``).
        SnapError
            No usable road within ``max_snap_m`` metres.
        """
        lon, lat = check_lonlat(lon, lat)
        max_snap_m = check_positive(max_snap_m, "max_snap_m")
        self._check_area(lon, lat, max_snap_m)
        px, py = self.projector.forward_one(lon, lat)
        seg, dist, t = self.grid(mode).locate(px, py, max_snap_m)
        if seg < 0:
            raise SnapError(
                f"no road within {max_snap_m:g} m of ({lon:.6f}, {lat:.6f})"
                + (f" usable by {mode}" if mode else ""),
                lon=lon,
                lat=lat,
                max_snap_m=max_snap_m,
            )
        a = self._seg_start_l[seg]
        x, y, vf = self._x_l, self._y_l, self._vf_l
        sx = x[a] + t * (x[a + 1] - x[a])
        sy = y[a] + t * (y[a + 1] - y[a])
        fraction = min(1.0, max(0.0, vf[a] + t * (vf[a + 1] - vf[a])))
        slon, slat = self.projector.inverse_one(sx, sy)
        return Snap(lon, lat, self._seg_edge_l[seg], fraction, dist, slon, slat)

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
        """:meth:`snap` for many points (``lons``/``lats`` of equal length), in order.

        ``on_error="raise"`` raises the first point's error (same errors as :meth:`snap`);
        ``on_error="return"`` puts the error object in that point's place instead.
        """
        lon = np.atleast_1d(np.asarray(lons, dtype=object)).reshape(-1)
        lat = np.atleast_1d(np.asarray(lats, dtype=object)).reshape(-1)
        if lon.shape != lat.shape:
            raise InvalidParameterError("lons and lats must have the same length", parameter="lats")
        out: list[Snap | LocatorError] = []
        for lon_i, lat_i in zip(lon.tolist(), lat.tolist(), strict=True):
            try:
                out.append(self.snap(lon_i, lat_i, max_snap_m=max_snap_m, mode=mode))
            except LocatorError as exc:
                if on_error == "raise":
                    raise
                out.append(exc)
        return out
