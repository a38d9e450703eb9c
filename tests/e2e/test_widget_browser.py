"""End to end: the drivers' app (also the widget) in Debian's Chromium, driven by
Playwright, on a live server: phone (390x844, touch) and desktop, in every language.

Needs (the test FAILS, it does not skip, when they are missing):

- apt: ``chromium`` (the browser; never ``playwright install``), ``fonts-noto-core``
  (Noto Sans Mongolian, served by the app) and ``fonts-noto-cjk`` (Chinese);
- pip: ``playwright`` (the Python driver only).

A uvicorn server runs the real app (``create_app``) in a thread on a free port of
127.0.0.1 over an artifact built for the test. Every request the browser makes, frames
included, is recorded: none may go to another host. A screenshot is saved to the test's
temporary directory and copied to ``docs/`` (``app-<lang>-phone.png``, ``widget.png``).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
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
from locator.errors import NoRestPlanError, NoRouteError, SnapError
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
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LANGS = ("zh", "en", "mn", "ru")
#: 23:00 China Standard Time (the browser's clock in the opening-hours tests)
LATE = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
DRIVER_KINDS = ("driver_station", "worker_home")
FIRST_VIEW_BUDGET = 400 * 1024  # bytes transferred (compressed) until the map is drawn
OFFLINE_BUDGET = 2 * 1024 * 1024  # ... until everything is stored for use without signal
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
        kwargs.setdefault("viewport", VIEWPORT)
        ctx = self.browser.new_context(**kwargs)
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


def _wait_loaded(frame: Any, *, circles: bool = True) -> None:
    keys = ["stations", "roads", "regions"] + (["circles"] if circles else [])
    frame.wait_for_function(
        f"() => {keys!r}.every(k => document.body.dataset[k])",
        timeout=WAIT_MS,
    )
    data = frame.evaluate("() => Object.assign({}, document.body.dataset)")
    assert "error" not in data.values(), data


def _minutes_text(duration_s: float) -> str:
    return str(max(1, round(duration_s / 60)))


def _expected(
    loc: Locator,
    lon: float,
    lat: float,
    *,
    kinds: tuple[str, ...] = DRIVER_KINDS,
    services: tuple[str, ...] = (),
    depart: datetime | None = None,
    open_on_arrival: bool = False,
    k: int = 3,
) -> list[Any]:
    """What the app should list: the k fastest over the kinds (one query per kind, or one
    for every kind, as the app asks)."""
    out = []
    every = set(kinds) == {k.value for k in StationKind}
    for kind in [None] if every else kinds:
        try:
            out += loc.nearest(
                lon,
                lat,
                kind=kind,
                services=services,
                k=k,
                depart_at=depart,
                open_on_arrival=open_on_arrival,
            )
        except NoRouteError:
            continue
    return sorted(out, key=lambda a: a.duration_s)[:k]


def _view(page: Any) -> tuple[float, float, int]:
    """The map's current centre and zoom (the app keeps them in ``data-view``)."""
    text = page.evaluate("() => document.body.dataset.view || ''")
    lon, lat, zoom = text.split(",")
    return float(lon), float(lat), int(float(zoom))


def _click_map(page: Any, lon: float, lat: float, size: dict) -> dict:
    """Click (lon, lat) on the map as it is now; return the query the app sent."""
    x, y = _container_point(lon, lat, _view(page), (size["width"], size["height"]))
    assert page.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('#map')", [x, y])
    with page.expect_response(lambda r: "/v1/nearest?" in r.url) as info:
        page.mouse.click(x, y)
    page.wait_for_function(
        "() => /done|error/.test(document.body.dataset.nearest || '')", timeout=WAIT_MS
    )
    return {k: v[0] for k, v in parse_qs(urlsplit(info.value.url).query).items()}


def _off_road(loc: Locator, lon: float, lat: float) -> bool:
    try:
        loc.snap(lon, lat)
    except SnapError:
        return True
    return False


def _listed(page: Any) -> list[str]:
    return page.locator("#locator-results .result").evaluate_all(
        "bs => bs.map(b => b.dataset.stationId)"
    )


