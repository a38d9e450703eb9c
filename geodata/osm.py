"""Street-level :class:`~locator.network.graph.RoadGraph` from any OpenStreetMap extract.

This is the osmnx/NetworkX **reference** builder, sized for cities: it holds every segment
as a NetworkX edge. ``locator build`` uses :mod:`geodata.osm_stream` by default, which gives
the same graph from numpy arrays for province-sized extracts
(``tests/geodata/test_osm_stream.py`` compares the two); ``--osm-builder osmnx`` selects
this one. The helpers shared by both builders (filters, clip, speed summary, assembly)
live here.

Approach
--------
One code path serves ``.osm.pbf``, ``.osm`` and ``.osm.bz2`` (pyosmium reads all three):

1. **Read and clip** (pyosmium, C++ speed). Every way with a ``highway`` tag is read with
   its node locations. Each way is tested against osmnx's own Overpass filters for the
   ``"drive"`` and ``"walk"`` network types (taken from osmnx at run time and evaluated
   locally, so which highway classes and access tags count is exactly osmnx's rule); ways
   in neither network are dropped. The clip (``bbox`` and/or ``polygon``) keeps the nodes
   inside it; a way is cut into runs of consecutive kept nodes, which is what osmnx's
   ``truncate_graph_polygon(..., truncate_by_edge=False)`` does to an unsimplified graph.
   Nodes missing from the extract (ways cut by the extract's own boundary) end a run too.
2. **osmnx graph.** The clipped ways are written as OSM XML into a temporary directory and
   loaded with :func:`osmnx.graph_from_xml` (unsimplified, directed). osmnx thereby decides
   one-way handling (``oneway=yes/-1/reverse``, roundabouts) and segment lengths
   (great-circle metres).
3. **Speeds** (per unsimplified segment, on every drive segment inside the clip):
   :func:`osmnx.routing.add_edge_speeds` gives each segment its ``maxspeed`` where tagged
   (mph converted, implicit values such as ``RU:urban`` looked up by osmnx) and otherwise
   the mean tagged speed of its highway class. A class with no tagged segment at all gets
   :data:`DEFAULT_CLASS_KPH` (common in China, where few ways carry ``maxspeed``), and an
   unknown class :data:`FALLBACK_KPH`. Truck speed is ``min(car, truck_max_kph)``; walking
   speed is ``walk_kph`` everywhere. Segment travel times are summed when segments are
   merged, so an edge whose speed limit changes part-way keeps an exact time.
4. **Components.** As osmnx's ``retain_all=False``, each mode keeps only the largest weakly
   connected component of its own network (drive for car and truck, walk for walking):
   a car is never offered an island it cannot leave. Edges left with no mode are removed.
5. **Simplify** with :func:`osmnx.simplify_graph`; a node also stays an endpoint where the
   mode set, highway class or street name changes, so every edge has one class and name.
6. **Merge** into one directed :class:`RoadGraph`: drive edges allow car and truck in the
   direction(s) osmnx built them; every walkable edge allows walking, and walkable one-way
   edges get a walk-only reverse twin (pedestrians ignore ``oneway``). Footways and other
   walk-only ways allow neither car nor truck. Every edge keeps its polyline (both end
   nodes included) in WGS 84; ``node_x``/``node_y`` are in the UTM zone of the graph centre.

OSM data are © OpenStreetMap contributors, ODbL 1.0; coordinates are WGS 84.
"""

from __future__ import annotations

import logging
import math
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import version as _pkg_version
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from locator.network.graph import RoadGraph
from locator.network.projection import Projector, utm_crs_for

log = logging.getLogger(__name__)

#: File name endings this module reads (case-insensitive).
SUPPORTED_SUFFIXES = (".osm.pbf", ".pbf", ".osm", ".osm.bz2")

#: Car speed (km/h) for a highway class in which no segment carries a usable ``maxspeed``.
#: Chinese national defaults (Road Traffic Safety Law implementing regulations, art. 45-46,
#: and common posted limits); used only where the extract itself has no tagged value.
DEFAULT_CLASS_KPH: dict[str, float] = {
    "motorway": 100.0,
    "motorway_link": 60.0,
    "trunk": 80.0,
    "trunk_link": 50.0,
    "primary": 60.0,
    "primary_link": 40.0,
    "secondary": 50.0,
    "secondary_link": 40.0,
    "tertiary": 40.0,
    "tertiary_link": 30.0,
    "unclassified": 30.0,
    "residential": 30.0,
    "living_street": 10.0,
    "road": 30.0,
    "busway": 30.0,
}

