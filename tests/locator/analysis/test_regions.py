"""Administrative units of Inner Mongolia (the committed derived file)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import box, mapping

from locator.analysis.regions import AdminUnit, AdminUnits
from locator.errors import ArtifactError, InvalidCoordinateError, RegionNotFoundError

ADMIN_FILE = Path(__file__).resolve().parents[3] / "geodata" / "data" / "admin_units.geojson.gz"
HULUNBUIR = "150700"
MANZHOULI = "150781"


@pytest.fixture(scope="module")
def units() -> AdminUnits:
    return AdminUnits.load(ADMIN_FILE)


def test_counts_and_levels(units: AdminUnits) -> None:
    leagues = units.leagues()
    banners = units.banners()
    assert len(leagues) == 12
    assert len(banners) == 103
    assert {u.level for u in leagues} == {"league"}
    assert {u.level for u in banners} == {"banner"}
    assert units.get("150000").level == "province"
    names = {u.name_en for u in leagues}
    assert {"Hulunbuir", "Xilingol League", "Alxa League", "Bayannur"} <= names
    assert all(u.name_zh and u.name_en and u.name_pinyin for u in leagues + banners)


def test_every_banner_parent_is_a_league(units: AdminUnits) -> None:
    league_codes = {u.code for u in units.leagues()}
    for banner in units.banners():
        assert banner.parent_code in league_codes
    assert sum(len(units.banners(code)) for code in league_codes) == 103
    for league in units.leagues():
        assert league.parent_code == "150000"


def test_representative_point_of_each_banner_locates_to_it(units: AdminUnits) -> None:
    banners = units.banners()
    pts = shapely.point_on_surface([b.geometry for b in banners])
    lon, lat = shapely.get_x(pts), shapely.get_y(pts)
    league_codes, banner_codes = units.locate(lon, lat)
    assert list(banner_codes) == [b.code for b in banners]
    assert list(league_codes) == [b.parent_code for b in banners]


def test_manzhouli_is_in_hulunbuir(units: AdminUnits) -> None:
    assert units.locate(117.43, 49.59) == (HULUNBUIR, MANZHOULI)


@pytest.mark.parametrize(
    ("lon", "lat"),
    [(106.917, 47.918), (111.90, 43.80), (116.42, 39.90), (117.45, 49.70)],
    ids=["ulaanbaatar", "zamyn-uud", "beijing", "zabaikalsk"],
)
def test_points_outside_inner_mongolia_return_none(
    units: AdminUnits, lon: float, lat: float
) -> None:
    assert units.locate(lon, lat) == (None, None)


def test_locate_matches_brute_force_on_random_points(units: AdminUnits) -> None:
    rng = np.random.default_rng(3)
    lon = rng.uniform(97.0, 126.5, 400)
    lat = rng.uniform(37.0, 53.6, 400)
    league_codes, banner_codes = units.locate(lon, lat)
    banners = units.banners()
    for i in range(lon.size):
        containing = [b.code for b in banners if shapely.intersects_xy(b.geometry, lon[i], lat[i])]
        assert banner_codes[i] == (containing[0] if containing else None)
        expected_league = units.get(containing[0]).parent_code if containing else None
        assert league_codes[i] == expected_league
    assert 0 < np.count_nonzero(banner_codes != None) < lon.size  # noqa: E711


def test_locate_keeps_shape(units: AdminUnits) -> None:
    lon = np.full((2, 2), 117.43)
    lat = np.full((2, 2), 49.59)
    league_codes, banner_codes = units.locate(lon, lat)
    assert league_codes.shape == (2, 2)
    assert set(banner_codes.ravel()) == {MANZHOULI}


def test_invalid_coordinates_raise(units: AdminUnits) -> None:
    with pytest.raises(InvalidCoordinateError):
        units.locate(float("nan"), 45.0)
    with pytest.raises(InvalidCoordinateError):
        units.locate(np.array([111.0, 200.0]), np.array([43.0, 43.0]))


def test_unknown_code_raises(units: AdminUnits) -> None:
    with pytest.raises(RegionNotFoundError):
        units.get("159999")
    with pytest.raises(LookupError):
        units.polygon("nope")
    with pytest.raises(RegionNotFoundError):
        units.banners("159999")


def test_polygons_nest(units: AdminUnits) -> None:
    province = units.polygon("150000")
    leagues = shapely.union_all([u.geometry for u in units.leagues()])
    assert shapely.symmetric_difference(province, leagues).area < 1e-6 * province.area
    for league in units.leagues():
        children = shapely.union_all([b.geometry for b in units.banners(league.code)])
        assert shapely.symmetric_difference(league.geometry, children).area < 1e-6 * (
            league.geometry.area
        )


def test_in_china(units: AdminUnits) -> None:
    assert units.in_china(111.98, 43.65) is True  # Erenhot
    assert units.in_china(106.917, 47.918) is False  # Ulaanbaatar
    mask = units.in_china(np.array([117.43, 117.45]), np.array([49.59, 49.70]))
    assert list(mask) == [True, False]  # Manzhouli, Zabaikalsk


def test_synthetic_units_and_validation(tmp_path: Path) -> None:
    league = AdminUnit("1", "league", "甲", "A", "Jia", None, None, box(0, 0, 2, 1))
    west = AdminUnit("11", "banner", "乙", "B", "Yi", None, "1", box(0, 0, 1, 1))
    east = AdminUnit("12", "banner", "丙", "C", "Bing", None, "1", box(1, 0, 2, 1))
    units = AdminUnits([league, west, east])
    assert units.locate(0.5, 0.5) == ("1", "11")
    assert units.locate(1.5, 0.5) == ("1", "12")
    assert units.locate(3.0, 0.5) == (None, None)
    with pytest.raises(ArtifactError):
        units.in_china(0.5, 0.5)  # no country outline in this set
    with pytest.raises(ArtifactError):
        AdminUnits(
            [league, AdminUnit("13", "banner", "丁", "D", "Ding", None, "9", box(0, 0, 1, 1))]
        )
    with pytest.raises(ArtifactError):
        AdminUnits([league, west, west])

    # round trip through a gzip GeoJSON file
    collection = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "properties": u.properties(), "geometry": mapping(u.geometry)}
            for u in (league, west, east)
        ],
    }
    path = tmp_path / "units.geojson.gz"
    path.write_bytes(gzip.compress(json.dumps(collection).encode()))
    loaded = AdminUnits.load(path)
    assert [b.code for b in loaded.banners("1")] == ["11", "12"]
    with pytest.raises(ArtifactError):
        AdminUnits.load(tmp_path / "missing.geojson.gz")
    (tmp_path / "bad.geojson").write_text('{"features": [{"properties": {}}]}')
    with pytest.raises(ArtifactError):
        AdminUnits.load(tmp_path / "bad.geojson")