def _open_page(browser: Browser, server: LiveServer, query: str, **ctx_kwargs: Any) -> Any:
    ctx = browser.context(**ctx_kwargs)
    page = ctx.new_page()
    page.clock.set_fixed_time(LATE)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.base}/app?{query}")
    page.errors = errors  # type: ignore[attr-defined]
    return page


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_the_app_on_a_phone_and_a_desktop_in_every_language(
    server: LiveServer, browser: Browser, tmp_path: Path, lang: str, device: str
) -> None:
    browser.requests.clear()
    size = PHONE if device == "phone" else DESKTOP
    extra = {"is_mobile": True, "has_touch": True} if device == "phone" else {}
    lon0, lat0, zoom = MANZHOULI_VIEW
    page = _open_page(
        browser,
        server,
        f"lang={lang}&center={lon0},{lat0}&zoom={zoom}",
        viewport=size,
        **extra,
    )
    _wait_loaded(page)
    assert page.evaluate("() => document.documentElement.lang") == (
        "zh-Hans" if lang == "zh" else lang
    )
    stations = server.loc.stations()
    assert page.locator(".locator-station").count() == len(stations)
    # the driver profile: driver stations and worker homes, open on arrival
    pressed = page.locator("#locator-kinds .chip[aria-pressed='true']").evaluate_all(
        "cs => cs.map(c => c.dataset.value)"
    )
    assert sorted(pressed) == sorted(DRIVER_KINDS)
    hours = page.locator("#locator-hours .chip[aria-pressed='true']")
    assert hours.evaluate("c => c.dataset.value") == "arrival"

    lon, lat = _road_point_east_of_manzhouli(server.loc)
    query = _click_map(page, lon, lat, size)
    assert page.evaluate("() => document.body.dataset.nearest") == "done"
    assert query["open_on_arrival"] == "true"
    depart = datetime.fromisoformat(query["depart_at"].replace("Z", "+00:00"))
    assert depart == LATE
    expect = _expected(
        server.loc, float(query["lon"]), float(query["lat"]), depart=depart, open_on_arrival=True
    )
    assert _listed(page) == [a.station.id for a in expect]
    first = page.locator("#locator-results .result").first
    assert first.locator(".result-name").inner_text() == expect[0].station.name.best(lang)
    assert page.locator("svg path.locator-route").count() == 1
    assert page.locator("#locator-result-name").inner_text() == expect[0].station.name.best(lang)
    # touch targets and text size
    for sel in (".btn:visible", ".chip:visible", ".result:visible", ".leaflet-bar a"):
        heights = page.locator(sel).evaluate_all(
            "es => es.map(e => e.getBoundingClientRect().height)"
        )
        assert heights and min(heights) >= 44, (sel, heights)
    assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") >= 16
    sheet = page.locator("#sheet").bounding_box()
    assert sheet is not None
    if device == "phone":
        assert sheet["height"] <= size["height"] / 3 + 1  # never more than a third
        assert page.locator("#sheet").get_attribute("data-open") == "true"
    else:
        assert sheet["width"] <= 400 and sheet["x"] < 20  # a side panel
    shot = tmp_path / f"app-{lang}-{device}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000
    if device == "phone":
        shutil.copyfile(shot, REPO / "docs" / f"app-{lang}-phone.png")
    assert not page.errors, page.errors
    page.context.close()
    _assert_only_own_host(browser.requests, server.host)


