"""Response and request models of the HTTP API (OpenAPI documentation and validation).

Routes build their GeoJSON bodies with :mod:`api.geojson` and return them directly (for
speed and ETags); these models describe those bodies, and the test suite checks real
responses against them (schemathesis).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from locator.stations import Latitude, Longitude, Service, StationKind

_POINT: dict[str, Any] = {"type": "Point", "coordinates": [117.3812, 49.5842]}
_STATION_PROPS: dict[str, Any] = {
    "id": "mzl-driver-home-01",
    "kind": "driver_station",
    "name": "Manzhouli Driver Home 1",
    "names": {"zh": "满洲里司机之家1", "en": "Manzhouli Driver Home 1"},
    "port_id": "manzhouli",
    "services": ["drinking_water", "rest", "toilet"],
    "capacity_people": None,
    "area_m2": None,
    "opening_hours": "24/7",
    "source": "sample placement",
    "location_accuracy_m": 2000.0,
    "location_approximate": True,
    "notes": None,
}
_STATION_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "id": "mzl-driver-home-01",
    "geometry": _POINT,
    "properties": _STATION_PROPS,
}


def _examples(*examples: Any) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": list(examples)})


class Geometry(BaseModel):
    """An RFC 7946 geometry (WGS 84, ``[lon, lat]``)."""

    model_config = ConfigDict(extra="allow")

    type: Literal[
        "Point",
        "LineString",
        "Polygon",
        "MultiPoint",
        "MultiLineString",
        "MultiPolygon",
        "GeometryCollection",
    ]
    coordinates: Any = None


class Link(BaseModel):
    """A link object (OGC API Features)."""

    href: str
    rel: str
    type: str | None = None
    title: str | None = None


class StationProperties(BaseModel):
    """Station fields; ``name`` is in the response language, ``names`` has them all."""

    id: str
    kind: StationKind
    name: str | None
    names: dict[str, str]
    port_id: str | None = None
    services: list[Service]
    capacity_people: int | None = None
    area_m2: float | None = None
    opening_hours: str
    source: str
    location_accuracy_m: float
    location_approximate: bool
    notes: str | None = None
    version: int | None = Field(
        default=None,
        description="Store version of the record (send it back in If-Match to edit safely)",
    )


class StationFeature(BaseModel):
    """A station as a GeoJSON Point feature."""

    model_config = _examples(_STATION_FEATURE)

    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: StationProperties


class StationCollection(BaseModel):
    """A page of stations (OGC API Features paging)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "type": "FeatureCollection",
                    "features": [_STATION_FEATURE],
                    "numberMatched": 41,
                    "numberReturned": 1,
                    "links": [
                        {
                            "href": "http://127.0.0.1:8000/v1/stations?limit=1",
                            "rel": "self",
                            "type": "application/geo+json",
                        },
                        {
                            "href": "http://127.0.0.1:8000/v1/stations?limit=1&offset=1",
                            "rel": "next",
                            "type": "application/geo+json",
                        },
                    ],
                }
            ]
        },
    )

    type: Literal["FeatureCollection"]
    features: list[StationFeature]
    numberMatched: int = Field(ge=0)  # noqa: N815 (OGC API Features member name)
    numberReturned: int = Field(ge=0)  # noqa: N815
    links: list[Link]


class StationPatch(BaseModel):
    """A JSON merge patch (RFC 7396) of a station: only the fields given change.

    ``null`` resets a field to its default; ``name`` is merged language by language.
    The id cannot change.
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "services": ["drinking_water", "rest", "toilet", "wifi"],
                    "opening_hours": "Mo-Su 07:00-23:00",
                },
                {
                    "lon": 111.978,
                    "lat": 43.654,
                    "location_accuracy_m": 5,
                    "location_approximate": False,
                },
            ]
        },
    )

    kind: StationKind | None = None
    name: dict[str, str | None] | None = None
    port_id: str | None = None
    lon: Longitude | None = None
    lat: Latitude | None = None
    services: list[Service] | None = None
    capacity_people: int | None = Field(default=None, ge=0)
    area_m2: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    opening_hours: str | None = None
    source: str | None = None
    location_accuracy_m: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    location_approximate: bool | None = None
    notes: str | None = None


class Step(BaseModel):
    """Consecutive road stretches sharing one name."""

    name: str | None
    distance_m: float
    duration_s: float


class RouteProperties(BaseModel):
    """Summary of a route."""

    mode: str
    duration_s: float = Field(ge=0)
    distance_m: float = Field(ge=0)
    steps: list[Step]
    crosses_border: bool = Field(description="The route leaves or enters China")
    border_crossings: list[list[float]] = Field(
        default_factory=list,
        description="Where the route passes the state border: [lon, lat] of the first point "
        "on the other side, in travel order",
    )


_ROUTE_FEATURE: dict[str, Any] = {
    "type": "Feature",
    "geometry": {"type": "LineString", "coordinates": [[117.39, 49.59], [117.3812, 49.5842]]},
    "properties": {
        "mode": "truck",
        "duration_s": 61.2,
        "distance_m": 1020.0,
        "steps": [{"name": "G301", "distance_m": 1020.0, "duration_s": 61.2}],
        "crosses_border": False,
        "border_crossings": [],
    },
}


class RouteToProperties(RouteProperties):
    """A route's summary and, when routing to a station, its id."""

    to_station_id: str | None = None


