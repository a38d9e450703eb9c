"""The Python API is public too: every bad argument raises a locator.errors class naming it.

A matrix of the bad arguments found when the engine was tried from Python (kind="hotel",
services="hot_meals", k=2.5, lon=None, minutes=5, open_at as text, ...) and a property
test that throws junk at every argument of every public method: the only exceptions that
may come out are :class:`~locator.errors.LocatorError` subclasses.
"""

from __future__ import annotations

import contextlib
import math
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from locator import Locator
from locator.arguments import (
    check_bbox,
    check_instant,
    check_k,
    check_minutes,
    format_minutes,
    parse_bbox,
    parse_lonlat,
    parse_minutes,
)
from locator.errors import (
    InvalidCoordinateError,
    InvalidParameterError,
    LocatorError,
    RequestTooLargeError,
)
from locator.stations import CHINA_STANDARD_TIME

ERENHOT = (111.98, 43.65)


@pytest.fixture(scope="module")
def loc(regional_artifact: Path) -> Locator:
    return Locator.open(regional_artifact)


def _names(exc: LocatorError, name: str) -> bool:
    return exc.details.get("parameter") == name or name in exc.message


BAD_NEAREST: list[tuple[dict[str, Any], type[LocatorError], str]] = [
    ({"kind": "hotel"}, InvalidParameterError, "kind"),
    ({"kind": 3}, InvalidParameterError, "kind"),
    ({"services": ["sauna"]}, InvalidParameterError, "services"),
    ({"services": "hot_meals"}, InvalidParameterError, "services"),  # not letter by letter
    ({"services": 5}, InvalidParameterError, "services"),
    ({"k": 2.5}, InvalidParameterError, "k"),
    ({"k": "3"}, InvalidParameterError, "k"),
    ({"k": True}, InvalidParameterError, "k"),
    ({"k": 0}, InvalidParameterError, "k"),  # invalid (422), not too large (413)
    ({"k": -1}, InvalidParameterError, "k"),
    ({"k": 11}, RequestTooLargeError, "k"),
    ({"open_at": "2026-11-28T03:30"}, InvalidParameterError, "open_at"),
    ({"max_time_s": -5}, InvalidParameterError, "max_time_s"),
    ({"max_time_s": 0}, InvalidParameterError, "max_time_s"),
    ({"max_time_s": math.nan}, InvalidParameterError, "max_time_s"),
    ({"max_time_s": "1h"}, InvalidParameterError, "max_time_s"),
    ({"mode": "plane"}, InvalidParameterError, "mode"),
    ({"mode": 3}, InvalidParameterError, "mode"),
]


@pytest.mark.parametrize(("kwargs", "error", "name"), BAD_NEAREST)
def test_bad_nearest_arguments(loc: Locator, kwargs, error, name) -> None:
    with pytest.raises(error) as info:
        loc.nearest(*ERENHOT, **kwargs)
    assert type(info.value) is error
    assert _names(info.value, name), info.value.message


@pytest.mark.parametrize(
    ("lon", "lat"), [(None, 43.65), (111.98, None), ("111.98", 43.65), (math.nan, 43.65)]
)
def test_bad_coordinates_are_coordinate_errors(loc: Locator, lon, lat) -> None:
    with pytest.raises(InvalidCoordinateError):
        loc.nearest(lon, lat)
    with pytest.raises(InvalidCoordinateError):
        loc.route((lon, lat), ERENHOT)
    # isochrones take a point or a station: lon=None means "no point given"
    error = InvalidParameterError if None in (lon, lat) else InvalidCoordinateError
    with pytest.raises(error, match="lon"):
        loc.isochrones(lon=lon, lat=lat)


def test_bounded_search_message_names_the_bound(loc: Locator) -> None:
    with pytest.raises(LocatorError, match=r"within 0\.5 min"):
        loc.nearest(*ERENHOT, kind="driver_station", max_time_s=30, services=["rest"])
    assert format_minutes(-5.0).startswith("-")  # only ever called with checked bounds
    assert format_minutes(14_400.0) == "240 min"


