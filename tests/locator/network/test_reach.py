"""Reach intervals along physical roads: merging, complements, partial roads, and the
reached part of every road against a dense sampling reference."""

from __future__ import annotations

import numpy as np
import pytest
from circles_reference import node_times, sample_times, snap_on
from gridfactory import make_grid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import flagged_grids

from locator.analysis.isochrones import IsochroneEngine
from locator.network.core import Network
from locator.network.graph import RoadGraph
from locator.network.reach import (
    Intervals,
    candidate_roads,
    complement,
    merge_intervals,
    node_reach,
    reached_intervals,
    snap_intervals,
)


@st.composite
def grid_cases(draw: st.DrawFn) -> tuple[RoadGraph, int, float, str, tuple[float, ...]]:
    graph = draw(flagged_grids(spacings_m=(300.0, 1000.0)))
    edge = draw(st.integers(0, graph.n_edges - 1))
    fraction = draw(st.floats(0.0, 1.0))
    mode = draw(st.sampled_from(["truck", "car", "walk"]))
    minutes = tuple(
        sorted(draw(st.sets(st.sampled_from([0.5, 1.0, 2.0, 3.0, 5.0]), min_size=1, max_size=3)))
    )
    return graph, edge, fraction, mode, minutes


@st.composite
def raw_intervals(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    n_roads = draw(st.integers(1, 6))
    n = draw(st.integers(0, 25))
    ends = st.sampled_from([0.0, 0.1, 0.25, 0.3, 0.5, 0.5, 0.75, 1.0]) | st.floats(0.0, 1.0)
    road = np.array(draw(st.lists(st.integers(0, n_roads - 1), min_size=n, max_size=n)))
    a = np.array(draw(st.lists(ends, min_size=n, max_size=n)))
    b = np.array(draw(st.lists(ends, min_size=n, max_size=n)))
    return road.astype(np.int64), a.astype(float), b.astype(float), n_roads


def _covers(iv: Intervals, road: int, x: float) -> bool:
    m = iv.road == road
    return bool(np.any((iv.start[m] <= x) & (x <= iv.end[m])))


@settings(max_examples=200, deadline=None)
@given(case=raw_intervals())
def test_merge_and_complement_against_brute_force(case) -> None:
    road, a, b, n_roads = case
    merged = merge_intervals(road, a, b)
    # sorted by road then start, disjoint and not touching, within [0, 1]
    order = np.lexsort((merged.start, merged.road))
    assert np.array_equal(order, np.arange(len(merged)))
    assert np.all((merged.start >= 0.0) & (merged.start <= merged.end) & (merged.end <= 1.0))
    same = merged.road[1:] == merged.road[:-1]
    assert np.all(merged.start[1:][same] > merged.end[:-1][same])
    gaps = complement(merged, n_roads)
    assert np.all(gaps.end > gaps.start)
    probes = np.unique(np.concatenate([np.linspace(0, 1, 41), a, b, (a + b) / 2]))
    for r in range(n_roads):
        mine = (road == r) & (b >= a)
        real = mine & (b > a)
        for x in probes:
            inside = bool(np.any((a[mine] <= x) & (x <= b[mine])))
            if inside and real.any() and not np.any((a[real] <= x) & (x <= b[real])):
                # only a zero-length interval holds x; it is dropped beside real ones
                assert not _covers(merged, r, x), (r, x)
                continue
            assert _covers(merged, r, x) == inside, (r, x)
            # the complement covers what the intervals leave out (ends may touch)
            if not inside:
                assert _covers(gaps, r, x), (r, x)
            elif not any(np.isclose(x, e) for e in np.concatenate([a[mine], b[mine]])):
                assert not _covers(gaps, r, x), (r, x)
    # covered plus uncovered is every road, in full
    total = merged.fraction_per_road(n_roads) + gaps.fraction_per_road(n_roads)
    np.testing.assert_allclose(total, 1.0, atol=1e-12)


@settings(max_examples=200, deadline=None)
@given(first=raw_intervals(), second=raw_intervals())
def test_minus_against_brute_force(first, second) -> None:
    """A.minus(B) holds exactly the points of A not in B (ends may touch), in sorted,
    disjoint, non-empty pieces; its length is A's minus the overlap."""
    ra, aa, ba, na = first
    rb, ab, bb, nb = second
    a = merge_intervals(ra, aa, ba)
    b = merge_intervals(rb, ab, bb)
    d = a.minus(b)
    n_roads = max(na, nb)
    order = np.lexsort((d.start, d.road))
    assert np.array_equal(order, np.arange(len(d)))
    if len(b):
        assert np.all(d.end > d.start)
    probes = np.unique(np.concatenate([np.linspace(0, 1, 41), aa, ba, ab, bb, (aa + ba) / 2]))
    ends = np.concatenate([a.start, a.end, b.start, b.end])
    for r in range(n_roads):
        for x in probes:
            if np.any(np.isclose(x, ends)):
                continue  # end points: either side may own them
            expected = _covers(a, r, x) and not _covers(b, r, x)
            assert _covers(d, r, x) == expected, (r, x)
    overlap = a.fraction_per_road(n_roads) + b.fraction_per_road(n_roads)
    union = merge_intervals(
        np.concatenate([a.road, b.road]),
        np.concatenate([a.start, b.start]),
        np.concatenate([a.end, b.end]),
    ).fraction_per_road(n_roads)
    np.testing.assert_allclose(
        d.fraction_per_road(n_roads), a.fraction_per_road(n_roads) - (overlap - union), atol=1e-12
    )


def test_a_place_on_a_road_reaches_both_ways_or_one() -> None:
    # 1 km roads, truck 36 km/h: 100 s per road; 20 s reach 0.2 of a road
    two = Network(make_grid(1, 2, spacing_m=1000.0))
    one = Network(make_grid(1, 2, spacing_m=1000.0, oneway=[((0, 0), (0, 1))], walk=False))
    for net, expect_from, expect_to in (
        (two, [(0.1, 0.5)], [(0.1, 0.5)]),
        (one, [(0.3, 0.5)], [(0.1, 0.3)]),
    ):
        geo = net.geometry
        e = int(np.nonzero((net.graph.edge_u == 0) & (net.graph.edge_v == 1))[0][0])
        snap = snap_on(net.graph, e, 0.3)
        for direction, expected in (("from", expect_from), ("to", expect_to)):
            raw = snap_intervals(geo, net.mode("truck"), [snap], direction, 20.0)
            iv = merge_intervals(raw.road, raw.start, raw.end)
            assert [(round(s, 9), round(t, 9)) for s, t in zip(iv.start, iv.end, strict=True)] == (
                expected
            )
            assert iv.road.tolist() == [int(geo.road_of_edge[e])]
    # on the reverse edge the canonical fractions are mirrored
    geo = two.geometry
    back = int(np.nonzero((two.graph.edge_u == 1) & (two.graph.edge_v == 0))[0][0])
    raw = snap_intervals(geo, two.mode("truck"), [snap_on(two.graph, back, 0.3)], "from", 20.0)
    iv = merge_intervals(raw.road, raw.start, raw.end)
    assert (round(float(iv.start[0]), 9), round(float(iv.end[0]), 9)) == (0.5, 0.9)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=grid_cases(), direction=st.sampled_from(["to", "from"]))
