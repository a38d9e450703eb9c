"""``/v1/isochrones``: nested service circles (the shape Valhalla and openrouteservice return).

Circles of a station for the default intervals are precomputed in the artifact; their
GeoJSON bodies are cached per station and reused until the station changes (the locator
hands back the very same contour list until an edit drops it).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from api.geojson import GeoJSONResponse, contour_features, dumps
from api.limits import HeavySlots
from api.params import Crs, CrsQ, ModeQ, OptLatQ, OptLonQ, get_locator, to_wgs84
from api.problems import problem_responses
from api.schemas import IsochroneCollection
from locator import Contour, Locator
from locator.arguments import parse_minutes

router = APIRouter(prefix="/v1", tags=["circles"])

LocatorDep = Annotated[Locator, Depends(get_locator)]
_CACHE_SIZE = 4096


class BodyCache:
    """GeoJSON bodies keyed by request, valid while the locator returns the same contours."""

    def __init__(self, size: int = _CACHE_SIZE) -> None:
        self.size = size
        self._items: dict[tuple[object, ...], tuple[list[Contour], bytes]] = {}
        self._lock = threading.Lock()

    def get(self, key: tuple[object, ...], contours: list[Contour]) -> bytes | None:
        item = self._items.get(key)
        return item[1] if item is not None and item[0] is contours else None

    def put(self, key: tuple[object, ...], contours: list[Contour], body: bytes) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[key] = (contours, body)


@router.get(
    "/isochrones",
    summary="Service circles (isochrones) of a station or a point",
    response_model=IsochroneCollection,
    response_class=GeoJSONResponse,
    responses=problem_responses(404, 413, 503),
)
def isochrones(
    *,
    request: Request,
    loc: LocatorDep,
    lon: OptLonQ = None,
    lat: OptLatQ = None,
    station_id: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A station (instead of lon/lat)",
            examples=["mzl-driver-home-01"],
        ),
    ] = None,
    minutes: Annotated[
        str,
        Query(
            max_length=100, description="Comma-separated intervals in minutes", examples=["5,10,15"]
        ),
    ] = "5,10,15",
    mode: ModeQ = None,
    direction: Annotated[
        Literal["to", "from"],
        Query(
            description="'to': places from which the point is reached in time (a station's "
            "service circle); 'from': places reached from the point"
        ),
    ] = "to",
    shape: Annotated[
        Literal["roads", "concave"],
        Query(description="'roads': band along the reached roads; 'concave': concave hull"),
    ] = "roads",
    crs: CrsQ = Crs.wgs84,
) -> Response:
    """Nested polygons, largest first, each with a ``minutes`` property.

    Give ``station_id`` or ``lon`` and ``lat``. Limits: ``max_contours`` intervals, each at
    most ``max_minutes`` (``request_too_large``).
    """
    mins = parse_minutes(minutes)
    if station_id is None and lon is not None and lat is not None:
        lon, lat = to_wgs84(loc, lon, lat, crs)
    live = station_id is None  # stored circles are a lookup; live ones are heavy
    slots: HeavySlots = request.app.state.heavy_slots
    with slots.slot() if live else contextlib.nullcontext():
        contours = loc.isochrones(
            lon=lon,
            lat=lat,
            station_id=station_id,
            minutes=mins,
            mode=mode,
            direction=direction,
            shape=shape,
        )
    used_mode = loc.check_mode(mode)
    key = (station_id, used_mode, tuple(sorted(set(mins))), direction, shape)
    cache: BodyCache = request.app.state.isochrone_bodies
    body = cache.get(key, contours) if station_id is not None else None
    if body is None:
        body = dumps(
            {
                "type": "FeatureCollection",
                "features": contour_features(
                    contours, mode=used_mode, direction=direction, station_id=station_id
                ),
            }
        )
        if station_id is not None:
            cache.put(key, contours, body)
    return Response(body, media_type=GeoJSONResponse.media_type)
