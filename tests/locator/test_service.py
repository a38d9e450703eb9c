"""The Locator facade on a real regional artifact: answers, filters, edits, errors."""

from __future__ import annotations

import itertools
import shutil
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locator import Locator
from locator.analysis.coverage import label_nodes
from locator.analysis.isochrones import IsochroneEngine
from locator.config import Settings
from locator.errors import (
    InvalidCoordinateError,
    InvalidParameterError,
    LocatorError,
    NoRouteError,
    OutsideServiceAreaError,
    RegionNotFoundError,
    RequestTooLargeError,
    SnapError,
    StationNotFoundError,
    StationValidationError,
)
from locator.stations import Service, Station, StationKind
from locator.stations.store import StationStore


@pytest.fixture(scope="module")
def artifact(regional_artifact) -> Path:
    return regional_artifact


@pytest.fixture(scope="module")
def loc(artifact) -> Locator:
    return Locator.open(artifact)


@pytest.fixture
def fresh(artifact, tmp_path) -> Locator:
    """A private copy of the artifact, for tests that edit stations."""
    copy = tmp_path / "copy"
    shutil.copytree(artifact, copy)
    return Locator.open(copy)


def _near_network_points(loc: Locator, n: int, seed: int) -> list[tuple[float, float]]:
    rng = np.random.default_rng(seed)
    graph = loc.network.graph
    nodes = rng.choice(graph.n_nodes, n, replace=False)
    jitter = rng.uniform(-0.005, 0.005, size=(n, 2))
    return [
        (float(graph.node_lon[i] + dx), float(graph.node_lat[i] + dy))
        for i, (dx, dy) in zip(nodes, jitter, strict=True)
    ]


def _all_station_times(
    loc: Locator, lon: float, lat: float, kind: str, mode: str
) -> dict[str, float]:
    """Reference: a full route to every station of the kind (one search each)."""
    out = {}
    for s in loc.stations():
        if s.kind.value != kind:
            continue
        try:
            out[s.id] = loc.route((lon, lat), s.id, mode=mode).duration_s
        except NoRouteError:
            continue
    return out


@pytest.mark.parametrize("kind", [k.value for k in StationKind])
def test_nearest_fast_path_is_never_beaten(loc, kind):
    for lon, lat in _near_network_points(loc, 12, seed=sum(map(ord, kind))):
        try:
            (best,) = loc.nearest(lon, lat, kind=kind, mode="truck")
        except (NoRouteError, SnapError):
            continue
        ref = _all_station_times(loc, lon, lat, kind, "truck")
        assert ref, "forest found a station the reference cannot reach"
        assert best.duration_s == pytest.approx(min(ref.values()), rel=1e-6, abs=1e-6)
        assert best.station.kind.value == kind
        # the route ends at the station's snapped position and matches the duration
        assert best.route.duration_s == pytest.approx(best.duration_s)
        assert best.distance_m == pytest.approx(best.route.distance_m)


@pytest.mark.parametrize("kind", [k.value for k in StationKind])
def test_every_path_gives_the_same_answer_under_the_same_bound(loc, kind):
    """k = 1 (forest), k > 1 and filters (tables) answer one query alike, with or without
    a bound; a bound that stops the search says so."""
    every = [s.value for s in Service]
    for lon, lat in _near_network_points(loc, 15, seed=3 + len(kind)):
        try:
            (fast,) = loc.nearest(lon, lat, kind=kind)
        except (NoRouteError, SnapError):
            continue
        three = loc.nearest(lon, lat, kind=kind, k=3)
        assert three[0].duration_s == pytest.approx(fast.duration_s, rel=1e-9)
        assert [a.duration_s for a in three] == sorted(a.duration_s for a in three)
        offered = set(fast.station.services)
        if offered:
            svc = sorted(offered)[:1]
            (filtered,) = loc.nearest(lon, lat, kind=kind, services=svc)
            assert filtered.duration_s == pytest.approx(fast.duration_s, rel=1e-9)
        missing = sorted(set(every) - offered)[:1]
        for bound in (fast.duration_s * 0.5, fast.duration_s * 2.0 + 1.0):
            if bound >= fast.duration_s:
                assert loc.nearest(lon, lat, kind=kind, max_time_s=bound)[0].duration_s == (
                    pytest.approx(fast.duration_s, rel=1e-9)
                )
                continue
            for extra in ({}, {"k": 3}, {"services": missing}):
                with pytest.raises(NoRouteError, match="within"):
                    loc.nearest(lon, lat, kind=kind, max_time_s=bound, **extra)


