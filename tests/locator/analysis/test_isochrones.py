"""Service circles: nesting, exact partial roads, and a NetworkX + sampling reference."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import shapely
from circles_reference import node_times, sample_times, snap_on
from gridfactory import make_grid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from strategies import flagged_grids

from geodata.regional import load_regional_graph
from locator.analysis.isochrones import (
    IsochroneEngine,
    precompute_station_isochrones,
    road_band,
)
from locator.artifact.prepared import load_circles, save_circles
from locator.config import DEFAULT_MINUTES
from locator.network.core import Network
from locator.network.graph import RoadGraph
from locator.network.projection import Projector
from locator.network.reach import Intervals, reached_intervals

#: Output coordinates lie on a 1e-6 degree grid (~0.1 m; locator.config.COORD_DECIMALS),
#: so a boundary point may move by half a grid cell diagonally: under 0.1 m here.
TOL_M = 0.1


def _engine(graph: RoadGraph) -> IsochroneEngine:
    return IsochroneEngine(Network(graph))


#: "Nested" in the delivered WGS 84 coordinates: the smaller contour minus the larger has
#: no area beyond floating-point noise (deg²; 1e-15 deg² is about 1e-5 m² here).
NESTED_DEG2 = 1e-15


def _assert_nested(small: shapely.Geometry, big: shapely.Geometry) -> None:
    assert shapely.difference(small, big).area <= NESTED_DEG2


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


def _projected(engine: IsochroneEngine, geom: shapely.Geometry) -> shapely.Geometry:
    return engine.geometry.to_projected(geom)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=grid_cases(), direction=st.sampled_from(["to", "from"]))
def test_circles_match_sampled_reference(case, direction) -> None:
    graph, edge, fraction, mode, minutes = case
    engine = _engine(graph)
    snap = snap_on(graph, edge, fraction)
    buffer_m = 50.0
    contours = engine.isochrones(
        snap, mode=mode, minutes=minutes, direction=direction, buffer_m=buffer_m
    )
    assert [c.minutes for c in contours] == sorted(minutes)
    ref_nodes = node_times(graph, [snap], mode, direction)
    samples = sample_times(graph, [snap], mode, direction, ref_nodes)
    spacing = float(graph.edge_length_m.max()) / (len(np.unique(samples.x)) - 1)
    previous = None
    for contour in contours:
        limit = contour.minutes * 60.0
        poly = _projected(engine, contour.polygon)
        # every reached node and every reached sample point lies inside the contour
        reached_nodes = np.nonzero(ref_nodes <= limit)[0]
        for n in reached_nodes:
            assert poly.distance(shapely.Point(graph.node_x[n], graph.node_y[n])) <= TOL_M
        hit = samples.time_s <= limit
        pts = shapely.points(samples.px[hit], samples.py[hit])
        if pts.size:
            assert float(np.max(shapely.distance(poly, pts))) <= TOL_M
        # no area farther than the buffer (+ one sample spacing) from reached road
        near = samples.time_s <= limit + 1e-9
        ref_area = shapely.buffer(
            shapely.multipoints(np.column_stack((samples.px[near], samples.py[near]))),
            buffer_m + spacing + 1.0,
        )
        if contour.polygon.is_empty:
            assert not near.any() or contour.reached_length_m == 0
        else:
            assert poly.difference(ref_area).area <= 1.0
        if previous is not None:
            prev_ll, prev_len = previous
            _assert_nested(prev_ll, contour.polygon)
            assert contour.reached_length_m >= prev_len - 1e-6
            assert contour.polygon.area >= prev_ll.area * (1 - 1e-12)
        previous = (contour.polygon, contour.reached_length_m)


@settings(max_examples=25, deadline=None)
@given(case=grid_cases())
def test_reached_length_matches_sampling(case) -> None:
    graph, edge, fraction, mode, minutes = case
    engine = _engine(graph)
    snap = snap_on(graph, edge, fraction)
    ref_nodes = node_times(graph, [snap], mode, "from")
    samples = sample_times(graph, [snap], mode, "from", ref_nodes, samples=401)
    limit = minutes[-1] * 60.0
    got = engine.isochrones(snap, mode=mode, minutes=minutes, direction="from", buffer_m=10.0)[
        -1
    ].reached_length_m
    # per physical location: reached if reached on either directed edge
    key_x = np.where(
        graph.edge_u[samples.edge] < graph.edge_v[samples.edge], samples.x, 1 - samples.x
    )
    lo = np.minimum(graph.edge_u[samples.edge], graph.edge_v[samples.edge])
    hi = np.maximum(graph.edge_u[samples.edge], graph.edge_v[samples.edge])
    keys = np.round(key_x * 400).astype(np.int64) + 1000 * (lo * graph.n_nodes + hi)
    reached_keys = np.unique(keys[samples.time_s <= limit])
    road_len = float(graph.edge_length_m.max())
    approx = reached_keys.size * road_len / 400
    n_roads = np.unique(keys // 1000).size
    assert abs(got - approx) <= 2 * n_roads * road_len / 400 + 1e-6


def test_straight_line_reached_length_is_speed_times_time() -> None:
    graph = make_grid(1, 8, spacing_m=1000.0)  # truck 36 km/h = 10 m/s
    engine = _engine(graph)
    edge = int(np.nonzero((graph.edge_u == 3) & (graph.edge_v == 4))[0][0])
    snap = snap_on(graph, edge, 0.5)  # x = 3.5 km on a 7 km line
    contours = engine.isochrones(
        snap, mode="truck", minutes=(1, 2, 3), direction="from", buffer_m=100.0, quad_segs=64
    )
    for contour in contours:
        reach_m = 10.0 * contour.minutes * 60.0
        assert contour.reached_length_m == pytest.approx(2 * reach_m)
        expected_km2 = (2 * reach_m * 200.0 + np.pi * 100.0**2) / 1e6
        assert contour.area_km2 == pytest.approx(expected_km2, rel=1e-3)
    # at the line's end the reach is cut off by the network, not by time
    end = engine.isochrones(0, mode="truck", minutes=(30,), direction="from", buffer_m=100.0)[0]
    assert end.reached_length_m == pytest.approx(7000.0)


def test_to_equals_from_on_two_way_grid_and_differs_with_one_way() -> None:
    graph = make_grid(5, 5, spacing_m=500.0)
    engine = _engine(graph)
    snap = snap_on(graph, 7, 0.3)
    to = engine.isochrones(snap, mode="car", minutes=(0.5, 1.0), direction="to", buffer_m=100.0)
    fr = engine.isochrones(snap, mode="car", minutes=(0.5, 1.0), direction="from", buffer_m=100.0)
    for a, b in zip(to, fr, strict=True):
        assert a.reached_length_m == pytest.approx(b.reached_length_m)
        pa, pb = _projected(engine, a.polygon), _projected(engine, b.polygon)
        assert pa.symmetric_difference(pb).area <= 1.0
    oneway = make_grid(5, 5, spacing_m=1000.0, oneway=[((0, 0), (0, 1))])
    engine = _engine(oneway)
    edge = int(np.nonzero((oneway.edge_u == 1) & (oneway.edge_v == 2))[0][0])
    snap = snap_on(oneway, edge, 0.25)
    # hand-checked: 1 min at 10 m/s = 600 m; node 1 is 250 m away, 350 m left there
    to = engine.isochrones(snap, mode="truck", minutes=(1,), direction="to", buffer_m=100.0)[0]
    fr = engine.isochrones(snap, mode="truck", minutes=(1,), direction="from", buffer_m=100.0)[0]
    assert to.reached_length_m == pytest.approx(250 + 600 + 350 + 350)  # 0->1 and 6->1
    assert fr.reached_length_m == pytest.approx(250 + 600 + 350)  # only 1->6
    assert to.area_km2 > fr.area_km2


def test_unreached_block_leaves_a_hole() -> None:
    # a ring road around a missing centre: the block inside is not a road, so the
    # buffered circle has a hole there
    graph = make_grid(
        3,
        3,
        spacing_m=1000.0,
        missing=[((0, 1), (1, 1)), ((1, 0), (1, 1)), ((1, 1), (1, 2)), ((1, 1), (2, 1))],
    )
    engine = _engine(graph)
    circle = engine.isochrones(0, mode="car", minutes=(10,), buffer_m=100.0)[0]
    poly = _projected(engine, circle.polygon)
    assert poly.geom_type == "Polygon"
    assert len(poly.interiors) == 1
    centre = shapely.Point(graph.node_x[4], graph.node_y[4])
    assert not poly.contains(centre)


def test_concave_option_is_nested_and_holds_reached_nodes() -> None:
    graph = make_grid(5, 5, spacing_m=500.0, oneway=[((2, 2), (2, 3))])
    engine = _engine(graph)
    snap = snap_on(graph, 10, 0.4)
    contours = engine.isochrones(
        snap, mode="truck", minutes=(1, 2, 3), shape="concave", buffer_m=100.0
    )
    ref = node_times(graph, [snap], "truck", "to")
    prev = None
    for contour in contours:
        poly = _projected(engine, contour.polygon)
        for n in np.nonzero(ref <= contour.minutes * 60)[0]:
            assert poly.distance(shapely.Point(graph.node_x[n], graph.node_y[n])) <= TOL_M
        if prev is not None:
            _assert_nested(prev, contour.polygon)
        prev = contour.polygon


def test_precomputed_circles_round_trip(tmp_path: Path) -> None:
    graph = make_grid(4, 4, spacing_m=500.0)
    engine = _engine(graph)
    stations = {"a": 0, "b": snap_on(graph, 5, 0.5)}
    circles = precompute_station_isochrones(
        engine, stations, mode="car", minutes=(1, 2), buffer_m=100.0
    )
    path = tmp_path / "circles.npz"
    save_circles(path, circles)
    loaded = load_circles(path)
    assert sorted(loaded) == ["a", "b"]
    for sid, contours in circles.items():
        assert [c.minutes for c in loaded[sid]] == [c.minutes for c in contours]
        for a, b in zip(contours, loaded[sid], strict=True):
            assert b.reached_length_m == a.reached_length_m
            assert b.area_km2 == a.area_km2
            # stored as computed: the very same polygon comes back
            assert shapely.equals_exact(a.polygon, b.polygon, tolerance=0.0)


@pytest.fixture(scope="module")
def regional() -> tuple[RoadGraph, IsochroneEngine]:
    graph = load_regional_graph()
    return graph, _engine(graph)


@pytest.mark.parametrize("seed", [4, 5])
def test_regional_circles_banded_per_step_equal_the_whole_band(
    regional, seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Contours built from the band of the road reached since the smaller budget, united
    with the smaller contour, cover the same area as banding all reached road again."""
    graph, engine = regional
    rng = np.random.default_rng(seed)
    snap = snap_on(graph, int(rng.integers(graph.n_edges)), float(rng.random()))
    kw = {"mode": "truck", "minutes": DEFAULT_MINUTES, "buffer_m": 500.0}
    stepped = engine.isochrones(snap, **kw)
    monkeypatch.setattr(Intervals, "minus", lambda self, other: self)
    whole = engine.isochrones(snap, **kw)
    for a, b in zip(stepped, whole, strict=True):
        assert a.reached_length_m == b.reached_length_m
        pa, pb = _projected(engine, a.polygon), _projected(engine, b.polygon)
        # the same point set up to the circle approximation and the output grid
        assert shapely.symmetric_difference(pa, pb).area <= 1e-4 * max(pb.area, 1.0)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_regional_circles_nested_and_contain_reached_nodes(regional, seed) -> None:
    graph, engine = regional
    rng = np.random.default_rng(seed)
    snap = snap_on(graph, int(rng.integers(graph.n_edges)), float(rng.random()))
    contours = engine.isochrones(snap, mode="truck", minutes=DEFAULT_MINUTES, buffer_m=500.0)
    assert [c.minutes for c in contours] == [5.0, 10.0, 15.0]
    times = node_times(graph, [snap], "truck", "to")
    prev = None
    for contour in contours:
        poly = _projected(engine, contour.polygon)
        reached = np.nonzero(times <= contour.minutes * 60)[0]
        pts = shapely.points(graph.node_x[reached], graph.node_y[reached])
        assert float(np.max(shapely.distance(poly, pts))) <= TOL_M
        # the truck covers at most 60 km/h * T of road outward, so the circle stays in
        # that radius plus the buffer; slack for the network's coordinates (rounded to
        # 0.001 degree) and Albers scale: drawn edges run up to 1.6 % longer than stated
        radius_m = 1.02 * 60 / 3.6 * contour.minutes * 60 + 500.0 + 150.0
        origin = engine.geometry.to_projected(shapely.Point(snap.lon, snap.lat))
        assert poly.difference(origin.buffer(radius_m + 1.0)).area <= 1.0
        if prev is not None:
            _assert_nested(prev, contour.polygon)
        prev = contour.polygon