def test_reached_intervals_match_sampled_times(case, direction) -> None:
    """A point of a road is inside the intervals exactly when its exact travel time (NetworkX
    plus the partial edge) is within the budget."""
    graph, edge, fraction, mode, minutes = case
    net = Network(graph)
    geo = net.geometry
    snap = snap_on(graph, edge, fraction)
    ref_nodes = node_times(graph, [snap], mode, direction)
    samples = sample_times(graph, [snap], mode, direction, ref_nodes, samples=41)
    engine = IsochroneEngine(net)
    times, snaps = engine.node_times([snap], mode, direction, minutes[-1] * 60.0)
    for limit_s in (m * 60.0 for m in minutes):
        iv = reached_intervals(geo, net.mode(mode), times, direction, limit_s, snaps=snaps)
        road = geo.road_of_edge[samples.edge]
        pos = np.where(geo.flipped[samples.edge], 1.0 - samples.x, samples.x)
        for r, x, t in zip(road, pos, samples.time_s, strict=True):
            if abs(t - limit_s) < 1e-6:
                continue  # on the frontier: either answer is right
            inside = _covers(iv, int(r), float(x))
            if t < limit_s:
                assert inside, (r, x, t, limit_s)
            elif inside:
                # reached through the road's other direction (the sample is one direction)
                other = (road == r) & np.isclose(pos, x) & (samples.time_s <= limit_s + 1e-6)
                assert other.any(), (r, x, t, limit_s)
        assert iv.length_m(geo) == pytest.approx(
            float(np.sum((iv.end - iv.start) * geo.road_length_m[iv.road]))
        )