def test_far_station_is_found_by_every_path(loc):
    """From near Manzhouli the only outdoor-worker posts are 10 h and more away: k = 1,
    k = 3 and a service filter all find them (there is no hidden 4 h bound)."""
    lon, lat = 117.3438, 49.5974
    (one,) = loc.nearest(lon, lat, kind="outdoor_worker_post")
    assert one.duration_s > 4 * 3600
    three = loc.nearest(lon, lat, kind="outdoor_worker_post", k=3)
    assert three[0].station.id == one.station.id
    assert three[0].duration_s == pytest.approx(one.duration_s, rel=1e-9)
    rest = loc.nearest(lon, lat, kind="outdoor_worker_post", services=["rest"])
    assert rest[0].duration_s >= one.duration_s - 1e-6
    with pytest.raises(NoRouteError, match="within 240 min"):
        loc.nearest(lon, lat, kind="outdoor_worker_post", k=3, max_time_s=4 * 3600)
    with pytest.raises(NoRouteError, match="within 240 min"):
        loc.nearest(lon, lat, kind="outdoor_worker_post", max_time_s=4 * 3600)


def test_filters_services_and_opening_hours(loc):
    # only Manzhouli's two lodging stations offer overnight lodging (mission brief)
    answers = loc.nearest(117.43, 49.59, k=5, services=["overnight_lodging"])
    assert {a.station.id for a in answers} == {
        s.id for s in loc.stations() if Service.overnight_lodging in s.services
    }
    # from Erenhot the nearest lodging is in Manzhouli, many hours away: found, unless
    # the driver bounds the search
    far = loc.nearest(111.98, 43.65, services=["overnight_lodging"])[0]
    assert far.duration_s > 4 * 3600 and far.station.port_id == "manzhouli"
    with pytest.raises(NoRouteError, match="within 240 min"):
        loc.nearest(111.98, 43.65, services=["overnight_lodging"], max_time_s=4 * 3600)
    lon, lat = 111.98, 43.65  # Erenhot
    # a time at which some station is closed: every answer must be open then
    at = datetime(2026, 11, 28, 3, 30)
    for a in loc.nearest(lon, lat, k=10, open_at=at):
        assert a.station.hours.is_open(at)
    everything = loc.nearest(lon, lat, k=10)
    kinds = {a.station.kind for a in everything}
    assert len(kinds) >= 2  # kind=None mixes kinds, fastest first
    assert [a.duration_s for a in everything] == sorted(a.duration_s for a in everything)


def test_errors(loc):
    with pytest.raises(InvalidCoordinateError):
        loc.nearest(float("nan"), 43.0)
    with pytest.raises(InvalidCoordinateError):
        loc.nearest(200.0, 43.0)
    with pytest.raises(OutsideServiceAreaError):
        loc.nearest(10.0, 50.0)
    with pytest.raises(SnapError, match="no road within"):
        loc.nearest(111.9, 44.9)  # Gobi, far from any road of the source
    with pytest.raises(InvalidParameterError, match="walk"):
        loc.nearest(111.98, 43.65, mode="walk")  # the regional network has no walk mode
    with pytest.raises(RequestTooLargeError):
        loc.nearest(111.98, 43.65, k=loc.settings.max_k + 1)
    with pytest.raises(StationNotFoundError):
        loc.station("no-such-station")
    with pytest.raises(RegionNotFoundError):
        loc.coverage(kind="driver_station", region="999999")
    with pytest.raises(RequestTooLargeError):
        loc.isochrones(lon=111.98, lat=43.65, minutes=[5, 10, 15, 20, 25])
    with pytest.raises(RequestTooLargeError):
        loc.isochrones(lon=111.98, lat=43.65, minutes=[loc.settings.max_minutes + 1])