# ---------------------------------------------------------------- the dissolved band
def _plain_band(lines: np.ndarray, buffer_m: float, quad_segs: int) -> shapely.Geometry:
    """The definition: the union of one buffer per line (zero-length lines are points)."""
    return shapely.union_all(shapely.buffer(lines, buffer_m, quad_segs=quad_segs))


def _assert_same_band(
    got: shapely.Geometry, ref: shapely.Geometry, buffer_m: float, quad_segs: int
) -> None:
    # both are inscribed in the exact band, each boundary within one chord sagitta of it.
    # GEOS rounds the number of segments of a corner's fillet to the nearest whole count
    # of quanta (pi / 2 / quad_segs), so one chord may span up to 1.5 quanta (a 67 degree
    # corner at quad_segs=2 is one chord), where a line's end cap uses whole quanta
    sagitta = buffer_m * (1.0 - np.cos(1.5 * np.pi / (4 * quad_segs)))
    slack = 2.0 * sagitta + 1e-6
    assert got.is_valid
    assert got.difference(shapely.buffer(ref, slack, quad_segs=16)).area <= 1e-6
    assert ref.difference(shapely.buffer(got, slack, quad_segs=16)).area <= 1e-6
    assert abs(got.area - ref.area) <= slack * max(ref.length, got.length) + 1e-6


