"""Conversions between WGS 84 and the Chinese web-map datums GCJ-02 and BD-09.

WGS 84 is what GPS receivers and OpenStreetMap use and what this system speaks at its
edges. Maps published in mainland China must use **GCJ-02** (国测局坐标, "Mars
coordinates"): WGS 84 plus a smooth, deliberately obscured offset of a few hundred metres
(Amap/高德, Tencent/腾讯 and Google's China tiles use it). Baidu (百度) adds a second
rotation-and-shift on top of GCJ-02 called **BD-09**.

The forward GCJ-02 formula used here is the one that has been publicly documented (and
independently verified against the official SDK) since about 2010: a polynomial-plus-
sinusoid offset evaluated at ``(lon - 105, lat - 35)`` in metres on the Krasovsky 1940
ellipsoid and converted to degrees. It is implemented from that description, vectorised
over numpy arrays. There is no closed-form inverse; :func:`gcj02_to_wgs84` solves
``wgs84_to_gcj02(w) = g`` by fixed-point iteration (the offset's Jacobian is ~1e-4, so
each step gains about four digits) until every point moves by less than 1e-10 degrees.

Which points are "in China"
---------------------------
The offset applies only to points in mainland China; elsewhere GCJ-02 equals WGS 84.
Every function takes ``inside``:

* ``None`` (default): the conventional rectangle used by the published reference
  implementations, longitude 72.004–137.8347°E and latitude 0.8293–55.8271°N. Note that
  this box also contains **all of Mongolia and a strip of southern Siberia**, which
  matters for a border-port service: a Mongolian point would be shifted as if it were in
  China.
* a boolean (scalar or array broadcastable to the points): the caller decides, e.g. from a
  national outline (``locator.analysis.regions.AdminUnits.in_china``). ``True`` forces the offset
  (used when converting boundary data that is known to lie in China).

The test is made on the coordinate given (for inverse conversions, the GCJ-02/BD-09
coordinate); the two differ by under a kilometre, which only matters right at the border.

BD-09 is applied wherever it is requested: Baidu's second step has no region rule.

All functions accept scalars or arrays in ``(lon, lat)`` order (degrees) and return
floats for scalar input and float64 arrays otherwise.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, overload

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

FloatArray = npt.NDArray[np.float64]
ArrayInput = npt.NDArray[Any] | Sequence[float]
InsideArg = bool | npt.NDArray[np.bool_] | None

#: Krasovsky 1940 semi-major axis (m) and first eccentricity squared, as used by GCJ-02.
_KRASOVSKY_A_M = 6378245.0
_KRASOVSKY_E2 = 0.00669342162296594323

#: The conventional "is this in China" rectangle of the reference implementations.
CHINA_BOX_LON = (72.004, 137.8347)
CHINA_BOX_LAT = (0.8293, 55.8271)

#: BD-09 constants: ``_BD_K`` is pi * 3000 / 180; offsets in degrees.
_BD_K = np.pi * 3000.0 / 180.0
_BD_DLON = 0.0065
_BD_DLAT = 0.006

_INVERSE_TOL_DEG = 1e-10
_INVERSE_MAX_ITER = 30

_Transform = Callable[
    [FloatArray, FloatArray, npt.NDArray[np.bool_]], tuple[FloatArray, FloatArray]
]


def in_china_box(lon: npt.ArrayLike, lat: npt.ArrayLike) -> npt.NDArray[np.bool_]:
    """Whether points lie in the conventional GCJ-02 rectangle (see module docstring).

    Parameters
    ----------
    lon, lat
        Degrees; scalars or arrays.

    Returns
    -------
    numpy.ndarray
        Boolean array (0-d for scalars).
    """
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    return np.asarray(
        (x >= CHINA_BOX_LON[0])
        & (x <= CHINA_BOX_LON[1])
        & (y >= CHINA_BOX_LAT[0])
        & (y <= CHINA_BOX_LAT[1])
    )


def _gcj_offset_deg(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS 84 points."""
    x = lon - 105.0
    y = lat - 35.0
    pi = np.pi
    # terms shared by both components
    common = (20.0 * np.sin(6.0 * pi * x) + 20.0 * np.sin(2.0 * pi * x)) * 2.0 / 3.0
    dlat_m = (
        -100.0
        + 2.0 * x
        + 3.0 * y
        + 0.2 * y * y
        + 0.1 * x * y
        + 0.2 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(pi * y) + 40.0 * np.sin(pi * y / 3.0)) * 2.0 / 3.0
        + (160.0 * np.sin(pi * y / 12.0) + 320.0 * np.sin(pi * y / 30.0)) * 2.0 / 3.0
    )
    dlon_m = (
        300.0
        + x
        + 2.0 * y
        + 0.1 * x * x
        + 0.1 * x * y
        + 0.1 * np.sqrt(np.abs(x))
        + common
        + (20.0 * np.sin(pi * x) + 40.0 * np.sin(pi * x / 3.0)) * 2.0 / 3.0
        + (150.0 * np.sin(pi * x / 12.0) + 300.0 * np.sin(pi * x / 30.0)) * 2.0 / 3.0
    )
    phi = np.radians(lat)
    w = 1.0 - _KRASOVSKY_E2 * np.sin(phi) ** 2
    sqrt_w = np.sqrt(w)
    # meridional radius of curvature M and prime-vertical radius N (metres)
    meridian_m = _KRASOVSKY_A_M * (1.0 - _KRASOVSKY_E2) / (w * sqrt_w)
    prime_m = _KRASOVSKY_A_M / sqrt_w
    dlat = np.degrees(dlat_m / meridian_m)
    dlon = np.degrees(dlon_m / (prime_m * np.cos(phi)))
    return dlon, dlat


