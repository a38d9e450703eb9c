"""WGS 84 <-> GCJ-02 <-> BD-09 conversions."""

from __future__ import annotations

import math
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyproj import Geod

from locator.analysis.regions import AdminUnits
from locator.network.datum import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china_box,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

GEOD = Geod(ellps="WGS84")

# China's extent (mainland + Hainan + Taiwan, generously)
china_lon = st.floats(min_value=73.5, max_value=135.0, allow_nan=False)
china_lat = st.floats(min_value=18.0, max_value=53.6, allow_nan=False)
# Inner Mongolia's bounding box
im_lon = st.floats(min_value=97.2, max_value=126.1, allow_nan=False)
im_lat = st.floats(min_value=37.4, max_value=53.4, allow_nan=False)


@cache
def inner_mongolia() -> shapely.Geometry:
    path = Path(__file__).resolve().parents[3] / "geodata" / "data" / "admin_units.geojson.gz"
    geom = AdminUnits.load(path).polygon("150000")
    shapely.prepare(geom)
    return geom


def distance_m(lon1: object, lat1: object, lon2: object, lat2: object) -> np.ndarray:
    return np.asarray(GEOD.inv(lon1, lat1, lon2, lat2)[2])


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_round_trip_scalar(lon: float, lat: float) -> None:
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert isinstance(w_lon, float)
    assert abs(w_lon - lon) < 1e-7
    assert abs(w_lat - lat) < 1e-7


@settings(max_examples=300, deadline=None)
@given(china_lon, china_lat)
def test_gcj02_inverse_then_forward_reproduces_input(lon: float, lat: float) -> None:
    # the inverse is exact (iterated), not the one-step approximation g - d(g)
    w_lon, w_lat = gcj02_to_wgs84(lon, lat)
    g_lon, g_lat = wgs84_to_gcj02(w_lon, w_lat)
    assert abs(g_lon - lon) < 1e-7
    assert abs(g_lat - lat) < 1e-7


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(china_lon, china_lat), min_size=1, max_size=50))
def test_vectorised_equals_scalar(points: list[tuple[float, float]]) -> None:
    lon = np.array([p[0] for p in points])
    lat = np.array([p[1] for p in points])
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert g_lon.shape == lon.shape
    for i, (x, y) in enumerate(points):
        sx, sy = wgs84_to_gcj02(x, y)
        assert g_lon[i] == pytest.approx(sx, abs=1e-12)
        assert g_lat[i] == pytest.approx(sy, abs=1e-12)
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    np.testing.assert_allclose(w_lon, lon, atol=1e-7, rtol=0)
    np.testing.assert_allclose(w_lat, lat, atol=1e-7, rtol=0)


def test_one_step_inverse_would_not_be_accurate_enough() -> None:
    # guards the claim that iteration matters: g - d(g) misses by metres somewhere
    rng = np.random.default_rng(7)
    lon = rng.uniform(97.2, 126.1, 2000)
    lat = rng.uniform(37.4, 53.4, 2000)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    d_lon, d_lat = wgs84_to_gcj02(g_lon, g_lat)
    one_step_lon = g_lon - (d_lon - g_lon)
    one_step_lat = g_lat - (d_lat - g_lat)
    assert np.max(distance_m(one_step_lon, one_step_lat, lon, lat)) > 0.1
    w_lon, w_lat = gcj02_to_wgs84(g_lon, g_lat)
    assert np.max(distance_m(w_lon, w_lat, lon, lat)) < 0.01


# Inner Mongolia fills about a third of its bounding box: most draws are filtered out
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(im_lon, im_lat)
def test_offset_magnitude_in_inner_mongolia_is_plausible(lon: float, lat: float) -> None:
    assume(shapely.intersects_xy(inner_mongolia(), lon, lat))
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert 100.0 <= float(distance_m(lon, lat, g_lon, g_lat)) <= 700.0


