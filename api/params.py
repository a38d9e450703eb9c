"""Shared query parameters: coordinates, datums, lists and instants.

Every coordinate is constrained (finite, in the WGS 84 range) before it reaches the
domain; FastAPI's plain ``float`` would accept ``nan``. Parsing of text values (bbox,
``lon,lat``, minute lists, enum lists) is :mod:`locator.arguments`, shared with the CLI
and the Python API; coordinates given in GCJ-02 or BD-09 (``crs``) are converted by
:meth:`locator.Locator.to_wgs84`, which shifts only points inside China.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from fastapi import Query, Request

from api.i18n import Lang
from locator import Locator
from locator.arguments import BBox, check_bbox, parse_lonlat, split_bbox


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
ServicesQ = Annotated[
    str | None,
    Query(
        max_length=500,
        description="Comma-separated services a station must offer",
        examples=["hot_meals"],
    ),
]
DepartQ = Annotated[
    datetime | None,
    Query(
        description="Departure time (naive = China Standard Time): opening hours are "
        "evaluated at the arrival time",
        examples=["2026-12-01T22:00:00"],
    ),
]


def get_locator(request: Request) -> Locator:
    """The loaded artifact, with every committed station edit applied: writes made by
    another worker or process on the same store since this one last looked are applied
    first (:meth:`locator.Locator.refresh`; one cheap read when there are none), so an
    edit acknowledged by any worker is in the next answer of every worker."""
    loc: Locator = request.app.state.locator
    loc.refresh()
    return loc


def to_wgs84(loc: Locator, lon: float, lat: float, crs: Crs) -> tuple[float, float]:
    """A coordinate in ``crs`` as WGS 84 (see :meth:`locator.Locator.to_wgs84`)."""
    return loc.to_wgs84(lon, lat, crs.value)


def point_param(loc: Locator, text: str, name: str, crs: Crs) -> tuple[float, float]:
    """``"lon,lat"`` in ``crs`` -> WGS 84."""
    return to_wgs84(loc, *parse_lonlat(text, name=name), crs)


def point_or_id(loc: Locator, text: str, name: str, crs: Crs) -> tuple[float, float] | str:
    """``"lon,lat"`` in ``crs`` (-> WGS 84), or else a station or port id as given."""
    return point_param(loc, text, name, crs) if "," in text else text.strip()


def bbox_param(loc: Locator, text: str, crs: Crs, name: str = "bbox") -> BBox:
    """``"minLon,minLat,maxLon,maxLat"`` in ``crs`` -> a checked WGS 84 bbox."""
    a, b, c, d = split_bbox(text, name=name)
    a, b = to_wgs84(loc, a, b, crs)
    c, d = to_wgs84(loc, c, d, crs)
    return check_bbox((a, b, c, d), name=name)


def region_arg(loc: Locator, region: str | None, crs: Crs) -> str | BBox | None:
    """A region parameter: admin code, port id, or a bbox (``,`` separated)."""
    if region is None or not region.strip():
        return None
    if "," in region:
        return bbox_param(loc, region, crs, name="region")
    return region.strip()
