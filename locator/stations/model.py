"""Station and port records: the schema planners import and the API serves.

Three kinds of station come from the regional union federation's report on the border
ports (see ``docs/stations.md``): cross-border truck drivers' stations, union-run worker
homes, and posts for outdoor workers. Every record says where it came from (``source``)
and how good its position is (``location_accuracy_m``, ``location_approximate``).

Coordinates are WGS 84 ``(lon, lat)``; NaN, infinities and out-of-range values are
rejected by the types themselves. GeoJSON helpers follow RFC 7946 (``[lon, lat]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from locator.errors import InvalidCoordinateError, InvalidParameterError
from locator.stations.hours import OpeningHours

SLUG_PATTERN = r"^[a-z0-9](?:[a-z0-9_-]{0,62}[a-z0-9])?$"
"""Ids: 1-64 lowercase ASCII letters, digits, ``-`` or ``_``; no leading/trailing separator."""

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN)]
#: Longest free text (``source``, ``notes``) and name a record may carry: a record is
#: something a planner types, not a document store.
MAX_TEXT_CHARS = 2000
MAX_NAME_CHARS = 200
MAX_HOURS_CHARS = 500

_CONTROL = {chr(c) for c in range(32)} - {"\t", "\n", "\r"} | {"\x7f"}


def _printable(text: str) -> str:
    """Free text may hold tabs and line breaks, no other control characters (a NUL
    cannot even be stored in PostgreSQL)."""
    bad = sorted({f"U+{ord(ch):04X}" for ch in text if ch in _CONTROL})
    if bad:
        raise ValueError(f"control characters are not allowed: {', '.join(bad[:5])}")
    return text


Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TEXT_CHARS),
    AfterValidator(_printable),
]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_CHARS),
    AfterValidator(_printable),
]
Longitude = Annotated[
    float,
    Field(ge=-180.0, le=180.0, allow_inf_nan=False, description="WGS 84 longitude, degrees"),
]
Latitude = Annotated[
    float,
    Field(ge=-90.0, le=90.0, allow_inf_nan=False, description="WGS 84 latitude, degrees"),
]
AccuracyM = Annotated[
    float,
    Field(
        gt=0.0,
        allow_inf_nan=False,
        description="Radius (m) within which the true position is believed to lie",
    ),
]


class StationKind(StrEnum):
    """The three kinds of station the product indexes."""

    driver_station = "driver_station"
    """司机之家 / 中俄蒙司机驿站 / 国际司机之家: rest stops for cross-border truck drivers."""
    worker_home = "worker_home"
    """职工之家: union-run homes for rest, activities, training and counselling."""
    outdoor_worker_post = "outdoor_worker_post"
    """户外劳动者服务驿站 / 工会驿站: water, hot meals, rest and toilets for outdoor workers."""


class Service(StrEnum):
    """Services a station may offer (drivers filter on these)."""

    drinking_water = "drinking_water"  # 喝水
    hot_meals = "hot_meals"  # 热饭
    rest = "rest"  # 歇脚
    toilet = "toilet"  # 如厕
    wifi = "wifi"
    reading_room = "reading_room"  # 职工书屋
    counselling = "counselling"  # 心理辅导
    overnight_lodging = "overnight_lodging"  # 长时住宿
    truck_parking = "truck_parking"
    activity_space = "activity_space"


class LocalizedName(BaseModel):
    """A place or station name in the users' languages.

    At least ``zh`` or ``en`` is required. ``mn`` is Mongolian in Cyrillic script,
    ``mn_mong`` the traditional Mongolian script (only where known), ``ru`` Russian.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    zh: Name | None = Field(default=None, description="Chinese (simplified)")
    en: Name | None = Field(default=None, description="English / pinyin")
    mn: Name | None = Field(default=None, description="Mongolian, Cyrillic script")
    ru: Name | None = Field(default=None, description="Russian")
    mn_mong: Name | None = Field(default=None, description="Mongolian, traditional script")

    @model_validator(mode="after")
    def _zh_or_en(self) -> Self:
        if self.zh is None and self.en is None:
            raise ValueError("a name needs at least 'zh' or 'en'")
        return self

    def best(self, lang: str = "en") -> str:
        """The name in ``lang`` if present, else English, else Chinese."""
        value = getattr(self, lang, None) if lang in type(self).model_fields else None
        chosen = value or self.en or self.zh
        assert chosen is not None  # guaranteed by the validator
        return str(chosen)


def _check_unique(values: list[Any], what: str) -> None:
    seen: set[Any] = set()
    for v in values:
        if v in seen:
            raise ValueError(f"duplicate {what} {str(v)!r}")
        seen.add(v)


