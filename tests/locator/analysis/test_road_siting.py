"""Site suggestions on the coverage definition: interval algebra against a brute-force
grid, the region as intervals against coverage's clipping rule, and the gain identity
(adding a suggested site raises /v1/coverage's covered_km by exactly its gain)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from locator import Locator
from locator.analysis.road_siting import Line, intersect, measure_m, union
from locator.errors import InvalidParameterError, StationNotFoundError
from locator.network.reach import Intervals, merge_intervals
from locator.stations import Station


@st.composite
def _intervals(draw: st.DrawFn) -> Intervals:
    n = draw(st.integers(0, 8))
    road = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)), dtype=np.int64)
    a = np.array(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)), dtype=float) / 20
    b = np.array(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)), dtype=float) / 20
    return merge_intervals(road, np.minimum(a, b), np.maximum(a, b))


def _grid(iv: Intervals) -> np.ndarray:
    """Membership of 4 roads x 2,000 cells (cell midpoints), the brute-force reference."""
    x = (np.arange(2000) + 0.5) / 2000
    out = np.zeros((4, 2000), dtype=bool)
    for r, a, b in zip(iv.road.tolist(), iv.start.tolist(), iv.end.tolist(), strict=True):
        out[r] |= (x > a) & (x < b)
    return out


@settings(max_examples=200, deadline=None)
@given(a=_intervals(), b=_intervals())
def test_union_and_intersection_measure_like_a_fine_grid(a: Intervals, b: Intervals) -> None:
    lengths = np.array([100.0, 250.0, 1000.0, 40.0])
    ga, gb = _grid(a), _grid(b)

    def ref(mask: np.ndarray) -> float:
        return float((mask.sum(axis=1) / 2000 * lengths).sum())

    la, lb = Line.of(a), Line.of(b)
    assert measure_m(union(la, lb), lengths) == pytest.approx(ref(ga | gb), abs=1e-6)
    assert measure_m(intersect(la, lb), lengths) == pytest.approx(ref(ga & gb), abs=1e-6)
    assert measure_m(la, lengths) == pytest.approx(ref(ga), abs=1e-6)
    # results are disjoint and sorted (so they can be combined again)
    u = union(la, lb)
    assert np.all(u.lo[1:] > u.hi[:-1]) and np.all(u.hi > u.lo)


@pytest.fixture(scope="module")
def loc(regional_artifact: Path) -> Locator:
    out = Locator.open(regional_artifact)
    yield out
    out.close()


@pytest.mark.parametrize("region", ["152500", "150700"])
def test_each_gain_is_the_increase_of_covered_km(
    regional_artifact: Path, tmp_path: Path, loc: Locator, region: str
) -> None:
    """Xilingol and Hulunbuir: adding the suggested sites one by one to a copy of the
    artifact raises the coverage report's covered_km by exactly the cumulative gains; the
    figures before are the report's own; every site lies in the league and in China."""
    res = loc.suggest_sites(kind="driver_station", k=3, region=region)
    report = loc.coverage(kind="driver_station", region=region)
    assert res.total_demand / 1000 == pytest.approx(report.road_km, rel=1e-6)
    assert res.covered_before / 1000 == pytest.approx(report.covered_km, rel=1e-6)
    assert len(res.sites) == 3
    regions = loc.regions
    assert regions is not None
    poly = regions.polygon(region)
    for s in res.sites:
        assert poly.buffer(1e-6).contains(shapely.Point(s.lon, s.lat))
        assert bool(regions.in_china(s.lon, s.lat))
    copy = tmp_path / "copy"
    shutil.copytree(regional_artifact, copy)
    edited = Locator.open(copy)
    try:
        base = edited.stations()[0].model_dump()
        before = edited.coverage(kind="driver_station", region=region).covered_km
        for i, s in enumerate(res.sites):
            rec = {**base, "id": f"site-{i}", "lon": s.lon, "lat": s.lat, "port_id": None}
            rec["kind"] = "driver_station"
            edited.add_station(Station.model_validate(rec), actor="test")
            after = edited.coverage(kind="driver_station", region=region).covered_km
            assert after - before == pytest.approx(s.cumulative_gain / 1000, abs=1e-3)
        # the circle of a site never claims more road than it reaches at all
        first = res.sites[0]
        alone = edited.isochrones(lon=first.lon, lat=first.lat, minutes=[15])[0]
        assert first.gain <= alone.reached_length_m + 1e-3
    finally:
        edited.close()


