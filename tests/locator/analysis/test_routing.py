"""Point-to-point routing against hand-checked cases and a NetworkX reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from gridfactory import make_grid, random_grid
from hypothesis import given, settings
from hypothesis import strategies as st
from nx_reference import (
    bend_edges,
    check_route_shape,
    close,
    random_lonlat,
    reference_graph,
    times_from,
)

from locator.analysis.routing import RoutingEngine
from locator.errors import NoRouteError
from locator.network.core import Network
from locator.network.graph import RoadGraph
from locator.network.projection import Projector
from locator.network.snapping import Snap, SnapIndex

# 3x3 grid, 1000 m spacing; car 72 km/h = 20 m/s -> 50 s per edge; walk 1 m/s
SPACING = 1000.0


def _snap_xy(idx: SnapIndex, g: RoadGraph, dx: float, dy: float, mode: str = "car") -> Snap:
    lon, lat = Projector(g.crs).inverse(g.node_x[0] + dx, g.node_y[0] + dy)
    return idx.snap(float(lon), float(lat), max_snap_m=1.0, mode=mode)


def _setup(g: RoadGraph, **kw: object) -> tuple[SnapIndex, RoutingEngine]:
    net = Network(g)
    return net.snapper, RoutingEngine(net, **kw)  # type: ignore[arg-type]


@pytest.fixture
def grid3() -> tuple[RoadGraph, SnapIndex, RoutingEngine]:
    g = make_grid(3, 3, spacing_m=SPACING)
    return (g, *_setup(g))


def test_middle_of_edge_to_far_corner(grid3: tuple[RoadGraph, SnapIndex, RoutingEngine]) -> None:
    g, idx, eng = grid3
    a = _snap_xy(idx, g, 500.0, 0.0)  # middle of the bottom edge 0-1
    b = _snap_xy(idx, g, 2000.0, 2000.0)  # node 8
    r = eng.route("car", a, b)
    assert r.duration_s == pytest.approx(25.0 + 3 * 50.0, rel=1e-6)
    assert r.distance_m == pytest.approx(3500.0, rel=1e-6)
    assert tuple(r.coordinates[0]) == (a.snapped_lon, a.snapped_lat)
    assert tuple(r.coordinates[-1]) == (b.snapped_lon, b.snapped_lat)
    assert len(r.coordinates) == 5  # start, three corners passed, end
    assert r.steps == [{"name": None, "distance_m": r.distance_m, "duration_s": r.duration_s}]
    assert not r.crosses_border
    walk = eng.route("walk", a, b)
    assert walk.duration_s == pytest.approx(3500.0, rel=1e-6)


def test_same_edge_forward_and_backward(grid3: tuple[RoadGraph, SnapIndex, RoutingEngine]) -> None:
    g, idx, eng = grid3
    a = _snap_xy(idx, g, 250.0, 0.0)
    b = _snap_xy(idx, g, 750.0, 0.0)
    ab = eng.route("car", a, b)
    ba = eng.route("car", b, a)
    assert ab.duration_s == pytest.approx(25.0, rel=1e-6)
    assert ba.duration_s == pytest.approx(25.0, rel=1e-6)
    assert ab.distance_m == pytest.approx(500.0, rel=1e-6)
    assert len(ab.edges) == 1
    assert len(ab.coordinates) == 2
    assert eng.route("car", a, a).duration_s == 0.0


def test_same_edge_against_oneway_goes_around() -> None:
    g = make_grid(3, 3, spacing_m=SPACING, oneway=[((0, 0), (0, 1))])
    idx, eng = _setup(g)
    a = _snap_xy(idx, g, 750.0, 0.0)
    b = _snap_xy(idx, g, 250.0, 0.0)
    # car: 250 m to node 1, round the block 1-4-3-0 (3000 m), 250 m to b
    r = eng.route("car", a, b)
    assert r.distance_m == pytest.approx(3500.0, rel=1e-6)
    assert r.duration_s == pytest.approx(175.0, rel=1e-6)
    # pedestrians ignore one-way rules
    assert eng.route("walk", a, b).duration_s == pytest.approx(500.0, rel=1e-6)
    assert eng.route("car", b, a).duration_s == pytest.approx(25.0, rel=1e-6)


def test_unreachable_is_no_route_error() -> None:
    # two 1x2 halves: the vertical edges between rows are missing
    g = make_grid(2, 2, missing=[((0, 0), (1, 0)), ((0, 1), (1, 1))])
    idx, eng = _setup(g)
    a = _snap_xy(idx, g, 500.0, 0.0)
    b = _snap_xy(idx, g, 500.0, 1000.0)
    with pytest.raises(NoRouteError):
        eng.route("car", a, b)


def test_border_flag_from_the_country_predicate() -> None:
    g = make_grid(3, 3, spacing_m=SPACING)
    idx, plain = _setup(g)
    # "China" is the left half of the grid (west of x = 1500 m)
    proj = Projector(g.crs)
    lo_lon, lo_lat = proj.inverse(g.node_x[0] - 500.0, g.node_y[0] - 500.0)
    hi_lon, hi_lat = proj.inverse(g.node_x[0] + 1500.0, g.node_y[0] + 2500.0)
    area = shapely.box(float(lo_lon), float(lo_lat), float(hi_lon), float(hi_lat))
    inside = _snap_xy(idx, g, 0.0, 500.0)
    also_inside = _snap_xy(idx, g, 1000.0, 1500.0)
    outside = _snap_xy(idx, g, 2000.0, 500.0)
    eng = RoutingEngine(plain.net, inside_country=lambda lo, la: shapely.contains_xy(area, lo, la))
    assert eng.route("car", inside, outside).crosses_border
    assert eng.route("car", outside, inside).crosses_border
    assert not eng.route("car", inside, also_inside).crosses_border
    assert not plain.route("car", inside, outside).crosses_border


def test_route_steps_group_road_names() -> None:
    g = make_grid(2, 3, spacing_m=SPACING)
    g.names = ["Erenhot Road", "Border Street"]
    g.edge_name = np.where(g.node_y[g.edge_u] == g.node_y[g.edge_v], 0, 1).astype(np.int32)
    g.edge_name[(g.edge_u == 1) & (g.edge_v == 2)] = -1
    g.edge_name[(g.edge_u == 2) & (g.edge_v == 1)] = -1
    idx, eng = _setup(g)
    a = _snap_xy(idx, g, 0.0, 0.0)
    b = _snap_xy(idx, g, 2000.0, 1000.0)
    r = eng.route("car", a, b)
    # 0 -> 1 -> 2 along row 0 (named then unnamed) then up, or 0 -> 3 up then along row 1
    names = [s["name"] for s in r.steps]
    assert names in (["Erenhot Road", None, "Border Street"], ["Border Street", "Erenhot Road"])
    assert sum(s["distance_m"] for s in r.steps) == pytest.approx(3000.0, rel=1e-6)
    assert tuple(r.coordinates[0]) == (a.snapped_lon, a.snapped_lat)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(2, 5),
    cols=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["car", "truck", "walk"]),
    bent=st.booleans(),
)
def test_route_matches_networkx(rows: int, cols: int, seed: int, mode: str, bent: bool) -> None:
    g = random_grid(rows, cols, seed, spacing_m=700.0)
    if bent:
        g = bend_edges(g)
    rng = np.random.default_rng(seed)
    idx, eng = _setup(g)
    lon, lat = random_lonlat(g, rng, 6, pad_m=100.0)
    snaps = idx.snap_many(lon, lat, max_snap_m=5000.0, mode=mode)
    # a second point on the first point's edge exercises the same-edge case
    s0 = snaps[0]
    f = float(rng.uniform(0.0, 1.0))
    x = (
        idx.geometry.x[g.geom_offsets[s0.edge]] * (1 - f)
        + idx.geometry.x[g.geom_offsets[s0.edge] + 1] * f
    )
    y = (
        idx.geometry.y[g.geom_offsets[s0.edge]] * (1 - f)
        + idx.geometry.y[g.geom_offsets[s0.edge] + 1] * f
    )
    plon, plat = Projector(g.crs).inverse(x, y)
    snaps.append(idx.snap(float(plon), float(plat), max_snap_m=5000.0, mode=mode))
    ref = reference_graph(g, mode, snaps)
    for i, a in enumerate(snaps):
        ref_t = times_from(ref, i)
        for j, b in enumerate(snaps):
            expected = ref_t.get(("p", j))
            if expected is None:
                with pytest.raises(NoRouteError):
                    eng.route(mode, a, b)
                continue
            r = eng.route(mode, a, b)
            assert close(r.duration_s, expected), (i, j, r.duration_s, expected)
            check_route_shape(g, mode, r, a, b)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(2, 5),
    cols=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from(["car", "walk"]),
)
def test_route_between_nodes_matches_networkx(rows: int, cols: int, seed: int, mode: str) -> None:
    """Points exactly on nodes: zero-cost start/end options (one search, virtual source)."""
    g = random_grid(rows, cols, seed, spacing_m=700.0)
    rng = np.random.default_rng(seed)
    idx, eng = _setup(g)
    nodes = rng.choice(g.n_nodes, min(4, g.n_nodes), replace=False)
    snaps = idx.snap_many(g.node_lon[nodes], g.node_lat[nodes], max_snap_m=5000.0, mode=mode)
    ref = reference_graph(g, mode, snaps)
    for i, a in enumerate(snaps):
        ref_t = times_from(ref, i)
        for j, b in enumerate(snaps):
            expected = ref_t.get(("p", j))
            if expected is None:
                with pytest.raises(NoRouteError):
                    eng.route(mode, a, b)
                continue
            r = eng.route(mode, a, b)
            assert close(r.duration_s, expected), (i, j, r.duration_s, expected)
            check_route_shape(g, mode, r, a, b)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_clear_radius_keeps_every_point_within_it_on_the_vertex_side(seed: int) -> None:
    """Every point within a vertex's clear radius (both axes) is on the vertex's side of
    the outline, for random outlines with holes and random vertices; the radius is not
    needlessly small."""
    from locator.analysis.routing import BOUNDARY_SAMPLE_DEG, CLEAR_CAP_DEG, clear_radius

    rng = np.random.default_rng(seed)
    centre = rng.uniform(-0.5, 0.5, 2)
    outline = shapely.Point(*centre).buffer(
        rng.uniform(0.05, 0.4), quad_segs=int(rng.integers(1, 6))
    )
    hole = shapely.Point(*(centre + rng.normal(0, 0.05, 2))).buffer(rng.uniform(0.0, 0.04))
    outline = outline.difference(hole)
    lon = rng.uniform(-1.0, 1.0, 300)
    lat = rng.uniform(-1.0, 1.0, 300)
    r = clear_radius(lon, lat, outline)
    side = shapely.intersects_xy(outline, lon, lat)
    dist = shapely.distance(shapely.boundary(outline), shapely.points(lon, lat))
    for i in range(0, 300, 3):
        # the corners of the square of half-side r, and random points in it
        u = np.concatenate([[-0.9999, 0.9999, -0.9999, 0.9999], rng.uniform(-1, 1, 12)])
        w = np.concatenate([[-0.9999, -0.9999, 0.9999, 0.9999], rng.uniform(-1, 1, 12)])
        px, py = lon[i] + u * r[i], lat[i] + w * r[i]
        assert (shapely.intersects_xy(outline, px, py) == side[i]).all()
    # a lower bound of the true clearance, off by at most the sampling
    assert (r * math.sqrt(2.0) <= dist + 1e-9).all()
    assert (
        r * math.sqrt(2.0) >= (np.minimum(dist, CLEAR_CAP_DEG) - BOUNDARY_SAMPLE_DEG) * 0.99
    ).all()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_border_flag_with_the_outline_equals_testing_every_vertex(seed: int) -> None:
    """With the outline given, routes' crosses_border and border_crossings equal those of
    the predicate applied to every point of the polyline, ends included."""
    _check_border_flags(seed, fast_ends=False)


def test_border_flag_ends_mostly_take_their_neighbours_side() -> None:
    """The point of the outline: most routes' end points need no geometry call."""
    _check_border_flags(7, fast_ends=True)


