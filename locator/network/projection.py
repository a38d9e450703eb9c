"""Metric projection chosen once at build time and recorded in the manifest.

The whole border region (97–126.5°E, 37–53.6°N) uses an Albers equal-area conic fitted
to it, so areas (coverage shares) and distances are both sound over 2,500 km. A
street-level extract uses the UTM zone of its centre.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from pyproj import CRS, Transformer

#: Metres per degree of latitude (mean; for coarse margins and tolerances given in metres
#: but applied in degrees, never for measurement: measure in the projected CRS).
METRES_PER_DEGREE = 111_320.0

#: Albers equal-area conic for Inner Mongolia and its neighbours (standard parallels at
#: one sixth and five sixths of 37–53.6°N, central meridian 112°E).
REGIONAL_CRS = (
    "+proj=aea +lat_1=39.8 +lat_2=50.8 +lat_0=45 +lon_0=112 "
    "+x_0=0 +y_0=0 +datum=WGS84 +units=m +no_defs"
)


def utm_crs_for(lon: float, lat: float) -> str:
    """The EPSG code (as ``"EPSG:326NN"``/``"EPSG:327NN"``) of the UTM zone at a point."""
    zone = min(60, max(1, math.floor((lon + 180.0) / 6.0) + 1))
    return f"EPSG:{32600 + zone if lat >= 0 else 32700 + zone}"


class Projector:
    """Vectorised WGS 84 <-> projected transforms for one CRS (built once per artifact).

    pyproj (>= 3.1) transformers are thread-safe: request threads share one projector.
    """

    def __init__(self, crs: str) -> None:
        self.crs = crs
        target = CRS.from_user_input(crs)
        self._fwd = Transformer.from_crs("EPSG:4326", target, always_xy=True)
        self._inv = Transformer.from_crs(target, "EPSG:4326", always_xy=True)

    def forward_one(self, lon: float, lat: float) -> tuple[float, float]:
        """One (lon, lat) -> (x, y) without array wrapping (the per-request snap path)."""
        x, y = self._fwd.transform(lon, lat)
        return float(x), float(y)

    def inverse_one(self, x: float, y: float) -> tuple[float, float]:
        """One (x, y) -> (lon, lat) without array wrapping."""
        lon, lat = self._inv.transform(x, y)
        return float(lon), float(lat)

    def forward(
        self, lon: npt.ArrayLike, lat: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(lon, lat) degrees -> (x, y) metres; accepts scalars or arrays."""
        x, y = self._fwd.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    def inverse(
        self, x: npt.ArrayLike, y: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(x, y) metres -> (lon, lat) degrees; accepts scalars or arrays."""
        lon, lat = self._inv.transform(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
        return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