class RouteFeature(BaseModel):
    """A route as a LineString feature."""

    model_config = _examples(_ROUTE_FEATURE)

    type: Literal["Feature"]
    geometry: Geometry | None
    properties: RouteToProperties


class NearestProperties(RouteProperties):
    """One station reached, with the route to it."""

    rank: int = Field(ge=1)
    arrival_at: str | None = Field(
        default=None, description="depart_at + duration_s (ISO 8601), with depart_at"
    )
    open_on_arrival: bool | None = Field(
        default=None, description="Whether the opening hours include arrival_at"
    )
    hours_on_arrival: list[str] | None = Field(
        default=None,
        description="Opening spans (HH:MM-HH:MM) on the day of arrival; [] closed that day",
    )
    station: StationFeature


class NearestFeature(BaseModel):
    """Route LineString to a station; the station itself is in ``properties.station``."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry | None
    properties: NearestProperties


class QueryEcho(BaseModel):
    """The query point as used (converted to WGS 84) and the options applied."""

    lon: float
    lat: float
    crs: str
    mode: str


class NearestCollection(BaseModel):
    """Stations fastest to reach, nearest first."""

    model_config = _examples(
        {
            "type": "FeatureCollection",
            "query": {"lon": 117.39, "lat": 49.59, "crs": "wgs84", "mode": "truck"},
            "features": [
                {
                    **_ROUTE_FEATURE,
                    "id": "mzl-driver-home-01",
                    "properties": {
                        **_ROUTE_FEATURE["properties"],
                        "rank": 1,
                        "station": _STATION_FEATURE,
                    },
                }
            ],
        }
    )

    type: Literal["FeatureCollection"]
    query: QueryEcho
    features: list[NearestFeature]


class IsochroneProperties(BaseModel):
    """One service circle."""

    model_config = ConfigDict(extra="allow")

    minutes: float
    area_km2: float
    reached_length_m: float
    mode: str
    direction: Literal["to", "from"]
    station_id: str | None = None


class IsochroneFeature(BaseModel):
    """A service-circle polygon (``null`` geometry when nothing is reached)."""

    type: Literal["Feature"]
    geometry: Geometry | None
    properties: IsochroneProperties


class IsochroneCollection(BaseModel):
    """Nested service circles, largest first."""

    model_config = _examples(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [
                            [[117.3, 49.5], [117.4, 49.5], [117.4, 49.6], [117.3, 49.5]]
                        ],
                    },
                    "properties": {
                        "minutes": 15.0,
                        "area_km2": 27.3,
                        "reached_length_m": 27000.0,
                        "mode": "truck",
                        "direction": "to",
                        "station_id": "mzl-driver-home-01",
                    },
                }
            ],
        }
    )

    type: Literal["FeatureCollection"]
    features: list[IsochroneFeature]


class CoverageRow(BaseModel):
    """Coverage of one league or banner."""

    code: str
    name: str | None
    road_km: float
    covered_km: float
    share: float = Field(ge=0, le=1)
    demand_total: float
    demand_covered: float


class UncoveredFeature(BaseModel):
    """Road stretches outside every circle (MultiLineString, simplified)."""

    type: Literal["Feature"]
    geometry: Geometry | None
    properties: dict[str, Any]


class CoverageResponse(BaseModel):
    """What the stations of one kind cover within ``minutes``."""

    model_config = _examples(
        {
            "kind": "driver_station",
            "mode": "truck",
            "minutes": 15.0,
            "region": "manzhouli",
            "road_km": 812.4,
            "covered_km": 495.9,
            "share": 0.61,
            "demand_total": 3.0,
            "demand_covered": 2.0,
            "stations_used": 14,
            "rows": [
                {
                    "code": "150781",
                    "name": "Manzhouli",
                    "road_km": 300.1,
                    "covered_km": 200.0,
                    "share": 0.666,
                    "demand_total": 2.0,
                    "demand_covered": 2.0,
                }
            ],
            "uncovered": {
                "type": "Feature",
                "geometry": {
                    "type": "MultiLineString",
                    "coordinates": [[[117.0, 49.4], [117.1, 49.45]]],
                },
                "properties": {"length_km": 316.5, "simplify_m": 50.0},
            },
        }
    )

    kind: StationKind
    mode: str
    minutes: float
    region: str
    road_km: float
    covered_km: float
    share: float = Field(ge=0, le=1)
    demand_total: float = Field(description="Ports and worker homes (weight 1 each)")
    demand_covered: float
    stations_used: int
    rows: list[CoverageRow] = Field(description="Per banner inside a league, per league overall")
    uncovered: UncoveredFeature
    demand_points: DemandCollection | None = Field(
        default=None,
        description="The demand points inside the region, each covered or not",
    )


class DemandPointProperties(BaseModel):
    """One demand point of a coverage answer."""

    weight: float = Field(ge=0)
    covered: bool = Field(description="A station of the kind is within the minutes")
    minutes_to_station: float | None = Field(
        description="Travel time to the nearest station of the kind (null beyond the minutes)"
    )
    source: Literal["standing", "given"] = Field(
        description="standing: a port or worker home; given: a point sent with the request"
    )


class DemandPointFeature(BaseModel):
    """A demand point (GeoJSON Point feature)."""

    type: Literal["Feature"] = "Feature"
    geometry: dict[str, Any]
    properties: DemandPointProperties


class DemandCollection(BaseModel):
    """The demand points of a region (GeoJSON FeatureCollection)."""

    type: Literal["FeatureCollection"] = "FeatureCollection"
    features: list[DemandPointFeature]


class PlanRequest(BaseModel):
    """Ask for ``k`` new sites of ``kind`` maximising road length newly inside ``minutes``."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "driver_station",
                    "k": 3,
                    "minutes": 15,
                    "mode": "truck",
                    "region": "150700",
                },
            ]
        },
    )

    kind: StationKind
    k: int = Field(default=3, ge=1, description="Number of sites (at most Settings.max_k)")
    minutes: float = Field(default=15.0, gt=0, allow_inf_nan=False)
    mode: str | None = None
    region: str | None = Field(
        default=None, max_length=200, description="Admin code, port id or bbox"
    )
    crs: Literal["wgs84", "gcj02", "bd09"] = Field(
        default="wgs84", description="Datum of a bbox region"
    )
    within_country: bool = Field(
        default=True, description="Candidates only inside China (the national outline)"
    )
    objective: Literal["road", "demand"] = Field(
        default="road",
        description="road: maximise covered road length; demand: maximise covered demand "
        "weight (ports and worker homes, weight 1 each, plus `demand`)",
    )
    demand: list[DemandInput] = Field(
        default_factory=list,
        max_length=1000,
        description="Extra weighted demand points for objective=demand (at most "
        "Settings.max_points, 100 by default)",
    )