def _crossing_flags(lines: np.ndarray) -> np.ndarray:
    """Independent of relate patterns: True where a line meets another at a point that
    is not an end point of both (or overlaps it, or crosses itself)."""
    flags = ~shapely.is_simple(lines)
    ends = [
        {tuple(c) for c in shapely.get_coordinates(line)[[0, -1]]}
        if shapely.length(line) > 0
        else set()
        for line in lines
    ]
    for i in range(lines.size):
        for j in range(i + 1, lines.size):
            inter = shapely.intersection(lines[i], lines[j])
            if inter.is_empty:
                continue
            if inter.geom_type not in ("Point", "MultiPoint"):
                flags[i] = flags[j] = True
                continue
            for c in shapely.get_coordinates(inter):
                if tuple(c) not in ends[i] or tuple(c) not in ends[j]:
                    flags[i] = flags[j] = True
    return flags


@st.composite
def line_sets(draw: st.DrawFn) -> tuple[np.ndarray, float]:
    """Lattice roads (noded at lattice points), dead ends into blocks, unnoded crossings,
    duplicates and single points, with a band from much narrower to wider than a block."""
    n = draw(st.integers(2, 5))
    spacing = 300.0
    edges = []
    for r in range(n):
        for c in range(n):
            if c + 1 < n:
                edges.append(((c, r), (c + 1, r)))
            if r + 1 < n:
                edges.append(((c, r), (c, r + 1)))
    keep = draw(st.lists(st.booleans(), min_size=len(edges), max_size=len(edges)))
    coords = [[a, b] for (a, b), k in zip(edges, keep, strict=True) if k]
    lattice = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1))
    centre = st.tuples(st.sampled_from([0.5, 1.5, 2.5]), st.sampled_from([0.5, 1.5, 2.5]))
    for _ in range(draw(st.integers(0, 3))):  # dead ends into blocks
        coords.append([draw(lattice), draw(centre)])
    for _ in range(draw(st.integers(0, 2))):  # diagonals: cross roads without a node
        a = draw(lattice)
        coords.append([a, (a[0] + draw(st.sampled_from([-1.3, 1.7])), a[1] + 1.2)])
    if coords and draw(st.booleans()):  # a duplicated road
        coords.append(list(coords[draw(st.integers(0, len(coords) - 1))]))
    lines = [shapely.LineString(np.asarray(c, dtype=float) * spacing) for c in coords]
    for _ in range(draw(st.integers(0, 2))):  # places reachable only by themselves
        p = np.asarray(draw(centre), dtype=float) * spacing
        lines.append(shapely.LineString([p, p]))
    if not lines:
        lines.append(shapely.LineString([(0.0, 0.0), (spacing, 0.0)]))
    buffer_m = draw(st.sampled_from([20.0, 60.0, 100.0, 149.0, 400.0]))
    return np.array(lines, dtype=object), buffer_m