def test_filters_change_the_answer_and_are_remembered(server: LiveServer, browser: Browser) -> None:
    lon0, lat0, zoom = MANZHOULI_VIEW
    page = _open_page(browser, server, f"lang=en&center={lon0},{lat0}&zoom={zoom}")
    _wait_loaded(page, circles=False)
    page.locator("#locator-hours .chip[data-value='any']").click()
    lon, lat = 117.52, 49.575  # the temporary stations nearest here serve no hot meals
    query = _click_map(page, lon, lat, VIEWPORT)
    plain = _expected(server.loc, float(query["lon"]), float(query["lat"]))
    assert _listed(page) == [a.station.id for a in plain]
    hot = page.locator("#locator-services .chip[data-value='hot_meals']")
    with page.expect_response(lambda r: "services=hot_meals" in r.url):
        hot.click()
    page.wait_for_function("() => document.body.dataset.nearest === 'done'", timeout=WAIT_MS)
    assert hot.get_attribute("aria-pressed") == "true"
    meals = _expected(server.loc, float(query["lon"]), float(query["lat"]), services=("hot_meals",))
    assert _listed(page) == [a.station.id for a in meals]
    assert _listed(page)[0] != plain[0].station.id  # the filter changed the answer
    assert all("hot_meals" in {s.value for s in a.station.services} for a in meals)
    # remembered on the device: a new visit starts with the same filters
    page.reload()
    _wait_loaded(page, circles=False)
    hot = page.locator("#locator-services .chip[data-value='hot_meals']")
    assert hot.get_attribute("aria-pressed") == "true"
    assert (
        page.locator("#locator-hours .chip[data-value='any']").get_attribute("aria-pressed")
        == "true"
    )
    page.context.close()


def test_at_23h_a_closed_station_is_never_offered_as_open(
    server: LiveServer, browser: Browser
) -> None:
    """Near Ceke at 23:00 the nearest post (Alxa residents' post, 08:00-20:00) is closed:
    'open on arrival' skips it, 'any time' lists it as closed."""
    kinds = "driver_station,worker_home,outdoor_worker_post"
    page = _open_page(browser, server, f"lang=zh&kind={kinds}&center=101.22,42.53&zoom=11")
    _wait_loaded(page, circles=False)
    # on the road south-west of the port, about 6 km from its stations
    query = _click_map(page, 101.205, 42.5085, VIEWPORT)
    lon, lat = float(query["lon"]), float(query["lat"])
    every = tuple(kinds.split(","))
    anytime = _expected(server.loc, lon, lat, kinds=every, depart=LATE)
    assert anytime[0].open_on_arrival is False  # the scenario: the nearest is closed
    opened = _expected(server.loc, lon, lat, kinds=every, depart=LATE, open_on_arrival=True)
    assert _listed(page) == [a.station.id for a in opened]
    assert anytime[0].station.id not in _listed(page)
    assert page.locator("#locator-results .open-no").count() == 0
    assert page.locator("#locator-results .open-yes").count() == len(opened)
    page.locator("#locator-hours .chip[data-value='any']").click()
    page.wait_for_function("() => document.body.dataset.nearest === 'done'", timeout=WAIT_MS)
    assert _listed(page) == [a.station.id for a in anytime]
    labels = page.locator("#locator-results .result").evaluate_all(
        "bs => bs.map(b => !!b.querySelector('.open-yes'))"
    )
    assert labels == [bool(a.open_on_arrival) for a in anytime]
    assert labels[0] is False  # shown, but never as open
    page.context.close()


def test_an_error_replaces_the_old_result(server: LiveServer, browser: Browser) -> None:
    lon0, lat0, zoom = MANZHOULI_VIEW
    page = _open_page(browser, server, f"lang=en&center={lon0},{lat0}&zoom={zoom}&circles=0")
    _wait_loaded(page, circles=False)
    lon, lat = _road_point_east_of_manzhouli(server.loc)
    _click_map(page, lon, lat, VIEWPORT)
    assert _listed(page) and page.locator("svg path.locator-route").count() == 1
    # zoom out from the route, then tap a spot in view with no road within the snap radius
    for _ in range(3):
        page.locator(".leaflet-control-zoom-out").click()
    page.wait_for_function("() => document.body.dataset.view.endsWith(',11')", timeout=WAIT_MS)
    cx, cy, _ = _view(page)
    far = next(
        (cx + dx, cy + dy)
        for dx in (0.12, -0.12, 0.08, -0.08)
        for dy in (0.06, -0.06, 0.04)
        if _off_road(server.loc, cx + dx, cy + dy)
    )
    _click_map(page, far[0], far[1], VIEWPORT)
    assert page.evaluate("() => document.body.dataset.nearest") == "error:no_road_nearby"
    assert page.locator("#locator-status").inner_text() == "There is no road near this point."
    assert _listed(page) == []
    assert page.locator("svg path.locator-route").count() == 0
    assert page.locator("#locator-result").is_hidden()
    page.context.close()


