"""Planner routes: ``GET /v1/coverage`` and ``POST /v1/plan/sites``."""

from __future__ import annotations

import csv
import hashlib
import io
from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Body, Depends, Query, Request, Response
from fastapi.responses import JSONResponse

from api.geojson import GEOJSON, GeoJSONResponse, dumps, geometry, if_none_match, point
from api.i18n import Lang, language_headers, pick, request_lang
from api.limits import heavy_slot
from api.params import Crs, CrsQ, LangQ, ModeQ, get_locator, region_arg, to_wgs84
from api.problems import problem_responses
from api.schemas import CoverageResponse, EvaluateRequest, PlanRequest, PlanResponse
from locator import METRES_PER_DEGREE, CoverageReport, Locator, SitingResult
from locator.errors import RegionNotFoundError
from locator.stations import StationKind

router = APIRouter(prefix="/v1", tags=["planning"])

LocatorDep = Annotated[Locator, Depends(get_locator)]


def unit_name(loc: Locator, code: str, lang: Lang) -> str | None:
    """A league's or banner's name in ``lang`` (``None`` for other region codes)."""
    if loc.regions is None:
        return None
    try:
        u = loc.regions.get(code)
    except RegionNotFoundError:
        return None
    return pick({"zh": u.name_zh, "en": u.name_en, "mn": u.name_mn}, lang)


def _share(x: float) -> float:
    return min(1.0, max(0.0, x))


_COVERAGE_FORMATS = {
    "text/csv": {
        "description": "f=csv: the table (UTF-8 with a byte-order mark, so Excel reads "
        "Chinese), one row per league/banner and a last row for the whole region",
        "example": "\ufeffcode,name,road_km,covered_km,share,demand_total,demand_covered\n",
    },
    "application/geo+json": {
        "description": "f=geojson: the uncovered stretches as a FeatureCollection (QGIS, any GIS)",
        "example": {"type": "FeatureCollection", "features": []},
    },
}