class Station(BaseModel):
    """One station: the import record for planners and the unit the store holds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug = Field(description=f"Short stable slug matching {SLUG_PATTERN}")
    kind: StationKind
    name: LocalizedName
    port_id: Slug | None = Field(default=None, description="Port the station serves")
    lon: Longitude
    lat: Latitude
    services: list[Service] = Field(default_factory=list, description="Unique services")
    capacity_people: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="People served at once or per day as reported; null if unknown"
    )
    area_m2: Annotated[float, Field(gt=0.0, allow_inf_nan=False)] | None = Field(
        default=None, description="Floor area in square metres where reported"
    )
    opening_hours: str = Field(
        default="24/7",
        max_length=MAX_HOURS_CHARS,
        description="Subset of OSM opening_hours, see docs/stations.md",
    )
    source: Text = Field(description="Where the record comes from (citation)")
    location_accuracy_m: AccuracyM
    location_approximate: bool = Field(
        default=True, description="True unless the position was surveyed"
    )
    notes: Text | None = None

    @field_validator("services")
    @classmethod
    def _unique_services(cls, value: list[Service]) -> list[Service]:
        _check_unique(value, "service")
        return value

    @field_validator("opening_hours")
    @classmethod
    def _valid_hours(cls, value: str) -> str:
        OpeningHours.parse(value)  # OpeningHoursError is a ValueError: pydantic reports it
        return value.strip()

    @property
    def hours(self) -> OpeningHours:
        """Parsed :attr:`opening_hours`."""
        return OpeningHours.parse(self.opening_hours)

    def properties(self) -> dict[str, Any]:
        """JSON-ready fields except the coordinates (the GeoJSON ``properties``)."""
        data = self.model_dump(mode="json", exclude={"lon", "lat"})
        data["name"] = {k: v for k, v in data["name"].items() if v is not None}
        return data

    def to_feature(self) -> dict[str, Any]:
        """An RFC 7946 Point feature (``coordinates`` = ``[lon, lat]``)."""
        return {
            "type": "Feature",
            "id": self.id,
            "geometry": {"type": "Point", "coordinates": [self.lon, self.lat]},
            "properties": self.properties(),
        }

    @classmethod
    def from_feature(cls, feature: dict[str, Any]) -> Station:
        """Build from a GeoJSON Point feature made by :meth:`to_feature` (or by hand).

        Raises
        ------
        ValueError
            If the feature is not a Point feature with two numeric coordinates; pydantic's
            ``ValidationError`` (also a ``ValueError``) for invalid fields.
        """
        return cls.model_validate(feature_to_record(feature))


def feature_to_record(feature: Any) -> dict[str, Any]:
    """Flatten a GeoJSON Point feature into a :class:`Station` record dict.

    Raises
    ------
    ValueError
        Naming the problem with the feature's structure or geometry.
    """
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValueError("not a GeoJSON Feature object")
    geometry = feature.get("geometry")
    if not isinstance(geometry, dict) or geometry.get("type") != "Point":
        raise ValueError("geometry must be a GeoJSON Point")
    coords = geometry.get("coordinates")
    if not isinstance(coords, list | tuple) or len(coords) not in (2, 3):
        raise ValueError("Point coordinates must be [lon, lat] (optionally with elevation)")
    props = feature.get("properties") or {}
    if not isinstance(props, dict):
        raise ValueError("properties must be an object")
    record = dict(props)
    if "id" not in record and feature.get("id") is not None:
        record["id"] = feature["id"]
    record["lon"], record["lat"] = coords[0], coords[1]
    return record


def merge_patch(record: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """A station record with a JSON merge patch (RFC 7396) applied.

    Only the fields given change; ``null`` resets a field to its default; ``name`` is
    merged language by language (a ``null`` language removes it). The id cannot change
    and the position cannot be removed.

    Raises
    ------
    InvalidParameterError
        ``changes`` is not an object, or it changes the id.
    InvalidCoordinateError
        It removes ``lon`` or ``lat``.
    """
    if not isinstance(changes, Mapping):
        raise InvalidParameterError("a merge patch must be a JSON object", parameter="patch")
    out = dict(record)
    for field, value in changes.items():
        if field == "id":
            if value != record.get("id"):
                raise InvalidParameterError("the id of a station cannot change", parameter="id")
        elif field in ("lon", "lat") and value is None:
            raise InvalidCoordinateError("lon and lat cannot be removed")
        elif field == "name" and isinstance(value, Mapping):
            names = {**(out.get("name") or {}), **value}
            out["name"] = {k: v for k, v in names.items() if v is not None}
        elif value is None:
            out.pop(field, None)
        else:
            out[field] = value
    return out


class Port(BaseModel):
    """A land border port (口岸) named in the report."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Slug
    name: LocalizedName
    league: LocalizedName = Field(description="League or prefecture-level city (zh and en)")
    country_across: Literal["RU", "MN"]
    town_across: LocalizedName
    transport: list[Literal["road", "rail"]] = Field(min_length=1)
    lon: Longitude
    lat: Latitude
    location_accuracy_m: AccuracyM
    source: Text
    notes: Text | None = None

    @field_validator("league")
    @classmethod
    def _league_zh_en(cls, value: LocalizedName) -> LocalizedName:
        if value.zh is None or value.en is None:
            raise ValueError("league needs both 'zh' and 'en'")
        return value

    @field_validator("transport")
    @classmethod
    def _unique_transport(cls, value: list[str]) -> list[str]:
        _check_unique(value, "transport mode")
        return value


def station_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one :class:`Station` record (the import format).

    In GeoJSON the same fields are a feature's ``properties`` and ``lon``/``lat`` move to
    ``geometry.coordinates``; in CSV ``name`` is split into ``name_zh`` ... columns.
    """
    schema = Station.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://border-station-locator.example/schemas/station.json"
    schema["title"] = "Station"
    return schema


def port_json_schema() -> dict[str, Any]:
    """JSON Schema of one :class:`Port` record."""
    schema = Port.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Port"
    return schema