BAD_CIRCLES: list[tuple[dict[str, Any], type[LocatorError], str]] = [
    ({"minutes": 5}, InvalidParameterError, "minutes"),
    ({"minutes": "5"}, InvalidParameterError, "minutes"),
    ({"minutes": []}, InvalidParameterError, "minutes"),
    ({"minutes": [0]}, InvalidParameterError, "minutes"),
    ({"minutes": [-5]}, InvalidParameterError, "minutes"),
    ({"minutes": [math.nan]}, InvalidParameterError, "minutes"),
    ({"minutes": ["5"]}, InvalidParameterError, "minutes"),
    ({"minutes": [61]}, RequestTooLargeError, "minutes"),
    ({"minutes": [1, 2, 3, 4, 5]}, RequestTooLargeError, "minutes"),
    ({"direction": "up"}, InvalidParameterError, "direction"),
    ({"shape": "square"}, InvalidParameterError, "shape"),
    ({"mode": "walk"}, InvalidParameterError, "mode"),  # the regional network has none
]


@pytest.mark.parametrize(("kwargs", "error", "name"), BAD_CIRCLES)
def test_bad_circle_arguments(loc: Locator, kwargs, error, name) -> None:
    with pytest.raises(error) as info:
        loc.isochrones(lon=ERENHOT[0], lat=ERENHOT[1], **kwargs)
    assert type(info.value) is error
    assert _names(info.value, name), info.value.message


def test_circles_need_one_place(loc: Locator) -> None:
    with pytest.raises(InvalidParameterError, match="station_id"):
        loc.isochrones(station_id="erl-driver-home-01", lon=ERENHOT[0], lat=ERENHOT[1])
    with pytest.raises(InvalidParameterError):
        loc.isochrones(lon=ERENHOT[0])
    with pytest.raises(InvalidParameterError, match="station_id"):
        loc.isochrones(station_id=5)  # type: ignore[arg-type]


BAD_COVERAGE: list[tuple[dict[str, Any], type[LocatorError], str]] = [
    ({"kind": "hotel"}, InvalidParameterError, "kind"),
    ({"kind": "driver_station", "minutes": "15"}, InvalidParameterError, "minutes"),
    ({"kind": "driver_station", "minutes": 0}, InvalidParameterError, "minutes"),
    ({"kind": "driver_station", "minutes": [15]}, InvalidParameterError, "minutes"),
    ({"kind": "driver_station", "minutes": 600}, RequestTooLargeError, "minutes"),
    ({"kind": "driver_station", "region": 5}, InvalidParameterError, "region"),
    ({"kind": "driver_station", "region": (1.0, 2.0, 3.0)}, InvalidCoordinateError, "region"),
    ({"kind": "driver_station", "demand": "x"}, InvalidParameterError, "demand"),
    ({"kind": "driver_station", "demand": [(111.98, 43.65)]}, InvalidParameterError, "demand"),
    (
        {"kind": "driver_station", "demand": [(111.98, 43.65, -1.0)]},
        InvalidParameterError,
        "demand",
    ),
]


@pytest.mark.parametrize(("kwargs", "error", "name"), BAD_COVERAGE)
def test_bad_coverage_arguments(loc: Locator, kwargs, error, name) -> None:
    with pytest.raises(error) as info:
        loc.coverage(**kwargs)
    assert type(info.value) is error
    assert _names(info.value, name), info.value.message


BAD_SITES: list[tuple[dict[str, Any], type[LocatorError], str]] = [
    ({"kind": "hotel", "k": 1}, InvalidParameterError, "kind"),
    ({"kind": "driver_station", "k": 0}, InvalidParameterError, "k"),
    ({"kind": "driver_station", "k": 2.5}, InvalidParameterError, "k"),
    ({"kind": "driver_station", "k": 50}, RequestTooLargeError, "k"),
    ({"kind": "driver_station", "k": 1, "minutes": -1}, InvalidParameterError, "minutes"),
    ({"kind": "driver_station", "k": 1, "max_candidates": 0}, InvalidParameterError, "max"),
]


@pytest.mark.parametrize(("kwargs", "error", "name"), BAD_SITES)
def test_bad_site_arguments(loc: Locator, kwargs, error, name) -> None:
    with pytest.raises(error) as info:
        loc.suggest_sites(**kwargs)
    assert type(info.value) is error
    assert _names(info.value, name), info.value.message


def test_bad_station_list_and_edit_arguments(loc: Locator) -> None:
    with pytest.raises(InvalidParameterError, match="kind"):
        loc.stations(kind="hotel")
    with pytest.raises(InvalidParameterError, match="services"):
        loc.stations(services="wifi")
    with pytest.raises(InvalidCoordinateError, match="bbox"):
        loc.stations(bbox=(1.0, 2.0, 3.0))
    with pytest.raises(InvalidParameterError, match="station"):
        loc.add_station({"id": "x"}, actor="test")  # type: ignore[arg-type]
    st = loc.stations()[0]
    with pytest.raises(InvalidParameterError, match="actor"):
        loc.update_station(st, actor="")
    with pytest.raises(InvalidParameterError, match="crs"):
        loc.to_wgs84(*ERENHOT, "epsg:4326")