#: Car speed (km/h) for drive classes missing from :data:`DEFAULT_CLASS_KPH`.
FALLBACK_KPH = 30.0

#: Name tags kept besides ``name`` (in ``graph.extra["name_i18n"]``).
NAME_LANGS = ("en", "zh", "ru", "mn")

_NO_SPEED = -1.0  # fallback handed to osmnx to mark classes without any tagged speed
_MODE_ATTRS = ("in_drive", "in_walk")


class OSMInputError(ValueError):
    """The OSM input cannot be used: missing, unsupported, corrupt or empty after clipping."""


# ----------------------------------------------------------------------------- filters
_CLAUSE = re.compile(r'\["([^"]+)"(?:(!?~)"([^"]*)")?\]')


@dataclass(frozen=True)
class WayFilter:
    """An Overpass tag filter (``["k"]``, ``["k"~"re"]``, ``["k"!~"re"]``) evaluated locally.

    Overpass regexes are unanchored and case-sensitive; ``!~`` also passes when the key is
    absent. Build one with :meth:`for_network`.
    """

    network_type: str
    clauses: tuple[tuple[str, str, re.Pattern[str] | None], ...]

    @classmethod
    def parse(cls, network_type: str, text: str) -> WayFilter:
        """Parse an Overpass filter string."""
        clauses: list[tuple[str, str, re.Pattern[str] | None]] = []
        pos = 0
        for match in _CLAUSE.finditer(text):
            if text[pos : match.start()].strip():
                raise ValueError(f"cannot parse filter near {text[pos : match.start()]!r}")
            key, op, pattern = match.groups()
            clauses.append((key, op or "has", re.compile(pattern) if op else None))
            pos = match.end()
        if text[pos:].strip():
            raise ValueError(f"cannot parse filter tail {text[pos:]!r}")
        return cls(network_type, tuple(clauses))

    @classmethod
    def for_network(cls, network_type: str) -> WayFilter:
        """osmnx's filter for ``network_type`` (``"drive"``, ``"walk"``, ...)."""
        from osmnx import _overpass  # the filter text is osmnx's single source of truth

        return cls.parse(network_type, _overpass._get_network_filter(network_type))

    def __call__(self, tags: Mapping[str, str]) -> bool:
        for key, op, pattern in self.clauses:
            value = tags.get(key)
            if op == "has":
                if value is None:
                    return False
            elif op == "~":
                if value is None or pattern is None or not pattern.search(value):
                    return False
            elif value is not None and pattern is not None and pattern.search(value):
                return False
        return True


# ----------------------------------------------------------------------------- reading
@dataclass
class _Ways:
    """Highway ways read from the extract, already clipped into node runs."""

    node_ids: dict[int, tuple[float, float]]
    piece_ids: list[int]
    piece_refs: list[list[int]]
    piece_tags: list[dict[str, str]]
    piece_modes: dict[int, tuple[bool, bool]]
    ways_read: int


def check_speed_args(truck_max_kph: float, walk_kph: float) -> None:
    """Raise :class:`OSMInputError` unless both speeds are in (0, 200] km/h."""
    for label, value in (("truck_max_kph", truck_max_kph), ("walk_kph", walk_kph)):
        if not (math.isfinite(value) and 0 < value <= 200):
            raise OSMInputError(f"{label} must be in (0, 200] km/h, got {value}")


def _check_input(path: Path) -> str:
    name = path.name.lower()
    suffix = next((s for s in SUPPORTED_SUFFIXES if name.endswith(s)), None)
    if suffix is None:
        raise OSMInputError(
            f"{path}: unsupported file type; expected one of {', '.join(SUPPORTED_SUFFIXES)}"
        )
    if not path.is_file():
        raise OSMInputError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise OSMInputError(f"{path}: file is empty")
    return suffix