def test_the_border_notice_names_the_port(server: LiveServer, browser: Browser) -> None:
    """From Zamyn-Üüd (Mongolia) the nearest driver station is across the border at
    Erenhot: the app says so."""
    page = _open_page(
        browser, server, "lang=ru&kind=driver_station&hours=any&center=111.93,43.70&zoom=12"
    )
    _wait_loaded(page, circles=False)
    query = _click_map(page, 111.90, 43.72, VIEWPORT)
    (best,) = _expected(
        server.loc, float(query["lon"]), float(query["lat"]), kinds=("driver_station",), k=1
    )
    assert best.route.crosses_border
    notice = page.locator("#locator-notice")
    assert notice.is_visible()
    assert "Эрэн" in notice.inner_text() or "Эрлянь" in notice.inner_text()
    assert page.evaluate("() => document.body.dataset.border") == "erenhot"
    page.context.close()


def test_along_my_way_lists_stations_with_detours_and_the_rest_plan(
    server: LiveServer, browser: Browser
) -> None:
    lon0, lat0, zoom = MANZHOULI_VIEW
    page = _open_page(
        browser, server, f"lang=en&hours=any&center={lon0},{lat0}&zoom={zoom}&circles=0"
    )
    _wait_loaded(page, circles=False)
    lon, lat = _road_point_east_of_manzhouli(server.loc)
    query = _click_map(page, lon, lat, VIEWPORT)
    start = (float(query["lon"]), float(query["lat"]))
    page.locator("#locator-along").click()
    assert page.locator("#locator-along").get_attribute("aria-pressed") == "true"
    with page.expect_response(lambda r: "/v1/trips/stations?" in r.url) as info:
        page.select_option("#locator-port", "ebuduge")
    page.wait_for_function("() => /done|error/.test(document.body.dataset.trip || '')")
    assert page.evaluate("() => document.body.dataset.trip") == "done"
    sent = {k: v[0] for k, v in parse_qs(urlsplit(info.value.url).query).items()}
    assert sent["kind"] == ",".join(DRIVER_KINDS)
    assert sent["to"] == "ebuduge"  # the server places the port on its road
    trip = server.loc.along_route(start, "ebuduge", kind=list(DRIVER_KINDS))
    assert _listed(page) == [s.station.id for s in trip.stations]
    texts = page.locator("#locator-results .result-time").all_inner_texts()
    assert texts and all("detour" in t for t in texts)
    assert page.locator("#locator-rest").is_visible()
    plan = page.locator("#locator-rest").get_attribute("data-plan")
    try:
        expected = str(len(server.loc.rest_plan(start, "ebuduge", kind=list(DRIVER_KINDS)).stops))
    except NoRestPlanError:
        expected = "gap"
    assert plan == expected
    assert page.locator("svg path.locator-route").count() >= 1
    page.context.close()


def test_first_view_and_offline_pack_stay_within_the_weight_budgets(
    server: LiveServer, browser: Browser
) -> None:
    """Bytes actually transferred (compressed bodies and headers), on a phone: until the
    map, the stations and their circles are drawn (first view), and until everything is
    stored for use without signal (the whole offline pack)."""
    ctx = browser.context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    done: list[Any] = []
    page.on("requestfinished", lambda r: done.append(r))  # noqa: PLW0108 (a builtin is refused)

    def transferred() -> int:
        sizes = [r.sizes() for r in done]
        return sum(s["responseBodySize"] + s["responseHeadersSize"] for s in sizes)

    page.goto(f"{server.base}/app?lang=zh")
    _wait_loaded(page)
    first = transferred()
    assert 0 < first <= FIRST_VIEW_BUDGET, first
    big = [r for r in done if r.sizes()["responseBodySize"] > 10_000]
    assert big and all(r.response().headers.get("content-encoding") == "gzip" for r in big)
    page.wait_for_function("() => document.body.dataset.offline === 'ready'", timeout=WAIT_MS)
    page.wait_for_load_state("networkidle")
    assert transferred() <= OFFLINE_BUDGET, transferred()
    ctx.close()