def _resolve_inside(inside: InsideArg, lon: FloatArray, lat: FloatArray) -> npt.NDArray[np.bool_]:
    if inside is None:
        return in_china_box(lon, lat)
    mask = np.broadcast_to(np.asarray(inside, dtype=bool), lon.shape)
    return np.asarray(mask)


def _only_inside(
    solve: _Transform,
) -> _Transform:
    """Apply a point-wise offset ``solve`` to the points ``inside`` only: the others keep
    their coordinates, and the formula is never evaluated where it means nothing (near
    the poles its longitude term divides by cos(lat) ~ 0 and overflows)."""

    def run(
        lon: FloatArray, lat: FloatArray, inside: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray]:
        x = np.array(lon, dtype=np.float64)
        y = np.array(lat, dtype=np.float64)
        shape = x.shape
        x, y = x.reshape(-1), y.reshape(-1)
        mask = np.broadcast_to(np.asarray(inside, dtype=bool), shape).reshape(-1)
        if np.any(mask):
            # where the offset means nothing (forced ``inside`` near a pole) the inverse
            # diverges to inf/nan, which callers reject as a coordinate
            with np.errstate(over="ignore", invalid="ignore"):
                a, b = solve(x[mask], y[mask], mask[mask])
            x[mask], y[mask] = a, b
        return x.reshape(shape), y.reshape(shape)

    return run