def _clip_geometry(
    bbox: tuple[float, float, float, float] | None,
    polygon: Polygon | MultiPolygon | None,
) -> Polygon | MultiPolygon | None:
    clip: Polygon | MultiPolygon | None = None
    if bbox is not None:
        if len(bbox) != 4 or not all(math.isfinite(float(b)) for b in bbox):
            raise OSMInputError(f"bbox must be four finite numbers, got {bbox!r}")
        min_lon, min_lat, max_lon, max_lat = (float(b) for b in bbox)
        if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
            raise OSMInputError(
                f"bbox must be (min_lon, min_lat, max_lon, max_lat) in degrees, got {bbox!r}"
            )
        clip = box(min_lon, min_lat, max_lon, max_lat)
    if polygon is not None:
        if not isinstance(polygon, Polygon | MultiPolygon):
            raise OSMInputError(f"polygon must be a shapely (Multi)Polygon, got {type(polygon)}")
        if polygon.is_empty or not polygon.is_valid:
            raise OSMInputError("polygon is empty or invalid")
        clip = polygon if clip is None else clip.intersection(polygon)
        if clip.is_empty:
            raise OSMInputError("bbox and polygon do not overlap")
    return clip


def _read_ways(
    path: Path,
    clip: Polygon | MultiPolygon | None,
    *,
    progress: bool,
) -> _Ways:
    """Read highway ways in the drive or walk network and cut them to the clip."""
    import osmium
    from tqdm import tqdm

    drive, walk = WayFilter.for_network("drive"), WayFilter.for_network("walk")
    bounds = clip.bounds if clip is not None else None
    way_ids: list[int] = []
    way_modes: list[tuple[bool, bool]] = []
    way_tags: list[dict[str, str]] = []
    way_len: list[int] = []
    refs: list[int] = []
    lons: list[float] = []
    lats: list[float] = []
    ways_read = 0
    nan = math.nan
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        with tqdm(desc="reading highway ways", unit=" ways", disable=not progress) as bar:
            for way in processor:
                if not isinstance(way, osmium.osm.Way):  # the filters pass ways only
                    continue
                ways_read += 1
                bar.update()
                tags = dict(way.tags)
                modes = (drive(tags), walk(tags))
                if not any(modes):
                    continue
                pts = [
                    (n.ref, n.lon, n.lat) if n.location.valid() else (n.ref, nan, nan)
                    for n in way.nodes
                ]
                if len(pts) < 2:
                    continue
                if bounds is not None:
                    xs = [p[1] for p in pts if p[1] == p[1]]
                    ys = [p[2] for p in pts if p[2] == p[2]]
                    if (
                        not xs
                        or max(xs) < bounds[0]
                        or min(xs) > bounds[2]
                        or max(ys) < bounds[1]
                        or min(ys) > bounds[3]
                    ):
                        continue
                way_ids.append(way.id)
                way_modes.append(modes)
                way_tags.append(tags)
                way_len.append(len(pts))
                for ref, lon, lat in pts:
                    refs.append(ref)
                    lons.append(lon)
                    lats.append(lat)
    except RuntimeError as exc:  # osmium reports corrupt or unreadable files this way
        raise OSMInputError(f"{path}: cannot read OSM data: {exc}") from exc
    log.info("read %d highway ways, %d in the drive or walk network", ways_read, len(way_ids))

    lon_a = np.asarray(lons, dtype=np.float64)
    lat_a = np.asarray(lats, dtype=np.float64)
    keep = np.isfinite(lon_a) & np.isfinite(lat_a)
    if clip is not None and keep.any():
        inside = np.zeros_like(keep)
        inside[keep] = shapely.contains_xy(clip, lon_a[keep], lat_a[keep])
        # points exactly on the clip boundary count as inside
        edge = keep & ~inside
        if edge.any():
            inside[edge] = shapely.intersects_xy(clip, lon_a[edge], lat_a[edge])
        keep = inside

    node_ids: dict[int, tuple[float, float]] = {}
    piece_ids: list[int] = []
    piece_refs: list[list[int]] = []
    piece_tags: list[dict[str, str]] = []
    piece_modes: dict[int, tuple[bool, bool]] = {}
    next_synthetic = -1
    start = 0
    keep_list = keep.tolist()
    for wid, modes, tags, n in zip(way_ids, way_modes, way_tags, way_len, strict=True):
        runs: list[list[int]] = []
        run: list[int] = []
        for i in range(start, start + n):
            if keep_list[i]:
                run.append(i)
            else:
                if len(run) >= 2:
                    runs.append(run)
                run = []
        if len(run) >= 2:
            runs.append(run)
        whole = len(runs) == 1 and len(runs[0]) == n
        for run in runs:
            if whole:
                pid = wid
            else:  # a cut way: synthetic negative id, tags copied
                pid = next_synthetic
                next_synthetic -= 1
            piece_ids.append(pid)
            piece_refs.append([refs[i] for i in run])
            piece_tags.append(tags)
            piece_modes[pid] = modes
            for i in run:
                node_ids[refs[i]] = (lons[i], lats[i])
        start += n
    return _Ways(node_ids, piece_ids, piece_refs, piece_tags, piece_modes, ways_read)


