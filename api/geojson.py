"""GeoJSON (RFC 7946) formatting of domain objects, and the ``application/geo+json`` response.

Coordinates are WGS 84 ``[lon, lat]`` rounded to :data:`locator.COORD_DECIMALS` decimals
(6: about 0.1 m), whatever datum the request used for its input coordinates. Service
circles come from the engine already on that grid and nested in these very coordinates
(points where a larger contour's boundary crosses a smaller one's keep full precision),
so they are written as they are: rounding them again would part nested contours.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import orjson
import shapely
from fastapi import Request, Response
from fastapi.responses import JSONResponse
from shapely.geometry.base import BaseGeometry

from api.i18n import Lang, pick
from locator import COORD_DECIMALS, AdminUnit, Contour, Port, Route, Station

GEOJSON = "application/geo+json"


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON (orjson: about 15x faster than the standard library's encoder
    on our answers). numpy scalars and arrays are written as numbers. NaN and infinities
    are a bug, not output: orjson would write them as ``null``, which the response
    models refuse where a number is required (the schemathesis suite checks them)."""
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


class GeoJSONResponse(JSONResponse):
    """A JSON response with the ``application/geo+json`` media type."""

    media_type = GEOJSON

    def render(self, content: Any) -> bytes:
        if isinstance(content, bytes):
            return content
        return dumps(content)


def etag_of(body: bytes) -> str:
    """A strong ETag of a response body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def if_none_match(request: Request, etag: str) -> bool:
    """Whether the request's ``If-None-Match`` matches ``etag`` (weak comparison)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def cached_response(
    request: Request,
    body: bytes,
    *,
    media_type: str = GEOJSON,
    headers: Mapping[str, str] | None = None,
    etag: str | None = None,
) -> Response:
    """A 200 with an ETag (of the body unless given), or a 304 when the client already
    holds it."""
    etag = etag or etag_of(body)
    out = {"ETag": etag, "Cache-Control": "no-cache", **(headers or {})}
    if if_none_match(request, etag):
        return Response(status_code=304, headers=out)
    return Response(body, media_type=media_type, headers=out)


def geometry(geom: BaseGeometry | None, *, rounded: bool = True) -> dict[str, Any] | None:
    """RFC 7946 geometry of a shapely geometry (``None`` when empty); ``rounded=False``
    writes the coordinates as they are (service circles, see the module docstring)."""
    if geom is None or geom.is_empty:
        return None
    if rounded:
        geom = shapely.transform(geom, lambda c: np.round(c, COORD_DECIMALS))
    out: dict[str, Any] = json.loads(shapely.to_geojson(geom))
    return out


def point(lon: float, lat: float) -> dict[str, Any]:
    """A GeoJSON Point."""
    return {
        "type": "Point",
        "coordinates": [round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)],
    }


def station_properties(st: Station, lang: Lang) -> dict[str, Any]:
    """Station fields with ``name`` in ``lang`` and every name under ``names``."""
    props = st.properties()
    names = props.pop("name")
    return {
        "id": st.id,
        "kind": st.kind.value,
        "name": pick(names, lang),
        "names": names,
        **{k: v for k, v in props.items() if k not in ("id", "kind")},
    }


def station_feature(st: Station, lang: Lang, *, version: int | None = None) -> dict[str, Any]:
    """A station as a Point feature (with its store ``version`` when given)."""
    props = station_properties(st, lang)
    if version is not None:
        props["version"] = version
    return {
        "type": "Feature",
        "id": st.id,
        "geometry": point(st.lon, st.lat),
        "properties": props,
    }


class StationFeatures:
    """Rendered station features, once per station record and language.

    Stations are immutable records (an edit makes a new one), so a feature rendered for
    a record stays right; the record is kept with its feature, so its ``id()`` is not
    reused while cached. Bounded (cleared when full); thread-safe as plain dict reads and
    writes are. The features are shared between answers: callers must not change them.
    """

    def __init__(self, max_entries: int = 4096) -> None:
        self._cache: dict[tuple[int, str], tuple[Station, dict[str, Any]]] = {}
        self._max = max_entries

    def get(self, st: Station, lang: Lang) -> dict[str, Any]:
        """The feature of ``st`` in ``lang`` (:func:`station_feature`)."""
        key = (id(st), lang.value)
        hit = self._cache.get(key)
        if hit is not None and hit[0] is st:
            return hit[1]
        feature = station_feature(st, lang)
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[key] = (st, feature)
        return feature


def port_feature(p: Port, lang: Lang) -> dict[str, Any]:
    """A port as a Point feature."""
    names = p.name.model_dump(exclude_none=True)
    league = p.league.model_dump(exclude_none=True)
    across = p.town_across.model_dump(exclude_none=True)
    return {
        "type": "Feature",
        "id": p.id,
        "geometry": point(p.lon, p.lat),
        "properties": {
            "id": p.id,
            "name": pick(names, lang),
            "names": names,
            "league": pick(league, lang),
            "country_across": p.country_across,
            "town_across": pick(across, lang),
            "transport": list(p.transport),
            "location_accuracy_m": p.location_accuracy_m,
            "source": p.source,
            "notes": p.notes,
        },
    }


def region_feature(u: AdminUnit, lang: Lang, geom: BaseGeometry | None) -> dict[str, Any]:
    """An admin unit (league or banner); ``geom`` is ``None`` unless asked for."""
    names = {"zh": u.name_zh, "en": u.name_en, "mn": u.name_mn}
    return {
        "type": "Feature",
        "id": u.code,
        "geometry": geometry(geom),
        "properties": {
            "code": u.code,
            "level": u.level,
            "name": pick(names, lang),
            "names": {k: v for k, v in names.items() if v},
            "name_pinyin": u.name_pinyin,
            "parent_code": u.parent_code,
        },
    }


def route_properties(r: Route) -> dict[str, Any]:
    """Summary of a route (no internal edge ids)."""
    return {
        "mode": r.mode,
        "duration_s": round(r.duration_s, 1),
        "distance_m": round(r.distance_m, 1),
        "steps": [
            {
                "name": s["name"],
                "distance_m": round(s["distance_m"], 1),
                "duration_s": round(s["duration_s"], 1),
            }
            for s in r.steps
        ],
        "crosses_border": r.crosses_border,
        "border_crossings": [
            [round(lon, COORD_DECIMALS), round(lat, COORD_DECIMALS)]
            for lon, lat in r.border_crossings
        ],
    }


def route_geometry(r: Route) -> dict[str, Any] | None:
    """The route polyline (a degenerate route repeats its single point)."""
    coords = np.round(r.coordinates, COORD_DECIMALS).tolist()
    if not coords:
        return None
    if len(coords) == 1:
        coords = coords * 2
    return {"type": "LineString", "coordinates": coords}


def route_feature(r: Route, **extra: Any) -> dict[str, Any]:
    """A route as a LineString feature."""
    return {
        "type": "Feature",
        "geometry": route_geometry(r),
        "properties": {**route_properties(r), **extra},
    }


def contour_features(contours: Iterable[Contour], **extra: Any) -> list[dict[str, Any]]:
    """Nested service circles, largest first (so smaller ones draw on top)."""
    out = []
    for c in sorted(contours, key=lambda c: -c.minutes):
        out.append(
            {
                "type": "Feature",
                "geometry": geometry(c.polygon, rounded=False),
                "properties": {
                    "minutes": c.minutes,
                    "area_km2": round(c.area_km2, 4),
                    "reached_length_m": round(c.reached_length_m, 1),
                    **extra,
                },
            }
        )
    return out
