"""Trips through the Locator on the regional artifact: detours against NetworkX and
against three independent routes, opening hours at arrival, rest plans (legal, optimal
against brute force, the gap when none exists), and every bad argument."""

from __future__ import annotations

import itertools
import math
from datetime import datetime, timedelta
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nx_reference import close, reference_graph
from scipy.sparse.csgraph import connected_components

from locator import Locator
from locator.analysis.trips import RestRule
from locator.config import Settings
from locator.errors import (
    InvalidCoordinateError,
    InvalidParameterError,
    LocatorError,
    NoRestPlanError,
    NoRouteError,
    RequestTooLargeError,
    StationNotFoundError,
)

HOHHOT = (111.67, 40.82)
HAILAR = (119.75, 49.21)
NIGHT = datetime(2026, 12, 1, 22, 0)  # naive = China Standard Time


@pytest.fixture(scope="module")
def loc(regional_artifact: Path) -> Locator:
    out = Locator.open(regional_artifact)
    yield out
    out.close()


def _port_ll(loc: Locator, port_id: str) -> tuple[float, float]:
    p = loc.port(port_id)
    return (p.lon, p.lat)


def test_detours_match_networkx_on_the_regional_network(loc: Locator) -> None:
    """Every station's detour, reach and onward time against NetworkX on the real graph
    (forward from the origin, backward from the destination, and the direct trip)."""
    origin, dest = _port_ll(loc, "erenhot"), HOHHOT
    trip = loc.along_route(origin, dest, max_detour_s=3600.0, limit=100)
    stations = loc.stations()
    o, d = loc.snap(*origin, "truck"), loc.snap(*dest, "truck")
    snaps = [loc.snap(x.lon, x.lat, "truck") for x in stations]
    ref = reference_graph(loc.network.graph, "truck", [o, d, *snaps])
    fwd = nx.single_source_dijkstra_path_length(ref, ("p", 0), weight="weight")
    back = nx.single_source_dijkstra_path_length(ref.reverse(copy=False), ("p", 1), weight="weight")
    direct = fwd[("p", 1)]
    assert close(trip.direct_s, direct)
    got = {s.station.id: s for s in trip.stations}
    for i, station in enumerate(stations):
        reach = fwd.get(("p", 2 + i), math.inf)
        onward = back.get(("p", 2 + i), math.inf)
        detour = reach + onward - direct
        if detour < 3600.0 - 1e-6:
            ts = got.pop(station.id)
            assert close(ts.reach_s, reach) and close(ts.onward_s, onward), station.id
            assert ts.detour_s == pytest.approx(detour, abs=1e-6)
        else:
            assert station.id not in got or detour <= 3600.0 + 1e-6
    assert not got  # nothing returned that the reference puts beyond the limit
    assert len(trip.stations) >= 10


def test_along_route_agrees_with_three_routes(loc: Locator) -> None:
    origin = _port_ll(loc, "manzhouli")
    trip = loc.along_route("manzhouli", HAILAR, routes=True, limit=100)
    direct = loc.route(origin, HAILAR)
    assert trip.route == direct
    assert trip.stations, "stations near Manzhouli lie along the way"
    reaches = [s.reach_s for s in trip.stations]
    assert reaches == sorted(reaches)
    for s in trip.stations:
        to = loc.route(origin, s.station.id)
        on = loc.route((s.station.lon, s.station.lat), HAILAR)
        assert close(s.reach_s, to.duration_s) and close(s.onward_s, on.duration_s)
        expect = max(0.0, to.duration_s + on.duration_s - direct.duration_s)
        assert s.detour_s == pytest.approx(expect, abs=1e-6)
        assert 0.0 <= s.detour_s <= 900.0 + 1e-6
        assert 0.0 <= s.position_s <= trip.direct_s
        assert s.route_to is not None and s.route_on is not None
        assert close(s.route_to.duration_s, s.reach_s)
        assert close(s.route_on.duration_s, s.onward_s)
        assert tuple(s.route_to.coordinates[-1]) == tuple(s.route_on.coordinates[0])


def test_ids_as_ends_and_one_route_on_request(loc: Locator) -> None:
    trip = loc.along_route("manzhouli", HAILAR, limit=100)
    first = trip.stations[0].station.id
    one = loc.along_route("manzhouli", HAILAR, routes=first, limit=100)
    assert [s.route_to is not None for s in one.stations] == [
        s.station.id == first for s in one.stations
    ]
    # a station id as the origin: the trip starts where that station sits on the road
    from_station = loc.along_route(first, HAILAR)
    st = loc.station(first)
    assert close(from_station.direct_s, loc.route((st.lon, st.lat), HAILAR).duration_s)
    with pytest.raises(InvalidParameterError):
        loc.along_route("manzhouli", HAILAR, routes="erl-driver-home-01")


