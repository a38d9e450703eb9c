"""``GET /v1/report``: a printable coverage report for planners (HTML with a print
stylesheet and an inline SVG map; nothing loaded from anywhere, not even this server)."""

from __future__ import annotations

import html
import json
import math
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any

import shapely
from fastapi import APIRouter, Depends, Query, Request, Response
from shapely.geometry.base import BaseGeometry

from api.i18n import language_headers, request_lang
from api.limits import heavy_slot
from api.params import Crs, CrsQ, LangQ, ModeQ, get_locator, region_arg
from api.problems import problem_responses
from api.routers.planning import unit_name
from locator import DEFAULT_MINUTES, CoverageReport, Locator, SitingResult
from locator.stations import StationKind

router = APIRouter(prefix="/v1", tags=["planning"])

LocatorDep = Annotated[Locator, Depends(get_locator)]
I18N_DIR = Path(__file__).resolve().parent.parent / "static" / "i18n"
MAP_W = 720
REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)


@cache
def _texts(lang: str) -> dict[str, Any]:
    """The app's catalogue of ``lang`` (one catalogue per language for every page)."""
    data: dict[str, Any] = json.loads((I18N_DIR / f"{lang}.json").read_text("utf-8"))
    return data


def _fmt(template: str, **values: object) -> str:
    out = template
    for k, v in values.items():
        out = out.replace("{" + k + "}", str(v))
    return out


class _Projection:
    """Lon/lat to SVG pixels over a box (equirectangular at the box's middle latitude)."""

    def __init__(self, box: tuple[float, float, float, float]) -> None:
        x0, y0, x1, y1 = box
        self.k = math.cos(math.radians((y0 + y1) / 2))
        w = max((x1 - x0) * self.k, 1e-9)
        h = max(y1 - y0, 1e-9)
        self.scale = MAP_W / w
        self.x0, self.y1 = x0, y1
        self.height = round(h * self.scale)

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        return ((lon - self.x0) * self.k * self.scale, (self.y1 - lat) * self.scale)

    def path(self, geom: BaseGeometry, *, closed: bool) -> str:
        """SVG path data of (multi)lines or (multi)polygons."""
        out: list[str] = []
        for part in shapely.get_parts(geom):
            rings = [part.exterior, *part.interiors] if part.geom_type == "Polygon" else [part]
            for ring in rings:
                pts = [self.xy(x, y) for x, y in ring.coords]
                if len(pts) < 2:
                    continue
                out.append(
                    "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in pts) + (" Z" if closed else "")
                )
        return " ".join(out)