def test_station_circles_precomputed_match_live(loc):
    st = loc.stations()[0]
    stored = loc.isochrones(station_id=st.id)
    assert [c.minutes for c in stored] == [5.0, 10.0, 15.0]
    live = loc.isochrones(lon=st.lon, lat=st.lat)  # the same point, computed now
    for a, b in zip(stored, live, strict=True):
        # stored circles are simplified by 5 m and rounded to 1e-6 degrees
        assert a.area_km2 == pytest.approx(b.area_km2, rel=0.02)
        assert a.polygon.symmetric_difference(b.polygon).area < 0.02 * b.polygon.area
    for contours in (stored, live):  # nested exactly, in the delivered coordinates
        for small, big in itertools.pairwise(contours):
            assert small.polygon.difference(big.polygon).area <= 1e-15


def test_coverage_report(loc):
    whole = loc.coverage(kind="driver_station", minutes=15)
    assert 0 < whole.share < 1
    assert whole.covered_km <= whole.road_km
    assert len(whole.rows) == 12  # one row per league
    assert whole.uncovered.geom_type == "MultiLineString"
    more = loc.coverage(kind="driver_station", minutes=30)
    assert more.covered_km >= whole.covered_km
    xilingol = loc.coverage(kind="driver_station", region="152500")
    assert {r.code[:4] for r in xilingol.rows} == {"1525"}  # banners of Xilingol
    assert sum(r.road_km for r in xilingol.rows) == pytest.approx(xilingol.road_km, rel=0.02)
    port = loc.coverage(kind="driver_station", region="erenhot")
    assert port.share > 0.3  # Erenhot's ten driver homes cover its surroundings
    box = loc.coverage(kind="worker_home", region=(111.5, 43.3, 112.5, 44.0))
    assert box.region == "bbox"
    # imported demand points with weights: one next to a driver station, one far away
    st = next(s for s in loc.stations() if s.kind.value == "driver_station")
    drivers = [loc.snap(s.lon, s.lat) for s in loc.stations(kind="driver_station")]
    times = label_nodes(IsochroneEngine(loc.network), drivers, mode="truck").time_s
    far_node = int(np.argmax(np.where(np.isfinite(times), times, -1.0)))  # hours from any
    graph = loc.network.graph
    far = (float(graph.node_lon[far_node]), float(graph.node_lat[far_node]))
    weighted = loc.coverage(
        kind="driver_station", region=None, demand=[(st.lon, st.lat, 250.0), (*far, 40.0)]
    )
    assert weighted.demand_total == pytest.approx(whole.demand_total + 290.0)
    assert weighted.demand_covered == pytest.approx(whole.demand_covered + 250.0)
    with pytest.raises(InvalidParameterError):
        loc.coverage(kind="driver_station", demand=[(st.lon, st.lat, float("nan"))])


def test_site_suggestions_raise_coverage(loc):
    res = loc.suggest_sites(kind="driver_station", k=3, region="152500")
    assert 1 <= len(res.sites) <= 3
    gains = [s.gain for s in res.sites]
    assert gains == sorted(gains, reverse=True)  # greedy on a submodular objective
    poly = loc.regions.polygon("152500")
    for s in res.sites:
        assert shapely.contains_xy(shapely.segmentize(poly, 0.02), s.lon, s.lat)


def _station_like(loc: Locator, sid: str, lon: float, lat: float, kind: str = "driver_station"):
    base = loc.stations()[0].model_dump()
    base.update(
        id=sid,
        lon=lon,
        lat=lat,
        kind=kind,
        services=["rest", "hot_meals"],
        opening_hours="24/7",
        capacity_people=None,
        area_m2=None,
    )
    return Station.model_validate(base)


def test_edits_are_seen_by_the_next_query(fresh):
    loc = fresh
    # a network node (about 5 minutes from the Ganqimaodu driver home)
    lon, lat = float(loc.network.graph.node_lon[100]), float(loc.network.graph.node_lat[100])
    before = loc.nearest(lon, lat, kind="driver_station")[0]
    new = _station_like(loc, "test-new-station", lon, lat)
    loc.add_station(new, actor="test")
    after = loc.nearest(lon, lat, kind="driver_station")[0]
    assert after.station.id == "test-new-station"
    assert after.duration_s < before.duration_s
    assert loc.isochrones(station_id="test-new-station")[0].area_km2 > 0
    # move it far away (to another station's node): the old answer comes back
    far = loc.station(before.station.id)
    loc.update_station(_station_like(loc, "test-new-station", far.lon, far.lat), actor="test")
    moved = loc.nearest(lon, lat, kind="driver_station")[0]
    assert moved.duration_s == pytest.approx(before.duration_s)
    loc.delete_station("test-new-station", actor="test")
    assert loc.nearest(lon, lat, kind="driver_station")[0].station.id == before.station.id
    with pytest.raises(StationNotFoundError):
        loc.station("test-new-station")
    actions = [e["action"] for e in loc.store.audit_entries("test-new-station")]
    assert actions == ["add", "update", "delete"]


