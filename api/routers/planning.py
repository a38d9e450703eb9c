"""Planner routes: ``GET /v1/coverage`` and ``POST /v1/plan/sites``."""

from __future__ import annotations

from typing import Annotated

import shapely
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from api.geojson import GeoJSONResponse, dumps, geometry, point
from api.i18n import Lang, language_headers, pick, request_lang
from api.limits import heavy_slot
from api.params import Crs, CrsQ, LangQ, ModeQ, get_locator, region_arg
from api.problems import problem_responses
from api.schemas import CoverageResponse, PlanRequest, PlanResponse
from locator import METRES_PER_DEGREE, Locator
from locator.errors import RegionNotFoundError
from locator.stations import StationKind

router = APIRouter(prefix="/v1", tags=["planning"])

LocatorDep = Annotated[Locator, Depends(get_locator)]


def _unit_name(loc: Locator, code: str, lang: Lang) -> str | None:
    if loc.regions is None:
        return None
    try:
        u = loc.regions.get(code)
    except RegionNotFoundError:
        return None
    return pick({"zh": u.name_zh, "en": u.name_en, "mn": u.name_mn}, lang)


def _share(x: float) -> float:
    return min(1.0, max(0.0, x))


@router.get(
    "/coverage",
    summary="Coverage of a region by the service circles of one station kind",
    response_model=CoverageResponse,
    responses=problem_responses(404, 413, 503),
    dependencies=[Depends(heavy_slot)],
)
def coverage(
    *,
    request: Request,
    loc: LocatorDep,
    kind: StationKind,
    region: Annotated[
        str | None,
        Query(
            max_length=200,
            description="Admin code (league or banner), port id, or minLon,minLat,maxLon,maxLat; "
            "omit for the whole network",
            examples=["150700"],
        ),
    ] = None,
    minutes: Annotated[
        float,
        Query(
            gt=0,
            allow_inf_nan=False,
            description="Circle size (at most Settings.max_minutes)",
        ),
    ] = 15.0,
    mode: ModeQ = None,
    simplify_m: Annotated[
        float,
        Query(
            ge=0,
            le=10_000,
            allow_inf_nan=False,
            description="Simplification of the uncovered stretches (m, approximate)",
        ),
    ] = 50.0,
    crs: CrsQ = Crs.wgs84,
    lang: LangQ = None,
) -> Response:
    """Summary figures, a per-league (or per-banner in a league) table, and the road
    stretches no circle reaches as a MultiLineString feature.

    Demand points are the ports and worker homes (weight 1 each).
    """
    language = request_lang(request, lang)
    report = loc.coverage(
        kind=kind, minutes=minutes, mode=mode, region=region_arg(loc, region, crs)
    )
    gaps = report.uncovered
    if simplify_m > 0 and not gaps.is_empty:
        gaps = shapely.simplify(gaps, simplify_m / METRES_PER_DEGREE, preserve_topology=False)
    body = {
        "kind": report.kind,
        "mode": report.mode,
        "minutes": report.minutes,
        "region": report.region,
        "road_km": round(report.road_km, 3),
        "covered_km": round(report.covered_km, 3),
        "share": _share(report.share),
        "demand_total": report.demand_total,
        "demand_covered": report.demand_covered,
        "stations_used": report.stations_used,
        "rows": [
            {
                "code": r.code,
                "name": _unit_name(loc, r.code, language),
                "road_km": round(r.road_km, 3),
                "covered_km": round(r.covered_km, 3),
                "share": _share(r.share),
                "demand_total": r.demand_total,
                "demand_covered": r.demand_covered,
            }
            for r in report.rows
        ],
        "uncovered": {
            "type": "Feature",
            "geometry": geometry(gaps),
            "properties": {
                "length_km": round(report.road_km - report.covered_km, 3),
                "simplify_m": simplify_m,
            },
        },
    }
    return Response(
        dumps(body), media_type=JSONResponse.media_type, headers=language_headers(language)
    )


@router.post(
    "/plan/sites",
    summary="Suggest sites for new stations (greedy maximal covering)",
    response_model=PlanResponse,
    response_class=GeoJSONResponse,
    responses=problem_responses(404, 413, 503),
    dependencies=[Depends(heavy_slot)],
)
def plan_sites(
    loc: LocatorDep,
    plan: Annotated[
        PlanRequest,
        Body(
            examples=[
                {
                    "kind": "driver_station",
                    "k": 3,
                    "minutes": 15,
                    "mode": "truck",
                    "region": "150700",
                },
            ]
        ),
    ],
) -> Response:
    """``k`` network nodes for new stations of ``kind``, in greedy order, each with the road
    length it newly brings inside ``minutes`` (its marginal gain).
    """
    result = loc.suggest_sites(
        kind=plan.kind,
        k=plan.k,
        minutes=plan.minutes,
        mode=plan.mode,
        region=region_arg(loc, plan.region, Crs(plan.crs)),
    )
    features = [
        {
            "type": "Feature",
            "geometry": point(s.lon, s.lat),
            "properties": {
                "rank": i,
                "node": s.node,
                "gain_m": round(s.gain, 1),
                "cumulative_gain_m": round(s.cumulative_gain, 1),
            },
        }
        for i, s in enumerate(result.sites, start=1)
    ]
    body = {
        "type": "FeatureCollection",
        "kind": plan.kind.value,
        "mode": loc.check_mode(plan.mode),
        "minutes": plan.minutes,
        "demand_unit": "m of road",
        "total_demand": result.total_demand,
        "covered_before": result.covered_before,
        "covered_after": result.covered_after,
        "candidates_evaluated": result.candidates_evaluated,
        "features": features,
    }
    return Response(dumps(body), media_type=GeoJSONResponse.media_type)
