"""``/v1/trips/stations`` (stations along the way, with detours) and
``/v1/trips/rest-plan`` (rest stops under a driving-time rule)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from api.geojson import GeoJSONResponse, dumps, point, route_geometry, route_properties
from api.geojson import station_properties as _station_properties
from api.i18n import Lang, language_headers, request_lang
from api.params import Crs, CrsQ, DepartQ, LangQ, ModeQ, ServicesQ, get_locator, point_or_id
from api.problems import PROBLEM_JSON, problem_body, problem_responses
from api.schemas import RestPlanCollection, TripStationsCollection
from locator import Locator, RestPlan, RestRule, Route, Trip
from locator.arguments import check_instant, parse_enum_list
from locator.errors import NoRestPlanError
from locator.stations import Service, StationKind

router = APIRouter(prefix="/v1/trips", tags=["trips"])

LocatorDep = Annotated[Locator, Depends(get_locator)]

FromQ = Annotated[
    str,
    Query(
        alias="from",
        max_length=100,
        description="Origin: lon,lat (datum per crs), a station id or a port id",
        examples=["erenhot"],
    ),
]
ToQ = Annotated[
    str,
    Query(
        max_length=100,
        description="Destination: lon,lat (datum per crs), a station id or a port id",
        examples=["111.67,40.82"],
    ),
]
KindsQ = Annotated[
    str | None,
    Query(
        max_length=200,
        description="Comma-separated station kinds (default: every kind)",
        examples=["driver_station,worker_home"],
    ),
]
DetourQ = Annotated[
    float,
    Query(
        ge=0,
        allow_inf_nan=False,
        description="Largest detour in minutes (at most Settings.max_detour_min)",
    ),
]


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat(timespec="seconds")


def _query(
    route: Route, crs: Crs, detour_min: float | None, depart: datetime | None
) -> dict[str, Any]:
    start, end = route.coordinates[0], route.coordinates[-1]
    return {
        "from": [round(float(start[0]), 6), round(float(start[1]), 6)],
        "to": [round(float(end[0]), 6), round(float(end[1]), 6)],
        "crs": crs.value,
        "mode": route.mode,
        "max_detour_min": detour_min,
        "depart_at": _iso(depart),
    }


def _line(r: Route, **props: Any) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": route_geometry(r),
        "properties": {**route_properties(r), **props},
    }


@router.get(
    "/stations",
    summary="Stations along the way from A to B, with the detour each one adds",
    response_model=TripStationsCollection,
    response_class=GeoJSONResponse,
    responses=problem_responses(404, 413),
)
def trip_stations(
    *,
    request: Request,
    loc: LocatorDep,
    from_: FromQ,
    to: ToQ,
    kind: KindsQ = None,
    services: ServicesQ = None,
    mode: ModeQ = None,
    max_detour_min: DetourQ = 15.0,
    depart_at: DepartQ = None,
    open_on_arrival: Annotated[
        bool, Query(description="Only stations open on arrival (needs depart_at)")
    ] = False,
    limit: Annotated[
        int, Query(ge=1, description="Most stations (first by reach_s; Settings limit)")
    ] = 20,
    via: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A station id among the results: add its two legs "
            "(to_station, from_station)",
        ),
    ] = None,
    crs: CrsQ = Crs.wgs84,
    lang: LangQ = None,
) -> Response:
    """Every station whose detour (``reach_s + onward_s`` minus the direct route's time,
    exact on the road network) is at most ``max_detour_min``, in the order a driver
    meets them (``reach_s``). The first feature is the direct route (``role: route``).
    With ``depart_at``, ``open_on_arrival`` says whether each station is open at
    departure + ``reach_s``. Errors: ``no_route``, ``station_not_found`` (an id that is
    neither a station nor a port), ``request_too_large`` (detour, limit, trip length).
    """
    language = request_lang(request, lang)
    depart = check_instant(depart_at, name="depart_at")
    trip = loc.along_route(
        point_or_id(loc, from_, "from", crs),
        point_or_id(loc, to, "to", crs),
        mode=mode,
        kind=parse_enum_list(kind, StationKind, name="kind") or None,
        services=parse_enum_list(services, Service, name="services"),
        depart_at=depart,
        open_on_arrival=open_on_arrival,
        max_detour_s=max_detour_min * 60.0,
        limit=limit,
        routes=via.strip() if via else False,
    )
    body = {
        "type": "FeatureCollection",
        "query": _query(trip.route, crs, max_detour_min, depart),
        "features": _trip_features(trip, language),
    }
    return Response(
        dumps(body), media_type=GeoJSONResponse.media_type, headers=language_headers(language)
    )


def _trip_features(trip: Trip, language: Lang) -> list[dict[str, Any]]:
    out = [_line(trip.route, role="route", station_id=None)]
    legs: list[dict[str, Any]] = []
    for rank, s in enumerate(trip.stations, start=1):
        out.append(
            {
                "type": "Feature",
                "id": s.station.id,
                "geometry": point(s.station.lon, s.station.lat),
                "properties": {
                    **_station_properties(s.station, language),
                    "role": "station",
                    "rank": rank,
                    "reach_s": round(s.reach_s, 1),
                    "detour_s": round(s.detour_s, 1),
                    "onward_s": round(s.onward_s, 1),
                    "position_s": round(s.position_s, 1),
                    "arrival_at": _iso(s.arrival_at),
                    "open_on_arrival": s.open_on_arrival,
                    "hours_on_arrival": None
                    if s.arrival_at is None
                    else s.station.hours.spans_on(s.arrival_at),
                },
            }
        )
        if s.route_to is not None and s.route_on is not None:
            legs.append(_line(s.route_to, role="to_station", station_id=s.station.id))
            legs.append(_line(s.route_on, role="from_station", station_id=s.station.id))
    return out + legs


@router.get(
    "/rest-plan",
    summary="Rest stops that keep a driver within the driving-time rule",
    response_model=RestPlanCollection,
    response_class=GeoJSONResponse,
    responses=problem_responses(404, 413),
)
def rest_plan(
    *,
    request: Request,
    loc: LocatorDep,
    from_: FromQ,
    to: ToQ,
    rule: Annotated[
        str,
        Query(
            pattern="^(cn|aetr)$",
            description="cn: 4 h, then 20 min (China); aetr: 4 h 30 min, then 45 min",
        ),
    ] = "cn",
    max_drive_min: Annotated[
        float | None,
        Query(gt=0, allow_inf_nan=False, description="Override the rule's driving limit"),
    ] = None,
    min_rest_min: Annotated[
        float | None,
        Query(ge=0, allow_inf_nan=False, description="Override the rule's rest"),
    ] = None,
    kind: KindsQ = None,
    services: ServicesQ = None,
    mode: ModeQ = None,
    max_detour_min: DetourQ = 15.0,
    depart_at: DepartQ = None,
    crs: CrsQ = Crs.wgs84,
    lang: LangQ = None,
) -> Response:
    """The fastest sequence of stops (driving plus rests) such that no driving leg is
    longer than the rule allows; stops are stations within ``max_detour_min`` of the
    route. Features: the legs (LineStrings, ``role: leg``) and stops (Points,
    ``role: stop``) in travel order; ``plan`` has the totals. When no plan exists the
    answer is a 422 ``no_rest_plan`` problem whose ``gap`` is the stretch of the route
    without a usable station (a LineString feature with ``from_s``, ``to_s``,
    ``length_s``), and ``planned_stops`` the stops that can be planned before it.
    """
    language = request_lang(request, lang)
    depart = check_instant(depart_at, name="depart_at")
    try:
        plan = loc.rest_plan(
            point_or_id(loc, from_, "from", crs),
            point_or_id(loc, to, "to", crs),
            mode=mode,
            rule=rule,
            max_drive_s=None if max_drive_min is None else max_drive_min * 60.0,
            min_rest_s=None if min_rest_min is None else min_rest_min * 60.0,
            kind=parse_enum_list(kind, StationKind, name="kind") or None,
            services=parse_enum_list(services, Service, name="services"),
            depart_at=depart,
            max_detour_s=max_detour_min * 60.0,
        )
    except NoRestPlanError as exc:
        return _no_plan(exc, language)
    body = {
        "type": "FeatureCollection",
        "query": _query(plan.legs[0], crs, max_detour_min, depart) | {"to": _end_of(plan)},
        "plan": _summary(plan),
        "features": _plan_features(plan, language),
    }
    return Response(
        dumps(body), media_type=GeoJSONResponse.media_type, headers=language_headers(language)
    )


def _end_of(plan: RestPlan) -> list[float]:
    end = plan.legs[-1].coordinates[-1]
    return [round(float(end[0]), 6), round(float(end[1]), 6)]


def _rule(rule: RestRule) -> dict[str, Any]:
    return {"name": rule.name, "max_drive_s": rule.max_drive_s, "min_rest_s": rule.min_rest_s}


def _summary(plan: RestPlan) -> dict[str, Any]:
    return {
        "rule": _rule(plan.rule),
        "total_s": round(plan.total_s, 1),
        "driving_s": round(plan.driving_s, 1),
        "rest_s": round(plan.rest_s, 1),
        "direct_s": round(plan.direct_s, 1),
        "stops": len(plan.stops),
        "depart_at": _iso(plan.depart_at),
        "arrive_at": _iso(plan.arrive_at),
    }


def _plan_features(plan: RestPlan, language: Lang) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    start = 0.0
    for i, leg in enumerate(plan.legs):
        out.append(_line(leg, role="leg", leg=i + 1, start_s=round(start, 1)))
        if i < len(plan.stops):
            s = plan.stops[i]
            out.append(
                {
                    "type": "Feature",
                    "id": s.station.id,
                    "geometry": point(s.station.lon, s.station.lat),
                    "properties": {
                        **_station_properties(s.station, language),
                        "role": "stop",
                        "stop": i + 1,
                        "arrival_s": round(s.arrival_s, 1),
                        "departure_s": round(s.departure_s, 1),
                        "detour_s": round(s.detour_s, 1),
                        "arrival_at": _iso(s.arrival_at),
                        "departure_at": _iso(s.departure_at),
                        "open_on_arrival": s.open_on_arrival,
                        "hours_on_arrival": None
                        if s.arrival_at is None
                        else s.station.hours.spans_on(s.arrival_at),
                    },
                }
            )
            start = s.departure_s
    return out


def _no_plan(exc: NoRestPlanError, language: Lang) -> JSONResponse:
    """422 ``no_rest_plan`` with the gap as a GeoJSON feature (the whole geometry: it is
    the service's own answer, not an echo of the request) and the plannable part."""
    body = problem_body(422, exc.code, type(exc).__name__, exc.message, **exc.details)
    gap, plan = exc.gap, exc.plan
    if gap is not None:
        body["gap"] = _line(
            gap.route,
            role="gap",
            from_s=round(gap.from_s, 1),
            to_s=round(gap.to_s, 1),
            length_s=round(gap.length_s, 1),
            after_station_id=gap.after,
        )
    if isinstance(plan, RestPlan):
        body["planned"] = {
            "type": "FeatureCollection",
            "plan": _summary(plan) | {"arrive_at": None},
            "features": _plan_features(plan, language),
        }
    return JSONResponse(
        body, status_code=422, media_type=PROBLEM_JSON, headers=language_headers(language)
    )
