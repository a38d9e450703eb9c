"""``/v1/stations``: list (GeoJSON, OGC API Features paging, ETag), read, and keyed edits.

Edits go through :class:`locator.Locator` (one store transaction with its audit row, then
the nearest-station indexes and circles), so the very next query sees them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from api.auth import KeyRecord, require_api_key
from api.geojson import GEOJSON, GeoJSONResponse, cached_response, dumps, station_feature
from api.i18n import Lang, language_headers, request_lang
from api.params import Crs, CrsQ, LangQ, bbox_param, get_locator, to_wgs84
from api.problems import ApiError, problem_responses
from api.schemas import NavigationLinks, StationCollection, StationFeature, StationPatch
from locator import Locator
from locator.arguments import check_instant, parse_enum_list
from locator.stations import Revision, Service, Station, StationKind

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
    versions = loc.station_versions()
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
            "features": [station_feature(st, language, version=versions.get(st.id)) for st in page],
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
    """A station by id, as a GeoJSON Point feature.

    The ETag names the record's store version (and the response language); send it in
    ``If-Match`` with a ``PATCH`` or ``DELETE`` so the edit applies only to the version
    you read (412 ``precondition_failed`` otherwise), or in ``If-None-Match`` for a 304.
    """
    language = request_lang(request, lang)
    station, version = loc.station_revision(station_id)
    body = dumps(station_feature(station, language, version=version))
    return cached_response(
        request, body, headers=language_headers(language), etag=version_etag(version, language)
    )


@router.get(
    "/{station_id}/navigation",
    summary="Links that open a station in navigation apps, in each app's datum",
    response_model=NavigationLinks,
    responses=problem_responses(404),
)
def station_navigation(
    request: Request, loc: LocatorDep, station_id: str, lang: LangQ = None
) -> Response:
    """Links for Amap (GCJ-02), Baidu Maps (BD-09), 2GIS, OsmAnd and a ``geo:`` URI (WGS
    84), each carrying the station's position in the datum that app expects (GCJ-02 only
    inside China, like ``crs``) and its name in the response language. The links are for a
    user to tap; nothing is fetched from those hosts."""
    language = request_lang(request, lang)
    st = loc.station(station_id)
    name = st.name.best(language) or st.id
    links = [
        {"app": app, "datum": datum, "href": href(*loc.from_wgs84(st.lon, st.lat, datum), name)}
        for app, datum, href in NAVIGATION_APPS
    ]
    body = {"station_id": st.id, "name": name, "links": links}
    return Response(dumps(body), media_type="application/json", headers=language_headers(language))


def _q(text: str) -> str:
    return quote(text, safe="")


#: (app, datum, href(lon, lat, name)) for the navigation hand-off, in display order.
NAVIGATION_APPS: tuple[tuple[str, str, Callable[[float, float, str], str]], ...] = (
    (
        "amap",
        "gcj02",
        lambda x, y, n: (
            f"https://uri.amap.com/marker?position={x:.6f},{y:.6f}&name={_q(n)}"
            "&coordinate=gaode&callnative=1&src=border-port-locator"
        ),
    ),
    (
        "baidu",
        "bd09",
        lambda x, y, n: (
            f"https://api.map.baidu.com/marker?location={y:.6f},{x:.6f}"
            f"&title={_q(n)}&content={_q(n)}&output=html&coord_type=bd09ll"
            "&src=border-port-locator"
        ),
    ),
    ("2gis", "wgs84", lambda x, y, n: f"dgis://2gis.ru/routeSearch/rsType/car/to/{x:.6f},{y:.6f}"),
    (
        "osmand",
        "wgs84",
        lambda x, y, n: f"https://osmand.net/map?pin={y:.6f},{x:.6f}#15/{y:.6f}/{x:.6f}",
    ),
    ("geo", "wgs84", lambda x, y, n: f"geo:{y:.6f},{x:.6f}?q={y:.6f},{x:.6f}({_q(n)})"),
)


def version_etag(version: int, lang: str | None = None) -> str:
    """The strong ETag of a station version (per response language)."""
    return f'"v{version}.{lang}"' if lang else f'"v{version}"'


_TAG = re.compile(r'^"v(\d{1,18})(?:\.[A-Za-z-]{1,16})?"$')


def if_match_version(request: Request) -> int | None:
    """The version an ``If-Match`` header asks for: ``None`` without the header (or with
    ``*``: the station must merely exist), 0 for tags that can match no version (weak
    tags never match under RFC 9110's strong comparison; foreign tags name no version;
    versions start at 1).

    Raises
    ------
    ApiError
        400 when the header names several different versions.
    """
    header = request.headers.get("if-match")
    if header is None or header.strip() == "*":
        return None
    versions = set()
    for tag in (t.strip() for t in header.split(",")):
        m = _TAG.match(tag)
        versions.add(int(m.group(1)) if m else 0)
    if len(versions) > 1:
        raise ApiError(
            400, "invalid_request", "If-Match: give the one version you read (one entity tag)"
        )
    return versions.pop()


def _actor(key: KeyRecord) -> str:
    """The audit actor: the key's id (unique) and its name (for people reading the log)."""
    return f"api-key:{key.key_id} ({key.name})"


