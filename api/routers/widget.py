"""The embeddable map widget, its static files, fonts and offline base map.

``include_widget(app)`` adds:

- ``GET /``, ``GET /app`` and ``GET /widget``: the drivers' app, which is also the page
  meant for an ``<iframe>`` (configured by query parameters that the page's script reads,
  see ``docs/widget.md``; texts from ``static/i18n/<lang>.json``); ``GET /widget/demo``: a
  host page that embeds it with the documented snippet and logs the messages it posts.
- ``GET /widget/fonts.css`` and ``GET /widget/fonts/{file}``: ``@font-face`` rules for the
  Noto fonts that are installed on the server (Debian ``fonts-noto-core`` for traditional
  Mongolian, about 240 kB), served from the server itself. Chinese is drawn with the
  reader's own CJK font (every phone has one; ``lang="zh-Hans"`` picks the simplified
  Chinese shapes): the 19.5 MB Noto CJK collection is never sent. Missing fonts are left
  out of the stylesheet and the page falls back to the reader's system fonts.
- ``GET /v1/basemap/roads`` and ``GET /v1/basemap/regions``: the base layers as GeoJSON
  (see :mod:`api.basemap`), so the page loads nothing from any other host; and
  ``GET /v1/basemap/circles``: every station's service circles in one collection.
- ``/static``: the page's script and style and the vendored Leaflet (BSD-2-Clause).

The page is sent with a Content-Security-Policy that only allows the server's own origin,
so a browser enforces the "no other host" rule even if a script tried otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import struct
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fontTools import subset
from fontTools.ttLib import TTFont
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from api.basemap import Basemap, GeoJSONBody
from api.geojson import GeoJSONResponse
from api.problems import problem_responses
from locator import Locator, OfflineNearest
from locator.arguments import parse_bbox, parse_minutes
from locator.stations import StationKind

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"
DEFAULT_FONT_ROOTS: tuple[Path, ...] = (Path("/usr/share/fonts"),)
GEOJSON = "application/geo+json"

WIDGET_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; object-src 'none'"
)
"""Only the server's own origin; inline styles are needed by Leaflet's positioning."""


@dataclass(frozen=True)
class FontSpec:
    """A font the widget can use if its Debian package is installed on the server."""

    file: str
    family: str
    package: str
    candidates: tuple[str, ...]
    local_names: tuple[str, ...]
    unicode_range: str
    format: str | None

    def find(self, roots: Sequence[Path]) -> Path | None:
        """The first installed candidate path under one of ``roots``."""
        for root in roots:
            for rel in self.candidates:
                path = root / rel
                if path.is_file():
                    return path
        return None


FONTS: dict[str, FontSpec] = {
    spec.file: spec
    for spec in (
        FontSpec(
            file="NotoSansMongolian-Regular.ttf",
            family="Locator Mongolian",
            package="fonts-noto-core",
            candidates=("truetype/noto/NotoSansMongolian-Regular.ttf",),
            local_names=(),  # small (≈240 kB): always served, so every reader gets the same shapes
            unicode_range="U+1800-18AF, U+11660-1167F, U+180E, U+202F",
            format="truetype",
        ),
    )
}


def font_css(roots: Sequence[Path], subsets: dict[str, str] | None = None) -> str:
    """``@font-face`` rules for the installed fonts; comments name the missing ones.

    ``subsets`` maps a font's file to the name of its subset (see :class:`FontSubsets`):
    the rule then points at the subset, which holds the glyphs of every name the service
    can show in that script.
    """
    out = ["/* Fonts served by this server (see docs/widget.md). */"]
    for spec in FONTS.values():
        path = spec.find(roots)
        if path is None:
            out.append(
                f"/* {spec.family}: not installed on the server (Debian package {spec.package}); "
                "system fonts are used instead. */"
            )
            continue
        sources = [f'local("{name}")' for name in spec.local_names]
        fmt = f' format("{spec.format}")' if spec.format else ""
        file = (subsets or {}).get(spec.file, spec.file)
        sources.append(f'url("fonts/{file}"){fmt}')
        out.append(
            "@font-face {\n"
            f'  font-family: "{spec.family}";\n'
            f"  src: {', '.join(sources)};\n"
            f"  unicode-range: {spec.unicode_range};\n"
            "  font-display: swap;\n"
            "}"
        )
    return "\n".join(out) + "\n"


#: Characters every traditional-Mongolian subset keeps besides the names' own: the free
#: variation selectors, the vowel separator, the narrow no-break space (suffixes), ZWNJ/ZWJ.
MONGOLIAN_CONTROLS = "\u180b\u180c\u180d\u180e\u180f\u202f\u200c\u200d "


def traditional_mongolian_text(loc: Locator) -> str:
    """Every character of the traditional-script names the service can show (stations
    and ports), sorted, with :data:`MONGOLIAN_CONTROLS`."""
    chars = set(MONGOLIAN_CONTROLS)
    for st in loc.stations():
        chars.update(st.name.mn_mong or "")
    for port in loc.ports:
        chars.update(port.name.mn_mong or "")
    return "".join(sorted(chars))


class FontSubsets:
    """Subsets of a font for a given text (fontTools, every layout feature kept, so the
    joining forms of the script stay right), made on first use and kept by name.

    The name carries a hash of the text: when a station edit brings a new character, the
    stylesheet points at a new subset, and browsers keep caching the old one safely.
    """

    #: subsets kept (the current names' and a few before, for pages still open)
    KEEP = 4

    def __init__(self) -> None:
        self._made: dict[str, bytes] = {}
        self._lock = threading.Lock()

    @staticmethod
    def name(file: str, text: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        stem, _, ext = file.rpartition(".")
        return f"{stem}.subset-{digest}.{ext}"

    def make(self, path: Path, file: str, text: str) -> str:
        """The subset's name, making it now if needed."""
        name = self.name(file, text)
        with self._lock:
            if name not in self._made:
                options = subset.Options()
                options.layout_features = ["*"]
                options.name_IDs = ["*"]
                options.notdef_outline = True
                subsetter = subset.Subsetter(options)
                subsetter.populate(text=text)
                font = TTFont(str(path))
                subsetter.subset(font)
                out = io.BytesIO()
                font.save(out)
                while len(self._made) >= self.KEEP:  # the oldest subsets go first
                    self._made.pop(next(iter(self._made)))
                self._made[name] = out.getvalue()
        return name

    def get(self, name: str) -> bytes | None:
        with self._lock:
            return self._made.get(name)


