"""``/v1/stations``: list (GeoJSON, OGC API Features paging, ETag), read, and keyed edits.

Edits go through :class:`locator.Locator` (one store transaction with its audit row, then
the nearest-station indexes and circles), so the very next query sees them.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from api.auth import KeyRecord, require_api_key
from api.geojson import GEOJSON, GeoJSONResponse, cached_response, dumps, station_feature
from api.i18n import language_headers, request_lang
from api.params import Crs, CrsQ, LangQ, bbox_param, get_locator, to_wgs84
from api.problems import ApiError, problem_responses
from api.schemas import StationCollection, StationFeature, StationPatch
from locator import Locator
from locator.arguments import check_instant, parse_enum_list
from locator.stations import Service, Station, StationKind

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1/stations", tags=["stations"])

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000

LocatorDep = Annotated[Locator, Depends(get_locator)]
KeyDep = Annotated[KeyRecord, Depends(require_api_key)]

_NEW_STATION_EXAMPLE = {
    "id": "erenhot-driver-home-new",
    "kind": "driver_station",
    "name": {"zh": "二连浩特新司机之家", "en": "Erenhot New Driver Home"},
    "port_id": "erenhot",
    "lon": 111.9772,
    "lat": 43.6532,
    "services": ["drinking_water", "rest", "truck_parking"],
    "opening_hours": "24/7",
    "source": "survey 2026-05",
    "location_accuracy_m": 10,
    "location_approximate": False,
}


@router.get(
    "",
    summary="Stations as GeoJSON, filtered and paged",
    response_model=StationCollection,
    response_class=GeoJSONResponse,
    responses={304: {"description": "Not modified (If-None-Match)"}, **problem_responses()},
)
def list_stations(
    *,
    request: Request,
    loc: LocatorDep,
    kind: StationKind | None = None,
    port: Annotated[str | None, Query(max_length=64, description="Port id")] = None,
    services: Annotated[
        str | None,
        Query(
            max_length=500,
            description="Comma-separated services every station must offer",
            examples=["drinking_water,toilet"],
        ),
    ] = None,
    bbox: Annotated[
        str | None,
        Query(
            max_length=200,
            description="minLon,minLat,maxLon,maxLat (datum per crs)",
            examples=["111.5,43.4,112.3,43.9"],
        ),
    ] = None,
    open_at: Annotated[
        datetime | None,
        Query(description="Only stations open at this instant (naive = China Standard Time)"),
    ] = None,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=MAX_LIMIT,
            description=f"Page size (default {DEFAULT_LIMIT})",
        ),
    ] = DEFAULT_LIMIT,
    offset: Annotated[int, Query(ge=0, description="Features to skip")] = 0,
    crs: CrsQ = Crs.wgs84,
    lang: LangQ = None,
) -> Response:
    """All stations matching every filter, ordered by id, one page at a time.

    Paging follows OGC API Features: ``numberMatched``, ``numberReturned`` and ``links``
    with ``rel=next`` while more remain. The body has a strong ETag; send it back in
    ``If-None-Match`` to get ``304 Not Modified``.
    """
    language = request_lang(request, lang)
    matched = loc.stations(
        kind=kind,
        services=parse_enum_list(services, Service, name="services"),
        open_at=check_instant(open_at, name="open_at"),
        bbox=bbox_param(loc, bbox, crs) if bbox else None,
        port=port,
    )
    page = matched[offset : offset + limit]
    links = [{"href": str(request.url), "rel": "self", "type": GEOJSON}]
    if offset + limit < len(matched):
        links.append(
            {
                "href": str(request.url.include_query_params(offset=offset + limit, limit=limit)),
                "rel": "next",
                "type": GEOJSON,
            }
        )
    if offset > 0:
        links.append(
            {
                "href": str(
                    request.url.include_query_params(offset=max(0, offset - limit), limit=limit)
                ),
                "rel": "prev",
                "type": GEOJSON,
            }
        )
    body = dumps(
        {
            "type": "FeatureCollection",
            "features": [station_feature(st, language) for st in page],
            "numberMatched": len(matched),
            "numberReturned": len(page),
            "links": links,
        }
    )
    return cached_response(request, body, headers=language_headers(language))


@router.get(
    "/{station_id}",
    summary="One station",
    response_model=StationFeature,
    response_class=GeoJSONResponse,
    responses={304: {"description": "Not modified (If-None-Match)"}, **problem_responses(404)},
)
def get_station(request: Request, loc: LocatorDep, station_id: str, lang: LangQ = None) -> Response:
    """A station by id, as a GeoJSON Point feature (ETag as for the list)."""
    language = request_lang(request, lang)
    body = dumps(station_feature(loc.station(station_id), language))
    return cached_response(request, body, headers=language_headers(language))


def _actor(key: KeyRecord) -> str:
    return f"api-key:{key.name}"


def _validated(loc: Locator, record: dict[str, Any], *, new: bool) -> Station:
    (st,) = loc.store.validate_rows([record], mode="insert" if new else "upsert", what="station")
    return st


@router.post(
    "",
    summary="Add a station (API key)",
    response_model=StationFeature,
    response_class=GeoJSONResponse,
    status_code=201,
    responses=problem_responses(401, 403, 409),
)
def add_station(
    *,
    request: Request,
    loc: LocatorDep,
    key: KeyDep,
    station: Annotated[Station, Body(examples=[_NEW_STATION_EXAMPLE])],
    crs: CrsQ = Crs.wgs84,
    lang: LangQ = None,
) -> Response:
    """Add one station (one transaction, audited); the next query sees it.

    The body is the import record of ``docs/stations.md``; ``lon``/``lat`` are in ``crs``.
    """
    if station.id in loc.store.ids():
        raise ApiError(
            409, "station_exists", f"a station with id {station.id!r} exists", station_id=station.id
        )
    lon, lat = to_wgs84(loc, station.lon, station.lat, crs)
    record = station.model_dump(mode="json") | {"lon": lon, "lat": lat}
    st = loc.add_station(_validated(loc, record, new=True), actor=_actor(key))
    language = request_lang(request, lang)
    return GeoJSONResponse(
        station_feature(st, language),
        status_code=201,
        headers={
            "Location": str(request.url_for("get_station", station_id=st.id)),
            **language_headers(language),
        },
    )


@router.patch(
    "/{station_id}",
    summary="Change a station (API key, JSON merge patch)",
    response_model=StationFeature,
    response_class=GeoJSONResponse,
    responses=problem_responses(401, 403, 404),
)
def patch_station(
    *,
    request: Request,
    loc: LocatorDep,
    key: KeyDep,
    station_id: str,
    patch: Annotated[StationPatch, Body()],
    crs: CrsQ = Crs.wgs84,
    lang: LangQ = None,
) -> Response:
    """Change the given fields of a station (RFC 7396 merge patch; ``null`` resets a field).

    One transaction with an audit row holding the record before and after; a move or a
    change of kind updates the nearest-station forests and circles at once.
    """
    old = loc.station(station_id)
    record: dict[str, Any] = old.model_dump(mode="json")
    changes = patch.model_dump(exclude_unset=True, mode="json")
    for field, value in changes.items():
        if field == "name" and value is not None:
            names = {**record["name"], **value}
            record["name"] = {k: v for k, v in names.items() if v is not None}
        elif value is None:
            record.pop(field, None)
        else:
            record[field] = value
    if "lon" in changes or "lat" in changes:
        if "lon" not in record or "lat" not in record:
            raise ApiError(422, "invalid_coordinate", "lon and lat cannot be removed")
        record["lon"], record["lat"] = to_wgs84(
            loc, float(record["lon"]), float(record["lat"]), crs
        )
    st = loc.update_station(_validated(loc, record, new=False), actor=_actor(key))
    language = request_lang(request, lang)
    return GeoJSONResponse(station_feature(st, language), headers=language_headers(language))


@router.delete(
    "/{station_id}",
    summary="Delete a station (API key)",
    response_model=StationFeature,
    response_class=GeoJSONResponse,
    responses=problem_responses(401, 403, 404),
)
def delete_station(
    request: Request, loc: LocatorDep, key: KeyDep, station_id: str, lang: LangQ = None
) -> Response:
    """Delete a station (one transaction, audited); returns what was deleted."""
    old = loc.delete_station(station_id, actor=_actor(key))
    language = request_lang(request, lang)
    return GeoJSONResponse(station_feature(old, language), headers=language_headers(language))
