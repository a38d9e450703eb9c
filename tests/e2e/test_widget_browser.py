"""End to end: the widget in Debian's Chromium, driven by Playwright, on a live server.

Needs (the test FAILS, it does not skip, when they are missing):

- apt: ``chromium`` (the browser; never ``playwright install``), ``fonts-noto-core``
  (Noto Sans Mongolian, served by the app) and ``fonts-noto-cjk`` (Chinese);
- pip: ``playwright`` (the Python driver only).

A uvicorn server runs the real app (``create_app``) in a thread on a free port of
127.0.0.1 over an artifact built for the test. Every request the browser makes, frames
included, is recorded: none may go to another host. A screenshot is saved to the test's
temporary directory and copied to ``docs/widget.png``.
"""

from __future__ import annotations

import json
import math
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import uvicorn

from api.app import create_app
from geodata.build import BuildOptions, build
from locator import Locator
from locator.config import Settings
from locator.stations import LocalizedName, Station, StationKind

REPO = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1000, "height": 640}
MANZHOULI_VIEW = (117.48, 49.59, 11)  # center lon, lat, zoom of the main scenario
MONGOLIAN_TEST_NAME = "ᠮᠠᠨᠵᠤᠤᠷ ᠵᠢᠯᠤᠭᠤᠴᠢᠨ ᠤ ᠭᠡᠷ"  # test data in traditional script
WAIT_MS = 20_000


def _need_browser() -> tuple[Any, str]:
    """Playwright's sync API and the Debian Chromium binary, or a failing test."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "the widget browser test needs the Python package 'playwright' "
            "(pip install playwright; do NOT run 'playwright install')"
        )
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "the widget browser test needs Debian's Chromium: "
            "apt-get install -y chromium fonts-noto-core fonts-noto-cjk"
        )
    return sync_playwright, path


@dataclass
class LiveServer:
    base: str
    loc: Locator
    host: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    artifact = tmp_path_factory.mktemp("widget-e2e") / "regional"
    build(BuildOptions(out=artifact, progress=False), Settings(artifact_dir=artifact))
    app = create_app(Settings(artifact_dir=artifact, rate_limit_enabled=False))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app.state.locator, f"127.0.0.1:{port}")
    finally:
        srv.should_exit = True
        thread.join(timeout=10)
        sock.close()


@dataclass
class Browser:
    browser: Any
    requests: list[str] = field(default_factory=list)

    def context(self, **kwargs: Any) -> Any:
        ctx = self.browser.new_context(viewport=VIEWPORT, **kwargs)
        ctx.on("request", lambda req: self.requests.append(req.url))
        return ctx


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    sync_playwright, path = _need_browser()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield Browser(b)
        finally:
            b.close()


def _assert_only_own_host(requests: list[str], host: str) -> None:
    assert requests, "no request was recorded"
    foreign = [
        u
        for u in requests
        if urlsplit(u).scheme not in ("data", "about", "blob") and urlsplit(u).netloc != host
    ]
    assert not foreign, f"requests to other hosts: {foreign}"


def _container_point(
    lon: float, lat: float, view: tuple[float, float, int], size: tuple[int, int]
) -> tuple[float, float]:
    """Pixel of (lon, lat) in a Leaflet map of ``size`` centred on ``view`` (Web Mercator)."""

    def project(x: float, y: float) -> tuple[float, float]:
        scale = 256 * 2 ** view[2]
        phi = math.radians(y)
        return (
            (x + 180) / 360 * scale,
            (1 - math.log(math.tan(phi) + 1 / math.cos(phi)) / math.pi) / 2 * scale,
        )

    cx, cy = project(view[0], view[1])
    px, py = project(lon, lat)
    return size[0] / 2 + px - cx, size[1] / 2 + py - cy


def _road_point_east_of_manzhouli(loc: Locator) -> tuple[float, float]:
    """A network node about 10 km east of Manzhouli's stations (inside the test view)."""
    g = loc.network.graph
    i = int(np.argmin(np.hypot(g.node_lon - 117.58, g.node_lat - 49.535)))
    return float(g.node_lon[i]), float(g.node_lat[i])


def _wait_loaded(frame: Any) -> None:
    frame.wait_for_function(
        "() => ['stations', 'circles', 'roads', 'regions'].every(k => document.body.dataset[k])",
        timeout=WAIT_MS,
    )
    data = frame.evaluate("() => Object.assign({}, document.body.dataset)")
    assert "error" not in data.values(), data


def _minutes_text(duration_s: float) -> str:
    return str(max(1, round(duration_s / 60)))