@router.get(
    "/coverage",
    summary="Coverage of a region by the service circles of one station kind",
    response_model=CoverageResponse,
    responses={
        **problem_responses(404, 413, 503),
        200: {"content": _COVERAGE_FORMATS},
        304: {"description": "Not modified (same stations and parameters)"},
    },
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
    f: Annotated[
        Literal["json", "csv", "geojson"] | None,
        Query(
            description="Output format (OGC API style): json (default), csv (the table), "
            "geojson (the uncovered stretches); also chosen by Accept: text/csv or "
            "application/geo+json"
        ),
    ] = None,
) -> Response:
    """Summary figures, a per-league (or per-banner in a league) table, and the road
    stretches no circle reaches as a MultiLineString feature; or the table as CSV, or the
    stretches as a GeoJSON FeatureCollection (``f``). ETag: the same stations and
    parameters give the same body (304 on ``If-None-Match``).

    Demand points are the ports and worker homes (weight 1 each).
    """
    language = request_lang(request, lang)
    fmt = f or _format_from_accept(request.headers.get("accept", ""))
    etag = _etag(
        loc.stations_version,
        kind.value,
        region,
        minutes,
        loc.check_mode(mode),
        simplify_m,
        crs.value,
        language,
        fmt,
    )
    if if_none_match(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    report = loc.coverage(
        kind=kind, minutes=minutes, mode=mode, region=region_arg(loc, region, crs)
    )
    body = _coverage_body(loc, report, language, simplify_m)
    headers = {**language_headers(language), "ETag": etag, "Cache-Control": "no-cache"}
    stem = f"coverage-{report.region}-{report.kind}-{report.minutes:g}min".replace("/", "_")
    if fmt == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{_ascii(stem)}.csv"'
        return Response(_coverage_csv(body), media_type="text/csv; charset=utf-8", headers=headers)
    if fmt == "geojson":
        headers["Content-Disposition"] = f'attachment; filename="{_ascii(stem)}-gaps.geojson"'
        gaps_fc = {
            "type": "FeatureCollection",
            "features": [
                {
                    **body["uncovered"],
                    "properties": {
                        **body["uncovered"]["properties"],
                        "region": report.region,
                        "kind": report.kind,
                        "mode": report.mode,
                        "minutes": report.minutes,
                    },
                }
            ]
            if body["uncovered"]["geometry"] is not None
            else [],
        }
        return Response(dumps(gaps_fc), media_type=GEOJSON, headers=headers)
    return Response(dumps(body), media_type=JSONResponse.media_type, headers=headers)


def _sites_body(  # noqa: PLR0917 (private)
    loc: Locator,
    result: SitingResult,
    kind: StationKind,
    mode: str | None,
    minutes: float,
    objective: str = "road",
) -> dict[str, Any]:
    """Suggested sites as a FeatureCollection of Points with the run's totals."""
    road = objective == "road"

    def km(x: float) -> float | None:
        return round(x / 1000.0, 3) if road else None

    features = [
        {
            "type": "Feature",
            "geometry": point(s.lon, s.lat),
            "properties": {
                "rank": i,
                "node": s.node,
                "gain": round(s.gain, 3),
                "cumulative_gain": round(s.cumulative_gain, 3),
                "gain_m": round(s.gain, 1) if road else None,
                "cumulative_gain_m": round(s.cumulative_gain, 1) if road else None,
                "gain_km": km(s.gain),
                "cumulative_gain_km": km(s.cumulative_gain),
            },
        }
        for i, s in enumerate(result.sites, start=1)
    ]
    return {
        "type": "FeatureCollection",
        "kind": kind.value,
        "mode": loc.check_mode(mode),
        "minutes": minutes,
        "objective": objective,
        "demand_unit": "m of road" if road else "weight",
        "total_demand": result.total_demand,
        "covered_before": result.covered_before,
        "covered_after": result.covered_after,
        "candidates_evaluated": result.candidates_evaluated,
        "features": features,
    }


def _sites_csv(body: dict[str, Any]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    road = body["objective"] == "road"
    gains = ["gain_km", "cumulative_gain_km"] if road else ["gain", "cumulative_gain"]
    w.writerow(["rank", "lon", "lat", "node", *gains])
    for f in body["features"]:
        p = f["properties"]
        lon, lat = f["geometry"]["coordinates"]
        w.writerow([p["rank"], lon, lat, p["node"], *(p[g] for g in gains)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _etag(*parts: object) -> str:
    return '"' + hashlib.sha256("|".join(map(str, parts)).encode("utf-8")).hexdigest()[:32] + '"'


def _coverage_body(
    loc: Locator, report: CoverageReport, language: Lang, simplify_m: float
) -> dict[str, Any]:
    """The JSON answer of a coverage report (``/v1/coverage`` and what-ifs)."""
    gaps = report.uncovered
    if simplify_m > 0 and not gaps.is_empty:
        gaps = shapely.simplify(gaps, simplify_m / METRES_PER_DEGREE, preserve_topology=False)
    body: dict[str, Any] = {
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
                "name": unit_name(loc, r.code, language),
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
        "demand_points": {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": point(d.lon, d.lat),
                    "properties": {
                        "weight": d.weight,
                        "covered": d.covered,
                        "minutes_to_station": None
                        if d.time_s is None
                        else round(d.time_s / 60.0, 2),
                        "source": "standing" if d.standing else "given",
                    },
                }
                for d in report.demand_points
            ],
        },
    }
    return body


def _format_from_accept(accept: str) -> str:
    """``csv`` or ``geojson`` when the client asks for them first, else ``json``."""
    for part in accept.split(","):
        media = part.split(";")[0].strip().lower()
        if media == "text/csv":
            return "csv"
        if media == "application/geo+json":
            return "geojson"
        if media in ("application/json", "*/*", "application/*"):
            return "json"
    return "json"


def _ascii(text: str) -> str:
    return "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in text)


def _coverage_csv(body: dict[str, Any]) -> bytes:
    """The coverage table as CSV with a BOM, the region's own figures as the last row."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    cols = ["code", "name", "road_km", "covered_km", "share", "demand_total", "demand_covered"]
    w.writerow(cols)
    for row in body["rows"]:
        w.writerow([row[c] for c in cols])
    w.writerow([body["region"], "total", *(body[c] for c in cols[2:])])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


@router.post(
    "/plan/evaluate",
    summary="What-if: coverage with stations added, moved or removed, without saving",
    response_model=CoverageResponse,
    responses=problem_responses(404, 413, 503),
    dependencies=[Depends(heavy_slot)],
)
def plan_evaluate(
    request: Request,
    loc: LocatorDep,
    plan: Annotated[EvaluateRequest, Body()],
    lang: LangQ = None,
) -> Response:
    """The figures of ``/v1/coverage`` (``covered_km``, ``share``, rows, gaps,
    ``stations_used``) as they would be with the stations of ``add`` added, those of
    ``move`` moved and those of ``remove`` removed; the store is not touched (saving a
    scenario is the keyed ``/v1/stations`` write path). ``demand`` adds weighted points
    (e.g. imported truck counts) to the ports and worker homes for this answer. Fast
    enough to follow a dragged marker on the regional network (about 0.1 s per league)."""
    language = request_lang(request, lang)
    crs = Crs(plan.crs)
    report = loc.evaluate_plan(
        kind=plan.kind,
        minutes=plan.minutes,
        mode=plan.mode,
        region=region_arg(loc, plan.region, crs),
        add=[to_wgs84(loc, p.lon, p.lat, crs) for p in plan.add],
        move=[(m.id, *to_wgs84(loc, m.lon, m.lat, crs)) for m in plan.move],
        remove=plan.remove,
        demand=[(*to_wgs84(loc, d.lon, d.lat, crs), d.weight) for d in plan.demand],
    )
    body = _coverage_body(loc, report, language, 50.0)
    body["scenario"] = {
        "added": len(plan.add),
        "moved": [m.id for m in plan.move],
        "removed": list(plan.remove),
    }
    return Response(
        dumps(body), media_type=JSONResponse.media_type, headers=language_headers(language)
    )


@router.get(
    "/plan/sites",
    summary="Suggest sites for new stations (GET: cacheable, json, geojson or csv)",
    response_model=PlanResponse,
    response_class=GeoJSONResponse,
    responses={
        **problem_responses(404, 413, 503),
        200: {
            "content": {
                "text/csv": {
                    "description": "f=csv: rank, lon, lat, node, gain_km, cumulative_gain_km "
                    "(UTF-8 with BOM)",
                    "example": "\ufeffrank,lon,lat,node,gain_km,cumulative_gain_km\r\n",
                }
            }
        },
        304: {"description": "Not modified (same stations and parameters)"},
    },
    dependencies=[Depends(heavy_slot)],
)
def plan_sites_get(
    *,
    request: Request,
    loc: LocatorDep,
    kind: StationKind,
    k: Annotated[int, Query(ge=1, description="Number of sites (at most Settings.max_k)")] = 3,
    minutes: Annotated[float, Query(gt=0, allow_inf_nan=False)] = 15.0,
    mode: ModeQ = None,
    region: Annotated[
        str | None,
        Query(max_length=200, description="Admin code, port id or bbox", examples=["152500"]),
    ] = None,
    within_country: Annotated[
        bool, Query(description="Candidates only inside China (the national outline)")
    ] = True,
    objective: Annotated[
        Literal["road", "demand"],
        Query(
            description="road: covered road length; demand: covered ports and worker homes "
            "(POST adds weighted demand points)"
        ),
    ] = "road",
    crs: CrsQ = Crs.wgs84,
    f: Annotated[
        Literal["json", "geojson", "csv"] | None,
        Query(description="json / geojson (the same FeatureCollection of Points) or csv"),
    ] = None,
) -> Response:
    """The suggestions of ``POST /v1/plan/sites`` for a link or a GIS: each site a Point
    feature with ``gain_km`` and ``cumulative_gain_km`` (the increase of ``/v1/coverage``'s
    ``covered_km``); ``f=csv`` for a spreadsheet. ETag: the same stations and parameters
    give the same answer (304 on ``If-None-Match``)."""
    fmt = f or _format_from_accept(request.headers.get("accept", ""))
    etag = _etag(
        loc.stations_version,
        kind.value,
        k,
        minutes,
        loc.check_mode(mode),
        region,
        within_country,
        objective,
        crs.value,
        fmt,
    )
    if if_none_match(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    result = loc.suggest_sites(
        kind=kind,
        k=k,
        minutes=minutes,
        mode=mode,
        region=region_arg(loc, region, crs),
        within_country=within_country,
        objective=objective,
    )
    body = _sites_body(loc, result, kind, mode, minutes, objective)
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if fmt == "csv":
        headers["Content-Disposition"] = 'attachment; filename="sites.csv"'
        return Response(_sites_csv(body), media_type="text/csv; charset=utf-8", headers=headers)
    return Response(dumps(body), media_type=GeoJSONResponse.media_type, headers=headers)


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
    length it newly brings inside ``minutes`` (its marginal gain): exactly the increase of
    ``/v1/coverage``'s ``covered_km`` for the region if a station were added there after
    the sites before it. Candidates lie in the region and (``within_country``, default)
    inside China; ``total_demand`` and ``covered_before`` are the region's road and
    covered road in metres, as ``/v1/coverage`` reports them in km. With
    ``objective=demand`` the sites maximise covered demand weight instead (the ports and
    worker homes plus ``demand``): each ``gain`` is the increase of ``demand_covered``.
    """
    crs = Crs(plan.crs)
    result = loc.suggest_sites(
        kind=plan.kind,
        k=plan.k,
        minutes=plan.minutes,
        mode=plan.mode,
        region=region_arg(loc, plan.region, crs),
        within_country=plan.within_country,
        objective=plan.objective,
        demand=[(*to_wgs84(loc, d.lon, d.lat, crs), d.weight) for d in plan.demand],
    )
    body = _sites_body(loc, result, plan.kind, plan.mode, plan.minutes, plan.objective)
    return Response(dumps(body), media_type=GeoJSONResponse.media_type)