class WhatIfPoint(BaseModel):
    """A hypothetical new station (lon, lat in the request's crs)."""

    model_config = ConfigDict(extra="forbid")

    lon: float = Field(ge=-180, le=180, allow_inf_nan=False)
    lat: float = Field(ge=-90, le=90, allow_inf_nan=False)


class DemandInput(WhatIfPoint):
    """A weighted demand point (e.g. trucks a day at a crossing), in the request's crs."""

    weight: float = Field(default=1.0, ge=0, le=1e9, allow_inf_nan=False)


class WhatIfMove(WhatIfPoint):
    """A station moved to (lon, lat)."""

    id: str = Field(min_length=1, max_length=64)


class EvaluateRequest(BaseModel):
    """Coverage with hypothetical stations added, moved or removed (nothing is saved)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "driver_station",
                    "region": "152500",
                    "minutes": 15,
                    "add": [{"lon": 116.024, "lat": 43.919}],
                    "move": [],
                    "remove": ["erl-driver-home-06"],
                }
            ]
        },
    )

    kind: StationKind
    minutes: float = Field(default=15.0, gt=0, allow_inf_nan=False)
    mode: str | None = Field(default=None, max_length=32)
    region: str | None = Field(
        default=None, max_length=200, description="Admin code, port id or bbox"
    )
    crs: Literal["wgs84", "gcj02", "bd09"] = "wgs84"
    add: list[WhatIfPoint] = Field(default_factory=list, max_length=1000)
    move: list[WhatIfMove] = Field(default_factory=list, max_length=1000)
    remove: list[str] = Field(default_factory=list, max_length=1000)
    demand: list[DemandInput] = Field(
        default_factory=list,
        max_length=1000,
        description="Extra weighted demand points for this evaluation (e.g. imported "
        "truck counts), added to the ports and worker homes; at most Settings.max_points "
        "(100 by default) with the changes",
    )


class SiteProperties(BaseModel):
    """One suggested site: its gain is the increase of /v1/coverage's covered_km (road
    objective) or demand_covered (demand objective) if a station were added there (after
    the sites before it)."""

    rank: int = Field(ge=1)
    node: int
    gain: float = Field(description="The objective's gain, in demand_unit")
    cumulative_gain: float
    gain_m: float | None = Field(
        description="Road length newly covered by this site (m; null for objective=demand)"
    )
    cumulative_gain_m: float | None
    gain_km: float | None = Field(description="gain_m in km")
    cumulative_gain_km: float | None


class SiteFeature(BaseModel):
    """A suggested site."""

    type: Literal["Feature"]
    geometry: Geometry
    properties: SiteProperties


class PlanResponse(BaseModel):
    """Suggested sites in greedy order with their marginal gains."""

    model_config = _examples(
        {
            "type": "FeatureCollection",
            "kind": "driver_station",
            "mode": "truck",
            "minutes": 15.0,
            "demand_unit": "m of road",
            "total_demand": 4349329.2,
            "covered_before": 92975.0,
            "covered_after": 243600.0,
            "candidates_evaluated": 173,
            "features": [
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [114.513, 48.068]},
                    "properties": {
                        "rank": 1,
                        "node": 74,
                        "gain": 150625.0,
                        "cumulative_gain": 150625.0,
                        "gain_m": 150625.0,
                        "cumulative_gain_m": 150625.0,
                        "gain_km": 150.625,
                        "cumulative_gain_km": 150.625,
                    },
                }
            ],
        }
    )

    type: Literal["FeatureCollection"]
    kind: StationKind
    mode: str
    minutes: float
    objective: Literal["road", "demand"] = "road"
    demand_unit: str = Field(description="m of road (objective=road) or weight (demand)")
    total_demand: float
    covered_before: float
    covered_after: float
    candidates_evaluated: int
    features: list[SiteFeature]


class PortProperties(BaseModel):
    """A border port."""

    id: str
    name: str | None
    names: dict[str, str]
    league: str | None
    country_across: Literal["RU", "MN"]
    town_across: str | None
    transport: list[str]
    location_accuracy_m: float
    source: str
    notes: str | None = None


class PortFeature(BaseModel):
    """A port as a Point feature."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: PortProperties