def test_open_on_arrival_is_evaluated_at_arrival(loc: Locator) -> None:
    trip = loc.along_route("erenhot", HOHHOT, services=["hot_meals"], depart_at=NIGHT, limit=100)
    assert trip.stations
    seen = set()
    for s in trip.stations:
        assert "hot_meals" in {v.value for v in s.station.services}
        assert s.arrival_at is not None
        expect = NIGHT.replace(tzinfo=s.arrival_at.tzinfo) + timedelta(seconds=s.reach_s)
        assert s.arrival_at == expect
        assert s.open_on_arrival == s.station.hours.is_open(s.arrival_at)
        seen.add(s.open_on_arrival)
    only_open = loc.along_route(
        "erenhot", HOHHOT, services=["hot_meals"], depart_at=NIGHT, open_on_arrival=True, limit=100
    )
    assert [s.station.id for s in only_open.stations] == [
        s.station.id for s in trip.stations if s.open_on_arrival
    ]
    # a departure when a station closes between departure and arrival flips its flag
    day = loc.along_route("erenhot", HOHHOT, depart_at=datetime(2026, 12, 1, 12, 0), limit=100)
    assert all(s.open_on_arrival is not None for s in day.stations)
    nowhen = loc.along_route("erenhot", HOHHOT, limit=100)
    assert all(s.open_on_arrival is None and s.arrival_at is None for s in nowhen.stations)


def test_kind_filters(loc: Locator) -> None:
    every = loc.along_route("erenhot", HOHHOT, limit=100)
    drivers = loc.along_route("erenhot", HOHHOT, kind="driver_station", limit=100)
    two = loc.along_route("erenhot", HOHHOT, kind=["driver_station", "worker_home"], limit=100)
    ids = {s.station.id for s in every.stations}
    assert {s.station.id for s in drivers.stations} == {
        s.station.id for s in every.stations if s.station.kind.value == "driver_station"
    }
    assert {s.station.id for s in two.stations} == {
        s.station.id
        for s in every.stations
        if s.station.kind.value in ("driver_station", "worker_home")
    }
    assert {s.station.id for s in drivers.stations} < ids
    few = loc.along_route("erenhot", HOHHOT, limit=3)
    assert [s.station.id for s in few.stations] == [s.station.id for s in every.stations[:3]]
    tight = loc.along_route("erenhot", HOHHOT, max_detour_s=60.0, limit=100)
    assert all(s.detour_s <= 60.0 + 1e-6 for s in tight.stations)
    assert len(tight.stations) < len(every.stations)


# ---------------------------------------------------------------------- rest plans
def _check_plan_shape(loc: Locator, plan, origin, dest) -> None:
    assert len(plan.legs) == len(plan.stops) + 1
    assert all(leg.duration_s <= plan.rule.max_drive_s + 1e-6 for leg in plan.legs)
    assert plan.total_s == pytest.approx(plan.driving_s + plan.rest_s)
    clock = 0.0
    for leg, stop in zip(plan.legs, plan.stops, strict=False):
        clock += leg.duration_s
        assert stop.arrival_s == pytest.approx(clock)
        clock += plan.rule.min_rest_s
        assert stop.departure_s == pytest.approx(clock)
    assert plan.total_s == pytest.approx(clock + plan.legs[-1].duration_s)
    assert tuple(plan.legs[0].coordinates[0]) == tuple(loc.route(origin, dest).coordinates[0])
    assert tuple(plan.legs[-1].coordinates[-1]) == tuple(loc.route(origin, dest).coordinates[-1])


