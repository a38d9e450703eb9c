"""``/v1/nearest`` (stations fastest to reach, with routes) and ``/v1/route``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from api.geojson import (
    GeoJSONResponse,
    StationFeatures,
    dumps,
    route_feature,
    route_geometry,
    route_properties,
)
from api.geojson import station_feature as _station_feature
from api.i18n import Lang, language_headers, request_lang
from api.params import (
    Crs,
    CrsQ,
    DepartQ,
    LangQ,
    LatQ,
    LonQ,
    ModeQ,
    ServicesQ,
    get_locator,
    point_or_id,
    point_param,
    to_wgs84,
)
from api.problems import problem_responses
from api.schemas import NearestCollection, RouteFeature
from locator import Locator
from locator.arguments import check_instant, parse_enum_list
from locator.stations import Service, StationKind

router = APIRouter(prefix="/v1", tags=["routing"])

LocatorDep = Annotated[Locator, Depends(get_locator)]


class NearestQuery(BaseModel):
    """The parameters of ``GET /v1/nearest`` (one definition: the route's and the fast
    lane's, :mod:`api.fastlane`)."""

    model_config = ConfigDict(extra="ignore")

    lon: LonQ
    lat: LatQ
    kind: StationKind | None = None
    services: ServicesQ = None
    mode: ModeQ = None
    k: Annotated[int, Query(ge=1, description="Stations to return (at most Settings.max_k)")] = 1
    at: Annotated[
        datetime | None,
        Query(description="Only stations open at this instant (naive = China Standard Time)"),
    ] = None
    depart_at: DepartQ = None
    open_on_arrival: Annotated[
        bool,
        Query(
            description="Only stations open when the driver arrives (departure + travel "
            "time; needs depart_at)"
        ),
    ] = False
    crs: CrsQ = Crs.wgs84
    lang: LangQ = None


def nearest_answer(
    loc: Locator, q: NearestQuery, language: Lang, state: Any
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of ``GET /v1/nearest`` (shared by the route and the fast
    lane). ``state`` is the app's state: its ``station_features`` renders each station
    once per language."""
    x, y = to_wgs84(loc, q.lon, q.lat, q.crs)
    answers = loc.nearest(
        x,
        y,
        mode=q.mode,
        kind=q.kind,
        services=parse_enum_list(q.services, Service, name="services"),
        open_at=check_instant(q.at, name="at"),
        k=q.k,
        depart_at=check_instant(q.depart_at, name="depart_at"),
        open_on_arrival=q.open_on_arrival,
    )
    used_mode = loc.check_mode(q.mode)
    features_of: StationFeatures | None = getattr(state, "station_features", None)
    features = [
        {
            "type": "Feature",
            "id": a.station.id,
            "geometry": route_geometry(a.route),
            "properties": {
                **route_properties(a.route),
                "rank": rank,
                "arrival_at": None
                if a.arrival_at is None
                else a.arrival_at.isoformat(timespec="seconds"),
                "open_on_arrival": a.open_on_arrival,
                "hours_on_arrival": None
                if a.arrival_at is None
                else a.station.hours.spans_on(a.arrival_at),
                "station": features_of.get(a.station, language)
                if features_of is not None
                else _station_feature(a.station, language),
            },
        }
        for rank, a in enumerate(answers, start=1)
    ]
    body = dumps(
        {
            "type": "FeatureCollection",
            "query": {"lon": x, "lat": y, "crs": q.crs.value, "mode": used_mode},
            "features": features,
        }
    )
    return body, language_headers(language)


@router.get(
    "/nearest",
    summary="Nearest stations by road travel time, with routes",
    response_model=NearestCollection,
    response_class=GeoJSONResponse,
    responses=problem_responses(404, 413),
)
def nearest(request: Request, loc: LocatorDep, q: Annotated[NearestQuery, Query()]) -> Response:
    """The ``k`` stations a driver at ``(lon, lat)`` reaches fastest along the roads.

    Each feature is the route (LineString) to one station with ``duration_s``,
    ``distance_m``, ``steps`` and ``crosses_border``; the station is in
    ``properties.station``. With ``depart_at`` each feature has ``arrival_at`` and
    ``open_on_arrival`` (the hours at departure + travel time), and
    ``open_on_arrival=true`` keeps only the stations open then. Errors: ``no_road_nearby``,
    ``outside_service_area``,
    ``no_route`` (nothing matching is reachable), ``request_too_large`` (k).
    """
    language = request_lang(request, q.lang)
    body, headers = nearest_answer(loc, q, language, request.app.state)
    return Response(body, media_type=GeoJSONResponse.media_type, headers=headers)


@router.get(
    "/route",
    summary="Fastest route between two points, or to a station",
    response_model=RouteFeature,
    response_class=GeoJSONResponse,
    responses=problem_responses(404),
)
def route(
    loc: LocatorDep,
    from_: Annotated[
        str,
        Query(
            alias="from",
            max_length=100,
            description="Start as lon,lat (datum per crs)",
            examples=["117.39,49.59"],
        ),
    ],
    to: Annotated[
        str,
        Query(
            max_length=100,
            description="End as lon,lat or a station id",
            examples=["mzl-driver-home-01"],
        ),
    ],
    mode: ModeQ = None,
    crs: CrsQ = Crs.wgs84,
) -> Response:
    """Fastest route along the roads, partial edges at both ends included."""
    start = point_param(loc, from_, "from", crs)
    end = point_or_id(loc, to, "to", crs)
    r = loc.route(start, end, mode=mode)
    extra = {"to_station_id": end} if isinstance(end, str) else {}
    return Response(dumps(route_feature(r, **extra)), media_type=GeoJSONResponse.media_type)