@_only_inside
def _wgs_to_gcj(
    lon: FloatArray, lat: FloatArray, inside: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    dlon, dlat = _gcj_offset_deg(lon, lat)
    return lon + dlon, lat + dlat


@_only_inside
def _gcj_to_wgs(
    lon: FloatArray, lat: FloatArray, inside: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    # Solve f(w) = w + d(w) = g by w <- w - (f(w) - g), starting from w = g - d(g).
    dlon, dlat = _gcj_offset_deg(lon, lat)
    w_lon = lon - dlon
    w_lat = lat - dlat
    for _ in range(_INVERSE_MAX_ITER):
        dlon, dlat = _gcj_offset_deg(w_lon, w_lat)
        err_lon = w_lon + dlon - lon
        err_lat = w_lat + dlat - lat
        w_lon = w_lon - err_lon
        w_lat = w_lat - err_lat
        worst = max(
            float(np.max(np.abs(err_lon), initial=0.0)), float(np.max(np.abs(err_lat), initial=0.0))
        )
        if not np.isfinite(worst) or worst < _INVERSE_TOL_DEG:
            break
    else:  # pragma: no cover - the iteration contracts by ~1e-4 per step
        log.warning("gcj02_to_wgs84 did not converge to %.0e deg", _INVERSE_TOL_DEG)
    return w_lon, w_lat


def _gcj_to_bd(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    r = np.hypot(lon, lat) + 2e-5 * np.sin(lat * _BD_K)
    theta = np.arctan2(lat, lon) + 3e-6 * np.cos(lon * _BD_K)
    return r * np.cos(theta) + _BD_DLON, r * np.sin(theta) + _BD_DLAT


def _bd_to_gcj(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    # The usual one-step inverse is good to ~1e-6 deg; refine it by fixed-point iteration.
    x = lon - _BD_DLON
    y = lat - _BD_DLAT
    r = np.hypot(x, y) - 2e-5 * np.sin(y * _BD_K)
    theta = np.arctan2(y, x) - 3e-6 * np.cos(x * _BD_K)
    g_lon = r * np.cos(theta)
    g_lat = r * np.sin(theta)
    for _ in range(_INVERSE_MAX_ITER):
        b_lon, b_lat = _gcj_to_bd(g_lon, g_lat)
        err_lon = b_lon - lon
        err_lat = b_lat - lat
        g_lon = g_lon - err_lon
        g_lat = g_lat - err_lat
        worst = max(
            float(np.max(np.abs(err_lon), initial=0.0)), float(np.max(np.abs(err_lat), initial=0.0))
        )
        if not np.isfinite(worst) or worst < _INVERSE_TOL_DEG:
            break
    return g_lon, g_lat


def _run(
    transform: _Transform,
    lon: float | ArrayInput,
    lat: float | ArrayInput,
    inside: InsideArg,
) -> tuple[Any, Any]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    x, y = np.broadcast_arrays(x, y)
    mask = _resolve_inside(inside, x, y)
    out_x, out_y = transform(x, y, mask)
    if out_x.ndim == 0:
        return float(out_x), float(out_y)
    return np.asarray(out_x, dtype=np.float64), np.asarray(out_y, dtype=np.float64)


def _bd_after(
    first: _Transform,
) -> _Transform:
    def run(
        lon: FloatArray, lat: FloatArray, inside: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray]:
        g_lon, g_lat = first(lon, lat, inside)
        return _gcj_to_bd(g_lon, g_lat)

    return run


def _bd_before(second: _Transform) -> _Transform:
    def run(
        lon: FloatArray, lat: FloatArray, inside: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray]:
        g_lon, g_lat = _bd_to_gcj(lon, lat)
        return second(g_lon, g_lat, inside)

    return run


def _keep(
    lon: FloatArray, lat: FloatArray, inside: npt.NDArray[np.bool_]
) -> tuple[FloatArray, FloatArray]:
    return lon, lat


# --------------------------------------------------------------------------- public API


@overload
def wgs84_to_gcj02(lon: float, lat: float, *, inside: InsideArg = None) -> tuple[float, float]: ...
@overload
def wgs84_to_gcj02(
    lon: ArrayInput, lat: ArrayInput, *, inside: InsideArg = None
) -> tuple[FloatArray, FloatArray]: ...
def wgs84_to_gcj02(
    lon: float | ArrayInput, lat: float | ArrayInput, *, inside: InsideArg = None
) -> tuple[Any, Any]:
    """WGS 84 -> GCJ-02 (Amap/Tencent).

    Parameters
    ----------
    lon, lat
        WGS 84 degrees; scalars or arrays (broadcast together).
    inside
        Which points get the offset; ``None`` uses :func:`in_china_box` (see module
        docstring), a boolean or boolean array overrides it.

    Returns
    -------
    tuple
        ``(lon, lat)`` in GCJ-02: floats for scalar input, float64 arrays otherwise.
    """
    return _run(_wgs_to_gcj, lon, lat, inside)


@overload
def gcj02_to_wgs84(lon: float, lat: float, *, inside: InsideArg = None) -> tuple[float, float]: ...
@overload
def gcj02_to_wgs84(
    lon: ArrayInput, lat: ArrayInput, *, inside: InsideArg = None
) -> tuple[FloatArray, FloatArray]: ...
def gcj02_to_wgs84(
    lon: float | ArrayInput, lat: float | ArrayInput, *, inside: InsideArg = None
) -> tuple[Any, Any]:
    """GCJ-02 -> WGS 84 by iterating the forward transform (error < 1e-10 degrees).

    Parameters
    ----------
    lon, lat
        GCJ-02 degrees; scalars or arrays.
    inside
        As for :func:`wgs84_to_gcj02`, evaluated on the GCJ-02 input.
    """
    return _run(_gcj_to_wgs, lon, lat, inside)


@overload
def gcj02_to_bd09(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def gcj02_to_bd09(lon: ArrayInput, lat: ArrayInput) -> tuple[FloatArray, FloatArray]: ...
def gcj02_to_bd09(lon: float | ArrayInput, lat: float | ArrayInput) -> tuple[Any, Any]:
    """GCJ-02 -> BD-09 (Baidu), applied everywhere."""
    return _run(_bd_after(_keep), lon, lat, True)


@overload
def bd09_to_gcj02(lon: float, lat: float) -> tuple[float, float]: ...
@overload
def bd09_to_gcj02(lon: ArrayInput, lat: ArrayInput) -> tuple[FloatArray, FloatArray]: ...
def bd09_to_gcj02(lon: float | ArrayInput, lat: float | ArrayInput) -> tuple[Any, Any]:
    """BD-09 -> GCJ-02, iterated to an error below 1e-10 degrees."""
    return _run(_bd_before(_keep), lon, lat, True)


@overload
def wgs84_to_bd09(lon: float, lat: float, *, inside: InsideArg = None) -> tuple[float, float]: ...
@overload
def wgs84_to_bd09(
    lon: ArrayInput, lat: ArrayInput, *, inside: InsideArg = None
) -> tuple[FloatArray, FloatArray]: ...
def wgs84_to_bd09(
    lon: float | ArrayInput, lat: float | ArrayInput, *, inside: InsideArg = None
) -> tuple[Any, Any]:
    """WGS 84 -> BD-09 (GCJ-02 offset where ``inside``, then Baidu's step)."""
    return _run(_bd_after(_wgs_to_gcj), lon, lat, inside)


@overload
def bd09_to_wgs84(lon: float, lat: float, *, inside: InsideArg = None) -> tuple[float, float]: ...
@overload
def bd09_to_wgs84(
    lon: ArrayInput, lat: ArrayInput, *, inside: InsideArg = None
) -> tuple[FloatArray, FloatArray]: ...
def bd09_to_wgs84(
    lon: float | ArrayInput, lat: float | ArrayInput, *, inside: InsideArg = None
) -> tuple[Any, Any]:
    """BD-09 -> WGS 84; ``inside`` is evaluated on the intermediate GCJ-02 coordinate."""

    def run(
        x: FloatArray, y: FloatArray, _mask: npt.NDArray[np.bool_]
    ) -> tuple[FloatArray, FloatArray]:
        g_lon, g_lat = _bd_to_gcj(x, y)
        return _gcj_to_wgs(g_lon, g_lat, _resolve_inside(inside, g_lon, g_lat))

    return _run(run, lon, lat, True)
