"""The widget page, its static files and fonts, and the base map GeoJSON routes."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from urllib.parse import urljoin

import numpy as np
import pytest
import shapely
from fastapi import FastAPI
from fastapi.testclient import TestClient
from shapely.geometry import shape

from api.app import create_app
from api.basemap import BASEMAP_DECIMALS as COORD_DECIMALS
from api.routers.widget import FONTS, STATIC_DIR, WIDGET_CSP, font_css, make_router
from locator import Locator
from locator.config import Settings
from locator.errors import LocatorError
from locator.stations import LocalizedName, Station, StationKind

EXTERNAL_URL = re.compile(
    r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//|url\(\s*["']?(?:https?:)?//""", re.IGNORECASE
)


# ----------------------------------------------------------------------------- page + static
def test_widget_page_is_html_with_a_same_origin_only_policy(client: TestClient) -> None:
    r = client.get("/widget", params={"lang": "zh", "kind": "driver_station"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == WIDGET_CSP
    assert "default-src 'self'" in WIDGET_CSP and "frame-ancestors" not in WIDGET_CSP
    assert "x-frame-options" not in r.headers  # meant for an iframe
    html = r.text
    for ref in (
        "static/vendor/leaflet/leaflet.js",
        "static/vendor/leaflet/leaflet.css",
        "static/app.js",
        "static/app.css",
        "widget/fonts.css",
    ):
        assert ref in html
    assert client.head("/widget").status_code == 200
    # the drivers' app is the same page
    for path in ("/", "/app"):
        page = client.get(path)
        assert page.status_code == 200 and page.text == html
        assert page.headers["content-security-policy"] == WIDGET_CSP


def test_every_file_the_pages_reference_is_served(client: TestClient) -> None:
    pages = {p: client.get(p).text for p in ("/", "/app", "/widget", "/widget/demo", "/planner")}
    for page, html in pages.items():
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert refs, page
        for ref in refs:
            if ref.startswith(("data:", "about:")):
                continue
            r = client.get(urljoin("http://testserver" + page, ref))
            assert r.status_code == 200, (page, ref, r.status_code)


def test_static_files_and_vendored_leaflet_are_served(client: TestClient) -> None:
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert "postMessage" in js.text
    leaflet = client.get("/static/vendor/leaflet/leaflet.js")
    assert leaflet.status_code == 200 and 'version="1.9.4"' in leaflet.text
    css = client.get("/static/vendor/leaflet/leaflet.css")
    assert css.status_code == 200
    images = re.findall(r"url\((images/[^)]+)\)", css.text)
    assert len(images) >= 3
    for image in images:
        assert client.get("/static/vendor/leaflet/" + image.strip("\"'")).status_code == 200
    licence = (STATIC_DIR / "vendor" / "leaflet" / "LICENSE").read_text("utf-8")
    assert "BSD 2-Clause" in licence and "Agafonkin" in licence
    assert client.get("/static/nope.js").status_code == 404


def test_our_pages_scripts_and_styles_name_no_other_host() -> None:
    for name in (
        "app.html",
        "app.js",
        "app.css",
        "widget-demo.html",
        "widget-demo.js",
        "widget-demo.css",
        "planner.html",
        "planner.js",
        "planner.css",
        "sw.js",
    ):
        text = (STATIC_DIR / name).read_text("utf-8")
        assert not EXTERNAL_URL.search(text), name
        assert 'fetch("http' not in text and "import(" not in text, name


# ----------------------------------------------------------------------------- texts
def _keys(d: dict, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_keys(v, f"{prefix}{k}."))
        else:
            out[prefix + k] = v
    return out


def test_every_ui_catalogue_is_complete_with_the_same_placeholders() -> None:
    """One catalogue file per language (static/i18n/*.json): the same keys as English,
    every text non-empty and with the same {placeholders}."""
    import json

    folder = STATIC_DIR / "i18n"
    english = _keys(json.loads((folder / "en.json").read_text("utf-8")))
    files = sorted(p.name for p in folder.glob("*.json"))
    assert files == ["en.json", "mn.json", "ru.json", "zh.json"]
    for name in files:
        texts = _keys(json.loads((folder / name).read_text("utf-8")))
        assert set(texts) == set(english), (name, set(english) ^ set(texts))
        for key, text in texts.items():
            assert isinstance(text, str) and text.strip(), (name, key)
            assert set(re.findall(r"\{(\w+)\}", text)) == set(
                re.findall(r"\{(\w+)\}", english[key])
            ), (name, key)
    js = (STATIC_DIR / "app.js").read_text("utf-8")
    used = set(re.findall(r"\bT\.(\w+)", js)) | {
        f"errors.{m}" for m in re.findall(r"T\.errors\.(\w+)", js)
    }
    top = {k.split(".")[0] for k in english}
    missing = {k for k in used if k not in top and k not in english}
    assert not missing, missing
    # the planners' workspace: T.* as above, P.* in the catalogue's "planner" section
    js = (STATIC_DIR / "planner.js").read_text("utf-8")
    used = set(re.findall(r"\bT\.(\w+)", js))
    assert not {k for k in used if k not in top and k not in english}
    planner = {k.split(".")[1] for k in english if k.startswith("planner.")}
    used_p = set(re.findall(r"\bP\.(\w+)", js))
    assert used_p and not used_p - planner, used_p - planner


def test_planner_page_is_served_with_the_same_origin_policy_and_works_offline(
    client: TestClient,
) -> None:
    r = client.get("/planner", params={"lang": "zh", "region": "152500"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["content-security-policy"] == WIDGET_CSP
    assert "static/planner.js" in r.text and "static/planner.css" in r.text
    assert client.head("/planner").status_code == 200
    # the service worker stores the planner's shell and its GET figures
    sw = client.get("/sw.js").text
    for item in ('"/planner"', '"/static/planner.js"', '"/static/planner.css"'):
        assert item in sw
    assert "coverage" in sw and "regions" in sw


# ----------------------------------------------------------------------------- fonts
def _font_root(tmp_path: Path, *files: str) -> Path:
    for spec in FONTS.values():
        if spec.file in files:
            path = tmp_path / spec.candidates[0]
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"font bytes of " + spec.file.encode())
    return tmp_path


def test_fonts_css_lists_installed_fonts_and_names_missing_packages(tmp_path: Path) -> None:
    root = _font_root(tmp_path, "NotoSansMongolian-Regular.ttf")
    css = font_css([root])
    assert 'font-family: "Locator Mongolian"' in css
    assert 'url("fonts/NotoSansMongolian-Regular.ttf") format("truetype")' in css
    assert "U+1800-18AF" in css
    assert "CJK" not in css  # Chinese comes from the reader's own fonts
    empty = font_css([tmp_path / "nothing"])
    assert "@font-face" not in empty and "fonts-noto-core" in empty


def test_font_files_are_served_from_the_font_root_and_nothing_else(tmp_path: Path) -> None:
    root = _font_root(tmp_path, "NotoSansMongolian-Regular.ttf")
    app = FastAPI()
    app.include_router(make_router([root]))
    with TestClient(app) as c:
        r = c.get("/widget/fonts/NotoSansMongolian-Regular.ttf")
        assert r.status_code == 200 and r.content == b"font bytes of NotoSansMongolian-Regular.ttf"
        assert r.headers["content-type"] == "font/ttf"
        css = c.get("/widget/fonts.css").text
        assert "NotoSansMongolian-Regular.ttf" in css and "CJK" not in css
        assert c.get("/widget/fonts/NotoSansCJK-Regular.ttc").status_code == 404  # never sent
        assert c.get("/widget/fonts/..%2F..%2Fetc%2Fpasswd").status_code == 404
        assert c.get("/widget/fonts/other.ttf").status_code == 404
    missing = FastAPI()
    missing.include_router(make_router([tmp_path / "absent"]))
    with TestClient(missing) as c:
        assert c.get("/widget/fonts/NotoSansMongolian-Regular.ttf").status_code == 404
        assert c.get("/widget/fonts.css").status_code == 200


# ----------------------------------------------------------------------------- roads
def test_basemap_roads_cover_every_road_junction_and_end(client: TestClient, loc: Locator) -> None:
    r = client.get("/v1/basemap/roads")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert fc["type"] == "FeatureCollection"
    g = loc.network.graph
    vertices = []
    served_lines = 0
    for f in fc["features"]:
        geom = shape(f["geometry"])
        assert f["geometry"]["type"] == "MultiLineString" and geom.is_valid
        served_lines += len(f["geometry"]["coordinates"])
        assert f["properties"]["lines"] == len(f["geometry"]["coordinates"])
        vertices.append(shapely.get_coordinates(geom))
    coords = np.concatenate(vertices)
    # every undirected road appears once
    assert served_lines == len(loc.road_lines(0.002))
    # nodes that are not mid-road (degree != 2) survive simplification, rounded
    degree = np.bincount(np.concatenate([g.edge_u, g.edge_v]), minlength=g.n_nodes) // 2
    scale = 10**COORD_DECIMALS
    served = {(int(x), int(y)) for x, y in np.rint(coords * scale)}
    nodes = np.rint(np.column_stack((g.node_lon, g.node_lat)) * scale).astype(np.int64)
    need = nodes[(degree != 2) & (degree > 0)]
    missing = [tuple(n) for n in need if (int(n[0]), int(n[1])) not in served]
    assert not missing, missing[:5]
    lon0, lat0, lon1, lat1 = g.bbox()
    assert coords[:, 0].min() >= lon0 - 1e-9 and coords[:, 0].max() <= lon1 + 1e-9
    assert coords[:, 1].min() >= lat0 - 1e-9 and coords[:, 1].max() <= lat1 + 1e-9


def test_basemap_roads_bbox_returns_exactly_the_cells_touching_it(client: TestClient) -> None:
    full = client.get("/v1/basemap/roads").json()["features"]
    bbox = (117.0, 49.2, 117.8, 49.9)
    part = client.get("/v1/basemap/roads", params={"bbox": ",".join(map(str, bbox))}).json()
    box = shapely.box(*bbox)
    expected = [f for f in full if shape(f["geometry"]).intersects(box)]
    assert 0 < len(part["features"]) < len(full)
    assert part["features"] == expected


def test_basemap_bodies_have_etags_and_gzip(client: TestClient) -> None:
    r = client.get("/v1/basemap/roads", headers={"Accept-Encoding": "gzip"})
    assert r.headers["content-encoding"] == "gzip"
    etag = r.headers["etag"]
    raw = client.get("/v1/basemap/roads", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in raw.headers
    assert raw.content == r.content  # the client decoded the gzip body to the same bytes
    assert len(gzip.compress(raw.content)) < len(raw.content) / 3
    again = client.get("/v1/basemap/roads", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.headers["etag"] == etag


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "10,10,5,20", "nan,1,2,3", "0,0,200,10"])
def test_basemap_roads_rejects_bad_bbox(client: TestClient, bbox: str) -> None:
    r = client.get("/v1/basemap/roads", params={"bbox": bbox})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    # the one bbox parser of the service: the same code as /v1/stations?bbox=
    assert r.json()["code"] == "invalid_coordinate"


# ----------------------------------------------------------------------------- regions
def test_basemap_regions_are_the_leagues_and_banners(client: TestClient, loc: Locator) -> None:
    assert loc.regions is not None
    fc = client.get("/v1/basemap/regions").json()
    levels = [f["properties"]["level"] for f in fc["features"]]
    assert levels.count("league") == len(loc.regions.leagues())
    assert levels.count("banner") == len(loc.regions.banners())
    for f in fc["features"]:
        geom = shape(f["geometry"])
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon") and not geom.is_empty
        original = loc.regions.get(f["id"]).geometry
        # simplified, yet the same place: areas within 5 %
        assert abs(geom.area - original.area) <= 0.05 * original.area
        # the label point lies inside the unit (within the rounding)
        label = shapely.Point(f["properties"]["label"])
        assert original.buffer(1e-3).contains(label)
    leagues = client.get("/v1/basemap/regions", params={"level": "league"}).json()
    assert {f["id"] for f in leagues["features"]} == {u.code for u in loc.regions.leagues()}
    assert client.get("/v1/basemap/regions", params={"level": "x"}).status_code == 422


# ----------------------------------------------------------------------------- circles
def test_basemap_circles_match_the_isochrones_of_each_station(
    client: TestClient, loc: Locator
) -> None:
    fc = client.get("/v1/basemap/circles", params={"minutes": "15"}).json()
    served = {f["properties"]["station_id"]: f for f in fc["features"]}
    expected = {}
    for st in loc.stations():
        # the circles precomputed at build time (5, 10, 15 min), of which the 15-min one
        (contour,) = [c for c in loc.isochrones(station_id=st.id) if c.minutes == 15]
        if not contour.polygon.is_empty:
            expected[st.id] = contour.polygon
    assert set(served) == set(expected)
    for sid, poly in expected.items():
        f = served[sid]
        assert f["properties"]["minutes"] == 15.0
        assert f["properties"]["kind"] == loc.station(sid).kind.value
        got = shape(f["geometry"])
        # only rounded to 1e-5 degree
        assert got.hausdorff_distance(poly) <= 1e-5
        assert got.symmetric_difference(poly).area <= 1e-3 * poly.area


def test_basemap_circles_nest_and_filter_by_kind(client: TestClient, loc: Locator) -> None:
    fc = client.get("/v1/basemap/circles", params={"minutes": "5,15", "kind": "worker_home"}).json()
    by_station: dict[str, dict[float, shapely.Geometry]] = {}
    for f in fc["features"]:
        assert f["properties"]["kind"] == "worker_home"
        by_station.setdefault(f["properties"]["station_id"], {})[f["properties"]["minutes"]] = (
            shape(f["geometry"])
        )
    homes = [s.id for s in loc.stations() if s.kind == StationKind.worker_home]
    assert set(by_station) <= set(homes) and len(by_station) >= len(homes) - 1
    for rings in by_station.values():
        if 5.0 in rings:
            assert rings[15.0].buffer(1e-4).contains(rings[5.0])


@pytest.mark.parametrize(
    ("minutes", "status", "code"),
    [
        ("0", 422, "invalid_parameter"),  # invalid, not too large
        ("999", 413, "request_too_large"),
        ("1,2,3,4,5,6", 413, "request_too_large"),
        ("x", 422, "invalid_parameter"),
        ("", 422, "invalid_parameter"),
        ("inf", 422, "invalid_parameter"),
    ],
)
def test_basemap_circles_errors(client: TestClient, minutes: str, status: int, code: str) -> None:
    r = client.get("/v1/basemap/circles", params={"minutes": minutes})
    assert r.status_code == status
    assert r.json()["code"] == code


def test_basemap_circles_follow_station_edits(writable_artifact: Path) -> None:
    app = create_app(Settings(artifact_dir=writable_artifact, rate_limit_enabled=False))
    with TestClient(app) as c:
        loc: Locator = c.app.state.locator  # type: ignore[attr-defined]
        before = c.get("/v1/basemap/circles").json()
        ids = {f["properties"]["station_id"] for f in before["features"]}
        base = loc.station("erl-driver-home-01")
        new = Station(
            id="erl-widget-test",
            kind=StationKind.outdoor_worker_post,
            name=LocalizedName(en="Widget test post"),
            lon=base.lon + 0.01,
            lat=base.lat,
            source="test",
            location_accuracy_m=100,
        )
        loc.add_station(new, actor="test")
        after = c.get("/v1/basemap/circles").json()
        assert {f["properties"]["station_id"] for f in after["features"]} == ids | {new.id}
        loc.delete_station(new.id, actor="test")
        assert c.get("/v1/basemap/circles").json() == before


def test_basemap_routes_are_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/basemap/roads", "/v1/basemap/regions", "/v1/basemap/circles"):
        assert paths[path]["get"]["summary"]
    assert "/widget" not in paths and "/widget/fonts.css" not in paths


# ----------------------------------------------------------------------------- offline pack
def _read_pack(raw: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    import json
    import struct

    assert raw[:4] == b"BPLN"
    version, head_len = struct.unpack("<II", raw[4:12])
    assert version == 1
    header = json.loads(raw[12 : 12 + head_len])
    arrays = {}
    pos = 12 + head_len
    for spec in header["arrays"]:
        dtype = np.dtype(spec["dtype"])
        n = spec["count"] * dtype.itemsize
        arrays[spec["name"]] = np.frombuffer(raw[pos : pos + n], dtype=dtype)
        pos += n + (-n % 4)
    assert pos == len(raw)
    return header, arrays


def test_offline_pack_answers_like_the_engine_at_every_node(
    client: TestClient, loc: Locator
) -> None:
    r = client.get("/v1/offline/nearest", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-encoding"] == "gzip"
    header, arrays = _read_pack(r.content)
    assert header["mode"] == "truck" and header["time_unit_s"] == 10.0
    assert set(header["kinds"]) == {k.value for k in StationKind}
    n = header["n_nodes"]
    assert arrays["node_lon"].shape == (n,) and 0 < n <= loc.network.graph.n_nodes
    rng = np.random.default_rng(3)
    for i in rng.choice(n, 60, replace=False).tolist():
        lon, lat = float(arrays["node_lon"][i]), float(arrays["node_lat"][i])
        for kind, info in header["kinds"].items():
            st = int(arrays[f"station.{kind}"][i])
            t = int(arrays[f"time.{kind}"][i])
            try:
                (best,) = loc.nearest(lon, lat, kind=kind)
            except LocatorError:
                assert st == -1 and t == 65535
                continue
            # the node's answer, up to the float32 position and the 10-s rounding
            assert best.duration_s <= t * 10.0 + 60.0 and t * 10.0 <= best.duration_s + 70.0
            if st >= 0:
                ids = info["stations"]
                same = loc.nearest(lon, lat, kind=kind, k=3)
                assert ids[st] in {a.station.id for a in same if a.duration_s <= t * 10 + 60}
    etag = r.headers["etag"]
    assert client.get("/v1/offline/nearest", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/v1/offline/nearest", params={"mode": "plane"}).status_code == 422


def test_traditional_mongolian_font_is_a_subset_of_the_names_we_show(
    writable_artifact: Path,
) -> None:
    """fonts.css points at a subset holding every traditional-script character of the
    station and port names (20 kB rather than the 240 kB font); a station edit bringing a
    new character gets a new subset that covers it."""
    import io as _io

    from fontTools.ttLib import TTFont

    spec = FONTS["NotoSansMongolian-Regular.ttf"]
    if spec.find([Path("/usr/share/fonts")]) is None:
        pytest.fail("needs Debian's fonts-noto-core (make install-browser)")
    app = create_app(Settings(artifact_dir=writable_artifact, rate_limit_enabled=False))
    with TestClient(app) as c:
        loc: Locator = app.state.locator

        def served_subset() -> tuple[str, set[int]]:
            css = c.get("/widget/fonts.css").text
            (name,) = re.findall(
                r'url\("fonts/(NotoSansMongolian-Regular\.subset-[0-9a-f]+\.ttf)"', css
            )
            r = c.get(f"/widget/fonts/{name}")
            assert r.status_code == 200 and r.headers["content-type"] == "font/ttf"
            assert len(r.content) < 60_000  # the whole font is about 240 kB
            cmap = TTFont(_io.BytesIO(r.content)).getBestCmap()
            return name, set(cmap)

        first, covered = served_subset()
        names = "".join(s.name.mn_mong or "" for s in loc.stations())
        assert {ord(ch) for ch in names if not ch.isspace()} <= covered
        base = loc.station("erl-driver-home-01")
        new_text = "\u1824\u1833\u1826\u182d\u1822"  # characters the sample names may lack
        st = base.model_copy(
            update={
                "id": "mong-font-test",
                "name": LocalizedName(en="Font test", mn_mong=new_text),
            }
        )
        loc.add_station(st, actor="font-test")
        second, covered2 = served_subset()
        assert {ord(ch) for ch in new_text} <= covered2
        if not {ord(ch) for ch in new_text} <= covered:
            assert second != first


def test_installable_app_manifest_icons_and_service_worker_shell(client: TestClient) -> None:
    import io as _io
    import json

    from PIL import Image

    page = client.get("/app").text
    assert 'rel="manifest" href="static/manifest.webmanifest"' in page
    manifest = json.loads(client.get("/static/manifest.webmanifest").text)
    assert manifest["start_url"] == "/app" and manifest["display"] == "standalone"
    for icon in manifest["icons"]:
        r = client.get(icon["src"])
        assert r.status_code == 200, icon
        if icon["type"] == "image/png":
            w, h = (int(v) for v in icon["sizes"].split("x"))
            assert Image.open(_io.BytesIO(r.content)).size == (w, h)
    sw = client.get("/sw.js")
    assert sw.status_code == 200 and "javascript" in sw.headers["content-type"]
    assert sw.headers["cache-control"] == "no-cache"
    # every file the worker stores on install exists (one missing file fails the install)
    shell = re.search(r"var SHELL = \[(.*?)\];", sw.text, re.S)
    assert shell is not None
    files = re.findall(r'"([^"]+)"', shell.group(1))
    assert "/app" in files and "/static/app.js" in files
    for f in files:
        assert client.get(f).status_code == 200, f
