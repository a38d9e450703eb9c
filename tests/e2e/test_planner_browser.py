"""End to end: the planners' workspace (/planner) in Debian's Chromium on a live server.

The scenario of issue 12: a planner opens /planner, picks Xilingol League and driver
stations, sees the table and the map, gets three suggested sites whose gains match the
API, tries one (and drags it), imports demand, downloads the table, the gaps and the sites
(files that parse), and opens the report — in each language, with nothing loaded from any
other host; after one visit the page loads without signal. Same requirements as
``test_widget_browser.py`` (the test fails, not skips, without Chromium or Playwright).
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_widget_browser import (
    DESKTOP,
    PHONE,
    REPO,
    WAIT_MS,
    Browser,
    LiveServer,
    _assert_only_own_host,
    _container_point,
    browser,
    server,
)

__all__ = ["browser", "server"]  # the fixtures, shared with the drivers' app test

XILINGOL = "152500"
TABLET = {"width": 1024, "height": 768}


def _open(browser: Browser, server: LiveServer, query: str, **ctx: Any) -> Any:
    context = browser.context(**ctx)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.base}/planner?{query}")
    page.errors = errors  # type: ignore[attr-defined]
    _ready(page)
    return page


def _ready(page: Any, evaluations: int = 1) -> None:
    page.wait_for_function(
        "(n) => document.body.dataset.state === 'ready'"
        " && /^\\d+$/.test(document.body.dataset.circles || '')"
        " && document.body.dataset.stations && Number(document.body.dataset.evaluations) >= n",
        arg=evaluations,
        timeout=WAIT_MS,
    )


def _data(page: Any) -> dict[str, str]:
    return dict(page.evaluate("() => Object.assign({}, document.body.dataset)"))


def _view(page: Any) -> tuple[float, float, int]:
    lon, lat, zoom = _data(page)["view"].split(",")
    return float(lon), float(lat), int(float(zoom))


def _map_box(page: Any) -> dict[str, float]:
    box = page.locator("#map").bounding_box()
    assert box is not None
    return box


def _suggest(page: Any) -> None:
    page.click("#p-suggest")
    page.wait_for_function(
        "() => /^\\d+$|error/.test(document.body.dataset.sites || '')", timeout=WAIT_MS
    )


@pytest.mark.parametrize(
    ("lang", "size"),
    [("zh", DESKTOP), ("en", TABLET), ("mn", DESKTOP), ("ru", PHONE)],
)
def test_a_region_fills_the_table_and_map_and_sites_match_the_api(
    server: LiveServer, browser: Browser, tmp_path: Path, lang: str, size: dict
) -> None:
    browser.requests.clear()
    phone = size is PHONE
    extra = {"is_mobile": True, "has_touch": True} if phone else {}
    page = _open(browser, server, f"lang={lang}&region={XILINGOL}", viewport=size, **extra)
    loc = server.loc
    report = loc.coverage(kind="driver_station", region=XILINGOL)
    data = _data(page)
    assert float(data["share"]) == pytest.approx(report.share, abs=1e-12)
    assert int(data["rows"]) == len(report.rows) == page.locator("#p-table tbody tr").count()
    assert page.evaluate("() => document.documentElement.lang") == (
        "zh-Hans" if lang == "zh" else lang
    )
    # every banner of the league is filled on the map, and the gaps are drawn
    fills = page.locator(".leaflet-p-fill-pane path").count()
    assert fills >= len(report.rows)
    assert int(data["stations"]) == len(loc.stations(kind="driver_station"))
    # the table is sortable (share, then road km descending)
    page.click("#p-col-road")
    roads = page.locator("#p-table tbody tr").evaluate_all("rs => rs.map(r => r.dataset.code)")
    assert roads == [r.code for r in sorted(report.rows, key=lambda r: (-r.road_km, r.code))]
    # a row selects its banner on the map
    first = page.locator("#p-table tbody tr").first
    first.click()
    assert _data(page)["selected"] == roads[0]
    assert first.get_attribute("aria-selected") == "true"
    # three suggestions with the API's gains, drawn as numbered markers
    _suggest(page)
    expect = loc.suggest_sites(kind="driver_station", k=3, region=XILINGOL)
    assert _data(page)["sites"] == "3"
    gains = page.locator("#p-sites li").evaluate_all("ls => ls.map(l => Number(l.dataset.gainKm))")
    assert gains == pytest.approx([round(s.gain / 1000, 3) for s in expect.sites], abs=1e-3)
    assert page.locator(".pin.site").count() == 3
    shot = tmp_path / f"planner-{lang}.png"
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    device = "phone" if phone else ("tablet" if size is TABLET else "desktop")
    shutil.copyfile(shot, REPO / "docs" / f"planner-{lang}-{device}.png")
    if not phone:  # the controls and the map side by side
        panel = page.locator("#p-panel").bounding_box()
        assert panel is not None and panel["width"] <= 440 and _map_box(page)["x"] >= panel["width"]
    assert not page.errors, page.errors
    page.context.close()
    _assert_only_own_host(browser.requests, server.host)


def test_what_if_markers_change_the_share_exactly_as_the_engine(
    server: LiveServer, browser: Browser
) -> None:
    """Trying site 1 adds a hypothetical station: the share is the engine's figure for that
    station added; dragging it sends the new position and the share follows; removing a
    station in the what-if lowers it; nothing is saved."""
    browser.requests.clear()
    page = _open(browser, server, f"lang=en&region={XILINGOL}", viewport=DESKTOP)
    loc = server.loc
    before = float(_data(page)["share"])
    _suggest(page)
    bodies: list[dict] = []
    page.on(
        "request",
        lambda r: (
            bodies.append(json.loads(r.post_data or "{}")) if "/v1/plan/evaluate" in r.url else None
        ),
    )
    page.locator("#p-sites li").first.locator("button").click()
    _ready(page, 2)
    site = loc.suggest_sites(kind="driver_station", k=1, region=XILINGOL).sites[0]
    share = float(_data(page)["share"])
    engine = loc.evaluate_plan(kind="driver_station", region=XILINGOL, add=[(site.lon, site.lat)])
    assert share == pytest.approx(engine.share, abs=1e-9) and share > before
    assert page.locator("#p-delta").is_visible()
    # drag the hypothetical station east, onto a road node about 25 km away
    graph = loc.network.graph
    i = int(np.argmin(np.hypot(graph.node_lon - (site.lon + 0.3), graph.node_lat - site.lat)))
    to_lon, to_lat = float(graph.node_lon[i]), float(graph.node_lat[i])
    marker = page.locator(".pin.added").first
    box = marker.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    mbox = _map_box(page)
    size = (int(mbox["width"]), int(mbox["height"]))
    tx, ty = _container_point(to_lon, to_lat, _view(page), size)
    sx, sy = _container_point(site.lon, site.lat, _view(page), size)
    tx, ty = x + tx - sx, y + ty - sy  # the marker's pixel plus the offset to the node
    done = int(_data(page)["evaluations"])
    page.mouse.move(x, y)
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(x + (tx - x) * step / 10, y + (ty - y) * step / 10, steps=2)
    page.mouse.up()
    page.wait_for_function(
        "(n) => Number(document.body.dataset.evaluations) > n"
        " && document.body.dataset.state === 'ready'",
        arg=done,
        timeout=WAIT_MS,
    )
    page.wait_for_timeout(300)
    _ready(page)
    last = bodies[-1]
    (moved,) = last["add"]
    assert moved["lon"] > site.lon + 0.1  # east
    engine = loc.evaluate_plan(
        kind="driver_station", region=XILINGOL, add=[(moved["lon"], moved["lat"])]
    )
    assert float(_data(page)["share"]) == pytest.approx(engine.share, abs=1e-9)
    # add a second station by clicking the map in "add" mode
    page.click("#p-add")
    lon, lat = 116.6, 44.8
    i = int(np.argmin(np.hypot(graph.node_lon - lon, graph.node_lat - lat)))
    lon, lat = float(graph.node_lon[i]), float(graph.node_lat[i])
    box = _map_box(page)
    px, py = _container_point(lon, lat, _view(page), (int(box["width"]), int(box["height"])))
    done = int(_data(page)["evaluations"])
    page.mouse.click(box["x"] + px, box["y"] + py)
    page.wait_for_function(
        "(n) => Number(document.body.dataset.evaluations) > n"
        " && document.body.dataset.scenario === '2'",
        arg=done,
        timeout=WAIT_MS,
    )
    _ready(page)
    last = bodies[-1]
    assert len(last["add"]) == 2
    engine = loc.evaluate_plan(
        kind="driver_station",
        region=XILINGOL,
        add=[(a["lon"], a["lat"]) for a in last["add"]],
    )
    assert float(_data(page)["share"]) == pytest.approx(engine.share, abs=1e-9)
    # clear: back to the saved figures, which never changed
    page.click("#p-reset")
    page.wait_for_function("() => document.body.dataset.scenario === '0'", timeout=WAIT_MS)
    _ready(page)
    assert float(_data(page)["share"]) == pytest.approx(before, abs=1e-12)
    assert loc.coverage(kind="driver_station", region=XILINGOL).share == pytest.approx(before)
    assert not page.errors, page.errors
    page.context.close()
    _assert_only_own_host(browser.requests, server.host)


def test_imported_demand_is_counted_and_downloads_parse(
    server: LiveServer, browser: Browser, tmp_path: Path
) -> None:
    browser.requests.clear()
    page = _open(browser, server, f"lang=zh&region={XILINGOL}", viewport=DESKTOP)
    loc = server.loc
    # a spreadsheet export: BOM, semicolons, a header in another order, one bad row
    text = "\ufeffweight;lat;lon\n120;43.919;116.024\n5;43.6;112.0\nbad;row;here\n"
    done = int(_data(page)["evaluations"])
    page.set_input_files(
        "#p-import", files=[{"name": "trucks.csv", "mimeType": "text/csv", "buffer": text.encode()}]
    )
    page.wait_for_function(
        "(n) => Number(document.body.dataset.evaluations) > n", arg=done, timeout=WAIT_MS
    )
    _ready(page)
    assert _data(page)["demand"] == "2"
    expect = loc.coverage(
        kind="driver_station",
        region=XILINGOL,
        demand=[(116.024, 43.919, 120.0), (112.0, 43.6, 5.0)],
    )
    assert int(_data(page)["demandPoints"]) == len(expect.demand_points)
    demand_text = page.locator("#p-demand-text").inner_text()
    assert f"{expect.demand_covered:,.0f} / {expect.demand_total:,.0f}" in demand_text
    assert "跳过1行" in page.locator("#p-demand-info").inner_text()  # the bad row
    # downloads: the table (CSV), the gaps and the sites (GeoJSON), the sites (CSV)
    files = {}
    for link in ("#p-dl-csv", "#p-dl-gaps", "#p-dl-sites", "#p-dl-sites-csv"):
        with page.expect_download() as info:
            page.click(link)
        path = tmp_path / info.value.suggested_filename
        info.value.save_as(path)
        files[link] = path.read_bytes()
    table = list(csv.DictReader(io.StringIO(files["#p-dl-csv"].decode("utf-8-sig"))))
    report = loc.coverage(kind="driver_station", region=XILINGOL)
    assert [r["code"] for r in table[:-1]] == [r.code for r in report.rows]
    assert float(table[-1]["covered_km"]) == pytest.approx(report.covered_km, abs=1e-3)
    gaps = json.loads(files["#p-dl-gaps"])
    assert gaps["type"] == "FeatureCollection" and gaps["features"]
    for line in gaps["features"][0]["geometry"]["coordinates"]:
        assert all(110 < x < 121 and 40 < y < 47 for x, y in line)
    sites = json.loads(files["#p-dl-sites"])
    assert [f["geometry"]["type"] for f in sites["features"]] == ["Point"] * 3
    rows = list(csv.DictReader(io.StringIO(files["#p-dl-sites-csv"].decode("utf-8-sig"))))
    assert [float(r["gain_km"]) for r in rows] == [
        f["properties"]["gain_km"] for f in sites["features"]
    ]
    # the report link opens the printable report of the same question, in Chinese
    href = page.locator("#p-dl-report").get_attribute("href")
    assert href is not None and f"region={XILINGOL}" in href and "lang=zh" in href
    report_page = page.context.new_page()
    report_page.goto(href)
    assert report_page.locator("#rows tbody tr").count() == len(report.rows)
    assert not page.errors, page.errors
    page.context.close()
    _assert_only_own_host(browser.requests, server.host)


def test_after_one_visit_the_planner_loads_without_signal(
    server: LiveServer, browser: Browser
) -> None:
    browser.requests.clear()
    page = _open(browser, server, f"lang=ru&region={XILINGOL}", viewport=DESKTOP)
    share = _data(page)["share"]
    page.wait_for_function("() => !!navigator.serviceWorker.controller", timeout=WAIT_MS)
    page.reload()  # the worker now stores what the page asks for
    _ready(page)
    page.wait_for_timeout(500)
    page.context.set_offline(True)
    page.reload()
    _ready(page)
    data = _data(page)
    assert data["share"] == share and int(data["rows"]) > 0
    assert page.locator("#p-title").inner_text().startswith("Рабочее место")
    page.context.set_offline(False)
    page.context.close()
    _assert_only_own_host(browser.requests, server.host)


def test_answers_to_an_earlier_question_are_dropped(server: LiveServer, browser: Browser) -> None:
    """The station list of the kind before, held back until the new kind's list is drawn,
    never replaces it; neither do the suggestions of the region before."""
    browser.requests.clear()
    # (no service worker: the page's own requests are the ones held back)
    page = _open(
        browser, server, f"lang=en&region={XILINGOL}", viewport=DESKTOP, service_workers="block"
    )
    loc = server.loc
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)

    page.route(re.compile(r"/v1/stations\?kind=worker_home"), hold)
    page.select_option("#p-kind", "worker_home")
    deadline = 100
    while not held and deadline:
        page.wait_for_timeout(50)
        deadline -= 1
    assert held, "the worker homes were not asked for"
    page.select_option("#p-kind", "driver_station")
    _ready(page)
    for route in held:  # the late answer for worker homes
        route.continue_()
    page.wait_for_timeout(800)
    drivers = len(loc.stations(kind="driver_station"))
    assert page.locator(".pin.station").count() == drivers
    assert _data(page)["stations"] == str(drivers)
    # suggestions asked for Xilingol, then the region changes before they arrive
    page.unroute(re.compile(r"/v1/stations\?kind=worker_home"))
    slow: list[Any] = []

    def hold_sites(route: Any) -> None:
        slow.append(route)

    page.route(re.compile(r"/v1/plan/sites"), hold_sites)
    page.click("#p-suggest")
    while not slow:
        page.wait_for_timeout(50)
    page.select_option("#p-region", "150100")  # Hohhot
    _ready(page, int(_data(page)["evaluations"]) + 1)
    for route in slow:
        route.continue_()
    page.wait_for_timeout(800)
    assert page.locator("#p-sites li").count() == 0 and page.locator(".pin.site").count() == 0
    hohhot = loc.coverage(kind="driver_station", region="150100")
    assert float(_data(page)["share"]) == pytest.approx(hohhot.share, abs=1e-12)
    assert not page.errors, page.errors
    page.context.close()


def test_spreadsheet_exports_with_quotes_and_decimal_commas_are_read(
    server: LiveServer, browser: Browser
) -> None:
    page = _open(browser, server, f"lang=ru&region={XILINGOL}", viewport=DESKTOP)
    bodies: list[dict] = []
    page.on(
        "request",
        lambda r: (
            bodies.append(json.loads(r.post_data or "{}")) if "/v1/plan/evaluate" in r.url else None
        ),
    )
    text = (
        'name;lon;lat;weight\r\n"Эрэн-Хото; порт";111,973;43,63;"1,5"\r\n'
        '"say ""hi""";116,024;43,919;120\r\nbad;0x10;43;1\r\nhuge;112,0;43,6;1e12\r\n'
        "desert;100,5;44,5;7\r\n"  # far from any road: named and left out
    )
    done = int(_data(page)["evaluations"])
    page.set_input_files(
        "#p-import", files=[{"name": "ru.csv", "mimeType": "text/csv", "buffer": text.encode()}]
    )
    page.wait_for_function(
        "(n) => Number(document.body.dataset.evaluations) > n", arg=done, timeout=WAIT_MS
    )
    page.wait_for_function("() => document.body.dataset.demand === '2'", timeout=WAIT_MS)
    _ready(page)
    assert "100.5, 44.5" in page.locator("#p-demand-problem").inner_text()
    assert bodies[-1]["demand"] == [
        {"lon": 111.973, "lat": 43.63, "weight": 1.5},
        {"lon": 116.024, "lat": 43.919, "weight": 120},
    ]
    assert "2" in page.locator("#p-demand-info").inner_text()  # two rows skipped
    # a file without lon/lat columns says so and imports nothing
    page.set_input_files(
        "#p-import",
        files=[{"name": "x.csv", "mimeType": "text/csv", "buffer": b"a,b\nc,d\n"}],
    )
    page.wait_for_function("() => document.body.dataset.demand === '0'", timeout=WAIT_MS)
    _ready(page)  # the figures updated: the message about the file stays
    page.wait_for_timeout(300)
    assert page.locator("#p-demand-problem").inner_text().startswith("Не найдены")
    page.context.close()
