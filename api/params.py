"""Shared query parameters and their parsing: coordinates, datums, lists, instants.

Every coordinate is constrained (finite, in the WGS 84 range) before it reaches the
domain; FastAPI's plain ``float`` would accept ``nan``. Coordinates given in GCJ-02 or
BD-09 (``crs``) are converted to WGS 84 with :mod:`locator.datum`, shifting only points
inside China (from the artifact's national outline), so Mongolian and Russian points are
left alone.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Annotated, TypeVar

from fastapi import Query, Request

from api.i18n import Lang
from locator.datum import bd09_to_gcj02, gcj02_to_wgs84
from locator.errors import InvalidCoordinateError, InvalidParameterError
from locator.service import Locator
from locator.snapping import validate_lonlat

E = TypeVar("E", bound=StrEnum)

CHINA_TZ = timezone(timedelta(hours=8))


class Crs(StrEnum):
    """Datum of input coordinates."""

    wgs84 = "wgs84"
    gcj02 = "gcj02"
    bd09 = "bd09"


LonQ = Annotated[
    float,
    Query(
        ge=-180.0,
        le=180.0,
        allow_inf_nan=False,
        description="Longitude, degrees (datum per `crs`)",
        examples=[117.39],
    ),
]
LatQ = Annotated[
    float,
    Query(
        ge=-90.0,
        le=90.0,
        allow_inf_nan=False,
        description="Latitude, degrees (datum per `crs`)",
        examples=[49.59],
    ),
]
OptLonQ = Annotated[
    float | None,
    Query(
        ge=-180.0, le=180.0, allow_inf_nan=False, description="Longitude, degrees (datum per `crs`)"
    ),
]
OptLatQ = Annotated[
    float | None,
    Query(
        ge=-90.0, le=90.0, allow_inf_nan=False, description="Latitude, degrees (datum per `crs`)"
    ),
]
CrsQ = Annotated[
    Crs,
    Query(
        description="Datum of input coordinates: wgs84 (GPS, OSM), "
        "gcj02 (Amap, Tencent) or bd09 (Baidu). Output is "
        "always WGS 84."
    ),
]
LangQ = Annotated[
    Lang | None,
    Query(description="Language of names (zh, en, mn, ru); default from Accept-Language, then en"),
]
ModeQ = Annotated[
    str | None,
    Query(
        max_length=32,
        description="Travel mode available on the network "
        "(truck, car; walk on street networks); "
        "default truck",
    ),
]

_NUMBER = r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*"
LONLAT_RE = re.compile(rf"^{_NUMBER},{_NUMBER}$")


def get_locator(request: Request) -> Locator:
    """The loaded artifact."""
    loc: Locator = request.app.state.locator
    return loc


def to_wgs84(loc: Locator, lon: float, lat: float, crs: Crs) -> tuple[float, float]:
    """Validate a coordinate and convert it from ``crs`` to WGS 84.

    Raises
    ------
    InvalidCoordinateError
        Non-finite or out-of-range input (before or after conversion).
    """
    validate_lonlat(lon, lat)
    if crs is Crs.wgs84:
        return lon, lat
    if crs is Crs.bd09:  # Baidu's step applies everywhere; the China test is on GCJ-02
        lon, lat = bd09_to_gcj02(lon, lat)
        validate_lonlat(lon, lat)
    inside = bool(loc.regions.in_china(lon, lat)) if loc.regions is not None else None
    x, y = gcj02_to_wgs84(lon, lat, inside=inside)
    validate_lonlat(x, y)
    return x, y


def parse_lonlat(text: str, name: str) -> tuple[float, float]:
    """``"lon,lat"`` -> floats (range-checked).

    Raises
    ------
    InvalidCoordinateError
        Not two numbers, not finite or out of range.
    """
    parts = text.split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lon, lat = float(parts[0]), float(parts[1])
    except ValueError:
        raise InvalidCoordinateError(
            f"{name} must be 'lon,lat' in degrees, got {text[:60]!r}", parameter=name
        ) from None
    validate_lonlat(lon, lat)
    return lon, lat


def parse_bbox(loc: Locator, text: str, crs: Crs) -> tuple[float, float, float, float]:
    """``"minLon,minLat,maxLon,maxLat"`` -> WGS 84 floats with min < max.

    Raises
    ------
    InvalidCoordinateError
        Not four finite numbers in range, or min >= max.
    """
    parts = text.split(",")
    try:
        if len(parts) != 4:
            raise ValueError
        a, b, c, d = (float(p) for p in parts)
    except ValueError:
        raise InvalidCoordinateError(
            f"bbox must be minLon,minLat,maxLon,maxLat, got {text[:80]!r}", parameter="bbox"
        ) from None
    a, b = to_wgs84(loc, a, b, crs)
    c, d = to_wgs84(loc, c, d, crs)
    if not (a < c and b < d):
        raise InvalidCoordinateError(
            "bbox must be minLon,minLat,maxLon,maxLat with min < max", parameter="bbox"
        )
    return a, b, c, d


def parse_enum_list(text: str | None, enum: type[E], name: str) -> list[E]:
    """Comma-separated enum values (empty or ``None`` -> ``[]``).

    Raises
    ------
    InvalidParameterError
        Naming the unknown value and the allowed ones.
    """
    if not text:
        return []
    out: list[E] = []
    for raw in text.split(","):
        value = raw.strip()
        if not value:
            continue
        try:
            item = enum(value)
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            raise InvalidParameterError(
                f"unknown {name} value {value[:40]!r}; use {allowed}", parameter=name
            ) from None
        if item not in out:
            out.append(item)
    return out


def parse_minutes(text: str) -> list[float]:
    """``"5,10,15"`` -> floats (limits are checked by the locator).

    Raises
    ------
    InvalidParameterError
        A value that is not a finite number.
    """
    out: list[float] = []
    for raw in text.split(","):
        if not raw.strip():
            continue
        try:
            value = float(raw)
        except ValueError:
            raise InvalidParameterError(
                f"minutes must be comma-separated numbers, got {raw.strip()[:20]!r}",
                parameter="minutes",
            ) from None
        if not math.isfinite(value):
            raise InvalidParameterError("minutes must be finite numbers", parameter="minutes")
        out.append(value)
    return out


def china_time(at: datetime | None, name: str) -> datetime | None:
    """An instant as China Standard Time (naive input is taken as CST).

    Raises
    ------
    InvalidParameterError
        An instant that cannot be represented after conversion (year 1 or 9999 edges).
    """
    if at is None:
        return None
    try:
        if at.tzinfo is None:
            return at.replace(tzinfo=CHINA_TZ)
        return at.astimezone(CHINA_TZ).astimezone(UTC).astimezone(CHINA_TZ)
    except (OverflowError, ValueError):
        raise InvalidParameterError(
            f"{name} is out of the supported range", parameter=name
        ) from None


def region_arg(
    loc: Locator, region: str | None, crs: Crs
) -> str | tuple[float, float, float, float] | None:
    """A region parameter: admin code, port id, or a bbox (``,`` separated)."""
    if region is None or not region.strip():
        return None
    if "," in region:
        return parse_bbox(loc, region, crs)
    return region.strip()