def test_published_reference_pair_beijing_railway_station() -> None:
    # WGS-84 (39.90105, 116.42079) -> GCJ-02 (39.90245, 116.42703), both rounded to 1e-5
    g_lon, g_lat = wgs84_to_gcj02(116.42079, 39.90105)
    assert float(distance_m(g_lon, g_lat, 116.42703, 39.90245)) < 1.2
    w_lon, w_lat = gcj02_to_wgs84(116.42703, 39.90245)
    assert float(distance_m(w_lon, w_lat, 116.42079, 39.90105)) < 1.2


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(37.62, 55.75), (-74.0, 40.7), (139.69, 35.69), (151.2, -33.9), (70.0, 40.0)],
)
def test_outside_the_box_is_unchanged(lon: float, lat: float) -> None:
    assert not in_china_box(lon, lat)
    assert wgs84_to_gcj02(lon, lat) == (lon, lat)
    assert gcj02_to_wgs84(lon, lat) == (lon, lat)


def test_inside_override() -> None:
    ulaanbaatar = (106.917, 47.918)
    # the conventional box contains Mongolia, so the default rule shifts it ...
    assert in_china_box(*ulaanbaatar)
    assert wgs84_to_gcj02(*ulaanbaatar) != ulaanbaatar
    # ... and a caller that knows better can say it is outside China
    assert wgs84_to_gcj02(*ulaanbaatar, inside=False) == ulaanbaatar
    assert gcj02_to_wgs84(*ulaanbaatar, inside=False) == ulaanbaatar
    # per-point masks broadcast with the points
    lon = np.array([106.917, 111.98])
    lat = np.array([47.918, 43.65])
    g_lon, g_lat = wgs84_to_gcj02(lon, lat, inside=np.array([False, True]))
    assert (g_lon[0], g_lat[0]) == (lon[0], lat[0])
    assert (g_lon[1], g_lat[1]) == wgs84_to_gcj02(111.98, 43.65)
    # forcing the offset outside the box works too (used for boundary data)
    assert wgs84_to_gcj02(37.62, 55.75, inside=True) != (37.62, 55.75)


@settings(max_examples=200, deadline=None)
@given(china_lon, china_lat)
def test_bd09_round_trips(lon: float, lat: float) -> None:
    b_lon, b_lat = gcj02_to_bd09(lon, lat)
    g_lon, g_lat = bd09_to_gcj02(b_lon, b_lat)
    assert abs(g_lon - lon) < 1e-7
    assert abs(g_lat - lat) < 1e-7
    b_lon, b_lat = wgs84_to_bd09(lon, lat)
    w_lon, w_lat = bd09_to_wgs84(b_lon, b_lat)
    assert abs(w_lon - lon) < 1e-7
    assert abs(w_lat - lat) < 1e-7


@settings(max_examples=100, deadline=None)
@given(im_lon, im_lat)
def test_bd09_is_gcj02_plus_baidu_step(lon: float, lat: float) -> None:
    g = wgs84_to_gcj02(lon, lat)
    assert wgs84_to_bd09(lon, lat) == gcj02_to_bd09(*g)
    # Baidu's extra step moves points by roughly a kilometre (0.0065 deg, 0.006 deg)
    b_lon, b_lat = gcj02_to_bd09(*g)
    assert 500.0 < float(distance_m(g[0], g[1], b_lon, b_lat)) < 1200.0


def test_arrays_of_other_shapes_and_lists() -> None:
    lon = np.full((2, 3), 111.98)
    lat = np.full((2, 3), 43.65)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    assert g_lon.shape == (2, 3)
    assert g_lat.dtype == np.float64
    l_lon, _ = wgs84_to_gcj02([111.98, 111.98], [43.65, 43.65])
    assert l_lon.shape == (2,)
    assert l_lon[0] == g_lon[0, 0]


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-180, 180, allow_nan=False),
    lat=st.floats(-90, 90, allow_nan=False),
)
def test_points_outside_china_are_never_fed_to_the_offset_formula(lon: float, lat: float) -> None:
    """Outside the China box every converter returns the point unchanged without a numpy
    warning (near the poles the offset's cos(lat) term overflowed: a 500 in a what-if)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = gcj02_to_wgs84(lon, lat)
        there = wgs84_to_gcj02(lon, lat)
    if not bool(in_china_box(lon, lat)):
        assert back == (lon, lat) and there == (lon, lat)
    assert all(math.isfinite(v) for v in (*back, *there))
