"""FastAPI application factory.

``create_app(settings)`` builds the app; its lifespan loads the artifact once into
``app.state.locator`` and opens the API key file. Routes stay thin: validate, call
:mod:`locator`, format (routers in :mod:`api.routers`, one per resource).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from api.auth import API_KEY_HEADER, KeyStore
from api.fastlane import FastLane
from api.geojson import StationFeatures
from api.limits import HeavySlots
from api.middleware import ApiHeadersMiddleware, BodyLimitMiddleware
from api.problems import PROBLEM_JSON, Problem, install_problem_handlers
from api.ratelimit import TokenBucket
from api.routers import admin, isochrones, nearest, places, planning, report, stations, trips
from api.routers.widget import include_widget
from locator import Locator, Settings, __version__

#: Response headers a browser page may read across origins.
EXPOSED_HEADERS = [
    "ETag",
    "Content-Language",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "RateLimit-Policy",
]


class Health(BaseModel):
    """Service status and a summary of the loaded artifact's manifest."""

    status: str = Field(examples=["ok"])
    version: str = Field(examples=[__version__])
    artifact: dict[str, Any] = Field(
        description="Manifest summary of the artifact being served",
        examples=[{"network_kind": "regional", "nodes": 21585, "edges": 33707, "stations": 48}],
    )
    worker: dict[str, int] = Field(
        description="The answering process (`pid`) and the station edit sequence number "
        "its answers reflect (`edit_seq`); with several workers each has its own pid",
        examples=[{"pid": 4242, "edit_seq": 17}],
    )


class LocatorAPI(FastAPI):
    """The FastAPI application behind an outer chain of cheap pure-ASGI layers: CORS,
    gzip, the rate limit and security headers, then the fast lane for the hottest route
    (:mod:`api.fastlane`), then FastAPI's own stack (error pages, body limits, routing).
    Every answer, fast or not, passes the same outer layers."""

    outer: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self.outer is None:
            await super().__call__(scope, receive, send)
        else:
            await self.outer(scope, receive, send)

    async def inner(self, scope: Any, receive: Any, send: Any) -> None:
        """FastAPI's own entry (after the outer layers)."""
        await super().__call__(scope, receive, send)