def test_station_off_the_network_is_rejected_and_nothing_changes(fresh):
    loc = fresh
    n = loc.store.count()
    with pytest.raises(StationValidationError, match="no road within"):
        loc.add_station(_station_like(loc, "in-the-gobi", 111.9, 44.9), actor="test")
    assert loc.store.count() == n
    with pytest.raises(StationNotFoundError):
        loc.station("in-the-gobi")


def test_reopen_after_out_of_band_store_change_recomputes(fresh):
    loc = fresh
    lon, lat = float(loc.network.graph.node_lon[100]), float(loc.network.graph.node_lat[100])
    with StationStore(loc.directory / "stations.sqlite") as store:
        store.add(_station_like(loc, "added-offline", lon, lat), actor="sql")
    # and one moved offline: its stored circles must not be served
    moved = loc.stations()[0]
    with StationStore(loc.directory / "stations.sqlite") as store:
        store.update(moved.model_copy(update={"lon": lon, "lat": lat}), actor="sql")
    reopened = Locator.open(loc.directory, Settings(artifact_dir=loc.directory))
    assert reopened.nearest(lon, lat, kind="driver_station")[0].station.id == "added-offline"
    fresh_circles = reopened.isochrones(station_id=moved.id)
    live = reopened.isochrones(lon=lon, lat=lat, mode=reopened.default_mode)
    assert fresh_circles[-1].area_km2 == pytest.approx(live[-1].area_km2, rel=1e-6)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lon=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-180, 180)),
    lat=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-90, 90)),
)
def test_any_coordinate_gets_an_answer_or_a_domain_error(loc, lon, lat):
    try:
        answers = loc.nearest(lon, lat, kind="worker_home")
    except LocatorError:
        return
    assert answers and np.isfinite(answers[0].duration_s)


def test_coverage_rows_add_up_to_their_union(loc):
    """One road-length rule: the league rows add up to the province, a league's banner
    rows to the league, and a box around the network to the whole network."""
    whole = loc.coverage(kind="driver_station")
    province = loc.coverage(kind="driver_station", region="150000")
    for key in ("road_km", "covered_km"):
        rows = sum(getattr(r, key) for r in whole.rows)
        assert rows == pytest.approx(getattr(province, key), rel=1e-6)
    # the province's own table is its leagues, a banner's is the banner itself
    assert [(r.code, r.road_km) for r in province.rows] == [(r.code, r.road_km) for r in whole.rows]
    banner = loc.coverage(kind="driver_station", region="152501")
    assert [r.code for r in banner.rows] == ["152501"]
    assert banner.rows[0].covered_km == pytest.approx(banner.covered_km, rel=1e-9)
    assert loc.coverage(kind="driver_station", region="erenhot").rows == []
    for league in ("150700", "152500", "152900"):
        report = loc.coverage(kind="driver_station", region=league)
        for key in ("road_km", "covered_km"):
            rows = sum(getattr(r, key) for r in report.rows)
            assert rows == pytest.approx(getattr(report, key), rel=1e-6)
    lo_lon, lo_lat, hi_lon, hi_lat = loc.bbox()
    box = loc.coverage(
        kind="driver_station", region=(lo_lon - 1, lo_lat - 1, hi_lon + 1, hi_lat + 1)
    )
    assert box.road_km == pytest.approx(whole.road_km, rel=1e-9)
    assert box.covered_km == pytest.approx(whole.covered_km, rel=1e-9)
    # the whole network's figure is the sum of the stated lengths of the mode's roads
    geo = loc.network.geometry
    assert whole.road_km == pytest.approx(float(geo.road_length_m.sum()) / 1000, rel=1e-12)
