"""Trips: detours of every station against NetworkX's three-Dijkstra definition, and the
rest plan against brute force over every ordered subset of stops."""

from __future__ import annotations

import itertools
import math

import networkx as nx
import numpy as np
import pytest
from gridfactory import make_grid, random_grid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from nx_reference import check_route_shape, close, random_lonlat, reference_graph

from locator.analysis.nearest import StationIndex
from locator.analysis.routing import RoutingEngine
from locator.analysis.trips import RestRule, TripSearch, leg_matrix, plan_stops
from locator.errors import SnapError
from locator.network.core import Network
from locator.network.graph import RoadGraph
from locator.network.projection import Projector
from locator.network.snapping import Snap

INF = math.inf


def _snap_xy(net: Network, g: RoadGraph, dx: float, dy: float, mode: str = "car") -> Snap:
    lon, lat = Projector(g.crs).inverse(g.node_x[0] + dx, g.node_y[0] + dy)
    return net.snapper.snap(float(lon), float(lat), max_snap_m=1.0, mode=mode)


def _random_snaps(net: Network, g: RoadGraph, rng: np.random.Generator, n: int) -> list[Snap]:
    out: list[Snap] = []
    lon, lat = random_lonlat(g, rng, 8 * n, pad_m=0.0)
    for x, y in zip(lon.tolist(), lat.tolist(), strict=True):
        try:
            out.append(net.snapper.snap(x, y, max_snap_m=10_000.0, mode="car"))
        except SnapError:
            continue
        if len(out) == n:
            break
    return out


def _reference(
    g: RoadGraph, origin: Snap, dest: Snap, stations: list[Snap]
) -> tuple[float, list[float], list[float], np.ndarray]:
    """NetworkX: T, per station t(o -> s) and t(s -> d), and t(s_i -> s_j)."""
    ref = reference_graph(g, "car", [origin, dest, *stations])
    fwd = nx.single_source_dijkstra_path_length(ref, ("p", 0), weight="weight")
    back = nx.single_source_dijkstra_path_length(ref.reverse(copy=False), ("p", 1), weight="weight")
    n = len(stations)
    legs = np.full((n, n), INF)
    for i in range(n):
        t = nx.single_source_dijkstra_path_length(ref, ("p", 2 + i), weight="weight")
        for j in range(n):
            if i != j:
                legs[i, j] = t.get(("p", 2 + j), INF)
    return (
        fwd.get(("p", 1), INF),
        [fwd.get(("p", 2 + i), INF) for i in range(n)],
        [back.get(("p", 2 + i), INF) for i in range(n)],
        legs,
    )


def _same(a: float, b: float) -> bool:
    return (a == b == INF) or (math.isfinite(a) and math.isfinite(b) and close(a, b))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 10_000), tables=st.booleans())
def test_detours_match_three_dijkstras(seed: int, tables: bool) -> None:
    g = random_grid(5, 6, seed)
    net = Network(g)
    eng = RoutingEngine(net)
    rng = np.random.default_rng(seed)
    snaps = _random_snaps(net, g, rng, 9)
    if len(snaps) < 4:
        return
    origin, dest, *stations = snaps
    ids: list[str | None] = [f"s{i}" for i in range(len(stations))]
    index = StationIndex.compute(eng, "car", ids, stations, tables=tables)  # type: ignore[arg-type]
    assert (index.ensure_table() is not None) == tables
    trip = TripSearch(eng, "car", origin, dest, bound_s=INF)
    t_ref, reach_ref, back_ref, legs_ref = _reference(g, origin, dest, stations)
    assert _same(trip.direct_s, t_ref), (trip.direct_s, t_ref)
    if not math.isfinite(t_ref):
        return
    route = trip.direct_route()
    assert close(route.duration_s, t_ref)
    check_route_shape(g, "car", route, origin, dest)
    times = trip.station_times(index, limit_s=INF)
    for i in range(len(stations)):
        assert _same(float(times.reach_s[i]), reach_ref[i]), (i, times.reach_s[i], reach_ref[i])
        assert _same(float(times.back_s[i]), back_ref[i]), (i, times.back_s[i], back_ref[i])
        if math.isfinite(reach_ref[i]):
            r = trip.route_to(index, origin, i, limit_s=INF)
            assert close(r.duration_s, reach_ref[i])
            check_route_shape(g, "car", r, origin, stations[i])
        if math.isfinite(back_ref[i]):
            r = trip.route_on(stations[i])
            assert close(r.duration_s, back_ref[i])
            check_route_shape(g, "car", r, stations[i], dest)
    # the leg matrix between stations, and its bound
    legs = leg_matrix(trip, [(index, i) for i in range(len(stations))], limit_s=INF)
    for i, j in itertools.product(range(len(stations)), repeat=2):
        if i != j:
            assert _same(float(legs[i, j]), float(legs_ref[i, j])), (i, j)
    cut = float(np.median(legs_ref[np.isfinite(legs_ref)])) if np.isfinite(legs_ref).any() else 1.0
    bounded = leg_matrix(trip, [(index, i) for i in range(len(stations))], limit_s=cut)
    for a, b in zip(bounded.ravel().tolist(), legs_ref.ravel().tolist(), strict=True):
        if b < cut * (1 - 1e-9):
            assert _same(a, b)
        elif b > cut * (1 + 1e-9):
            assert a == INF  # beyond the bound (at the bound itself either is right)


