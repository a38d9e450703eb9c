"""Reference data: ``GET /v1/ports`` and ``GET /v1/regions`` (with ETags)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import shapely
from fastapi import APIRouter, Depends, Query, Request, Response

from api.geojson import GeoJSONResponse, cached_response, dumps, port_feature, region_feature
from api.i18n import language_headers, request_lang
from api.params import LangQ, get_locator
from api.problems import problem_responses
from api.schemas import PortCollection, RegionCollection
from locator import METRES_PER_DEGREE, Locator
from locator.errors import RegionNotFoundError

router = APIRouter(prefix="/v1", tags=["reference"])

LocatorDep = Annotated[Locator, Depends(get_locator)]
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified (If-None-Match)"}
}


@router.get(
    "/ports",
    summary="Border ports",
    response_model=PortCollection,
    response_class=GeoJSONResponse,
    responses={**_NOT_MODIFIED, **problem_responses()},
)
def ports(request: Request, loc: LocatorDep, lang: LangQ = None) -> Response:
    """The land border ports served, as Point features with localised names."""
    language = request_lang(request, lang)
    body = dumps(
        {"type": "FeatureCollection", "features": [port_feature(p, language) for p in loc.ports]}
    )
    return cached_response(request, body, headers=language_headers(language))


@router.get(
    "/regions",
    summary="Leagues and banners of Inner Mongolia",
    response_model=RegionCollection,
    response_class=GeoJSONResponse,
    responses={**_NOT_MODIFIED, **problem_responses(404)},
)
def regions(
    *,
    request: Request,
    loc: LocatorDep,
    level: Annotated[
        Literal["league", "banner"] | None,
        Query(description="Only leagues (prefecture level) or banners (county level)"),
    ] = None,
    parent: Annotated[
        str | None,
        Query(
            max_length=12, description="Only the banners of this league code", examples=["150700"]
        ),
    ] = None,
    geometry: Annotated[bool, Query(description="Include (simplified) boundaries")] = False,
    simplify_m: Annotated[
        float,
        Query(
            ge=0,
            le=50_000,
            allow_inf_nan=False,
            description="Boundary simplification (m, approximate)",
        ),
    ] = 500.0,
    lang: LangQ = None,
) -> Response:
    """Admin units usable as ``region`` in ``/v1/coverage`` and ``/v1/plan/sites``.

    Geometry is omitted (``null``) unless ``geometry=true``.
    """
    language = request_lang(request, lang)
    units = []
    if loc.regions is not None:
        if parent is not None:
            if not any(u.code == parent for u in loc.regions.leagues()):
                raise RegionNotFoundError(f"no league with code {parent!r}", region=parent)
            units = [u for u in loc.regions.banners(parent) if level in (None, "banner")]
        else:
            if level in (None, "league"):
                units += loc.regions.leagues()
            if level in (None, "banner"):
                units += loc.regions.banners()
    features = []
    for u in units:
        geom = None
        if geometry:
            geom = u.geometry
            if simplify_m > 0:
                geom = shapely.simplify(
                    geom, simplify_m / METRES_PER_DEGREE, preserve_topology=True
                )
        features.append(region_feature(u, language, geom))
    body = dumps({"type": "FeatureCollection", "features": features})
    return cached_response(request, body, headers=language_headers(language))