def _write_xml(ways: _Ways, target: Path) -> None:
    import osmium

    writer = osmium.SimpleWriter(str(target))
    try:
        for nid in sorted(ways.node_ids):
            lon, lat = ways.node_ids[nid]
            writer.add_node(osmium.osm.mutable.Node(id=nid, location=osmium.osm.Location(lon, lat)))
        for pid, refs, tags in zip(ways.piece_ids, ways.piece_refs, ways.piece_tags, strict=True):
            writer.add_way(osmium.osm.mutable.Way(id=pid, nodes=refs, tags=tags))
    finally:
        writer.close()


# ----------------------------------------------------------------------------- graph steps
def _largest_wcc_edges(edges: list[tuple[int, int, int]]) -> set[tuple[int, int, int]]:
    """The subset of ``edges`` in the largest weakly connected component they form."""
    if not edges:
        return set()
    sub = nx.MultiDiGraph()
    sub.add_edges_from(edges)
    best = max(nx.weakly_connected_components(sub), key=len)
    return {e for e in edges if e[0] in best}


def _add_speeds(
    nxg: nx.MultiDiGraph, drive_edges: list[tuple[int, int, int]], truck_max_kph: float
) -> dict[str, Any]:
    """Set ``car_s``/``truck_s`` on every edge (0 off the drive network); return summary."""
    import osmnx as ox

    for _u, _v, data in nxg.edges(data=True):
        data["car_s"] = 0.0
        data["truck_s"] = 0.0
    if not drive_edges:
        return {}
    sub = nxg.edge_subgraph(drive_edges).copy()
    has_tag = any("maxspeed" in d for _u, _v, d in sub.edges(data=True))
    if has_tag:
        ox.routing.add_edge_speeds(sub, fallback=_NO_SPEED)
    else:
        for _u, _v, d in sub.edges(data=True):
            d["speed_kph"] = _NO_SPEED
    by_class: dict[str, dict[str, Any]] = {}
    groups: dict[str, list[tuple[bool, float]]] = {}
    for u, v, k, d in sub.edges(keys=True, data=True):
        hwy = str(d.get("highway"))
        speed = float(d["speed_kph"])
        if speed == _NO_SPEED:
            speed = DEFAULT_CLASS_KPH.get(hwy, FALLBACK_KPH)
        truck = min(speed, truck_max_kph)
        target = nxg.edges[u, v, k]
        target["car_kph"] = speed
        target["car_s"] = float(d["length"]) / (speed / 3.6)
        target["truck_s"] = float(d["length"]) / (truck / 3.6)
        groups.setdefault(hwy, []).append(("maxspeed" in d, speed))
        if float(d["speed_kph"]) == _NO_SPEED:
            by_class.setdefault(hwy, {})["source"] = "default"
    for hwy, values in sorted(groups.items()):
        untagged = [s for tagged, s in values if not tagged]
        mean = float(np.mean([s for _t, s in values]))
        by_class[hwy] = class_speed_entry(
            by_class.get(hwy, {}).get("source", "maxspeed_mean"),
            imputed_kph=untagged[0] if untagged else mean,
            truck_max_kph=truck_max_kph,
            segments=len(values),
            segments_with_maxspeed=len(values) - len(untagged),
            mean_kph=mean,
        )
    return {hwy: by_class[hwy] for hwy in sorted(by_class)}


def class_speed_entry(
    source: str,
    *,
    imputed_kph: float,
    truck_max_kph: float,
    segments: int,
    segments_with_maxspeed: int,
    mean_kph: float,
) -> dict[str, Any]:
    """One highway class's entry of ``speeds_kph["car_by_class"]`` (both OSM builders).

    ``source`` is ``"maxspeed_mean"`` (osmnx imputed the class from its tagged segments)
    or ``"default"`` (no usable tag in the class: :data:`DEFAULT_CLASS_KPH`).
    ``imputed_kph`` is the speed of an untagged segment of the class (the mean speed of all
    its segments when every segment is tagged).
    """
    return {
        "source": source,
        "imputed_kph": round(imputed_kph, 3),
        "truck_imputed_kph": round(min(imputed_kph, truck_max_kph), 3),
        "segments": segments,
        "segments_with_maxspeed": segments_with_maxspeed,
        "mean_kph": round(mean_kph, 3),
    }