@settings(max_examples=60, deadline=None)
@given(case=line_sets(), quad_segs=st.sampled_from([2, 4, 8]))
def test_road_band_equals_union_of_line_buffers(case, quad_segs) -> None:
    lines, buffer_m = case
    ref = _plain_band(lines, buffer_m, quad_segs)
    # noding everything, and noding only the lines an independent check flags
    for unnoded in (None, _crossing_flags(lines)):
        got = road_band(lines, buffer_m, quad_segs=quad_segs, unnoded=unnoded)
        _assert_same_band(got, ref, buffer_m, quad_segs)


def test_road_band_keeps_block_cores_as_holes_and_dead_ends_inside_them() -> None:
    # a 1 km block with a dead end reaching into it: the core is a hole, the dead end's
    # band cuts into the hole
    ring = shapely.LineString([(0, 0), (1000, 0), (1000, 1000), (0, 1000), (0, 0)])
    spur = shapely.LineString([(0, 500), (450, 500)])
    lines = np.array([ring, spur], dtype=object)
    got = road_band(lines, 100.0)
    assert got.geom_type == "Polygon" and len(got.interiors) == 1
    assert not got.contains(shapely.Point(700, 500))  # 300 m from every road
    assert got.contains(shapely.Point(540, 500))  # 90 m beyond the spur's end
    _assert_same_band(got, _plain_band(lines, 100.0, 4), 100.0, 4)