def test_widget_draws_stations_circles_and_a_clicked_route(
    server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    browser.requests.clear()
    ctx = browser.context(locale="zh-CN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    lon0, lat0, zoom = MANZHOULI_VIEW
    page.goto(f"{server.base}/widget?lang=zh&center={lon0},{lat0}&zoom={zoom}")
    _wait_loaded(page)

    stations = server.loc.stations()
    assert page.locator(".locator-station").count() == len(stations)
    for kind in StationKind:  # one icon per kind
        n = sum(s.kind == kind for s in stations)
        assert page.locator(f".locator-station.locator-kind-{kind.value} svg").count() == n
    with_circle = [
        s
        for s in stations
        if not next(
            c for c in server.loc.isochrones(station_id=s.id) if c.minutes == 15
        ).polygon.is_empty
    ]
    circles = page.locator("svg path.locator-circle-15")
    assert circles.count() == len(with_circle) > 0
    # Leaflet clips paths to the view: the circles of stations in view have real outlines
    size = (VIEWPORT["width"], VIEWPORT["height"])
    in_view = [
        s
        for s in with_circle
        if 0 <= _container_point(s.lon, s.lat, MANZHOULI_VIEW, size)[0] <= size[0]
        and 0 <= _container_point(s.lon, s.lat, MANZHOULI_VIEW, size)[1] <= size[1]
    ]
    outlines = circles.evaluate_all("ps => ps.map(p => (p.getAttribute('d') || '').length)")
    assert sum(n > 50 for n in outlines) >= len(in_view) > 5
    assert page.locator(".leaflet-locator-roads-pane canvas").count() == 1
    assert page.locator("#locator-title").inner_text() == "服务站点"

    # a click on a road east of Manzhouli: the nearest station, its route and travel time
    lon, lat = _road_point_east_of_manzhouli(server.loc)
    x, y = _container_point(lon, lat, MANZHOULI_VIEW, (VIEWPORT["width"], VIEWPORT["height"]))
    assert page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('#map')", [x, y])
    with page.expect_response(lambda r: "/v1/nearest?" in r.url) as info:
        page.mouse.click(x, y)
    query = parse_qs(urlsplit(info.value.url).query)
    qlon, qlat = float(query["lon"][0]), float(query["lat"][0])
    assert abs(qlon - lon) < 0.002 and abs(qlat - lat) < 0.002
    page.wait_for_function("() => document.body.dataset.nearest === 'done'", timeout=WAIT_MS)
    (best,) = server.loc.nearest(qlon, qlat, k=1)
    assert page.locator("svg path.locator-route").count() == 1
    assert page.locator("#locator-result-name").inner_text() == best.station.name.best("zh")
    minutes = _minutes_text(best.duration_s)
    assert page.locator("#locator-result-time").inner_text() == f"{minutes} 分钟"
    assert page.locator("#locator-result-dist").inner_text().endswith("公里")
    assert page.locator(f'[data-station-id="{best.station.id}"].selected').count() == 1
    # CJK text is drawn with a real CJK font (ours, or the reader's own Noto CJK)
    assert page.evaluate("() => document.fonts.check('16px \"Locator CJK\"', '满洲里')")

    shot = tmp_path / "widget.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    (REPO / "docs").mkdir(exist_ok=True)
    shutil.copyfile(shot, REPO / "docs" / "widget.png")
    ctx.close()
    assert not errors, errors
    _assert_only_own_host(browser.requests, server.host)


def test_embedded_widget_posts_messages_to_the_host_page(
    server: LiveServer, browser: Browser
) -> None:
    browser.requests.clear()
    ctx = browser.context()
    page = ctx.new_page()
    lon0, lat0, zoom = MANZHOULI_VIEW
    page.goto(f"{server.base}/widget/demo?lang=en&center={lon0},{lat0}&zoom={zoom}")
    frame_el = page.wait_for_selector("#station-widget")
    frame = frame_el.content_frame()
    assert frame is not None
    frame.wait_for_load_state()
    _wait_loaded(frame)
    page.wait_for_selector('#messages li[data-type="ready"]', timeout=WAIT_MS)
    ready = json.loads(page.locator('#messages li[data-type="ready"]').inner_text())
    assert ready["stations"] == len(server.loc.stations()) and ready["lang"] == "en"

    # a station alone at its position (so its marker is the one under the pointer)
    positions = [(s.lon, s.lat) for s in server.loc.stations()]
    lone = next(
        s
        for s in server.loc.stations()
        if positions.count((s.lon, s.lat)) == 1
        and abs(s.lon - lon0) < 0.2
        and abs(s.lat - lat0) < 0.1
    )
    frame.locator(f'[data-station-id="{lone.id}"]').click()
    page.wait_for_selector('#messages li[data-type="station-selected"]', timeout=WAIT_MS)
    msg = json.loads(page.locator('#messages li[data-type="station-selected"]').first.inner_text())
    assert msg["source"] == "border-port-locator" and msg["via"] == "marker"
    assert msg["station"]["id"] == lone.id and msg["station"]["kind"] == lone.kind.value
    assert msg["station"]["name"] == lone.name.best("en")
    assert (msg["station"]["lon"], msg["station"]["lat"]) == pytest.approx((lone.lon, lone.lat))

    # a click on the map inside the frame: the message carries the travel time
    lon, lat = _road_point_east_of_manzhouli(server.loc)
    box = frame_el.bounding_box()
    assert box is not None
    x, y = _container_point(lon, lat, MANZHOULI_VIEW, (round(box["width"]), round(box["height"])))
    assert frame.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('#map')", [x, y])
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_selector("#messages li:nth-of-type(3)", timeout=WAIT_MS)
    last = json.loads(page.locator("#messages li").last.inner_text())
    assert last["type"] == "station-selected", last
    assert last["via"] == "map-click"
    (best,) = server.loc.nearest(lon, lat, k=1)
    assert last["station"]["id"] == best.station.id
    assert last["duration_s"] == pytest.approx(best.duration_s, rel=0.05)
    ctx.close()
    _assert_only_own_host(browser.requests, server.host)


def test_locate_me_finds_the_nearest_station_in_russian(
    server: LiveServer, browser: Browser
) -> None:
    browser.requests.clear()
    lon, lat = _road_point_east_of_manzhouli(server.loc)
    ctx = browser.context(
        geolocation={"longitude": lon, "latitude": lat}, permissions=["geolocation"]
    )
    page = ctx.new_page()
    page.goto(f"{server.base}/widget?lang=ru&kind=driver_station&circles=0")
    page.wait_for_function("() => document.body.dataset.stations", timeout=WAIT_MS)
    assert page.locator(".locator-station").count() == sum(
        s.kind == StationKind.driver_station for s in server.loc.stations()
    )
    assert page.locator("svg path.locator-circle").count() == 0
    page.locator("#locator-locate").click()
    page.wait_for_function("() => document.body.dataset.nearest === 'done'", timeout=WAIT_MS)
    (best,) = server.loc.nearest(lon, lat, kind="driver_station", k=1)
    assert page.locator("#locator-result-name").inner_text() == best.station.name.best("ru")
    minutes = _minutes_text(best.duration_s)
    assert page.locator("#locator-result-time").inner_text() == f"{minutes} мин"
    assert page.locator("svg path.locator-route").count() == 1
    ctx.close()
    _assert_only_own_host(browser.requests, server.host)


def test_traditional_mongolian_names_are_vertical_in_the_served_noto_font(
    server: LiveServer, browser: Browser
) -> None:
    base = server.loc.station("erl-driver-home-01")
    station = Station(
        id="erl-widget-mong",
        kind=StationKind.driver_station,
        name=LocalizedName(en="Widget test station", mn="Тест буудал", mn_mong=MONGOLIAN_TEST_NAME),
        lon=base.lon,
        lat=base.lat,
        source="widget browser test",
        location_accuracy_m=100,
    )
    server.loc.add_station(station, actor="widget-test")
    try:
        browser.requests.clear()
        ctx = browser.context()
        page = ctx.new_page()
        font_responses: list[int] = []
        page.on(
            "response",
            lambda r: (
                font_responses.append(r.status)
                if r.url.endswith("/widget/fonts/NotoSansMongolian-Regular.ttf")
                else None
            ),
        )
        page.goto(f"{server.base}/widget?lang=mn-Mong&station={station.id}&circles=0")
        vertical = page.locator("#locator-result-mong")
        vertical.wait_for(state="visible", timeout=WAIT_MS)
        assert vertical.inner_text() == MONGOLIAN_TEST_NAME
        assert page.locator("#locator-result-name").inner_text() == "Тест буудал"
        assert vertical.evaluate("e => getComputedStyle(e).writingMode") == "vertical-lr"
        page.wait_for_function(
            "() => document.fonts.check('16px \"Locator Mongolian\"', '\u182e')", timeout=WAIT_MS
        )
        box = vertical.bounding_box()
        assert box is not None and box["height"] > box["width"]  # written top to bottom
        assert font_responses == [200], "the Noto Mongolian font was not served by the app"
        ctx.close()
        _assert_only_own_host(browser.requests, server.host)
    finally:
        server.loc.delete_station(station.id, actor="widget-test")