# --------------------------------------------------------------------------- models
class BasemapGeometry(BaseModel):
    """A GeoJSON (Multi)LineString or (Multi)Polygon geometry, WGS 84 ``[lon, lat]``."""

    type: Literal["LineString", "MultiLineString", "Polygon", "MultiPolygon"]
    coordinates: list[Any]


class BasemapFeature(BaseModel):
    """One base map feature."""

    type: Literal["Feature"] = "Feature"
    id: str | None = None
    geometry: BasemapGeometry
    properties: dict[str, Any]


class BasemapCollection(BaseModel):
    """An RFC 7946 FeatureCollection of base map features."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[BasemapFeature]


ROADS_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {
                "type": "MultiLineString",
                "coordinates": [[[117.372, 49.616], [117.38, 49.62]]],
            },
            "properties": {"cell": [117.0, 49.0], "lines": 1},
        }
    ],
}
REGIONS_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "id": "150700",
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[119.0, 49.0], [120.0, 49.0], [120.0, 50.0], [119.0, 49.0]]],
            },
            "properties": {
                "code": "150700",
                "level": "league",
                "name_zh": "呼伦贝尔市",
                "name_en": "Hulunbuir",
                "name_pinyin": "Hulunbei'ershi",
                "name_mn": None,
                "parent_code": "150000",
            },
        }
    ],
}


CIRCLES_EXAMPLE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[111.96, 43.62], [111.98, 43.62], [111.98, 43.64], [111.96, 43.62]]
                ],
            },
            "properties": {
                "station_id": "erl-driver-home-01",
                "kind": "driver_station",
                "minutes": 15.0,
                "mode": "truck",
                "area_km2": 14.2,
            },
        }
    ],
}


def _geojson_responses(example: dict[str, Any], *errors: int) -> dict[int | str, dict[str, Any]]:
    return {
        **problem_responses(*errors),
        200: {
            "description": "GeoJSON FeatureCollection (gzip-encoded when the client accepts it)",
            "content": {GEOJSON: {"example": example}},
        },
        304: {"description": "Not modified (the ETag in If-None-Match still matches)"},
    }


def _basemap(request: Request) -> Basemap:
    """The base map of the loaded artifact, built on first use and kept with the app."""
    loc: Locator = request.app.state.locator
    cached: tuple[Locator, Basemap] | None = getattr(request.app.state, "widget_basemap", None)
    if cached is None or cached[0] is not loc:
        cached = (loc, Basemap(loc))
        request.app.state.widget_basemap = cached
    return cached[1]


def _send(request: Request, body: GeoJSONBody) -> Response:
    headers = {
        "ETag": body.etag,
        "Cache-Control": "public, max-age=3600",
        "Vary": "Accept-Encoding",
    }
    inm = request.headers.get("if-none-match", "")
    if body.etag in {t.strip() for t in inm.split(",")} or inm.strip() == "*":
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", "").lower():
        headers["Content-Encoding"] = "gzip"
        return Response(body.gz, media_type=GEOJSON, headers=headers)
    return Response(body.raw, media_type=GEOJSON, headers=headers)


#: First bytes of the offline pack (see :func:`offline_pack_bytes`).
PACK_MAGIC = b"BPLN"
PACK_VERSION = 1


def offline_pack_bytes(pack: OfflineNearest, stations_version: str) -> bytes:
    """The offline pack as one little-endian binary file a browser reads with typed arrays:
    ``"BPLN"``, version (u32), header length (u32), a UTF-8 JSON header padded to 4 bytes
    (mode, node count, time unit, per kind the station ids, the list of arrays), then the
    arrays in the header's order, each padded to 4 bytes."""
    arrays: list[tuple[str, np.ndarray]] = [
        ("node_lon", pack.node_lon.astype("<f4")),
        ("node_lat", pack.node_lat.astype("<f4")),
    ]
    for kind in pack.station_ids:
        arrays.append((f"station.{kind}", pack.station[kind].astype("<i2")))
        arrays.append((f"time.{kind}", pack.time[kind].astype("<u2")))
    header = {
        "format": "border-port-locator offline nearest",
        "mode": pack.mode,
        "n_nodes": int(pack.node_lon.shape[0]),
        "time_unit_s": pack.time_unit_s,
        "stations_version": stations_version,
        "kinds": {kind: {"stations": ids} for kind, ids in pack.station_ids.items()},
        "arrays": [
            {"name": name, "dtype": arr.dtype.str, "count": int(arr.shape[0])}
            for name, arr in arrays
        ],
    }
    head = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 4)
    parts = [PACK_MAGIC, struct.pack("<II", PACK_VERSION, len(head)), head]
    for _, arr in arrays:
        raw = arr.tobytes()
        parts.append(raw + b"\0" * (-len(raw) % 4))
    return b"".join(parts)


