"""Station and port models: validation, GeoJSON helpers, JSON Schema."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from locator.stations import (
    LocalizedName,
    Port,
    Service,
    Station,
    StationKind,
    station_json_schema,
)


def record(**overrides):
    base = {
        "id": "mzl-01",
        "kind": "driver_station",
        "name": {"zh": "满洲里司机之家", "en": "Manzhouli Drivers' Home"},
        "port_id": "manzhouli",
        "lon": 117.4,
        "lat": 49.6,
        "services": ["rest", "drinking_water"],
        "source": "test",
        "location_accuracy_m": 500,
    }
    base.update(overrides)
    return base


def error_fields(exc: ValidationError) -> set[str]:
    return {".".join(str(p) for p in e["loc"]) for e in exc.errors()}


def test_valid_station_defaults():
    s = Station.model_validate(record())
    assert s.kind is StationKind.driver_station
    assert s.services == [Service.rest, Service.drinking_water]
    assert s.opening_hours == "24/7"
    assert s.location_approximate is True
    assert s.hours.always_open


def bad_coordinate(limit: float):
    """NaN, infinities and finite values outside [-limit, limit]."""
    return (
        st.sampled_from([math.nan, math.inf, -math.inf])
        | st.floats(min_value=limit, max_value=1e12, exclude_min=True)
        | st.floats(min_value=-1e12, max_value=-limit, exclude_max=True)
    )


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_bad_coordinates_rejected(data):
    field = data.draw(st.sampled_from(["lon", "lat"]))
    value = data.draw(bad_coordinate(180.0 if field == "lon" else 90.0))
    with pytest.raises(ValidationError) as info:
        Station.model_validate(record(**{field: value}))
    assert error_fields(info.value) == {field}


def test_latitude_range_is_90():
    with pytest.raises(ValidationError):
        Station.model_validate(record(lat=90.5))
    Station.model_validate(record(lat=90.0, lon=-180.0))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"kind": "hotel"}, "kind"),
        ({"services": ["rest", "sauna"]}, "services.1"),
        ({"services": ["rest", "rest"]}, "services"),
        ({"id": "Bad Id"}, "id"),
        ({"id": "-lead"}, "id"),
        ({"id": "x" * 65}, "id"),
        ({"opening_hours": "Mo-Fr"}, "opening_hours"),
        ({"source": "  "}, "source"),
        ({"location_accuracy_m": 0}, "location_accuracy_m"),
        ({"location_accuracy_m": math.nan}, "location_accuracy_m"),
        ({"area_m2": -1.0}, "area_m2"),
        ({"capacity_people": -3}, "capacity_people"),
        ({"name": {"mn": "Манжуур"}}, "name"),
        ({"colour": "red"}, "colour"),
        ({"name": {"zh": "站\x00一"}}, "name.zh"),
        ({"notes": "bell\x07"}, "notes"),
        ({"source": "a" * 2001}, "source"),
        ({"name": {"en": "n" * 201}}, "name.en"),
    ],
)
def test_invalid_fields_are_named(overrides, field):
    with pytest.raises(ValidationError) as info:
        Station.model_validate(record(**overrides))
    assert field in error_fields(info.value)


def test_missing_required_fields():
    raw = record()
    for key in ("id", "kind", "lon", "source", "location_accuracy_m"):
        raw.pop(key)
    with pytest.raises(ValidationError) as info:
        Station.model_validate(raw)
    assert error_fields(info.value) == {"id", "kind", "lon", "source", "location_accuracy_m"}


def test_localized_name_needs_zh_or_en_and_best():
    n = LocalizedName(zh="二连浩特", mn="Эрээн")
    assert n.best("mn") == "Эрээн"
    assert n.best("ru") == "二连浩特"
    with pytest.raises(ValidationError):
        LocalizedName(mn="Эрээн", ru="Эрэн-Хото")


def test_feature_round_trip_uses_lon_lat_order():
    s = Station.model_validate(record(name={"zh": "甲", "mn": "А"}))
    f = s.to_feature()
    assert f["geometry"] == {"type": "Point", "coordinates": [117.4, 49.6]}
    assert f["properties"]["name"] == {"zh": "甲", "mn": "А"}
    assert "lon" not in f["properties"]
    assert Station.from_feature(json.loads(json.dumps(f))) == s


@pytest.mark.parametrize(
    "feature",
    [
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [1]}},
        {"type": "Feature", "geometry": None},
        {"type": "Polygon"},
    ],
)
def test_from_feature_rejects_non_points(feature):
    with pytest.raises(ValueError, match=r"Point|Feature"):
        Station.from_feature(feature)


def test_port_model():
    p = Port.model_validate(
        {
            "id": "erenhot",
            "name": {"zh": "二连浩特", "en": "Erenhot"},
            "league": {"zh": "锡林郭勒盟", "en": "Xilingol"},
            "country_across": "MN",
            "town_across": {"en": "Zamyn-Üüd", "mn": "Замын-Үүд"},
            "transport": ["road", "rail"],
            "lon": 111.95,
            "lat": 43.69,
            "location_accuracy_m": 3000,
            "source": "test",
        }
    )
    assert p.transport == ["road", "rail"]
    bad = p.model_dump()
    bad["league"] = {"zh": "锡林郭勒盟"}
    with pytest.raises(ValidationError, match="league"):
        Port.model_validate(bad)
    bad = p.model_dump() | {"country_across": "KZ"}
    with pytest.raises(ValidationError):
        Port.model_validate(bad)
    bad = p.model_dump() | {"transport": ["road", "road"]}
    with pytest.raises(ValidationError, match="duplicate"):
        Port.model_validate(bad)


def test_json_schema_lists_enums_and_bounds():
    schema = station_json_schema()
    assert schema["title"] == "Station"
    assert set(schema["required"]) >= {"id", "kind", "name", "lon", "lat", "source"}
    props = schema["properties"]
    assert props["lon"]["minimum"] == -180
    assert props["lon"]["maximum"] == 180
    assert props["lat"]["minimum"] == -90
    assert props["lat"]["maximum"] == 90
    kinds = schema["$defs"]["StationKind"]["enum"]
    assert kinds == [k.value for k in StationKind]
    assert schema["$defs"]["Service"]["enum"] == [s.value for s in Service]
    json.dumps(schema)  # serialisable