def test_rest_plan_is_legal_and_optimal(loc: Locator) -> None:
    origin = _port_ll(loc, "manzhouli")
    plan = loc.rest_plan("manzhouli", HAILAR, depart_at=NIGHT)
    assert plan.direct_s > plan.rule.max_drive_s  # a trip that needs stops
    assert plan.stops
    _check_plan_shape(loc, plan, origin, HAILAR)
    for stop in plan.stops:
        assert stop.arrival_at is not None
        assert stop.open_on_arrival == stop.station.hours.is_open(stop.arrival_at)
    assert plan.arrive_at == plan.depart_at + timedelta(seconds=plan.total_s)
    # brute force over every sequence of up to three stops among the same candidates, with
    # leg times from independent point-to-point routes
    cands = [s.station for s in loc.along_route("manzhouli", HAILAR, limit=100).stations]
    reach = [loc.route(origin, c.id).duration_s for c in cands]
    onward = [loc.route((c.lon, c.lat), HAILAR).duration_s for c in cands]
    legs = {
        (a, b): loc.route((cands[a].lon, cands[a].lat), cands[b].id).duration_s
        for a, b in itertools.permutations(range(len(cands)), 2)
    }
    limit, rest = plan.rule.max_drive_s, plan.rule.min_rest_s
    best = math.inf
    for k in (1, 2, 3):
        for seq in itertools.permutations(range(len(cands)), k):
            hops = [reach[seq[0]], *(legs[p] for p in itertools.pairwise(seq)), onward[seq[-1]]]
            if max(hops) <= limit:
                best = min(best, sum(hops) + k * rest)
    assert plan.total_s == pytest.approx(best)


def test_short_trip_and_rules(loc: Locator) -> None:
    plan = loc.rest_plan("erenhot", HOHHOT, rule="cn", max_drive_s=7 * 3600.0)
    assert plan.stops == [] and len(plan.legs) == 1
    assert plan.rule == RestRule("custom", 7 * 3600.0, 20 * 60.0)
    assert plan.total_s == pytest.approx(plan.direct_s)
    aetr = loc.rest_plan("manzhouli", HAILAR, rule="aetr")
    assert aetr.rule.max_drive_s == 4.5 * 3600 and aetr.rule.min_rest_s == 45 * 60
    _check_plan_shape(loc, aetr, _port_ll(loc, "manzhouli"), HAILAR)
    mine = loc.rest_plan("manzhouli", HAILAR, rule=RestRule("mine", 5 * 3600.0, 600.0))
    assert mine.rule.name == "mine"
    _check_plan_shape(loc, mine, _port_ll(loc, "manzhouli"), HAILAR)


def test_no_rest_plan_names_the_gap(loc: Locator) -> None:
    """Erenhot -> Hohhot is over 6 h by truck and the sample stations are all near the
    ports: under the 4 h rule no plan exists, and the gap says where."""
    with pytest.raises(NoRestPlanError) as info:
        loc.rest_plan("erenhot", HOHHOT, depart_at=NIGHT)
    exc = info.value
    gap = exc.gap
    assert exc.code == "no_rest_plan"
    assert 0.0 <= gap.from_s < gap.to_s <= exc.plan.direct_s + 1e-6
    assert gap.length_s > exc.plan.rule.max_drive_s - 2 * 900.0
    assert gap.route.duration_s == pytest.approx(gap.length_s, rel=1e-6)
    assert gap.route.coordinates.shape[0] >= 2
    assert exc.details["gap_length_s"] == pytest.approx(gap.length_s, abs=0.1)
    # the legs that can be planned are legal and end at the gap's start
    assert len(exc.plan.legs) == len(exc.plan.stops)
    assert all(leg.duration_s <= exc.plan.rule.max_drive_s for leg in exc.plan.legs)
    assert exc.details["planned_stops"] == [s.station.id for s in exc.plan.stops]
    if exc.plan.stops:
        assert gap.after == exc.plan.stops[-1].station.id
    direct = loc.route(_port_ll(loc, "erenhot"), HOHHOT)
    # the gap is a piece of the direct route
    coords = {tuple(np.round(c, 9)) for c in direct.coordinates.tolist()}
    inner = [tuple(np.round(c, 9)) for c in gap.route.coordinates[1:-1].tolist()]
    assert all(c in coords for c in inner)