def test_without_signal_the_app_still_answers_nearest_from_the_offline_pack(
    server: LiveServer, browser: Browser
) -> None:
    """After one visit online, the network goes away: the page reloads from the service
    worker and a tap answers from the pack (nearest road node, its stations), labelled."""
    browser.requests.clear()
    lon0, lat0, zoom = MANZHOULI_VIEW
    ctx = browser.context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    url = f"{server.base}/app?lang=en&hours=any&center={lon0},{lat0}&zoom={zoom}"
    page.goto(url)
    _wait_loaded(page)
    page.wait_for_function("() => document.body.dataset.offline === 'ready'", timeout=WAIT_MS)
    assert page.evaluate("() => !!navigator.serviceWorker.controller")
    ctx.set_offline(True)
    page.reload()
    _wait_loaded(page)  # the app, its data and its base map from the stored copies
    page.wait_for_function("() => document.body.dataset.offline === 'ready'", timeout=WAIT_MS)
    lon, lat = _road_point_east_of_manzhouli(server.loc)
    x, y = _container_point(lon, lat, _view(page), (PHONE["width"], PHONE["height"]))
    page.mouse.click(x, y)
    page.wait_for_function(
        "() => /offline|error|done/.test(document.body.dataset.nearest || '')", timeout=WAIT_MS
    )
    assert page.evaluate("() => document.body.dataset.nearest") == "offline"
    status = page.locator("#locator-status").inner_text()
    assert status.startswith("No signal: an estimate")
    # the reference: the pack's nearest node to the tapped point, its stations by time
    pack = server.loc.offline_nearest()
    k = math.cos(math.radians(lat))
    d = ((pack.node_lon - lon) * k) ** 2 + (pack.node_lat - lat) ** 2
    i = int(np.argmin(d))
    rows = sorted(
        (int(pack.time[kind][i]), pack.station_ids[kind][int(pack.station[kind][i])])
        for kind in DRIVER_KINDS
        if int(pack.station[kind][i]) >= 0
    )
    listed = _listed(page)
    assert listed and listed[0] == rows[0][1]
    assert page.locator("#locator-results .result-time").first.inner_text().startswith("≈")
    ctx.set_offline(False)
    ctx.close()