def test_hand_checked_detours() -> None:
    # 1 x 5 line of 1 km roads, car 50 s per km: origin at 0.5 km, destination at 3.5 km
    g = make_grid(2, 5, spacing_m=1000.0, walk=False)
    net = Network(g)
    eng = RoutingEngine(net)
    o, d = _snap_xy(net, g, 500.0, 0.0), _snap_xy(net, g, 3500.0, 0.0)
    on_way = _snap_xy(net, g, 2000.0, 0.0)  # on the route: detour 0, reach 75 s
    behind = _snap_xy(net, g, 200.0, 0.0)  # 300 m back: detour 2 x 15 s
    off = _snap_xy(net, g, 2000.0, 1000.0)  # 1 km off the line: detour 2 x 50 s
    index = StationIndex.compute(eng, "car", ["a", "b", "c"], [on_way, behind, off])
    trip = TripSearch(eng, "car", o, d, bound_s=INF)
    assert trip.direct_s == pytest.approx(150.0)
    t = trip.station_times(index, limit_s=INF)
    assert t.reach_s.tolist() == pytest.approx([75.0, 15.0, 125.0])
    assert t.back_s.tolist() == pytest.approx([75.0, 165.0, 125.0])
    assert (t.reach_s + t.back_s - trip.direct_s).tolist() == pytest.approx([0.0, 30.0, 100.0])
    assert trip.position_s(75.0, 75.0) == pytest.approx(75.0)
    assert trip.position_s(15.0, 165.0) == pytest.approx(0.0, abs=1e-9)  # behind: at 0
    assert trip.position_s(15.0, 200.0) == 0.0  # clipped
    # the piece of the direct route between 25 s and 100 s: 1 km to 2.5 km
    piece = trip.piece(25.0, 100.0)
    assert piece.duration_s == pytest.approx(75.0)
    assert piece.distance_m == pytest.approx(1500.0)
    # a bound on the origin side leaves far stations out
    assert np.isinf(trip.station_times(index, limit_s=100.0).reach_s[2])


# ---------------------------------------------------------------------- rest plans
def _brute_force(
    reach: np.ndarray, back: np.ndarray, legs: np.ndarray, direct: float, rule: RestRule
) -> tuple[float, set[int]]:
    """Best total over every ordered subset of stops, and the candidates some legal
    prefix reaches."""
    n = reach.shape[0]
    best = direct if direct <= rule.max_drive_s else INF
    reached: set[int] = set()
    for k in range(1, n + 1):
        for seq in itertools.permutations(range(n), k):
            hops = [reach[seq[0]], *(legs[a, b] for a, b in itertools.pairwise(seq))]
            if any(h > rule.max_drive_s for h in hops):
                continue
            reached.add(seq[-1])
            if back[seq[-1]] <= rule.max_drive_s:
                best = min(best, sum(hops) + back[seq[-1]] + k * rule.min_rest_s)
    return best, reached


def _plan_cost(
    stops: tuple[int, ...], reach: np.ndarray, back: np.ndarray, legs: np.ndarray, direct: float
) -> tuple[list[float], float]:
    if not stops:
        return [direct], direct
    hops = [reach[stops[0]], *(legs[a, b] for a, b in itertools.pairwise(stops)), back[stops[-1]]]
    return hops, float(sum(hops))


