"""Build-time densification of long straight segments along the geodesic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod

from geodata.densify import DEFAULT_MAX_SEGMENT_M, densify_graph, densify_polylines
from geodata.regional import load_regional_graph
from locator.network.core import Network
from locator.network.geometry import edge_twins
from locator.network.projection import Projector

GEOD = Geod(ellps="WGS84")


@pytest.fixture(scope="module")
def raw():
    return load_regional_graph(max_segment_m=None)


@pytest.fixture(scope="module")
def dense(raw):
    return densify_graph(raw, DEFAULT_MAX_SEGMENT_M)


def _segment_lengths(g) -> np.ndarray:
    last = np.zeros(g.geom_lon.shape[0], dtype=bool)
    last[g.geom_offsets[1:] - 1] = True
    a = np.nonzero(~last)[0]
    return np.asarray(
        GEOD.inv(g.geom_lon[a], g.geom_lat[a], g.geom_lon[a + 1], g.geom_lat[a + 1])[2]
    )


def test_no_segment_is_longer_than_the_rule_and_lengths_are_kept(raw, dense) -> None:
    assert float(_segment_lengths(raw).max()) > 500_000  # the source's 579 km segment
    seg = _segment_lengths(dense)
    assert float(seg.max()) <= DEFAULT_MAX_SEGMENT_M * (1 + 1e-9)
    assert dense.max_segment_m == DEFAULT_MAX_SEGMENT_M

    # each polyline keeps its geodesic length (points lie on the geodesic), its end nodes,
    # its stated length and every original vertex, in order
    def per_edge(g, lengths):
        last = np.zeros(g.geom_lon.shape[0], dtype=bool)
        last[g.geom_offsets[1:] - 1] = True
        edge = np.repeat(np.arange(g.n_edges), np.diff(g.geom_offsets))[~last]
        return np.bincount(edge, weights=lengths, minlength=g.n_edges)

    np.testing.assert_allclose(
        per_edge(dense, seg), per_edge(raw, _segment_lengths(raw)), rtol=1e-9, atol=1e-6
    )
    np.testing.assert_array_equal(dense.edge_length_m, raw.edge_length_m)
    first, last = dense.geom_offsets[:-1], dense.geom_offsets[1:] - 1
    np.testing.assert_array_equal(dense.geom_lon[first], raw.geom_lon[raw.geom_offsets[:-1]])
    np.testing.assert_array_equal(dense.geom_lat[last], raw.geom_lat[raw.geom_offsets[1:] - 1])


def test_twins_share_one_polyline_bit_for_bit(dense) -> None:
    twins = edge_twins(dense)
    assert (twins >= 0).all()  # every regional road is two-way
    for e in np.random.default_rng(3).choice(dense.n_edges, 300, replace=False):
        a, b = dense.edge_coords(int(e)), dense.edge_coords(int(twins[e]))
        np.testing.assert_array_equal(a, b[::-1])


def test_densify_is_idempotent(dense) -> None:
    again = densify_graph(dense, DEFAULT_MAX_SEGMENT_M)
    np.testing.assert_array_equal(again.geom_lon, dense.geom_lon)
    np.testing.assert_array_equal(again.geom_offsets, dense.geom_offsets)


@settings(max_examples=60, deadline=None)
@given(
    lon=st.floats(97.0, 126.0),
    lat=st.floats(37.0, 53.0),
    az=st.floats(0.0, 360.0),
    dist_m=st.floats(1.0, 600_000.0),
    max_m=st.sampled_from([250.0, 1000.0, 5000.0]),
    reverse=st.booleans(),
)
def test_points_lie_on_the_geodesic_evenly(lon, lat, az, dist_m, max_m, reverse) -> None:
    lon2, lat2, _ = GEOD.fwd(lon, lat, az, dist_m)
    xs = np.array([lon2, lon] if reverse else [lon, lon2])
    ys = np.array([lat2, lat] if reverse else [lat, lat2])
    out_lon, out_lat, offsets = densify_polylines(xs, ys, np.array([0, 2]), max_m)
    assert offsets.tolist() == [0, out_lon.shape[0]]
    n = int(np.ceil(dist_m / max_m))
    assert out_lon.shape[0] == max(n, 1) + 1
    assert (out_lon[0], out_lat[0], out_lon[-1], out_lat[-1]) == (xs[0], ys[0], xs[1], ys[1])
    steps = np.asarray(GEOD.inv(out_lon[:-1], out_lat[:-1], out_lon[1:], out_lat[1:])[2])
    np.testing.assert_allclose(steps, dist_m / max(n, 1), rtol=1e-6, atol=1e-6)


def test_snapping_near_a_long_road_measures_the_true_distance(raw, dense) -> None:
    """A point 120 m (on the ellipsoid) from the middle of a road drawn as one 188+ km
    straight segment: on the densified network snapping says 120 m, as GPS would; on the
    source's straight segment "120 m" depended on which line one meant."""
    lengths = _segment_lengths(raw)
    e = int(np.nonzero(np.diff(raw.geom_offsets) == 2)[0][np.argmax(lengths)])
    lon0, lat0, lon1, lat1 = (
        float(raw.geom_lon[raw.geom_offsets[e]]),
        float(raw.geom_lat[raw.geom_offsets[e]]),
        float(raw.geom_lon[raw.geom_offsets[e] + 1]),
        float(raw.geom_lat[raw.geom_offsets[e] + 1]),
    )
    az, _, total = GEOD.inv(lon0, lat0, lon1, lat1)
    assert total > 188_000
    mid_lon, mid_lat, back_az = GEOD.fwd(lon0, lat0, az, total / 2)
    for side in (90.0, -90.0):
        plon, plat, _ = GEOD.fwd(mid_lon, mid_lat, back_az + 180.0 + side, 120.0)
        got = Network(dense).snapper.snap(plon, plat, max_snap_m=2000.0)
        assert got.distance_m == pytest.approx(120.0, abs=0.5)
        # the snapped point is on the geodesic: its distance on the ellipsoid agrees too
        geodesic = float(GEOD.inv(plon, plat, got.snapped_lon, got.snapped_lat)[2])
        assert geodesic == pytest.approx(120.0, abs=0.5)
        # the source's one straight segment put the same point tens of metres off
        before = Network(raw).snapper.snap(plon, plat, max_snap_m=2000.0)
        assert abs(before.distance_m - 120.0) > 10.0