def create_app(
    settings: Settings | None = None,
    *,
    locator: Locator | None = None,
    bucket: TokenBucket | None = None,
) -> FastAPI:
    """Build the application; the artifact is loaded when the app starts.

    ``locator`` (already open and warmed) and ``bucket`` are given by
    :func:`api.server.serve` to the workers it forks, which share them copy-on-write and
    through shared memory; by default the app opens its own.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        if locator is not None:
            app.state.locator = locator
        else:
            app.state.locator = Locator.open(settings.artifact_dir, settings)
            # lazily built indexes are built now, off the request path
            threading.Thread(target=app.state.locator.warm, name="warm", daemon=True).start()
        # read by api.server's protocol (the header deadline of each connection)
        yield {"header_timeout_s": settings.header_timeout_s}

    app = LocatorAPI(
        title="Border-port station locator",
        version=__version__,
        summary="Nearest stations, 15-minute service circles and coverage for the border ports "
        "of Inner Mongolia.",
        description="Errors are `application/problem+json` with a stable `code`; see "
        "docs/api.md. Write routes need an API key in the "
        f"`{API_KEY_HEADER}` header.",
        lifespan=lifespan,
        docs_url=None,  # served below from our own copies of the assets (no CDN)
        redoc_url=None,
    )
    install_docs(app)
    app.state.settings = settings
    app.state.keys = KeyStore(settings.keys_path())
    app.state.isochrone_bodies = isochrones.BodyCache()
    app.state.station_features = StationFeatures()
    app.state.heavy_slots = HeavySlots(settings.max_heavy_requests, settings.heavy_wait_s)
    install_problem_handlers(app)

    @app.get(
        "/health",
        response_model=Health,
        summary="Service health and artifact summary",
        tags=["meta"],
    )
    def health(request: Request) -> Health:
        """Liveness plus the manifest summary of the loaded artifact."""
        loc: Locator = request.app.state.locator
        worker = {"pid": os.getpid(), "edit_seq": loc.refresh()}
        return Health(status="ok", version=__version__, artifact=loc.summary(), worker=worker)

    for module in (stations, nearest, trips, isochrones, planning, report, places, admin):
        app.include_router(module.router)

    # --- widget and base map (api/routers/widget.py, owned by the widget work) ----------
    include_widget(app)
    # --------------------------------------------------------------------------------------

    _document_problem_schema(app)

    if bucket is None and settings.rate_limit_enabled:
        bucket = TokenBucket(settings.rate_limit_per_s, settings.rate_limit_burst)
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        timeout_s=settings.body_timeout_s,
        keyed_prefixes=("/v1/stations", "/v1/admin"),
        key_header=API_KEY_HEADER,
    )
    # the outer layers, outermost first: the fast lane (api/fastlane.py: plain GET
    # /v1/nearest, answered as the layers below would); CORS headers on every answer
    # (429s included); compression for clients that accept gzip (the base map routes
    # send their own pre-compressed bodies, which it leaves alone); rate limit and
    # framing headers; then FastAPI
    gzip_minimum_size, gzip_level = 1024, 6
    outer: Any = CORSMiddleware(
        GZipMiddleware(
            ApiHeadersMiddleware(app.inner, bucket=bucket),
            minimum_size=gzip_minimum_size,
            compresslevel=gzip_level,
        ),
        allow_origins=settings.cors_allow_origins,
        allow_methods=["GET"],
        allow_headers=["Accept-Language", "If-None-Match"],
        expose_headers=EXPOSED_HEADERS,
        max_age=600,
    )
    if settings.fast_lane:
        outer = FastLane(
            outer,
            app,
            bucket=bucket,
            gzip_minimum_size=gzip_minimum_size,
            gzip_level=gzip_level,
            threads=settings.fast_lane_threads,
        )
    app.outer = outer
    return app


#: Swagger UI (Apache-2.0) and ReDoc (MIT) as packaged by fastapi-offline (MIT, on PyPI):
#: the API documentation pages load nothing from another host.
_OFFLINE = importlib.util.find_spec("fastapi_offline")
DOCS_ASSETS = Path(_OFFLINE.origin if _OFFLINE and _OFFLINE.origin else ".").parent / "static"


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` with their scripts served from ``/docs-assets``."""
    # ReDoc's footer would load Redocly's logo from its CDN: our copy points at our icon
    redoc_js = (DOCS_ASSETS / "redoc.standalone.js").read_bytes()
    redoc_js = redoc_js.replace(
        b"https://cdn.redoc.ly/redoc/logo-mini.svg", b"/docs-assets/favicon.png"
    )

    @app.get("/docs-assets/redoc.standalone.js", include_in_schema=False)
    def redoc_script() -> Response:
        return Response(
            redoc_js,
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount("/docs-assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return _own_origin(
            get_swagger_ui_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=f"{app.title} - Swagger UI",
                swagger_js_url="/docs-assets/swagger-ui-bundle.js",
                swagger_css_url="/docs-assets/swagger-ui.css",
                swagger_favicon_url="/docs-assets/favicon.png",
                # no badge asking validator.swagger.io about our schema
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return _own_origin(
            get_redoc_html(
                openapi_url=app.openapi_url or "/openapi.json",
                title=f"{app.title} - ReDoc",
                redoc_js_url="/docs-assets/redoc.standalone.js",
                redoc_favicon_url="/docs-assets/favicon.png",
                with_google_fonts=False,
            )
        )


#: The docs pages may load nothing from another host (ReDoc's footer logo would come from
#: its CDN: the browser does not even ask); their inline start-up scripts are allowed.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'none'; object-src 'none'"
)


def _own_origin(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = DOCS_CSP
    return page


def _document_problem_schema(app: FastAPI) -> None:
    """Document problem+json on every error response of every operation.

    The exception handlers (:func:`api.problems.install_problem_handlers`) and the rate
    limiter answer every error as ``application/problem+json``, whichever router the
    operation comes from; this makes the OpenAPI document say so, and adds the 422
    (invalid parameters), 400 (unreadable body) and, under ``/v1/``, 429 (rate limit)
    responses any operation can give.
    """
    original = app.openapi
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            schemas.setdefault(
                "Problem", Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            )
            for path, item in schema.get("paths", {}).items():
                for op in item.values():
                    responses = op.setdefault("responses", {})
                    responses.setdefault("422", {"description": "Invalid request"})
                    if "requestBody" in op:
                        responses.setdefault("400", {"description": "Unreadable body"})
                    if path.startswith("/v1/"):
                        responses.setdefault("429", {"description": "Too many requests"})
                    for code, response in responses.items():
                        if code[0] in "45":
                            response.setdefault("content", {})[PROBLEM_JSON] = ref
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