@st.composite
def _instances(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, RestRule]:
    n = draw(st.integers(0, 7))
    times = st.one_of(st.just(INF), st.integers(1, 12).map(float))
    reach = np.array(draw(st.lists(times, min_size=n, max_size=n)), dtype=float)
    back = np.array(draw(st.lists(times, min_size=n, max_size=n)), dtype=float)
    legs = np.array(draw(st.lists(times, min_size=n * n, max_size=n * n)), dtype=float)
    legs = legs.reshape(n, n)
    np.fill_diagonal(legs, INF)
    direct = float(draw(st.integers(1, 30)))
    rule = RestRule("test", float(draw(st.integers(1, 12))), float(draw(st.integers(0, 4))))
    return reach, back, legs, direct, rule


@settings(max_examples=300, deadline=None)
@given(_instances())
def test_rest_plan_is_optimal(
    inst: tuple[np.ndarray, np.ndarray, np.ndarray, float, RestRule],
) -> None:
    reach, back, legs, direct, rule = inst
    plan = plan_stops(reach, back, legs, direct, rule)
    best, reached = _brute_force(reach, back, legs, direct, rule)
    assert plan.feasible == math.isfinite(best)
    if not plan.feasible:
        assert set(plan.reached) == reached
    assert len(set(plan.stops)) == len(plan.stops)
    if plan.feasible:
        hops, drive = _plan_cost(plan.stops, reach, back, legs, direct)
        assert all(h <= rule.max_drive_s for h in hops)  # never a leg over the limit
        assert plan.total_s == pytest.approx(drive + len(plan.stops) * rule.min_rest_s)
        assert plan.total_s == pytest.approx(best)
    elif plan.stops:
        # the partial plan is legal and ends at the reachable stop nearest the destination
        hops = [reach[plan.stops[0]], *(legs[a, b] for a, b in itertools.pairwise(plan.stops))]
        assert all(h <= rule.max_drive_s for h in hops)
        assert back[plan.stops[-1]] == min(back[c] for c in reached)


def test_short_trip_needs_no_stop() -> None:
    rule = RestRule("cn", 4 * 3600.0, 1200.0)
    reach = np.array([100.0])
    back = np.array([3 * 3600.0 - 100.0])  # a station on the way
    legs = np.full((1, 1), INF)
    plan = plan_stops(reach, back, legs, 3 * 3600.0, rule)
    assert plan.feasible and plan.stops == () and plan.total_s == 3 * 3600.0
    # a zero rest and a stop on the way tie with no stop: fewer stops win
    plan = plan_stops(np.array([50.0]), np.array([50.0]), legs, 100.0, RestRule("x", 200.0, 0.0))
    assert plan.stops == ()


def test_rest_plan_on_a_grid_is_the_brute_force_optimum() -> None:
    """Engine leg times on a line of stations vs NetworkX, then plan == brute force."""
    g = make_grid(2, 9, spacing_m=1000.0, walk=False)  # car: 50 s per km
    net = Network(g)
    eng = RoutingEngine(net)
    o, d = _snap_xy(net, g, 0.0, 0.0), _snap_xy(net, g, 8000.0, 0.0)
    xs = [900.0, 2100.0, 3300.0, 4000.0, 5200.0, 6600.0]
    stations = [_snap_xy(net, g, x, 0.0 if i % 2 else 1000.0) for i, x in enumerate(xs)]
    index = StationIndex.compute(eng, "car", [f"s{i}" for i in range(len(xs))], stations)
    trip = TripSearch(eng, "car", o, d, bound_s=INF)
    t_ref, reach_ref, back_ref, legs_ref = _reference(g, o, d, stations)
    times = trip.station_times(index, limit_s=INF)
    legs = leg_matrix(trip, [(index, i) for i in range(len(xs))], limit_s=INF)
    assert np.allclose(times.reach_s, reach_ref) and np.allclose(times.back_s, back_ref)
    assert np.allclose(
        np.where(np.isinf(legs), -1, legs), np.where(np.isinf(legs_ref), -1, legs_ref)
    )
    for limit in (110.0, 130.0, 160.0, 200.0, 250.0, 400.0, 1000.0):
        rule = RestRule("t", limit, 30.0)
        plan = plan_stops(times.reach_s, times.back_s, legs, trip.direct_s, rule)
        best, _ = _brute_force(np.array(reach_ref), np.array(back_ref), legs_ref, t_ref, rule)
        assert plan.feasible == math.isfinite(best), limit
        if plan.feasible:
            assert plan.total_s == pytest.approx(best), limit