def speeds_meta(
    by_class: dict[str, dict[str, Any]], truck_max_kph: float, walk_kph: float
) -> dict[str, Any]:
    """``RoadGraph.speeds_kph`` of a street graph (both OSM builders)."""
    return {
        "method": (
            "car: OSM maxspeed where tagged, else mean tagged speed of the highway class "
            "(osmnx.routing.add_edge_speeds per segment), else the class default; "
            "truck: min(car, truck_max_kph); walk: walk_kph"
        ),
        "truck_max_kph": float(truck_max_kph),
        "walk_kph": float(walk_kph),
        "fallback_kph": FALLBACK_KPH,
        "class_default_kph": {c: DEFAULT_CLASS_KPH.get(c, FALLBACK_KPH) for c in by_class},
        "car_by_class": by_class,
        "by_class": True,
    }


def _name_i18n(tags: dict[str, str]) -> dict[str, str]:
    return {lang: tags[f"name:{lang}"] for lang in NAME_LANGS if f"name:{lang}" in tags}


def _first(value: Any) -> Any:
    if isinstance(value, list):
        return sorted(map(str, value))[0] if value else None
    return value


def _any_true(value: Any) -> bool:
    if isinstance(value, list):
        return any(bool(v) for v in value)
    return bool(value)


def _to_road_graph(
    nxg: nx.MultiDiGraph,
    *,
    walk_kph: float,
    i18n: dict[str, dict[str, str]],
) -> RoadGraph:
    nodes = sorted(nxg.nodes)
    index = {n: i for i, n in enumerate(nodes)}
    node_lon = np.array([nxg.nodes[n]["x"] for n in nodes], dtype=np.float64)
    node_lat = np.array([nxg.nodes[n]["y"] for n in nodes], dtype=np.float64)

    classes: dict[str, int] = {}
    names: dict[str, int] = {}
    us: list[int] = []
    vs: list[int] = []
    length: list[float] = []
    hwy: list[int] = []
    nm: list[int] = []
    oneway: list[bool] = []
    car_ok: list[bool] = []
    walk_ok: list[bool] = []
    car_s: list[float] = []
    truck_s: list[float] = []
    offsets: list[int] = [0]
    glon: list[float] = []
    glat: list[float] = []

    def add(
        u: int,
        v: int,
        d: dict[str, Any],
        coords: list[tuple[float, float]],
        *,
        drive: bool,
        walk: bool,
        is_oneway: bool,
    ) -> None:
        us.append(index[u])
        vs.append(index[v])
        length.append(float(d["length"]))
        cls = _first(d.get("highway"))
        hwy.append(classes.setdefault(str(cls), len(classes)) if cls is not None else -1)
        name = _first(d.get("name"))
        nm.append(names.setdefault(str(name), len(names)) if name is not None else -1)
        oneway.append(is_oneway)
        car_ok.append(drive)
        walk_ok.append(walk)
        car_s.append(float(d["car_s"]) if drive else 0.0)
        truck_s.append(float(d["truck_s"]) if drive else 0.0)
        glon.extend(c[0] for c in coords)
        glat.extend(c[1] for c in coords)
        offsets.append(len(glon))

    for u, v, _k, d in sorted(nxg.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2])):
        if "geometry" in d:
            coords = [(float(x), float(y)) for x, y in d["geometry"].coords]
        else:
            coords = [
                (nxg.nodes[u]["x"], nxg.nodes[u]["y"]),
                (nxg.nodes[v]["x"], nxg.nodes[v]["y"]),
            ]
        drive, walk = _any_true(d["in_drive"]), _any_true(d["in_walk"])
        is_oneway = _any_true(d.get("oneway", False))
        add(u, v, d, coords, drive=drive, walk=walk, is_oneway=is_oneway)
        if walk and is_oneway:  # pedestrians may walk against one-way traffic
            add(v, u, d, coords[::-1], drive=False, walk=True, is_oneway=True)

    return street_graph_from_arrays(
        node_lon=node_lon,
        node_lat=node_lat,
        edge_u=np.asarray(us, dtype=np.int32),
        edge_v=np.asarray(vs, dtype=np.int32),
        edge_length_m=np.asarray(length, dtype=np.float64),
        edge_highway=np.asarray(hwy, dtype=np.int32),
        edge_name=np.asarray(nm, dtype=np.int32),
        edge_oneway=np.asarray(oneway, dtype=bool),
        geom_offsets=np.asarray(offsets, dtype=np.int64),
        geom_lon=np.asarray(glon, dtype=np.float64),
        geom_lat=np.asarray(glat, dtype=np.float64),
        car_allowed=np.asarray(car_ok, dtype=bool),
        walk_allowed=np.asarray(walk_ok, dtype=bool),
        car_s=np.asarray(car_s, dtype=np.float64),
        truck_s=np.asarray(truck_s, dtype=np.float64),
        walk_kph=walk_kph,
        highway_classes=list(classes),
        names=list(names),
        i18n=i18n,
    )