# a value of any type an API caller might pass by mistake
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.one_of(st.integers(-5, 70), st.floats(), st.text(max_size=4)), max_size=6),
    st.tuples(st.floats(), st.floats()),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just(datetime(2026, 11, 28, 3, 30)),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=st.sampled_from(["nearest", "isochrones", "coverage", "suggest_sites", "route"]),
    name=st.sampled_from(
        [
            "kind",
            "services",
            "k",
            "mode",
            "open_at",
            "max_time_s",
            "minutes",
            "direction",
            "shape",
            "region",
            "demand",
            "lon",
            "lat",
            "station_id",
            "to",
        ]
    ),
    value=JUNK,
)
def test_junk_arguments_raise_only_locator_errors(loc: Locator, method, name, value) -> None:
    base: dict[str, dict[str, Any]] = {
        "nearest": {"lon": ERENHOT[0], "lat": ERENHOT[1], "kind": "driver_station"},
        "isochrones": {"lon": ERENHOT[0], "lat": ERENHOT[1], "minutes": [5]},
        "coverage": {"kind": "driver_station", "region": "152500"},
        "suggest_sites": {"kind": "driver_station", "k": 1, "region": "152501"},
        "route": {"from_lonlat": ERENHOT, "to": "erl-driver-home-01"},
    }
    accepted = {
        "nearest": {"lon", "lat", "mode", "kind", "services", "open_at", "k", "max_time_s"},
        "isochrones": {"lon", "lat", "station_id", "minutes", "mode", "direction", "shape"},
        "coverage": {"kind", "minutes", "mode", "region", "demand"},
        "suggest_sites": {"kind", "k", "minutes", "mode", "region"},
        "route": {"to", "mode"},
    }[method]
    if name not in accepted:
        return
    kwargs = dict(base[method])
    kwargs[name] = value
    if method == "nearest":
        lon, lat = kwargs.pop("lon"), kwargs.pop("lat")
        call = lambda: loc.nearest(lon, lat, **kwargs)  # noqa: E731
    elif method == "route":
        start = kwargs.pop("from_lonlat")
        call = lambda: loc.route(start, **kwargs)  # noqa: E731
    else:
        call = lambda: getattr(loc, method)(**kwargs)  # noqa: E731
    with contextlib.suppress(LocatorError):  # any other exception fails the test
        call()


# ---------------------------------------------------------------------- text parsers
def test_one_parser_each_for_text_arguments() -> None:
    assert parse_lonlat("111.98, 43.65", name="from") == (111.98, 43.65)
    assert parse_bbox("111.5,43.4,112.3,43.9") == (111.5, 43.4, 112.3, 43.9)
    assert parse_minutes("5, 10,,15") == [5.0, 10.0, 15.0]
    for bad in ("1,2,3", "a,b,c,d", "10,10,5,20", "nan,1,2,3", "0,0,200,10"):
        with pytest.raises(InvalidCoordinateError):
            parse_bbox(bad)
    for bad in ("1", "1,2,3", "x,y", "inf,2"):
        with pytest.raises(InvalidCoordinateError):
            parse_lonlat(bad, name="to")
    with pytest.raises(InvalidParameterError):
        parse_minutes("5,x")
    # the text parsers hand their values to the same checks as the Python API
    assert check_minutes(parse_minutes("15,5"), max_minutes=60, max_contours=4) == [5.0, 15.0]
    with pytest.raises(InvalidParameterError):
        check_minutes(parse_minutes("0"), max_minutes=60, max_contours=4)
    with pytest.raises(InvalidCoordinateError):
        check_bbox((112.3, 43.4, 111.5, 43.9))
    assert check_k(3, 10) == 3


def test_instants_are_china_standard_time() -> None:
    naive = check_instant(datetime(2026, 11, 28, 3, 30))
    assert naive is not None and naive.tzinfo is CHINA_STANDARD_TIME
    with pytest.raises(InvalidParameterError):
        check_instant(datetime(1, 1, 1, 0, 0).replace(tzinfo=CHINA_STANDARD_TIME))
    assert check_instant(None) is None