def _grid_with_overpass() -> RoadGraph:
    """3x3 grid (1 km) whose road (1,0)-(1,1) bends over road (1,1)-(2,1) without a node."""
    graph = make_grid(3, 3, spacing_m=1000.0)
    proj = Projector(graph.crs)
    bend_lon, bend_lat = proj.inverse(
        np.array([graph.node_x[0] + 1500.0]), np.array([graph.node_y[0] + 1500.0])
    )
    lons, lats, offsets = [], [], [0]
    for e in range(graph.n_edges):
        c = graph.edge_coords(e)
        if {int(graph.edge_u[e]), int(graph.edge_v[e])} == {3, 4}:
            c = np.vstack([c[:1], [[bend_lon[0], bend_lat[0]]], c[1:]])
        lons.extend(c[:, 0])
        lats.extend(c[:, 1])
        offsets.append(len(lons))
    return replace(
        graph,
        geom_lon=np.array(lons),
        geom_lat=np.array(lats),
        geom_offsets=np.array(offsets, dtype=np.int64),
    )


def test_unnoded_roads_flags_exactly_the_crossing_pair() -> None:
    graph = _grid_with_overpass()
    geo = _engine(graph).geometry
    ends = {frozenset((int(u), int(v))) for u, v in zip(geo.road_u, geo.road_v, strict=True)}
    assert len(ends) == geo.n_roads
    flagged = {
        frozenset((int(geo.road_u[r]), int(geo.road_v[r])))
        for r in np.nonzero(geo.unnoded_roads)[0]
    }
    assert flagged == {frozenset((3, 4)), frozenset((4, 7))}
    assert not _engine(make_grid(4, 4)).geometry.unnoded_roads.any()


@pytest.mark.parametrize("minutes", [1.5, 3.0, 6.0])
def test_circles_over_an_overpass_equal_the_plain_band(minutes) -> None:
    graph = _grid_with_overpass()
    engine = _engine(graph)
    snap = snap_on(graph, 0, 0.3)
    got = engine.isochrones(snap, mode="truck", minutes=(minutes,), buffer_m=150.0)[0]
    lines = engine.reached(snap, mode="truck", minutes=minutes).lines(engine.geometry)
    ref = _plain_band(lines, 150.0, 4)
    _assert_same_band(_projected(engine, got.polygon), ref, 150.0, 4)


def test_circles_on_a_large_grid_equal_the_full_pass_with_few_candidate_roads() -> None:
    graph = make_grid(30, 30, spacing_m=300.0)
    engine = _engine(graph)
    geo = engine.geometry
    snap = snap_on(graph, int(np.nonzero(graph.edge_u == 15 * 30 + 15)[0][0]), 0.4)
    times, snaps = engine.node_times([snap], "walk", "to", 5 * 60.0)
    roads = geo.roads_at(np.flatnonzero(np.isfinite(times)))
    assert 0 < roads.size < geo.n_roads // 10  # the pass no longer touches most roads
    contours = engine.isochrones(snap, mode="walk", minutes=(2, 5), buffer_m=50.0)
    walk = engine.net.mode("walk")
    for contour in contours:
        full = reached_intervals(geo, walk, times, "to", contour.minutes * 60.0, snaps=snaps)
        assert contour.reached_length_m == pytest.approx(
            float(np.sum((full.end - full.start) * geo.road_length_m[full.road])), rel=1e-12
        )
        ref = road_band(full.lines(geo), 50.0, unnoded=geo.unnoded_roads[full.road])
        # the delivered polygon lies on the output grid: within TOL_M of the exact band
        got = _projected(engine, contour.polygon)
        assert got.symmetric_difference(ref).area <= TOL_M * ref.length