def street_graph_from_arrays(
    *,
    node_lon: npt.NDArray[np.float64],
    node_lat: npt.NDArray[np.float64],
    edge_u: npt.NDArray[np.int32],
    edge_v: npt.NDArray[np.int32],
    edge_length_m: npt.NDArray[np.float64],
    edge_highway: npt.NDArray[np.int32],
    edge_name: npt.NDArray[np.int32],
    edge_oneway: npt.NDArray[np.bool_],
    geom_offsets: npt.NDArray[np.int64],
    geom_lon: npt.NDArray[np.float64],
    geom_lat: npt.NDArray[np.float64],
    car_allowed: npt.NDArray[np.bool_],
    walk_allowed: npt.NDArray[np.bool_],
    car_s: npt.NDArray[np.float64],
    truck_s: npt.NDArray[np.float64],
    walk_kph: float,
    highway_classes: list[str],
    names: list[str],
    i18n: Mapping[str, dict[str, str]],
) -> RoadGraph:
    """The merged street :class:`RoadGraph` from its edge arrays (both OSM builders).

    Trucks may use exactly the car edges; walking takes ``walk_kph`` everywhere; the CRS is
    the UTM zone of the centre of the node bounding box.
    """
    center_lon = float((node_lon.min() + node_lon.max()) / 2)
    center_lat = float((node_lat.min() + node_lat.max()) / 2)
    crs = utm_crs_for(center_lon, center_lat)
    node_x, node_y = Projector(crs).forward(node_lon, node_lat)
    return RoadGraph(
        node_lon=node_lon,
        node_lat=node_lat,
        node_x=node_x,
        node_y=node_y,
        edge_u=edge_u,
        edge_v=edge_v,
        edge_length_m=edge_length_m,
        edge_highway=edge_highway,
        edge_name=edge_name,
        edge_oneway=edge_oneway,
        geom_offsets=geom_offsets,
        geom_lon=geom_lon,
        geom_lat=geom_lat,
        edge_allowed={"truck": car_allowed.copy(), "car": car_allowed, "walk": walk_allowed},
        edge_time_s={
            "truck": truck_s,
            "car": car_s,
            "walk": edge_length_m / (walk_kph / 3.6) if len(edge_u) else np.zeros(0),
        },
        crs=crs,
        network_kind="street",
        highway_classes=highway_classes,
        names=names,
        extra={"name_i18n": {str(i): i18n[n] for i, n in enumerate(names) if n in i18n}},
    )


