"""Coverage: labels, covered road length, demand and gaps against a NetworkX reference."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import shapely
from circles_reference import locations, node_times, sample_times, snap_on
from gridfactory import make_grid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import flagged_grids

from locator.analysis.coverage import Coverage, DemandPoints, label_nodes
from locator.analysis.isochrones import IsochroneEngine
from locator.network.core import Network
from locator.network.graph import RoadGraph
from locator.network.snapping import Snap

N_SAMPLES = 201


def _engine(graph: RoadGraph) -> IsochroneEngine:
    return IsochroneEngine(Network(graph))


@st.composite
def coverage_cases(draw: st.DrawFn) -> tuple[RoadGraph, list[Snap | int], str, float]:
    graph = draw(flagged_grids(flags=("two", "two", "fwd", "back", "gone")))
    n_st = draw(st.integers(1, 6))  # above 4 seeds the search takes the super-source path
    stations: list[Snap | int] = []
    for _ in range(n_st):
        if draw(st.booleans()):
            stations.append(draw(st.integers(0, graph.n_nodes - 1)))
        else:
            edge = draw(st.integers(0, graph.n_edges - 1))
            stations.append(snap_on(graph, edge, draw(st.floats(0.0, 1.0))))
    mode = draw(st.sampled_from(["truck", "car"]))
    minutes = draw(st.floats(0.3, 4.0))
    return graph, stations, mode, minutes


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=coverage_cases())
def test_coverage_matches_networkx_reference(case) -> None:
    graph, stations, mode, minutes = case
    engine = _engine(graph)
    labels = label_nodes(engine, stations, mode=mode)
    ref = node_times(graph, stations, mode, "to")
    np.testing.assert_allclose(labels.time_s, ref, rtol=1e-9, atol=1e-6)
    # the labelled station is one of the nearest
    for i, place in enumerate(stations):
        own = node_times(graph, [place], mode, "to")
        mine = labels.station == i
        np.testing.assert_allclose(own[mine], ref[mine], rtol=1e-9, atol=1e-6)

    cov = Coverage(engine, labels, minutes)
    limit = minutes * 60.0
    samples = sample_times(graph, stations, mode, "to", ref, samples=N_SAMPLES)
    loc = locations(graph, samples, N_SAMPLES)
    covered_ref = float(loc.step_m[loc.time_s <= limit].sum())
    n_roads = int(loc.road.max()) + 1 if loc.road.size else 0
    tol = 4 * 1000.0 / (N_SAMPLES - 1) * n_roads + 1e-6
    assert cov.covered_length_m == pytest.approx(covered_ref, abs=tol)
    # each road once: total equals the drawn road length of the mode
    assert cov.total_length_m == pytest.approx(1000.0 * n_roads)
    assert 0.0 <= cov.share <= 1.0

    # gaps: uncovered locations lie on the gap lines; clearly covered ones do not
    gaps = cov.engine.geometry.to_projected(cov.uncovered())
    out = loc.time_s > limit + 1e-6
    if out.any():
        d = shapely.distance(gaps, shapely.points(loc.px[out], loc.py[out]))
        assert float(np.max(d)) <= 0.01
    # (a junction may be covered while a road leaving it is not: one-way roads)
    nodes = shapely.multipoints(np.column_stack((graph.node_x, graph.node_y)))
    off_node = shapely.distance(nodes, shapely.points(loc.px, loc.py)) > 1.0
    inside = (loc.time_s < limit - 1.0) & off_node
    if inside.any() and not gaps.is_empty:
        # a gap may end at a covered point (a station facing a one-way road) but never
        # runs through one: at most one side of a 0.5 m disc is gap
        discs = shapely.buffer(shapely.points(loc.px[inside], loc.py[inside]), 0.5)
        through = shapely.length(shapely.intersection(gaps, discs))
        assert float(np.max(through)) < 0.75
    assert gaps.length + cov.covered_length_m == pytest.approx(cov.total_length_m, abs=0.01)

    # demand at sample locations: covered iff the exact time is within the budget
    pick = np.nonzero(np.abs(samples.time_s - limit) > 1e-6)[0][::37]
    snaps = [snap_on(graph, int(samples.edge[i]), float(samples.x[i])) for i in pick]
    if snaps:
        demand = DemandPoints.from_snaps(snaps, weight=np.arange(1, len(snaps) + 1))
        # the exact time of a location is its best over both directed edges
        best = {}
        for i, s in zip(pick, snaps, strict=True):
            u, v = int(graph.edge_u[s.edge]), int(graph.edge_v[s.edge])
            pos = s.fraction if u < v else 1 - s.fraction
            key = (min(u, v), max(u, v), round(pos * (N_SAMPLES - 1)))
            best[i] = key
        loc_time = {}
        u_all = graph.edge_u[samples.edge].astype(np.int64)
        v_all = graph.edge_v[samples.edge].astype(np.int64)
        pos_all = np.where(u_all < v_all, samples.x, 1 - samples.x)
        for j in range(samples.edge.size):
            key = (
                int(min(u_all[j], v_all[j])),
                int(max(u_all[j], v_all[j])),
                round(float(pos_all[j]) * (N_SAMPLES - 1)),
            )
            loc_time[key] = min(loc_time.get(key, np.inf), float(samples.time_s[j]))
        expected = np.array([loc_time[best[i]] <= limit for i in pick])
        unsure = np.array([abs(loc_time[best[i]] - limit) < 1e-6 for i in pick])
        got = cov.demand_covered(demand)
        assert np.array_equal(got[~unsure], expected[~unsure])


def test_region_table_and_clipped_gaps() -> None:
    graph = make_grid(4, 4, spacing_m=1000.0, oneway=[((1, 1), (1, 2))])
    engine = _engine(graph)
    stations: list[Snap | int] = [0, snap_on(graph, 20, 0.5)]
    labels = label_nodes(engine, stations, mode="truck", limit_s=600.0)
    cov = Coverage(engine, labels, 2.0)
    # left half of the grid (x < 1.5 km) as a lon/lat polygon
    x0, y0 = graph.node_x.min(), graph.node_y.min()
    half_xy = shapely.box(x0 - 10, y0 - 10, x0 + 1500.0, y0 + 3010)
    half = engine.geometry.to_lonlat(half_xy)
    whole = engine.geometry.to_lonlat(shapely.box(x0 - 10, y0 - 10, x0 + 3010, y0 + 3010))
    demand = DemandPoints.from_nodes(engine.net, np.arange(graph.n_nodes))
    rows = cov.table({"half": half, "all": whole}, demand)
    by = {r.code: r for r in rows}
    # 4 vertical roads x 3 km, 4 rows x 3 km horizontally -> 24 km; left half: 2 full
    # columns (6 km) + 4 rows x 1.5 km = 12 km
    assert by["all"].road_km == pytest.approx(24.0, abs=1e-3)
    assert by["half"].road_km == pytest.approx(12.0, abs=1e-2)
    assert by["all"].covered_km == pytest.approx(cov.covered_length_m / 1000, abs=1e-3)
    assert by["half"].covered_km <= by["all"].covered_km + 1e-9
    covered_nodes = labels.time_s <= 120.0
    assert by["all"].demand_total == graph.n_nodes
    assert by["all"].demand_covered == float(covered_nodes.sum())
    gaps = engine.geometry.to_projected(cov.uncovered(half))
    assert gaps.length / 1000 == pytest.approx(by["half"].road_km - by["half"].covered_km, abs=1e-2)
    assert half_xy.buffer(1.0).contains(gaps)
    # a box around the whole grid counts what the whole network counts
    row = cov.region("box", shapely.box(*whole.bounds))
    assert row.road_km == pytest.approx(cov.whole().road_km, rel=1e-9)


def test_labels_respect_limit() -> None:
    graph = make_grid(1, 6, spacing_m=1000.0)
    engine = _engine(graph)
    labels = label_nodes(engine, [0], mode="truck", limit_s=250.0)
    assert np.array_equal(np.isfinite(labels.time_s), np.array([1, 1, 1, 0, 0, 0], bool))
    with pytest.raises(ValueError, match="searched"):
        Coverage(engine, labels, 5.0)
    cov = Coverage(engine, labels, 4.0)  # 240 s at 10 m/s: 2.4 km of the 5 km line
    assert cov.covered_length_m == pytest.approx(2400.0)
    assert cov.share == pytest.approx(0.48)


def test_one_length_rule_stated_length_times_the_fraction_inside() -> None:
    """Road length is the network's stated length times a fraction, whichever path counts
    it: the whole network, a region, or the rows of a table that tile it."""
    base = make_grid(4, 4, spacing_m=1000.0, oneway=[((1, 1), (1, 2))])
    # the source states every road 10 % longer than it is drawn (as real sources do)
    graph = replace(base, edge_length_m=base.edge_length_m * 1.1)
    engine = _engine(graph)
    labels = label_nodes(engine, [0, snap_on(graph, 20, 0.5)], mode="truck", limit_s=600.0)
    cov = Coverage(engine, labels, 2.0)
    x0, y0 = graph.node_x.min(), graph.node_y.min()
    to_ll = engine.geometry.to_lonlat
    west = to_ll(shapely.box(x0 - 10, y0 - 10, x0 + 1200.0, y0 + 3010))
    east = to_ll(shapely.box(x0 + 1200.0, y0 - 10, x0 + 3010, y0 + 3010))
    around = to_ll(shapely.box(x0 - 10, y0 - 10, x0 + 3010, y0 + 3010))
    whole = cov.whole()
    rows = {r.code: r for r in cov.table({"west": west, "east": east, "around": around})}
    assert whole.road_km == pytest.approx(24.0 * 1.1, rel=1e-9)
    # west of x = 1.2 km: 2 columns (6 km) + 4 rows x 1.2 km, all stated 10 % longer
    assert rows["west"].road_km == pytest.approx((6.0 + 4 * 1.2) * 1.1, rel=1e-6)
    for key in ("road_km", "covered_km"):
        tiles = getattr(rows["west"], key) + getattr(rows["east"], key)
        assert tiles == pytest.approx(getattr(whole, key), rel=1e-6)
        assert getattr(rows["around"], key) == pytest.approx(getattr(whole, key), rel=1e-9)
    assert cov.covered_length_m / 1000 == pytest.approx(whole.covered_km)