def _edited(rev: Revision, language: Lang, *, status_code: int = 200, **headers: str) -> Response:
    return GeoJSONResponse(
        station_feature(rev.station, language, version=rev.version),
        status_code=status_code,
        headers={
            "ETag": version_etag(rev.version, language),
            **headers,
            **language_headers(language),
        },
    )


@router.post(
    "",
    summary="Add a station (API key)",
    response_model=StationFeature,
    response_class=GeoJSONResponse,
    status_code=201,
    responses=problem_responses(401, 403, 409, 503),
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
    lon, lat = to_wgs84(loc, station.lon, station.lat, crs)
    rev = loc.add_station(station.model_copy(update={"lon": lon, "lat": lat}), actor=_actor(key))
    location = str(request.url_for("get_station", station_id=rev.station.id))
    return _edited(rev, request_lang(request, lang), status_code=201, Location=location)


@router.patch(
    "/{station_id}",
    summary="Change a station (API key, JSON merge patch)",
    response_model=StationFeature,
    response_class=GeoJSONResponse,
    responses=problem_responses(400, 401, 403, 404, 412),
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

    The merge happens inside the store's write transaction, so concurrent patches of
    different fields all survive; with ``If-Match`` (the ETag of a read) the patch
    applies only if nobody changed the station since (412 ``precondition_failed``).
    One transaction with an audit row holding the record before and after; a move or a
    change of kind updates the nearest-station forests and circles at once. In a datum
    other than WGS 84, ``lon`` and ``lat`` change together.
    """
    changes: dict[str, Any] = patch.model_dump(exclude_unset=True, mode="json")
    if crs != Crs.wgs84 and ("lon" in changes or "lat" in changes):
        if changes.get("lon") is None or changes.get("lat") is None:
            raise ApiError(422, "invalid_coordinate", f"in {crs.value}, give lon and lat together")
        changes["lon"], changes["lat"] = to_wgs84(
            loc, float(changes["lon"]), float(changes["lat"]), crs
        )
    rev = loc.patch_station(
        station_id, changes, actor=_actor(key), if_version=if_match_version(request)
    )
    return _edited(rev, request_lang(request, lang))


@router.delete(
    "/{station_id}",
    summary="Delete a station (API key)",
    response_model=StationFeature,
    response_class=GeoJSONResponse,
    responses=problem_responses(400, 401, 403, 404, 412),
)
def delete_station(
    request: Request, loc: LocatorDep, key: KeyDep, station_id: str, lang: LangQ = None
) -> Response:
    """Delete a station (one transaction, audited; ``If-Match`` as for ``PATCH``);
    returns what was deleted."""
    rev = loc.delete_station(station_id, actor=_actor(key), if_version=if_match_version(request))
    return _edited(rev, request_lang(request, lang))