def make_router(font_roots: Sequence[Path] = DEFAULT_FONT_ROOTS) -> APIRouter:
    """The widget's routes (pages and fonts hidden from the OpenAPI, base map documented)."""
    router = APIRouter()
    roots = tuple(font_roots)
    subsets = FontSubsets()
    packs: dict[tuple[int, str, str], bytes] = {}  # offline pack of the current stations

    def page(name: str) -> Callable[[], Response]:
        def send() -> Response:
            return FileResponse(
                STATIC_DIR / name,
                media_type="text/html; charset=utf-8",
                headers={"Content-Security-Policy": WIDGET_CSP, "Cache-Control": "no-cache"},
            )

        return send

    # the drivers' app and the embeddable widget are one page (docs/widget.md); the
    # planners' workspace (docs/planner.md)
    for path, name in (
        ("/", "app.html"),
        ("/app", "app.html"),
        ("/widget", "app.html"),
        ("/planner", "planner.html"),
    ):
        router.add_api_route(
            path,
            page(name),
            methods=["GET", "HEAD"],
            include_in_schema=False,
            response_class=HTMLResponse,
        )

    @router.get("/sw.js", include_in_schema=False)
    def service_worker() -> Response:
        # at the root, so its scope is the whole app; always revalidated
        return FileResponse(
            STATIC_DIR / "sw.js",
            media_type="text/javascript; charset=utf-8",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )

    @router.api_route(
        "/widget/demo",
        methods=["GET", "HEAD"],
        include_in_schema=False,
        response_class=HTMLResponse,
    )
    def widget_demo() -> Response:
        return FileResponse(
            STATIC_DIR / "widget-demo.html",
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Security-Policy": WIDGET_CSP + "; frame-src 'self'",
                "Cache-Control": "no-cache",
            },
        )

    @router.get("/widget/fonts.css", include_in_schema=False)
    def widget_fonts_css(request: Request) -> Response:
        made: dict[str, str] = {}
        loc: Locator | None = getattr(request.app.state, "locator", None)
        mongolian = FONTS["NotoSansMongolian-Regular.ttf"]
        path = mongolian.find(roots)
        if loc is not None and path is not None:
            # the glyphs of the names we can show: about 20 kB instead of 240 kB
            text = traditional_mongolian_text(loc)
            made[mongolian.file] = subsets.make(path, mongolian.file, text)
        return Response(
            font_css(roots, made),
            media_type="text/css; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )

    @router.get("/widget/fonts/{file}", include_in_schema=False)
    def widget_font(file: str) -> Response:
        sub = subsets.get(file)
        if sub is not None:
            return Response(
                sub, media_type="font/ttf", headers={"Cache-Control": "public, max-age=604800"}
            )
        spec = FONTS.get(file)
        path = spec.find(roots) if spec is not None else None
        if spec is None or path is None:
            raise HTTPException(404, f"font {file!r} is not available on this server")
        media = "font/ttf" if file.endswith(".ttf") else "font/collection"
        return FileResponse(
            path, media_type=media, headers={"Cache-Control": "public, max-age=604800"}
        )

    @router.get(
        "/v1/basemap/roads",
        summary="Base map roads (simplified lines of the served network)",
        tags=["basemap"],
        response_model=BasemapCollection,
        response_class=GeoJSONResponse,
        responses=_geojson_responses(ROADS_EXAMPLE),
    )
    def basemap_roads(
        request: Request,
        bbox: Annotated[
            str | None,
            Query(
                description="min_lon,min_lat,max_lon,max_lat (WGS 84): only grid cells with "
                "roads in this box",
                examples=["116.5,49.0,118.0,50.0"],
                max_length=200,
            ),
        ] = None,
    ) -> Response:
        """The artifact's road network, folded to undirected lines, simplified to about
        200 m and grouped in 1° cells (one MultiLineString feature per cell). Built once per
        loaded artifact; ETag and gzip supported."""
        box = parse_bbox(bbox) if bbox is not None else None
        return _send(request, _basemap(request).roads.body(box))

    @router.get(
        "/v1/basemap/regions",
        summary="Base map outlines of leagues and banners",
        tags=["basemap"],
        response_model=BasemapCollection,
        response_class=GeoJSONResponse,
        responses=_geojson_responses(REGIONS_EXAMPLE),
    )
    def basemap_regions(
        request: Request,
        level: Annotated[
            Literal["league", "banner", "all"],
            Query(description="Which administrative level to return"),
        ] = "all",
    ) -> Response:
        """League (prefecture-level) and banner (county-level) outlines of Inner Mongolia,
        simplified to about 500 m, with their codes and names. Empty when the artifact has
        no administrative units."""
        return _send(request, _basemap(request).regions(level))

    @router.get(
        "/v1/basemap/circles",
        summary="Service circles of every station in one collection",
        tags=["basemap"],
        response_model=BasemapCollection,
        response_class=GeoJSONResponse,
        responses=_geojson_responses(CIRCLES_EXAMPLE, 413),
    )
    def basemap_circles(
        request: Request,
        minutes: Annotated[
            str,
            Query(
                max_length=100,
                description="Comma-separated intervals in minutes",
                examples=["15", "5,10,15"],
            ),
        ] = "15",
        mode: Annotated[
            str | None,
            Query(max_length=32, description="Travel mode (default: truck where available)"),
        ] = None,
        kind: Annotated[StationKind | None, Query(description="Only stations of this kind")] = None,
    ) -> Response:
        """The road-hugging service circles ("15-minute circles") of all stations, nested
        largest first, each with ``station_id``, ``kind`` and ``minutes``: what the widget
        draws, in one request instead of one ``/v1/isochrones`` call per station. Same
        limits as ``/v1/isochrones`` (``request_too_large``)."""
        mins = parse_minutes(minutes)
        return _send(request, _basemap(request).circles(minutes=mins, mode=mode, kind=kind))

    @router.get(
        "/v1/offline/nearest",
        summary="Nearest station per road node and kind, compact, for answers without signal",
        tags=["basemap"],
        response_model=bytes,
        response_class=Response,
        responses={
            **problem_responses(),
            200: {
                "description": "The offline pack (binary, see docs/widget.md); gzip when accepted",
                "content": {"application/octet-stream": {"example": "BPLN…"}},
            },
            304: {"description": "Not modified (the stations did not change)"},
        },
    )
    def offline_nearest(
        request: Request,
        mode: Annotated[
            str | None,
            Query(max_length=32, description="Travel mode (default: truck where available)"),
        ] = None,
    ) -> Response:
        """For every node of the mode's network its position and, per station kind, its
        nearest station and the travel time to it (rounded up to 10 s): what the drivers'
        app reads when the network is gone (it snaps to the nearest node and labels the
        answer as an estimate). About 0.4 MB, 0.3 MB gzipped on the regional network.
        Changes with every station edit (ETag)."""
        loc: Locator = request.app.state.locator
        used = loc.check_mode(mode)
        etag = f'"offline-{used}-{loc.stations_version}"'
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        inm = request.headers.get("if-none-match", "")
        if etag in {t.strip() for t in inm.split(",")}:
            return Response(status_code=304, headers=headers)
        key = (id(loc), used, loc.stations_version)
        body = packs.get(key)
        if body is None:  # once per station set, not per phone that asks
            body = offline_pack_bytes(loc.offline_nearest(used), loc.stations_version)
            packs.clear()  # only the current station set is worth keeping
            packs[key] = body
        return Response(body, media_type="application/octet-stream", headers=headers)

    return router


def include_widget(app: FastAPI, *, font_roots: Sequence[Path] | None = None) -> None:
    """Add the widget page, its fonts, the base map routes and ``/static`` to ``app``.

    Parameters
    ----------
    app
        The application (``app.state.locator`` is read per request).
    font_roots
        Directories searched for the Debian Noto fonts (default ``/usr/share/fonts``).
    """
    app.include_router(make_router(DEFAULT_FONT_ROOTS if font_roots is None else font_roots))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")


__all__ = ["FONTS", "STATIC_DIR", "WIDGET_CSP", "font_css", "include_widget", "make_router"]