def test_embedded_widget_posts_messages_and_fits_its_frame(
    server: LiveServer, browser: Browser
) -> None:
    browser.requests.clear()
    ctx = browser.context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = ctx.new_page()
    lon0, lat0, zoom = MANZHOULI_VIEW
    page.goto(f"{server.base}/widget/demo?lang=en&hours=any&center={lon0},{lat0}&zoom={zoom}")
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
    frame.locator(f'[data-station-id="{lone.id}"].locator-station').click()
    page.wait_for_selector('#messages li[data-type="station-selected"]', timeout=WAIT_MS)
    msg = json.loads(page.locator('#messages li[data-type="station-selected"]').first.inner_text())
    assert msg["source"] == "border-port-locator" and msg["via"] == "marker"
    assert msg["station"]["id"] == lone.id and msg["station"]["kind"] == lone.kind.value
    assert msg["station"]["name"] == lone.name.best("en")

    # a tap on the map inside the frame: the message carries the travel time
    lon, lat = _road_point_east_of_manzhouli(server.loc)
    box = frame_el.bounding_box()
    assert box is not None
    size = (round(box["width"]), round(box["height"]))
    frame.evaluate("() => document.getElementById('sheet-handle').click()")  # collapse
    x, y = _container_point(lon, lat, MANZHOULI_VIEW, size)
    assert frame.evaluate("([x, y]) => !!document.elementFromPoint(x, y).closest('#map')", [x, y])
    page.mouse.click(box["x"] + x, box["y"] + y)
    frame.wait_for_function("() => document.body.dataset.nearest === 'done'", timeout=WAIT_MS)
    last = json.loads(page.locator("#messages li").last.inner_text())
    assert last["type"] == "station-selected", last
    assert last["via"] == "map-click"
    best = _expected(server.loc, lon, lat, k=1)[0]
    assert last["station"]["id"] == best.station.id
    assert last["duration_s"] == pytest.approx(best.duration_s, rel=0.05)
    # in the frame size docs/widget.md recommends, the open panel covers <= 1/3 of it
    sheet = frame.locator("#sheet").bounding_box()
    assert frame.locator("#sheet").get_attribute("data-open") == "true"
    assert sheet is not None and sheet["height"] <= box["height"] / 3 + 1
    shot = REPO / "docs" / "widget.png"
    page.screenshot(path=str(shot))
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
    page.goto(f"{server.base}/widget?lang=ru&kind=driver_station&hours=any&circles=0")
    page.wait_for_function("() => document.body.dataset.stations", timeout=WAIT_MS)
    assert page.locator("svg path.locator-circle").count() == 0
    page.locator("#locator-locate").click()
    page.wait_for_function("() => document.body.dataset.nearest === 'done'", timeout=WAIT_MS)
    best = _expected(server.loc, lon, lat, kinds=("driver_station",), k=1)[0]
    assert page.locator("#locator-result-name").inner_text() == best.station.name.best("ru")
    minutes = _minutes_text(best.duration_s)
    assert page.locator("#locator-result-time").inner_text() == f"{minutes} мин"
    assert page.locator("svg path.locator-route").count() == 1
    # the hand-off links, in each app's datum
    links = page.locator("#locator-nav-links a")
    links.first.wait_for(timeout=WAIT_MS)
    apps = links.evaluate_all("as => as.map(a => a.dataset.app)")
    assert apps == ["amap", "baidu", "2gis", "osmand", "geo"]
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
        font_responses: list[tuple[int, int]] = []
        page.on(
            "response",
            lambda r: (
                font_responses.append((r.status, len(r.body())))
                if "/widget/fonts/NotoSansMongolian-Regular" in r.url
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
        # one font file from the app: the subset for the names we show, not the 240-kB font
        assert len(font_responses) == 1 and font_responses[0][0] == 200, font_responses
        assert font_responses[0][1] < 60_000
        ctx.close()
        _assert_only_own_host(browser.requests, server.host)
    finally:
        server.loc.delete_station(station.id, actor="widget-test")


@pytest.mark.parametrize(
    ("path", "ready"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1")]
)
def test_api_docs_render_without_any_other_host(
    server: LiveServer, browser: Browser, path: str, ready: str
) -> None:
    """/docs and /redoc with every request to another host refused (as on a machine with
    no internet): the pages still render from the server's own copies of their assets."""
    browser.requests.clear()
    ctx = browser.context()
    refused: list[str] = []

    def only_ours(route: Any) -> None:
        if urlsplit(route.request.url).netloc == server.host:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    ctx.route("**/*", only_ours)
    page = ctx.new_page()
    page.goto(f"{server.base}{path}")
    title = page.locator(ready).first
    title.wait_for(timeout=WAIT_MS)
    assert "Border-port station locator" in title.inner_text()
    page.wait_for_load_state("networkidle")
    assert not refused, refused
    ctx.close()
    _assert_only_own_host(browser.requests, server.host)


def test_search_finds_ports_regions_and_stations_in_every_script(
    server: LiveServer, browser: Browser
) -> None:
    browser.requests.clear()
    page = _open_page(browser, server, "lang=en&hours=any")
    _wait_loaded(page, circles=False)
    assert page.locator(".place-label.port").count() == len(server.loc.ports)
    box = page.locator("#locator-search")

    def first_hit(text: str) -> str:
        box.fill(text)
        hit = page.locator("#locator-search-results button").first
        hit.wait_for(timeout=WAIT_MS)
        return str(hit.get_attribute("data-place"))

    assert first_hit("manzh") == "port:manzhouli"
    assert first_hit("满洲里") == "port:manzhouli"
    assert first_hit("Маньчжурия") == "port:manzhouli"  # Russian
    assert first_hit("Манжуур") == "port:manzhouli"  # Mongolian (Cyrillic)
    assert first_hit("hulunbei'er") == "league:150700"  # pinyin, apostrophe ignored
    assert first_hit("erl-driver-home-05") == "station:erl-driver-home-05"
    box.fill("zzzz-nowhere")
    assert page.locator("#locator-search-results").inner_text() == "No place of that name."
    # choosing a hit moves the map there
    box.fill("ceke")
    page.locator("#locator-search-results button[data-place='port:ceke']").click()
    lon, lat, zoom = _view(page)
    port = server.loc.port("ceke")
    assert abs(lon - port.lon) < 0.01 and abs(lat - port.lat) < 0.01 and zoom == 11
    # in Along my way, a found port is the destination
    # a road north-east of the port (clear of the side panel)
    x, y = _container_point(101.3362, 42.5977, _view(page), (VIEWPORT["width"], VIEWPORT["height"]))
    page.mouse.click(x, y)
    page.wait_for_function("() => /done|error/.test(document.body.dataset.nearest || '')")
    page.locator("#locator-along").click()
    box.fill("Erenhot")
    with page.expect_response(lambda r: "/v1/trips/stations?" in r.url) as info:
        page.locator("#locator-search-results button[data-place='port:erenhot']").click()
    assert parse_qs(urlsplit(info.value.url).query)["to"] == ["erenhot"]
    page.context.close()
    _assert_only_own_host(browser.requests, server.host)


def test_tapping_each_marker_of_a_cluster_selects_that_station(
    server: LiveServer, browser: Browser
) -> None:
    """Stations that share a road node (Erenhot: 13 on 7) or nearly do (Manzhouli) are
    spread apart: a tap at the centre of each marker selects that very station (a tap on
    one used to select its neighbour)."""
    checked = 0
    for view in ((111.95, 43.655, 12), (117.44, 49.59, 12)):
        page = _open_page(
            browser,
            server,
            f"lang=en&center={view[0]},{view[1]}&zoom={view[2]}&circles=0",
            viewport=PHONE,
            is_mobile=True,
            has_touch=True,
        )
        _wait_loaded(page, circles=False)
        for s in server.loc.stations():
            marker = page.locator(f'.locator-station[data-station-id="{s.id}"]')
            box = marker.bounding_box()
            if box is None or not (
                0 < box["x"] < PHONE["width"] - 100 and 100 < box["y"] < PHONE["height"] - 120
            ):
                continue  # off screen, under the zoom buttons or the sheet
            page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            selected = page.locator(".locator-station.selected").evaluate_all(
                "ms => ms.map(m => m.dataset.stationId)"
            )
            assert selected == [s.id]
            page.locator("#sheet-handle").click()  # collapse the sheet the tap opened
            checked += 1
        page.context.close()
    assert checked >= 12


def test_the_planners_report_prints_to_pdf_with_its_table_and_map(
    server: LiveServer, browser: Browser
) -> None:
    browser.requests.clear()
    ctx = browser.context(viewport={"width": 900, "height": 1200})
    page = ctx.new_page()
    page.goto(f"{server.base}/v1/report?kind=driver_station&region=152500&lang=zh")
    page.emulate_media(media="print")
    table = page.locator("#rows")
    svg = page.locator("svg.map")
    assert table.is_visible() and svg.is_visible()
    assert page.locator("#rows tbody tr").count() == len(
        server.loc.coverage(kind="driver_station", region="152500").rows
    )
    assert page.locator("svg.map .site").count() == 3
    box = svg.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 200
    pdf = page.pdf(format="A4")
    pages = len(re.findall(rb"/Type\s*/Page[^s]", pdf))
    assert pdf.startswith(b"%PDF") and 1 <= pages <= 4, pages
    ctx.close()
    _assert_only_own_host(browser.requests, server.host)