def _check_border_flags(seed: int, *, fast_ends: bool) -> None:
    rng = np.random.default_rng(seed)
    g = bend_edges(random_grid(20, 20, seed, spacing_m=1500.0), offset_m=300.0)
    net = Network(g)
    lon, lat = g.geom_lon, g.geom_lat
    cx, cy = float(rng.uniform(lon.min(), lon.max())), float(rng.uniform(lat.min(), lat.max()))
    outline = shapely.Point(cx, cy).buffer(float(rng.uniform(0.03, 0.07)), quad_segs=3)
    end_tests = []

    def inside(lo: np.ndarray, la: np.ndarray) -> np.ndarray:
        if lo.shape == (2,):
            end_tests.append(1)
        return np.asarray(shapely.intersects_xy(outline, lo, la), dtype=bool)

    eng = RoutingEngine(net, inside_country=inside, outline=outline)
    assert eng._vertex_clear is not None and (eng._vertex_clear > 0).any()
    plain = RoutingEngine(net, inside_country=inside)
    qlon, qlat = random_lonlat(g, rng, 24, pad_m=0.0)
    snaps = net.snapper.snap_many(qlon, qlat, max_snap_m=5000.0, mode="car", on_error="return")
    ok = [s for s in snaps if isinstance(s, Snap)]
    checked = 0
    for a, b in zip(ok[::2], ok[1::2], strict=False):
        try:
            r = eng.route("car", a, b)
        except NoRouteError:
            continue
        side = inside(r.coordinates[:, 0], r.coordinates[:, 1])
        assert r.crosses_border == bool(side.any() and not side.all())
        flips = np.flatnonzero(side[1:] != side[:-1]) + 1
        assert r.border_crossings == tuple(
            (float(r.coordinates[i, 0]), float(r.coordinates[i, 1])) for i in flips
        )
        checked += 1
    assert checked
    # most end points took their neighbour's side; the reference engine tests them all
    if fast_ends:
        assert len(end_tests) < checked / 2
    end_tests.clear()
    for a, b in zip(ok[::2], ok[1::2], strict=False):
        try:
            plain.route("car", a, b)
        except NoRouteError:
            continue
    assert len(end_tests) == checked