# ----------------------------------------------------------------------------- public API
def build_street_graph(
    path: Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: Polygon | MultiPolygon | None = None,
    truck_max_kph: float = 60.0,
    walk_kph: float = 5.0,
    progress: bool = False,
) -> RoadGraph:
    """Build the merged drive + walk street graph of an OSM extract.

    See the module docstring for the method. Car and truck may use only the largest weakly
    connected component of the drive network, walking only that of the walk network
    (osmnx's ``retain_all=False``, applied per mode after clipping).

    Parameters
    ----------
    path
        ``.osm.pbf`` (or ``.pbf``), ``.osm`` or ``.osm.bz2`` file.
    bbox
        Optional clip ``(min_lon, min_lat, max_lon, max_lat)`` in WGS 84 degrees.
    polygon
        Optional clip polygon in WGS 84 (lon, lat); combined with ``bbox`` by intersection.
    truck_max_kph
        Upper bound on truck speed; trucks drive ``min(car speed, truck_max_kph)``.
    walk_kph
        Walking speed on every walkable edge.
    progress
        Show a tqdm bar while reading and log each step at INFO level.

    Returns
    -------
    RoadGraph
        ``network_kind="street"``, modes truck/car/walk, CRS the UTM zone of its centre.
        ``speeds_kph`` records the parameters and the car speed imputed per highway class.

    Raises
    ------
    OSMInputError
        Missing file, unsupported extension, unreadable/corrupt data, an invalid clip, or
        no drivable or walkable way inside the clip.
    """
    import osmnx as ox

    path = Path(path)
    check_speed_args(truck_max_kph, walk_kph)
    suffix = _check_input(path)
    clip = _clip_geometry(bbox, polygon)
    step = log.info if progress else log.debug

    step("reading %s", path)
    ways = _read_ways(path, clip, progress=progress)
    if not ways.piece_ids:
        where = "inside the clip" if clip is not None else "in the file"
        raise OSMInputError(
            f"{path}: no drivable or walkable OSM way {where} ({ways.ways_read} highway ways read)"
        )
    i18n: dict[str, dict[str, str]] = {}
    for tags in ways.piece_tags:
        if "name" in tags and (names := _name_i18n(tags)):
            i18n.setdefault(tags["name"], names)

    with tempfile.TemporaryDirectory(prefix="osm-clip-") as tmp:
        xml = Path(tmp) / "clip.osm"
        _write_xml(ways, xml)
        step("building osmnx graph from %d way pieces", len(ways.piece_ids))
        nxg = ox.graph_from_xml(xml, bidirectional=False, simplify=False, retain_all=True)

    modes = ways.piece_modes
    drive_all: list[tuple[int, int, int]] = []
    walk_all: list[tuple[int, int, int]] = []
    for u, v, k, osmid in nxg.edges(keys=True, data="osmid"):
        in_drive, in_walk = modes[int(osmid)]
        if in_drive:
            drive_all.append((u, v, k))
        if in_walk:
            walk_all.append((u, v, k))

    step("imputing speeds on %d drive segments", len(drive_all))
    by_class = _add_speeds(nxg, drive_all, truck_max_kph)

    drive_keep = _largest_wcc_edges(drive_all)
    walk_keep = _largest_wcc_edges(walk_all)
    for u, v, k, d in nxg.edges(keys=True, data=True):
        d["in_drive"] = (u, v, k) in drive_keep
        d["in_walk"] = (u, v, k) in walk_keep
    nxg.remove_edges_from(
        [
            (u, v, k)
            for u, v, k, d in nxg.edges(keys=True, data=True)
            if not (d["in_drive"] or d["in_walk"])
        ]
    )
    nxg.remove_nodes_from([n for n in list(nxg.nodes) if nxg.degree(n) == 0])
    step(
        "kept %d/%d drive and %d/%d walk segments (largest component per mode)",
        len(drive_keep),
        len(drive_all),
        len(walk_keep),
        len(walk_all),
    )

    step("simplifying %d nodes, %d segments", len(nxg), nxg.number_of_edges())
    nxg = ox.simplify_graph(
        nxg,
        edge_attrs_differ=[*_MODE_ATTRS, "highway", "name"],
        edge_attr_aggs={"length": sum, "car_s": sum, "truck_s": sum},
    )
    graph = _to_road_graph(nxg, walk_kph=walk_kph, i18n=i18n)
    graph.speeds_kph = speeds_meta(by_class, truck_max_kph, walk_kph)
    graph.extra.update(
        {
            "builder": "osmnx",
            "source_format": suffix,
            "highway_ways_read": ways.ways_read,
            "way_pieces": len(ways.piece_ids),
            "way_nodes": len(ways.node_ids),
            "clip_bounds": list(clip.bounds) if clip is not None else None,
            "drive_segments": {"total": len(drive_all), "largest_component": len(drive_keep)},
            "walk_segments": {"total": len(walk_all), "largest_component": len(walk_keep)},
            "osmnx_version": _pkg_version("osmnx"),
            "osmium_version": _pkg_version("osmium"),
        }
    )
    graph.validate()
    log.info(
        "street graph: %d nodes, %d directed edges (%d car, %d walk)",
        graph.n_nodes,
        graph.n_edges,
        int(graph.edge_allowed["car"].sum()),
        int(graph.edge_allowed["walk"].sum()),
    )
    return graph


__all__: list[str] = [
    "DEFAULT_CLASS_KPH",
    "FALLBACK_KPH",
    "SUPPORTED_SUFFIXES",
    "OSMInputError",
    "WayFilter",
    "build_street_graph",
]
