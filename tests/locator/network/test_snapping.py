"""Snapping to the nearest edge: exact cases, brute-force reference, errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from gridfactory import make_grid, random_grid
from hypothesis import given, settings
from hypothesis import strategies as st
from nx_reference import bend_edges, random_lonlat

from locator.errors import (
    InvalidCoordinateError,
    OutsideServiceAreaError,
    SnapError,
)
from locator.network.core import Network
from locator.network.geometry import edge_twins
from locator.network.graph import RoadGraph
from locator.network.projection import Projector
from locator.network.snapping import Snap, SnapIndex


def _index(graph: RoadGraph) -> SnapIndex:
    return Network(graph).snapper


def _lonlat(graph: RoadGraph, x: float, y: float) -> tuple[float, float]:
    lon, lat = Projector(graph.crs).inverse(x, y)
    return float(lon), float(lat)


def test_snap_to_middle_of_edge_with_offset() -> None:
    g = make_grid(3, 3, spacing_m=1000.0)
    idx = _index(g)
    # 300 m along the bottom edge 0-1, 40 m to the south of it
    lon, lat = _lonlat(g, g.node_x[0] + 300.0, g.node_y[0] - 40.0)
    s = idx.snap(lon, lat, max_snap_m=100.0)
    assert {int(g.edge_u[s.edge]), int(g.edge_v[s.edge])} == {0, 1}
    along = s.fraction if g.edge_u[s.edge] == 0 else 1.0 - s.fraction
    assert along == pytest.approx(0.3, abs=1e-6)
    assert s.distance_m == pytest.approx(40.0, abs=1e-3)
    assert (s.lon, s.lat) == (lon, lat)
    x, y = Projector(g.crs).forward(s.snapped_lon, s.snapped_lat)
    assert float(x) == pytest.approx(g.node_x[0] + 300.0, abs=1e-3)
    assert float(y) == pytest.approx(g.node_y[0], abs=1e-3)


def test_snap_picks_edge_not_node() -> None:
    # a point 10 m from the middle of a long edge is 500 m from either node
    g = make_grid(2, 2, spacing_m=1000.0)
    lon, lat = _lonlat(g, g.node_x[0] + 500.0, g.node_y[0] + 10.0)
    s = _index(g).snap(lon, lat, max_snap_m=50.0)
    assert s.distance_m == pytest.approx(10.0, abs=1e-3)
    assert s.fraction == pytest.approx(0.5, abs=1e-6)


def test_snap_returns_canonical_edge_of_twin_pair() -> None:
    g = make_grid(4, 4)
    twins = edge_twins(g)
    idx = _index(g)
    lon, lat = random_lonlat(g, np.random.default_rng(3), 200, pad_m=100.0)
    for s in idx.snap_many(lon, lat, max_snap_m=2000.0):
        assert twins[s.edge] < 0 or s.edge < twins[s.edge]


def test_mode_filter_skips_edges_the_mode_cannot_use() -> None:
    g = make_grid(3, 3)
    # forbid cars on both directions of the bottom edge 0-1
    bottom = ((g.edge_u == 0) & (g.edge_v == 1)) | ((g.edge_u == 1) & (g.edge_v == 0))
    g.edge_allowed["car"] = g.edge_allowed["car"] & ~bottom
    idx = _index(g)
    lon, lat = _lonlat(g, g.node_x[0] + 500.0, g.node_y[0] + 5.0)
    walk = idx.snap(lon, lat, max_snap_m=2000.0, mode="walk")
    car = idx.snap(lon, lat, max_snap_m=2000.0, mode="car")
    assert bottom[walk.edge]
    assert not bottom[car.edge]
    assert car.distance_m == pytest.approx(500.0, abs=1e-3)
    with pytest.raises(SnapError, match="no road within 100 m"):
        idx.snap(lon, lat, max_snap_m=100.0, mode="car")


def test_oneway_edge_is_usable_from_either_direction_for_snapping() -> None:
    g = make_grid(2, 2, oneway=[((0, 0), (0, 1))], walk=False)
    lon, lat = _lonlat(g, g.node_x[0] + 500.0, g.node_y[0] - 1.0)
    s = _index(g).snap(lon, lat, max_snap_m=10.0, mode="car")
    assert (int(g.edge_u[s.edge]), int(g.edge_v[s.edge])) == (0, 1)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [
        (math.nan, 43.6),
        (111.9, math.nan),
        (math.inf, 43.6),
        (111.9, -math.inf),
        (181.0, 43.6),
        (111.9, 91.0),
        (43.6, 111.9),  # swapped order lands outside the latitude range
    ],
)
def test_invalid_coordinates(lon: float, lat: float) -> None:
    idx = _index(make_grid(2, 2))
    with pytest.raises(InvalidCoordinateError):
        idx.snap(lon, lat, max_snap_m=100.0)
    with pytest.raises(InvalidCoordinateError):
        idx.snap_many([111.95, lon], [43.65, lat], max_snap_m=100.0)


def test_point_outside_service_area() -> None:
    g = make_grid(2, 2)
    idx = _index(g)
    with pytest.raises(OutsideServiceAreaError):
        idx.snap(float(g.node_lon[0]) + 3.0, float(g.node_lat[0]), max_snap_m=1000.0)
    with pytest.raises(OutsideServiceAreaError):
        idx.snap(-70.0, -30.0, max_snap_m=1000.0)


def test_far_from_road_inside_area_is_snap_error() -> None:
    # the centre node of a 3x3 grid without its four edges: nearest road is 1000 m away
    g = make_grid(
        3,
        3,
        missing=[((1, 1), (0, 1)), ((1, 1), (2, 1)), ((1, 1), (1, 0)), ((1, 1), (1, 2))],
    )
    idx = _index(g)
    lon, lat = float(g.node_lon[4]), float(g.node_lat[4])
    with pytest.raises(SnapError, match="no road within 500 m"):
        idx.snap(lon, lat, max_snap_m=500.0)
    assert idx.snap(lon, lat, max_snap_m=1001.0).distance_m == pytest.approx(1000.0, abs=1e-3)
    out = idx.snap_many(
        [lon, float(g.node_lon[0])],
        [lat, float(g.node_lat[0])],
        max_snap_m=500.0,
        on_error="return",
    )
    assert isinstance(out[0], SnapError)
    assert isinstance(out[1], Snap)
    assert out[1].distance_m == pytest.approx(0.0, abs=1e-6)


def test_bad_radius_rejected() -> None:
    idx = _index(make_grid(2, 2))
    with pytest.raises(ValueError, match="max_snap_m"):
        idx.snap(111.95, 43.65, max_snap_m=0.0)


def _projected_lines(g: RoadGraph) -> np.ndarray:
    x, y = Projector(g.crs).forward(g.geom_lon, g.geom_lat)
    return np.array(
        [
            shapely.LineString(np.column_stack((x[a:b], y[a:b])))
            for a, b in zip(g.geom_offsets[:-1], g.geom_offsets[1:], strict=True)
        ]
    )


@settings(max_examples=25, deadline=None)
@given(
    rows=st.integers(2, 5),
    cols=st.integers(2, 5),
    seed=st.integers(0, 2**32 - 1),
    mode=st.sampled_from([None, "car", "walk"]),
    max_snap_m=st.sampled_from([150.0, 400.0, 3000.0]),
    bent=st.booleans(),
)
def test_snap_matches_brute_force(
    *, rows: int, cols: int, seed: int, mode: str | None, max_snap_m: float, bent: bool
) -> None:
    g = random_grid(rows, cols, seed)
    if bent:
        g = bend_edges(g)
    rng = np.random.default_rng(seed)
    idx = _index(g)
    lon, lat = random_lonlat(g, rng, 30, pad_m=200.0)
    # brute force: distance to every usable edge polyline in projected metres
    twins = edge_twins(g)
    usable = np.ones(g.n_edges, dtype=bool)
    if mode is not None:
        al = g.edge_allowed[mode]
        usable = al | ((twins >= 0) & al[np.maximum(twins, 0)])
    lines = _projected_lines(g)
    px, py = Projector(g.crs).forward(lon, lat)
    many = idx.snap_many(lon, lat, max_snap_m=max_snap_m, mode=mode, on_error="return")
    for i in range(lon.size):
        d = shapely.distance(shapely.Point(px[i], py[i]), lines)
        d = np.where(usable, d, np.inf)
        best = float(d.min())
        if abs(best - max_snap_m) < 1e-6:
            continue  # on the radius: either answer is right
        if best > max_snap_m:
            # outside the bbox grown by the radius is farther than the radius too
            with pytest.raises((SnapError, OutsideServiceAreaError)):
                idx.snap(lon[i], lat[i], max_snap_m=max_snap_m, mode=mode)
            assert isinstance(many[i], (SnapError, OutsideServiceAreaError))
            continue
        s = idx.snap(lon[i], lat[i], max_snap_m=max_snap_m, mode=mode)
        other = many[i]
        assert isinstance(other, Snap)
        # same place (the edge may differ only on an exact tie, e.g. at a shared node)
        assert other.distance_m == pytest.approx(s.distance_m, abs=1e-6)
        assert other.snapped_lon == pytest.approx(s.snapped_lon, abs=1e-9)
        assert other.snapped_lat == pytest.approx(s.snapped_lat, abs=1e-9)
        assert usable[other.edge]
        assert usable[s.edge]
        assert s.distance_m == pytest.approx(best, abs=1e-6)
        assert d[s.edge] == pytest.approx(best, abs=1e-6)
        assert 0.0 <= s.fraction <= 1.0
        # the fraction is the position along the polyline by length
        on = shapely.line_interpolate_point(lines[s.edge], s.fraction, normalized=True)
        sx, sy = Projector(g.crs).forward(s.snapped_lon, s.snapped_lat)
        assert math.hypot(float(sx) - on.x, float(sy) - on.y) < 1e-3


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 40),
    cell_m=st.sampled_from([None, 1.0, 37.0, 400.0, 1e5]),
    max_m=st.sampled_from([5.0, 150.0, 1e4]),
)
def test_segment_grid_matches_brute_force(
    *, seed: int, n: int, cell_m: float | None, max_m: float
) -> None:
    """Exact nearest segment (lowest id on ties) for any cell size, inside or outside."""
    from locator.network.snapping import TIE_TOLERANCE_M, SegmentGrid

    rng = np.random.default_rng(seed)
    # long, short and zero-length segments; some share end points (ties at vertices)
    a = rng.uniform(0, 1000, (n, 2)).round(0)
    b = np.where(rng.random((n, 1)) < 0.2, a, a + rng.normal(0, 300, (n, 2)).round(0))
    share = rng.random(n) < 0.3
    a[share] = a[0]
    ids = np.sort(rng.choice(10 * n, n, replace=False)).astype(np.int64)
    grid = SegmentGrid(a[:, 0], a[:, 1], b[:, 0], b[:, 1], ids, cell_m=cell_m)
    lines = shapely.linestrings(np.stack([a, b], axis=1))
    pts = np.vstack([rng.uniform(-600, 1600, (25, 2)), a[:3], b[:2]])
    for px, py in pts:
        d = shapely.distance(shapely.Point(px, py), lines)
        seg, dist = grid.nearest(float(px), float(py), max_m)
        best = float(d.min())
        if abs(best - max_m) < 1e-6:
            continue
        if best > max_m:
            assert seg == -1
            continue
        assert dist == pytest.approx(best, abs=1e-6)
        tied = ids[d <= best + TIE_TOLERANCE_M]
        assert seg == int(tied.min())