def test_candidates_stay_in_the_country_unless_asked(loc: Locator) -> None:
    regions = loc.regions
    assert regions is not None
    whole = loc.suggest_sites(kind="driver_station", k=3)
    assert whole.sites and all(bool(regions.in_china(s.lon, s.lat)) for s in whole.sites)
    anywhere = loc.suggest_sites(kind="driver_station", k=3, within_country=False)
    assert anywhere.sites
    assert anywhere.sites[0].gain >= whole.sites[0].gain - 1e-6  # a wider choice
    with pytest.raises(InvalidParameterError, match="within_country"):
        loc.suggest_sites(kind="driver_station", k=1, within_country="yes")  # type: ignore[arg-type]


def test_stations_used_counts_the_stations_whose_circles_reach_the_region(loc: Locator) -> None:
    from locator.network.search import search

    net = loc.network
    regions = loc.regions
    assert regions is not None
    g = net.graph
    stations = loc.stations(kind="driver_station")
    counts = set()
    for code in ("152500", "150700", "152900"):
        report = loc.coverage(kind="driver_station", region=code)
        poly_xy = net.geometry.to_projected(regions.polygon(code))
        inside = shapely.contains_xy(poly_xy, g.node_x, g.node_y)
        expect = 0
        for station in stations:
            snap = loc.snap(station.lon, station.lat)
            opts = net.entries(snap, "truck", "to")
            t = search(
                net.mode("truck").reverse,
                [o.node for o in opts],
                [o.cost_s for o in opts],
                limit_s=900.0,
            ).time_s
            x, y = net.projector.forward(snap.snapped_lon, snap.snapped_lat)
            stands = bool(shapely.contains_xy(poly_xy, x, y))
            expect += bool(np.any(t[inside] <= 900.0)) or stands
        assert report.stations_used == expect, code
        counts.add(expect)
    assert len(counts) > 1  # no longer the same figure for every region


def test_what_if_equals_making_the_edits_for_real(
    regional_artifact: Path, tmp_path: Path, loc: Locator
) -> None:
    """evaluate_plan (nothing saved) gives the figures of the coverage report after the
    same additions, move and removal made for real on a copy of the artifact."""
    region = "152500"
    sites = loc.suggest_sites(kind="driver_station", k=2, region=region).sites
    add = [(s.lon, s.lat) for s in sites]
    drivers = [s for s in loc.stations(kind="driver_station") if s.id.startswith("erl-")]
    moved, removed = drivers[0], drivers[1]
    target = (sites[0].lon + 0.05, sites[0].lat)
    target = loc.snap(*target)
    new_pos = (target.snapped_lon, target.snapped_lat)
    before = loc.coverage(kind="driver_station", region=region)
    what_if = loc.evaluate_plan(
        kind="driver_station",
        region=region,
        add=add,
        move=[(moved.id, *new_pos)],
        remove=[removed.id],
    )
    assert loc.coverage(kind="driver_station", region=region) == before  # nothing saved
    copy = tmp_path / "copy"
    shutil.copytree(regional_artifact, copy)
    real = Locator.open(copy)
    try:
        base = real.stations()[0].model_dump()
        for i, (lon, lat) in enumerate(add):
            rec = {**base, "id": f"what-if-{i}", "lon": lon, "lat": lat, "port_id": None}
            rec["kind"] = "driver_station"
            real.add_station(Station.model_validate(rec), actor="test")
        st = real.station(moved.id)
        real.update_station(st.model_copy(update={"lon": new_pos[0], "lat": new_pos[1]}), actor="t")
        real.delete_station(removed.id, actor="test")
        after = real.coverage(kind="driver_station", region=region)
    finally:
        real.close()
    assert what_if.covered_km == pytest.approx(after.covered_km, abs=1e-6)
    assert what_if.share == pytest.approx(after.share, abs=1e-9)
    assert what_if.stations_used == after.stations_used
    assert [(r.code, round(r.covered_km, 6)) for r in what_if.rows] == [
        (r.code, round(r.covered_km, 6)) for r in after.rows
    ]
    assert what_if.covered_km > before.covered_km
    with pytest.raises(StationNotFoundError):
        loc.evaluate_plan(kind="driver_station", remove=["nope"])
    with pytest.raises(StationNotFoundError):
        loc.evaluate_plan(kind="worker_home", remove=[removed.id])  # another kind's station
    with pytest.raises(InvalidParameterError):
        loc.evaluate_plan(kind="driver_station", add="117,49")  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError):
        loc.evaluate_plan(kind="driver_station", move=[("x", 1.0)])  # type: ignore[list-item]