def _svg(
    loc: Locator,
    report: CoverageReport,
    poly: BaseGeometry | None,
    sites: SitingResult,
    circles: list[BaseGeometry],
) -> str:
    box = poly.bounds if poly is not None else loc.bbox()
    proj = _Projection(box)
    tol = (box[2] - box[0]) / MAP_W  # one pixel (Douglas-Peucker: topology-preserving
    # simplification of a whole network's gaps takes seconds)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="map" viewBox="0 0 {MAP_W} '
        f'{proj.height}" role="img" aria-label="map">'
    ]
    if poly is not None:
        outline = shapely.simplify(poly, tol, preserve_topology=False)
        parts.append(
            f'<path d="{proj.path(outline, closed=True)}" fill="#f8fafc" stroke="#374151" '
            'stroke-width="1.2"/>'
        )
    for c in circles:
        d = proj.path(shapely.simplify(c, tol, preserve_topology=False), closed=True)
        parts.append(
            f'<path class="circle" d="{d}" fill="#16a34a" fill-opacity="0.35" '
            'stroke="#15803d" stroke-width="0.6"/>'
        )
    if not report.uncovered.is_empty:
        gaps = shapely.simplify(report.uncovered, tol, preserve_topology=False)
        parts.append(
            f'<path class="gaps" d="{proj.path(gaps, closed=False)}" fill="none" '
            'stroke="#dc2626" stroke-width="1.2"/>'
        )
    near = None if poly is None else poly.buffer(tol * 20)  # stations just outside too
    for st in loc.stations(kind=report.kind):
        if near is None or near.contains(shapely.Point(st.lon, st.lat)):
            x, y = proj.xy(st.lon, st.lat)
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#111827"/>')
    for i, s in enumerate(sites.sites, start=1):
        x, y = proj.xy(s.lon, s.lat)
        parts.append(
            f'<g class="site"><circle cx="{x:.1f}" cy="{y:.1f}" r="9" fill="#7c3aed"/>'
            f'<text x="{x:.1f}" y="{y + 4:.1f}" text-anchor="middle" font-size="11" '
            f'fill="#fff">{i}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


STYLE = """
body { font-family: system-ui, "Noto Sans", "Noto Sans CJK SC", sans-serif; color: #111827;
       margin: 24px auto; max-width: 760px; font-size: 14px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 18px 0 6px; }
.muted { color: #4b5563; } .headline { font-size: 16px; margin: 12px 0; }
table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid #e5e7eb;
  padding: 4px 6px; text-align: left; } td.n, th.n { text-align: right; }
tr { break-inside: avoid; } .map { width: 100%; height: auto; border: 1px solid #e5e7eb; }
@page { size: A4; margin: 14mm; }
@media print { body { margin: 0; max-width: none; } .map { break-inside: avoid; } }
"""


@router.get(
    "/report",
    summary="Printable coverage report of a region (HTML: table, map, suggested sites)",
    response_model=str,
    response_class=Response,
    responses={
        **problem_responses(404, 413, 503),
        200: {
            "content": {"text/html": {"example": '<!doctype html><html lang="zh-Hans">…'}},
            "description": "An HTML page with a print stylesheet (A4)",
        },
    },
    dependencies=[Depends(heavy_slot)],
)
def report(
    *,
    request: Request,
    loc: LocatorDep,
    kind: StationKind,
    region: Annotated[
        str | None,
        Query(max_length=200, description="Admin code, port id or bbox", examples=["152500"]),
    ] = None,
    minutes: Annotated[float, Query(gt=0, allow_inf_nan=False)] = 15.0,
    mode: ModeQ = None,
    k: Annotated[int, Query(ge=0, le=5, description="Suggested sites (0: none)")] = 3,
    crs: CrsQ = Crs.wgs84,
    lang: LangQ = None,
) -> Response:
    """The coverage of ``region`` by the ``minutes`` circles of ``kind`` as a page a
    planner prints or saves as PDF: the region, the date and the data behind it (with its
    known gaps), the headline share, the table by banner or league, a map of the circles,
    the uncovered roads and the suggested sites, and the sites with their gains (the
    increase of covered km each brings). Everything is inline: the page loads nothing."""
    language = request_lang(request, lang)
    t = _texts(language)
    where = region_arg(loc, region, crs)
    used_mode = loc.check_mode(mode)
    rep = loc.coverage(kind=kind, minutes=minutes, mode=used_mode, region=where)
    sites = (
        loc.suggest_sites(kind=kind, k=k, minutes=minutes, mode=used_mode, region=where)
        if k > 0
        else SitingResult([], rep.road_km * 1000, rep.covered_km * 1000, 0)
    )
    _, poly = loc.region_polygon(where)
    circles: list[BaseGeometry] = []
    if minutes in DEFAULT_MINUTES:
        for _, contour in loc.station_circles(minutes=[minutes], mode=used_mode, kind=kind):
            if poly is None or contour.polygon.intersects(poly):
                circles.append(contour.polygon)
    region_name = (unit_name(loc, rep.region, language) or rep.region) if region else rep.region
    m = loc.manifest
    e = html.escape
    rows = "".join(
        f"<tr><td>{e(r.code)}</td><td>{e(unit_name(loc, r.code, language) or r.code)}</td>"
        f'<td class="n">{r.road_km:,.1f}</td><td class="n">{r.covered_km:,.1f}</td>'
        f'<td class="n">{r.share:.1%}</td></tr>'
        for r in rep.rows
    )
    site_rows = "".join(
        f'<tr><td>{i}</td><td>{s.lon:.4f}, {s.lat:.4f}</td><td class="n">{s.gain / 1000:,.1f}'
        f'</td><td class="n">{s.cumulative_gain / 1000:,.1f}</td></tr>'
        for i, s in enumerate(sites.sites, start=1)
    )
    network = m.get("network", {})
    sources = [
        f"{e(str(network.get('source', '')))}: {e(str(network.get('licence', '')))}",
        e(str(m.get("stations", {}).get("source", ""))),
    ]
    if network.get("source") == "regional":
        sources.append(e(t["report_gaps_regional"]))
    kind_name = t["kinds"].get(kind.value, kind.value)
    title = e(_fmt(t["report_title"], region=region_name))
    made = _fmt(
        t["report_made"],
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        id=m.get("artifact_id", ""),
        built=m.get("built_at", ""),
    )
    headline = _fmt(
        t["report_headline"],
        share=f"{rep.share:.1%}",
        covered=f"{rep.covered_km:,.1f}",
        road=f"{rep.road_km:,.1f}",
        m=f"{minutes:g}",
        n=rep.stations_used,
    )
    subtitle = _fmt(t["report_subtitle"], kind=kind_name, m=f"{minutes:g}", mode=used_mode)

    def head(*keys: str, numeric: tuple[int, ...] = ()) -> str:
        cells = [
            f'<th class="n">{e(t[key])}</th>' if i in numeric else f"<th>{e(t[key])}</th>"
            for i, key in enumerate(keys)
        ]
        return "<thead><tr>" + "".join(cells) + "</tr></thead>"

    table = (
        '<table id="rows">'
        + head(
            "report_col_code",
            "report_col_name",
            "report_col_road",
            "report_col_covered",
            "report_col_share",
            numeric=(2, 3, 4),
        )
        + f"<tbody>{rows}</tbody></table>"
    )
    site_table = (
        '<table id="sites">'
        + head(
            "report_col_rank",
            "report_col_position",
            "report_col_gain",
            "report_col_cumulative",
            numeric=(2, 3),
        )
        + f"<tbody>{site_rows}</tbody></table>"
        if sites.sites
        else f"<p>{e(t['report_no_sites'])}</p>"
    )
    html_lang = "zh-Hans" if language == "zh" else language
    parts = [
        f'<!doctype html><html lang="{html_lang}"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title><style>{STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f'<div class="muted">{e(subtitle)}</div><div class="muted">{e(made)}</div>',
        f'<p class="headline" id="headline">{e(headline)}</p>',
        f"<h2>{e(t['report_table'])}</h2>{table}",
        f"<h2>{e(t['report_map'])}</h2>{_svg(loc, rep, poly, sites, circles)}",
        f'<p class="muted">{e(t["report_legend"])}</p>',
        f"<h2>{e(t['report_sites'])}</h2>{site_table}",
        f"<h2>{e(t['report_sources'])}</h2>",
        "<ul>" + "".join(f"<li>{s}</li>" for s in sources if s) + "</ul></body></html>",
    ]
    body = "\n".join(parts)
    headers = {**language_headers(language), "Content-Security-Policy": REPORT_CSP}
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)