class PortCollection(BaseModel):
    """The border ports."""

    model_config = _examples(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "erenhot",
                    "geometry": {"type": "Point", "coordinates": [111.95, 43.69]},
                    "properties": {
                        "id": "erenhot",
                        "name": "Erenhot",
                        "names": {"zh": "二连浩特", "en": "Erenhot"},
                        "league": "Xilingol League",
                        "country_across": "MN",
                        "town_across": "Zamyn-Üüd",
                        "transport": ["road", "rail"],
                        "location_accuracy_m": 2000.0,
                        "source": "report",
                        "notes": None,
                    },
                }
            ],
        }
    )

    type: Literal["FeatureCollection"]
    features: list[PortFeature]


class RegionProperties(BaseModel):
    """A league (prefecture level) or banner (county level)."""

    code: str
    level: str
    name: str | None
    names: dict[str, str]
    name_pinyin: str
    parent_code: str | None


class RegionFeature(BaseModel):
    """An admin unit; geometry only with ``geometry=true``."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry | None
    properties: RegionProperties


class RegionCollection(BaseModel):
    """Leagues and banners of Inner Mongolia."""

    model_config = _examples(
        {
            "type": "FeatureCollection",
            "features": [
                {
                    "type": "Feature",
                    "id": "150700",
                    "geometry": None,
                    "properties": {
                        "code": "150700",
                        "level": "league",
                        "name": "Hulunbuir",
                        "names": {"zh": "呼伦贝尔市", "en": "Hulunbuir"},
                        "name_pinyin": "Hulunbei'er",
                        "parent_code": "150000",
                    },
                }
            ],
        }
    )

    type: Literal["FeatureCollection"]
    features: list[RegionFeature]


class AuditEntry(BaseModel):
    """One change in the append-only audit log."""

    id: int
    actor: str
    at: str
    action: str
    station_id: str | None
    before: Any = None
    after: Any = None


class AuditLog(BaseModel):
    """Audit log entries, newest first."""

    model_config = _examples(
        {
            "entries": [
                {
                    "id": 3,
                    "actor": "api-key:ops",
                    "at": "2026-05-01T08:00:00+00:00",
                    "action": "delete",
                    "station_id": "erenhot-driver-home-new",
                    "before": {"id": "erenhot-driver-home-new"},
                    "after": None,
                }
            ]
        }
    )

    entries: list[AuditEntry]


class KeyInfo(BaseModel):
    """An API key without its secret."""

    key_id: str
    name: str
    created_at: str


class KeyList(BaseModel):
    """API keys known to the server (no secrets)."""

    model_config = _examples(
        {"keys": [{"key_id": "3fa2c1d0", "name": "ops", "created_at": "2026-05-01T08:00:00+00:00"}]}
    )

    keys: list[KeyInfo]


# ---------------------------------------------------------------------- trips
class TripRouteProperties(RouteProperties):
    """A route of a trip: the direct route (``role: route``) or, for the station asked for
    with ``via``, the legs to it and on from it."""

    role: Literal["route", "to_station", "from_station"]
    station_id: str | None = None


class TripRouteFeature(BaseModel):
    """A trip's route as a LineString feature."""

    type: Literal["Feature"]
    geometry: Geometry | None
    properties: TripRouteProperties