def test_bad_arguments(loc: Locator) -> None:
    ok = ("erenhot", HOHHOT)
    with pytest.raises(StationNotFoundError):
        loc.along_route("no-such-place", HOHHOT)
    with pytest.raises(InvalidParameterError):
        loc.along_route(*ok, max_detour_s=-1.0)
    with pytest.raises(InvalidParameterError):
        loc.along_route(*ok, max_detour_s=math.nan)
    with pytest.raises(InvalidParameterError):
        loc.along_route(*ok, max_detour_s="15")  # type: ignore[arg-type]
    with pytest.raises(RequestTooLargeError):
        loc.along_route(*ok, max_detour_s=2 * 3600.0)
    with pytest.raises(RequestTooLargeError):
        loc.along_route(*ok, limit=1000)
    with pytest.raises(InvalidParameterError):
        loc.along_route(*ok, limit=0)
    with pytest.raises(InvalidParameterError):
        loc.along_route(*ok, kind="hotel")
    with pytest.raises(InvalidParameterError):
        loc.along_route(*ok, services=["spa"])
    with pytest.raises(InvalidParameterError):
        loc.along_route(*ok, open_on_arrival=True)  # no departure time
    with pytest.raises(InvalidParameterError):
        loc.along_route(*ok, depart_at="22:00")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        loc.along_route(*ok, routes=3)  # type: ignore[arg-type]
    with pytest.raises(InvalidCoordinateError):
        loc.along_route((float("nan"), 40.0), HOHHOT)
    with pytest.raises(InvalidCoordinateError):
        loc.along_route("erenhot", [1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        loc.along_route(*ok, mode="plane")
    with pytest.raises(InvalidParameterError):
        loc.rest_plan(*ok, rule="eu")
    with pytest.raises(InvalidParameterError):
        loc.rest_plan(*ok, max_drive_s=0.0)
    with pytest.raises(InvalidParameterError):
        loc.rest_plan(*ok, min_rest_s=-5.0)
    with pytest.raises(InvalidParameterError):
        loc.rest_plan(*ok, rule=RestRule("bad", math.inf, 60.0))
    with pytest.raises(InvalidParameterError):
        loc.rest_plan(*ok, rule=RestRule("bad", 0.0, 60.0))
    with pytest.raises(InvalidParameterError):
        loc.rest_plan(*ok, rule=RestRule("bad", 3600.0, math.nan))
    with pytest.raises(InvalidParameterError):
        loc.rest_plan(*ok, min_rest_s=True)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        loc.rest_plan(*ok, rule=None)  # type: ignore[arg-type]


def test_longest_trip_limit_and_unreachable_ends(regional_artifact: Path, loc: Locator) -> None:
    short = Locator.open(regional_artifact, Settings(artifact_dir=regional_artifact, max_trip_h=2))
    try:
        # beyond the bound of the search: too long, not "no route"
        with pytest.raises(RequestTooLargeError, match="trips up to 120 min"):
            short.along_route("erenhot", HOHHOT)
        with pytest.raises(RequestTooLargeError, match="trips up to 120 min"):
            short.rest_plan("erenhot", HOHHOT)
        assert short.along_route("manzhouli", "mzl-driver-temp-01").direct_s < 2 * 3600
        # another component (the network has 23): no route at all, whatever the bound
        g = loc.network.graph
        lab = connected_components(loc.network.mode("truck").forward.matrix, connection="strong")[1]
        counts = np.bincount(lab)
        other = int(np.flatnonzero(lab == np.argsort(counts)[-2])[0])
        far = (float(g.node_lon[other]), float(g.node_lat[other]))
        with pytest.raises(NoRouteError) as info:
            loc.along_route("erenhot", far)  # the search ran out of road within 48 h
        assert not isinstance(info.value, RequestTooLargeError)
    finally:
        short.close()


_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(["erenhot", "manzhouli", "hot_meals", "driver_station", "cn", "aetr"]),
    st.lists(st.floats(-200, 200), max_size=3),
    st.tuples(st.floats(100, 125), st.floats(38, 53)),
    st.datetimes(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    args=st.fixed_dictionaries(
        {},
        optional={
            "mode": _ANY,
            "kind": _ANY,
            "services": _ANY,
            "depart_at": _ANY,
            "max_detour_s": _ANY,
        },
    ),
    origin=_ANY,
    destination=_ANY,
    extra=_ANY,
    plan=st.booleans(),
)
def test_any_arguments_get_an_answer_or_a_domain_error(
    loc: Locator, args: dict, origin: object, destination: object, extra: object, plan: bool
) -> None:
    """Whatever the Python caller passes, a trip query answers or raises a
    :mod:`locator.errors` class (never a TypeError, KeyError, ...)."""
    try:
        if plan:
            answer = loc.rest_plan(origin, destination, max_drive_s=extra, **args)  # type: ignore[arg-type]
            assert all(leg.duration_s <= answer.rule.max_drive_s + 1e-6 for leg in answer.legs)
        else:
            trip = loc.along_route(origin, destination, limit=extra, routes=extra, **args)  # type: ignore[arg-type]
            limit_s = args.get("max_detour_s", 900.0)
            assert all(s.detour_s <= limit_s + 1e-6 for s in trip.stations)
    except LocatorError:
        return  # a domain error naming the bad argument: the accepted outcome


def test_nearest_open_on_arrival(loc: Locator) -> None:
    """Opening hours at departure + travel time, not at departure: the answer is the
    first station of the full ranking that is open when the driver gets there."""
    late = datetime(2026, 12, 1, 23, 0)
    for lon, lat in ((111.98, 43.65), (117.40, 49.60), (101.25, 42.58)):
        ranking = loc.nearest(lon, lat, k=10, depart_at=late)
        assert all(
            a.arrival_at
            == late.replace(tzinfo=a.arrival_at.tzinfo) + timedelta(seconds=a.duration_s)
            and a.open_on_arrival == a.station.hours.is_open(a.arrival_at)
            for a in ranking
        )
        got = loc.nearest(lon, lat, k=3, depart_at=late, open_on_arrival=True)
        expect = [a for a in ranking if a.open_on_arrival][: len(got)]
        assert [a.station.id for a in got] == [a.station.id for a in expect]
        assert all(a.open_on_arrival for a in got)
        one = loc.nearest(lon, lat, depart_at=late, open_on_arrival=True)
        assert one[0].station.id == got[0].station.id
    # near Ceke at 23:00 the nearest station (the Alxa residents' post, 08:00-20:00) is
    # closed: the filter changes the answer
    plain = loc.nearest(101.25, 42.58, depart_at=late)[0]
    assert plain.open_on_arrival is False
    opened = loc.nearest(101.25, 42.58, depart_at=late, open_on_arrival=True)[0]
    assert opened.station.id != plain.station.id and opened.open_on_arrival
    with pytest.raises(InvalidParameterError):
        loc.nearest(111.98, 43.65, open_on_arrival=True)
    with pytest.raises(InvalidParameterError):
        loc.nearest(111.98, 43.65, depart_at="23:00")  # type: ignore[arg-type]


def test_border_crossings_are_where_the_route_changes_side(loc: Locator) -> None:
    """From Zamyn-Üüd (Mongolia) to the nearest driver station at Erenhot: the route says
    where it passes the outline (the first vertex on the Chinese side)."""
    (a,) = loc.nearest(111.90, 43.72, kind="driver_station")
    route = a.route
    assert route.crosses_border and route.border_crossings
    regions = loc.regions
    assert regions is not None
    coords = [tuple(c) for c in route.coordinates.tolist()]
    inside = [bool(regions.in_china(x, y)) for x, y in coords]
    flips = [coords[i] for i in range(1, len(coords)) if inside[i] != inside[i - 1]]
    assert list(route.border_crossings) == flips
    erenhot = loc.port("erenhot")
    x, y = route.border_crossings[0]
    assert abs(x - erenhot.lon) < 0.2 and abs(y - erenhot.lat) < 0.2
    (home,) = loc.nearest(111.98, 43.65, kind="driver_station")
    assert not home.route.crosses_border and home.route.border_crossings == ()


def test_coverage_figures_are_the_same_from_the_memo_and_the_gaps_prefilter(
    loc: Locator,
) -> None:
    """The region's road length is kept across reports (it does not depend on the
    stations) and only the gaps near the region are clipped: the figures and the gap
    geometry equal a fresh computation over every road."""
    from locator.analysis.coverage import Coverage, label_nodes

    engine = loc._engines.circles  # the engine behind Locator.coverage
    first = loc.coverage(kind="driver_station", region="152500")
    assert engine.road_m_memo  # the league's road length is kept
    second = loc.coverage(kind="driver_station", region="152500")
    assert (first.road_km, first.covered_km) == (second.road_km, second.covered_km)
    engine.road_m_memo.clear()
    fresh = loc.coverage(kind="driver_station", region="152500")
    assert fresh.road_km == pytest.approx(first.road_km, rel=1e-12)
    # gaps: clipping every gap line gives the same length as the prefiltered ones
    regions = loc.regions
    assert regions is not None
    poly = regions.polygon("152500")
    index = loc._state.index("truck", loc.stations(kind="driver_station")[0].kind)
    snaps = [s for s, i in zip(index.targets.snaps, index.ids, strict=True) if s and i]
    cov = Coverage(engine, label_nodes(engine, snaps, mode="truck", limit_s=900.0), 15.0)
    geo = loc.network.geometry
    every = shapely.intersection(
        shapely.multilinestrings(cov.gaps().lines(geo)), geo.to_projected(poly)
    )
    assert geo.to_projected(cov.uncovered(poly)).length == pytest.approx(every.length, rel=1e-6)