def test_lines_agree_with_the_geodesic_at_the_default_rule(dense) -> None:
    """The bound DATA.md states: on the densified network the projected straight line is
    within 2 cm of the geodesic, the lon/lat straight line within 12 cm (mid-segment)."""
    seg = _segment_lengths(dense)
    last = np.zeros(dense.geom_lon.shape[0], dtype=bool)
    last[dense.geom_offsets[1:] - 1] = True
    a = np.nonzero(~last)[0]
    a = a[np.argsort(seg)[-2000:]]  # the longest segments
    lon0, lat0, lon1, lat1 = (
        dense.geom_lon[a],
        dense.geom_lat[a],
        dense.geom_lon[a + 1],
        dense.geom_lat[a + 1],
    )
    az, _, dist = GEOD.inv(lon0, lat0, lon1, lat1)
    mid_lon, mid_lat, _ = GEOD.fwd(lon0, lat0, az, np.asarray(dist) / 2)
    lonlat_off = GEOD.inv(mid_lon, mid_lat, (lon0 + lon1) / 2, (lat0 + lat1) / 2)[2]
    assert float(np.max(lonlat_off)) <= 0.12
    proj = Projector(dense.crs)
    x0, y0 = proj.forward(lon0, lat0)
    x1, y1 = proj.forward(lon1, lat1)
    mx, my = proj.forward(np.asarray(mid_lon), np.asarray(mid_lat))
    dx, dy = x1 - x0, y1 - y0
    cross = np.abs((mx - x0) * dy - (my - y0) * dx) / np.hypot(dx, dy)
    assert float(np.max(cross)) <= 0.02