class TripStationProperties(StationProperties):
    """A station along the way: its fields plus when it comes and what it costs."""

    role: Literal["station"]
    rank: int = Field(ge=1, description="Order along the way (by reach_s)")
    reach_s: float = Field(ge=0, description="Driving time from the origin to the station")
    detour_s: float = Field(
        ge=0, description="Time the stop adds: reach_s + onward_s - the direct route's time"
    )
    onward_s: float = Field(ge=0, description="Driving time from the station to the destination")
    position_s: float = Field(
        ge=0, description="Where along the direct route the stop lies (seconds from the origin)"
    )
    arrival_at: str | None = Field(
        default=None, description="depart_at + reach_s (ISO 8601, China Standard Time)"
    )
    open_on_arrival: bool | None = Field(
        default=None, description="Whether the opening hours include arrival_at"
    )
    hours_on_arrival: list[str] | None = Field(
        default=None,
        description="Opening spans (HH:MM-HH:MM) on the day of arrival; [] closed that day",
    )


class TripStationFeature(BaseModel):
    """A station along the way as a Point feature."""

    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: TripStationProperties


class TripQuery(BaseModel):
    """The trip as used: ends in WGS 84 (on the road), mode, limits, departure."""

    model_config = ConfigDict(populate_by_name=True)

    from_: list[float] = Field(alias="from", description="Origin on the road [lon, lat]")
    to: list[float] = Field(description="Destination on the road [lon, lat]")
    crs: str
    mode: str
    max_detour_min: float | None = None
    depart_at: str | None = None


_TRIP_ROUTE = {
    **_ROUTE_FEATURE,
    "properties": {**_ROUTE_FEATURE["properties"], "role": "route", "station_id": None},
}
_TRIP_STATION = {
    **_STATION_FEATURE,
    "properties": {
        **_STATION_PROPS,
        "role": "station",
        "rank": 1,
        "reach_s": 612.4,
        "detour_s": 95.0,
        "onward_s": 21873.2,
        "position_s": 565.0,
        "arrival_at": "2026-12-01T22:10:12+08:00",
        "open_on_arrival": True,
    },
}
_TRIP_QUERY = {
    "from": [111.95, 43.69],
    "to": [111.67, 40.82],
    "crs": "wgs84",
    "mode": "truck",
    "max_detour_min": 15.0,
    "depart_at": "2026-12-01T22:00:00+08:00",
}