@settings(max_examples=40, deadline=None)
@given(
    case=grid_cases(),
    direction=st.sampled_from(["to", "from"]),
    with_node=st.booleans(),
    shrink=st.sampled_from([0.0, 0.37, 1.0]),
)
def test_reached_intervals_on_candidate_roads_equal_the_full_pass(
    case, direction, with_node, shrink
) -> None:
    graph, edge, fraction, mode, minutes = case
    engine = IsochroneEngine(Network(graph))
    geo = engine.geometry
    mg = engine.net.mode(mode)
    places: list = [snap_on(graph, edge, fraction)]
    if with_node:
        places.append(int(graph.edge_v[(edge * 7 + 3) % graph.n_edges]))
    times, snaps = engine.node_times(places, mode, direction, minutes[-1] * 60.0)
    roads = candidate_roads(geo, times)
    # reference: every road with a finite-time end node, by a plain loop
    finite = np.isfinite(times)
    expected = [r for r in range(geo.n_roads) if finite[geo.road_u[r]] or finite[geo.road_v[r]]]
    assert roads.tolist() == expected
    # the smaller budgets reuse the candidate set of the largest (as isochrones() does)
    for limit_s in [m * 60.0 * (1.0 - 0.5 * shrink) for m in minutes]:
        full = reached_intervals(geo, mg, times, direction, limit_s, snaps=snaps)
        sub = reached_intervals(geo, mg, times, direction, limit_s, snaps=snaps, roads=roads)
        np.testing.assert_array_equal(sub.road, full.road)
        np.testing.assert_array_equal(sub.start, full.start)
        np.testing.assert_array_equal(sub.end, full.end)
        lo, hi = node_reach(geo, mg, times, direction, limit_s)
        lo_sub, hi_sub = node_reach(geo, mg, times, direction, limit_s, roads=roads)
        np.testing.assert_array_equal(lo_sub, lo[roads])
        np.testing.assert_array_equal(hi_sub, hi[roads])
        outside = np.ones(geo.n_roads, dtype=bool)
        outside[roads] = False
        assert not lo[outside].any() and not hi[outside].any()


def test_node_roads_lists_each_road_at_both_ends() -> None:
    graph = make_grid(3, 4, oneway=[((0, 0), (0, 1))], missing=[((1, 1), (1, 2))])
    geo = Network(graph).geometry
    indptr, roads = geo.node_roads
    for node in range(graph.n_nodes):
        expected = sorted(r for r in range(geo.n_roads) if node in (geo.road_u[r], geo.road_v[r]))
        assert roads[indptr[node] : indptr[node + 1]].tolist() == expected
    assert geo.roads_at(np.zeros(0, dtype=np.int64)).size == 0
    assert geo.roads_at(np.array([0, 1, 0])).tolist() == sorted(
        set(roads[indptr[0] : indptr[2]].tolist())
    )