class TripStationsCollection(BaseModel):
    """The direct route (first feature, ``role: route``) and the stations along it by
    ``reach_s``; with ``via``, that station's two legs last."""

    model_config = _examples(
        {
            "type": "FeatureCollection",
            "query": _TRIP_QUERY,
            "features": [_TRIP_ROUTE, _TRIP_STATION],
        }
    )

    type: Literal["FeatureCollection"]
    query: TripQuery
    features: list[TripRouteFeature | TripStationFeature]


class RestRuleOut(BaseModel):
    """The driving-time rule a plan keeps."""

    name: str = Field(description="cn, aetr or custom")
    max_drive_s: float = Field(gt=0)
    min_rest_s: float = Field(ge=0)


class RestPlanSummary(BaseModel):
    """Totals of a rest plan (seconds)."""

    rule: RestRuleOut
    total_s: float = Field(ge=0, description="Driving plus rests, departure to arrival")
    driving_s: float = Field(ge=0)
    rest_s: float = Field(ge=0)
    direct_s: float = Field(ge=0, description="Driving time of the direct route, no stops")
    stops: int = Field(ge=0)
    depart_at: str | None = None
    arrive_at: str | None = None


class RestLegProperties(RouteProperties):
    """A driving leg (no longer than the rule's max_drive_s)."""

    role: Literal["leg"]
    leg: int = Field(ge=1)
    start_s: float = Field(ge=0, description="When the leg starts (seconds from departure)")


class RestLegFeature(BaseModel):
    type: Literal["Feature"]
    geometry: Geometry | None
    properties: RestLegProperties


class RestStopProperties(StationProperties):
    """A stop: the station and when the driver is there."""

    role: Literal["stop"]
    stop: int = Field(ge=1)
    arrival_s: float = Field(ge=0, description="Seconds from departure")
    departure_s: float = Field(ge=0)
    detour_s: float = Field(ge=0)
    arrival_at: str | None = None
    departure_at: str | None = None
    open_on_arrival: bool | None = None
    hours_on_arrival: list[str] | None = None


class RestStopFeature(BaseModel):
    type: Literal["Feature"]
    id: str
    geometry: Geometry
    properties: RestStopProperties


class RestPlanCollection(BaseModel):
    """The legs (LineStrings) and stops (Points) of a rest plan, in travel order."""

    model_config = _examples(
        {
            "type": "FeatureCollection",
            "query": {**_TRIP_QUERY, "to": [119.75, 49.21], "from": [117.376, 49.632]},
            "plan": {
                "rule": {"name": "cn", "max_drive_s": 14400.0, "min_rest_s": 1200.0},
                "total_s": 27172.0,
                "driving_s": 24772.0,
                "rest_s": 2400.0,
                "stops": 2,
                "direct_s": 24349.4,
                "depart_at": "2026-12-01T22:00:00+08:00",
                "arrive_at": "2026-12-02T05:32:52+08:00",
            },
            "features": [
                {
                    **_ROUTE_FEATURE,
                    "properties": {
                        **_ROUTE_FEATURE["properties"],
                        "role": "leg",
                        "leg": 1,
                        "start_s": 0.0,
                    },
                },
                {
                    **_STATION_FEATURE,
                    "properties": {
                        **_STATION_PROPS,
                        "role": "stop",
                        "stop": 1,
                        "arrival_s": 61.2,
                        "departure_s": 1261.2,
                        "detour_s": 0.0,
                        "arrival_at": "2026-12-01T22:01:01+08:00",
                        "departure_at": "2026-12-01T22:21:01+08:00",
                        "open_on_arrival": True,
                    },
                },
            ],
        }
    )

    type: Literal["FeatureCollection"]
    query: TripQuery
    plan: RestPlanSummary
    features: list[RestLegFeature | RestStopFeature]


class NavigationLink(BaseModel):
    """A link that opens a station in one navigation app."""

    app: Literal["amap", "baidu", "2gis", "osmand", "geo"]
    datum: Literal["wgs84", "gcj02", "bd09"]
    href: str


class NavigationLinks(BaseModel):
    """Hand-off links for one station."""

    model_config = _examples(
        {
            "station_id": "mzl-driver-home-01",
            "name": "Manzhouli Driver Home 1",
            "links": [
                {
                    "app": "amap",
                    "datum": "gcj02",
                    "href": "https://uri.amap.com/marker?position=117.387424,49.585385"
                    "&name=Manzhouli%20Driver%20Home%201&coordinate=gaode&callnative=1"
                    "&src=border-port-locator",
                }
            ],
        }
    )

    station_id: str
    name: str
    links: list[NavigationLink]
