"""Province-sized street graphs: stream an OSM extract into :class:`RoadGraph` arrays.

:func:`geodata.osm.build_street_graph` hands the clipped ways to osmnx, which builds a
NetworkX graph of every segment: fine for a city, gigabytes and tens of minutes for a
province. :func:`build_street_graph_streaming` gives the same graph (the test
``tests/geodata/test_osm_stream.py`` compares both on Helsinki) from numpy arrays, holding
no per-segment Python objects:

1. **Read** (pyosmium, one pass, node locations from its C++ index): each ``highway`` way
   is kept when osmnx's ``"drive"`` or ``"walk"`` filter passes it (the same
   :class:`~geodata.osm.WayFilter`, its verdict cached per combination of the tags the
   filters read). A way keeps only codes (highway, name, maxspeed, one-way) and its node
   references and fixed-point coordinates, appended to flat arrays.
2. **Clip** (vectorised): as in ``geodata.osm``, a way is cut into runs of at least two
   consecutive nodes that lie inside the clip and exist in the extract; repeated
   consecutive nodes are dropped (osmnx's ``_convert_path``).
3. **Segments**: osmnx's ``_add_paths`` rules, ``oneway`` in
   ``{yes, true, 1, -1, reverse, T, F}`` or ``junction=roundabout`` is one-way, ``-1`` /
   ``reverse`` / ``T`` runs against the node order; two-way ways get both directions. The
   segments are numbered in osmnx's insertion order (way by way, forward then back), which
   decides which of two parallel segments a merged edge takes its data from, as in osmnx.
   Lengths come from :func:`osmnx.distance.great_circle` on the same coordinates.
4. **Speeds**: every maxspeed string is parsed once by osmnx's own ``_clean_maxspeed``; a
   drive segment without a usable value gets the mean of its highway class over the drive
   segments that have one (``add_edge_speeds``), else :data:`~geodata.osm.DEFAULT_CLASS_KPH`.
5. **Components**: the largest weakly connected component per mode (scipy), ties broken as
   NetworkX's node order breaks them in ``geodata.osm``.
6. **Simplify**: osmnx's endpoint rules (self-loop; no in or no out edge; not exactly two
   neighbours with degree 2 or 4; a change of mode set, class or name) evaluated on arrays,
   then osmnx's path walk (``_build_path``) from every endpoint over a CSR adjacency,
   summing lengths and times in path order; isolated rings are removed
   (``remove_rings=True``).
7. **Assemble** with :func:`geodata.osm.street_graph_from_arrays` (walk-only reverse twins
   of walkable one-way edges, polylines in WGS 84, UTM CRS of the centre).

Memory is a few dozen bytes per node reference plus pyosmium's location index; the one
Python loop over the network is the path walk (about a microsecond per interior node).

OSM data are © OpenStreetMap contributors, ODbL 1.0; coordinates are WGS 84.
"""

from __future__ import annotations

import logging
import math
import time
from array import array
from dataclasses import dataclass
from importlib.metadata import version as _pkg_version
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry import MultiPolygon, Polygon

from geodata.osm import (
    _NO_SPEED,
    DEFAULT_CLASS_KPH,
    FALLBACK_KPH,
    NAME_LANGS,
    OSMInputError,
    WayFilter,
    _check_input,
    _clip_geometry,
    check_speed_args,
    class_speed_entry,
    speeds_meta,
    street_graph_from_arrays,
)
from geodata.osm_topology import SimplifyError, largest_wcc, simplify
from locator.network.graph import RoadGraph

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
F64 = npt.NDArray[np.float64]
Bool = npt.NDArray[np.bool_]

#: osmnx ``_add_paths``: ``oneway`` values meaning one-way, and those meaning "against
#: the node order".
ONEWAY_VALUES = frozenset({"yes", "true", "1", "-1", "reverse", "T", "F"})
REVERSED_VALUES = frozenset({"-1", "reverse", "T"})

_FIX = 10_000_000  # osmium's fixed-point coordinate precision (1e-7 degree)
_TWO_WAY, _FORWARD, _BACKWARD = 0, 1, 2


class _Codes:
    """Interned tag values: code ``i`` is ``values[i]``; ``-1`` for an absent tag."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.values: list[str] = []

    def code(self, value: str | None) -> int:
        if value is None:
            return -1
        code = self.index.get(value)
        if code is None:
            code = self.index[value] = len(self.values)
            self.values.append(value)
        return code


@dataclass
class _WayTable:
    """The drive or walk ways of the extract: per-way codes and flat node arrays."""

    way_len: I64
    drive: Bool
    walk: Bool
    highway: I32
    name: I32
    maxspeed: I32
    direction: npt.NDArray[np.int8]
    i18n: I32  # index into i18n_values, -1 without name:xx tags
    refs: I64
    x: I32
    y: I32
    highways: list[str]
    names: list[str]
    maxspeeds: list[str]
    i18n_values: list[dict[str, str]]
    ways_read: int


# ----------------------------------------------------------------------------- reading
def _read_ways(path: Path, *, progress: bool) -> _WayTable:
    import osmium
    from tqdm import tqdm

    drive, walk = WayFilter.for_network("drive"), WayFilter.for_network("walk")
    filter_keys = tuple(sorted({c[0] for f in (drive, walk) for c in f.clauses}))
    verdicts: dict[tuple[str | None, ...], tuple[bool, bool]] = {}
    highways, names, maxspeeds = _Codes(), _Codes(), _Codes()
    i18n_index: dict[tuple[tuple[str, str], ...], int] = {}
    i18n_values: list[dict[str, str]] = []
    lang_keys = tuple((lang, f"name:{lang}") for lang in NAME_LANGS)
    cols: dict[str, array[int]] = {
        k: array("q") for k in ("len", "hwy", "name", "speed", "i18n")
    } | {"mode": array("b"), "dir": array("b")}
    refs, xs, ys = array("q"), array("i"), array("i")
    ways_read = 0
    try:
        processor = (
            osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
            .with_locations()
            .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
            .with_filter(osmium.filter.KeyFilter("highway"))
        )
        with tqdm(
            desc="reading highway ways", unit=" ways", unit_scale=True, disable=not progress
        ) as bar:
            for way in processor:
                if not isinstance(way, osmium.osm.Way):  # the filters pass ways only
                    continue
                ways_read += 1
                if ways_read % 4096 == 0:
                    bar.update(4096)
                get = way.tags.get  # a few lookups cost less than copying every tag
                values = tuple(map(get, filter_keys))
                modes = verdicts.get(values)
                if modes is None:
                    filter_tags = {
                        k: t for k, t in zip(filter_keys, values, strict=True) if t is not None
                    }
                    modes = verdicts[values] = (drive(filter_tags), walk(filter_tags))
                if not (modes[0] or modes[1]):
                    continue
                n0 = len(refs)
                for node in way.nodes:
                    loc = node.location
                    refs.append(node.ref)
                    xs.append(loc.x)
                    ys.append(loc.y)
                oneway = get("oneway")
                if oneway in ONEWAY_VALUES or get("junction") == "roundabout":
                    direction = _BACKWARD if oneway in REVERSED_VALUES else _FORWARD
                else:
                    direction = _TWO_WAY
                name = get("name")
                i18n = -1
                if name is not None:
                    langs = tuple((lang, t) for lang, k in lang_keys if (t := get(k)) is not None)
                    if langs:
                        i18n = i18n_index.get(langs, -1)
                        if i18n < 0:
                            i18n = i18n_index[langs] = len(i18n_values)
                            i18n_values.append(dict(langs))
                cols["len"].append(len(refs) - n0)
                cols["mode"].append(modes[0] | modes[1] << 1)
                cols["dir"].append(direction)
                cols["hwy"].append(highways.code(get("highway")))
                cols["name"].append(names.code(name))
                cols["speed"].append(maxspeeds.code(get("maxspeed")))
                cols["i18n"].append(i18n)
            bar.update(ways_read % 4096)
    except RuntimeError as exc:  # osmium reports corrupt or unreadable files this way
        raise OSMInputError(f"{path}: cannot read OSM data: {exc}") from exc
    mode = np.frombuffer(cols["mode"], dtype=np.int8)
    return _WayTable(
        way_len=np.frombuffer(cols["len"], dtype=np.int64),
        drive=(mode & 1).astype(bool),
        walk=(mode & 2).astype(bool),
        highway=np.frombuffer(cols["hwy"], dtype=np.int64).astype(np.int32),
        name=np.frombuffer(cols["name"], dtype=np.int64).astype(np.int32),
        maxspeed=np.frombuffer(cols["speed"], dtype=np.int64).astype(np.int32),
        direction=np.frombuffer(cols["dir"], dtype=np.int8),
        i18n=np.frombuffer(cols["i18n"], dtype=np.int64).astype(np.int32),
        refs=np.frombuffer(refs, dtype=np.int64),
        x=np.frombuffer(xs, dtype=np.int32),
        y=np.frombuffer(ys, dtype=np.int32),
        highways=highways.values,
        names=names.values,
        maxspeeds=maxspeeds.values,
        i18n_values=i18n_values,
        ways_read=ways_read,
    )


# ----------------------------------------------------------------------------- pieces
@dataclass
class _Segments:
    """Directed segments in osmnx's insertion order, over compact node indices."""

    node_id: I64  # OSM id per node index (ascending)
    node_lon: F64
    node_lat: F64
    u: I64
    v: I64
    way: I32  # way row of each segment
    oneway: Bool
    length_m: F64
    pieces: int
    way_has_piece: Bool


def _segments(ways: _WayTable, clip: Polygon | MultiPolygon | None) -> _Segments:
    """Cut ways to the clip, drop repeated nodes, and emit osmnx's directed segments.

    Works on the flat node arrays with a few bytes per reference (no sort of them but
    the one that numbers the nodes); temporaries are dropped as soon as they are used.
    """
    way_start = np.zeros(len(ways.way_len) + 1, dtype=np.int64)
    np.cumsum(ways.way_len, out=way_start[1:])
    x, y = ways.x, ways.y
    keep = (x >= -180 * _FIX) & (x <= 180 * _FIX) & (y >= -90 * _FIX) & (y <= 90 * _FIX)
    if clip is not None and keep.any():
        at = np.nonzero(keep)[0]
        lon, lat = x[at] / _FIX, y[at] / _FIX
        inside = shapely.contains_xy(clip, lon, lat)
        edge = ~inside  # points exactly on the clip boundary count as inside
        if edge.any():
            inside[edge] = shapely.intersects_xy(clip, lon[edge], lat[edge])
        keep[at[~inside]] = False
        del at, lon, lat, inside, edge
    # runs of kept nodes: a run starts at a kept node that begins its way or follows a
    # dropped one; runs of two or more nodes are the pieces geodata.osm hands to osmnx
    run_start = keep.copy()
    run_start[1:] &= ~keep[:-1]
    run_start[way_start[:-1][ways.way_len > 0]] = keep[way_start[:-1][ways.way_len > 0]]
    kept = np.nonzero(keep)[0]
    del keep
    run_id = np.cumsum(run_start[kept], dtype=np.int64) - 1
    del run_start
    run_len = np.bincount(run_id, minlength=int(run_id[-1]) + 1 if len(run_id) else 0)
    in_run = run_len[run_id] >= 2
    in_piece, piece_of = kept[in_run], run_id[in_run]
    del kept, run_id, in_run
    pieces = int(np.count_nonzero(run_len >= 2))
    way_of = (np.searchsorted(way_start, in_piece, side="right") - 1).astype(np.int32)
    way_has_piece = np.zeros(len(ways.way_len), dtype=bool)
    way_has_piece[way_of] = True
    # osmnx drops consecutive repeats of a node within a way
    refs = ways.refs[in_piece]
    repeat = np.zeros(len(in_piece), dtype=bool)
    repeat[1:] = (piece_of[1:] == piece_of[:-1]) & (refs[1:] == refs[:-1])
    if repeat.any():
        single = ~repeat
        in_piece, piece_of, refs, way_of = (
            in_piece[single],
            piece_of[single],
            refs[single],
            way_of[single],
        )
    del repeat

    node_id, first, node_of = np.unique(refs, return_index=True, return_inverse=True)
    del refs
    node_lon = x[in_piece[first]] / _FIX  # the same double as osmium's Location.lon
    node_lat = y[in_piece[first]] / _FIX
    del first, in_piece
    node = node_of.astype(np.int32 if len(node_id) < 2**31 else np.int64)
    del node_of

    # segment i of a piece joins its nodes i and i + 1; osmnx inserts a piece's segments
    # in path order (reversed for "-1" ways), then, on two-way ways, each one reversed
    pair = np.nonzero(piece_of[1:] == piece_of[:-1])[0]
    seg_piece = piece_of[pair]
    del piece_of
    a, b = node[pair], node[pair + 1]
    way = way_of[pair]
    del node, way_of
    direction = ways.direction[way]
    back = direction == _BACKWARD
    two = direction == _TWO_WAY
    del direction
    piece_first = np.searchsorted(seg_piece, seg_piece)  # first segment of the piece
    k = np.searchsorted(seg_piece, seg_piece, side="right") - piece_first  # its segments
    rank = np.arange(len(pair), dtype=np.int64) - piece_first
    del pair
    # where the piece's block starts: earlier segments, plus the reverses of the earlier
    # two-way pieces' segments
    out_first = piece_first + np.cumsum(two)[piece_first] - two
    del seg_piece, piece_first
    pos = out_first + np.where(back, k - 1 - rank, rank)
    n_seg = len(a) + int(two.sum())
    u = np.empty(n_seg, dtype=a.dtype)
    v = np.empty(n_seg, dtype=a.dtype)
    way_all = np.empty(n_seg, dtype=np.int32)
    u[pos] = np.where(back, b, a)
    v[pos] = np.where(back, a, b)
    way_all[pos] = way
    rpos = (out_first + k + rank)[two]
    u[rpos], v[rpos], way_all[rpos] = b[two], a[two], way[two]
    del a, b, way, back, two, out_first, pos, rpos, k, rank

    from osmnx.distance import great_circle  # osmnx's own formula on the same doubles

    length = np.empty(n_seg, dtype=np.float64)
    for lo in range(0, n_seg, 1 << 20):  # element-wise: chunks change no bit
        uu, vv = u[lo : lo + (1 << 20)], v[lo : lo + (1 << 20)]
        c = np.column_stack((node_lat[uu], node_lon[uu], node_lat[vv], node_lon[vv]))
        length[lo : lo + len(uu)] = great_circle(c[:, 0], c[:, 1], c[:, 2], c[:, 3])
    length[np.isnan(length)] = 0
    return _Segments(
        node_id=node_id.astype(np.int64),
        node_lon=node_lon,
        node_lat=node_lat,
        u=u.astype(np.int64),
        v=v.astype(np.int64),
        way=way_all,
        oneway=ways.direction[way_all] != _TWO_WAY,
        length_m=length,
        pieces=pieces,
        way_has_piece=way_has_piece,
    )


# ----------------------------------------------------------------------------- speeds
def _car_speeds(
    ways: _WayTable, seg: _Segments, drive: Bool, truck_max_kph: float
) -> tuple[F64, F64, dict[str, dict[str, Any]]]:
    """Per-segment car and truck seconds (0 off the drive network) and the class summary."""
    from osmnx.routing import _clean_maxspeed  # osmnx's parser: units, lists, implicit values

    parsed = np.array(
        [math.nan if (s := _clean_maxspeed(v)) is None else float(s) for v in ways.maxspeeds]
        + [math.nan],  # code -1: no maxspeed tag
        dtype=np.float64,
    )
    d = np.nonzero(drive)[0]
    hwy = ways.highway[seg.way[d]].astype(np.int64)
    code = ways.maxspeed[seg.way[d]]
    tagged_speed = parsed[code]  # code -1 picks the trailing NaN
    valid = ~np.isnan(tagged_speed)
    n_cls = len(ways.highways)
    count = np.bincount(hwy[valid], minlength=n_cls)
    total = np.bincount(hwy[valid], weights=tagged_speed[valid], minlength=n_cls)
    with np.errstate(invalid="ignore", divide="ignore"):
        class_mean = np.where(count > 0, total / np.maximum(count, 1), _NO_SPEED)
    osmnx_speed = np.where(valid, tagged_speed, class_mean[hwy])
    default = np.array(
        [DEFAULT_CLASS_KPH.get(h, FALLBACK_KPH) for h in ways.highways] or [0.0], np.float64
    )
    speed = np.where(osmnx_speed == _NO_SPEED, default[hwy] if len(hwy) else 0.0, osmnx_speed)
    car_s = np.zeros(len(seg.u), dtype=np.float64)
    truck_s = np.zeros(len(seg.u), dtype=np.float64)
    car_s[d] = seg.length_m[d] / (speed / 3.6)
    truck_s[d] = seg.length_m[d] / (np.minimum(speed, truck_max_kph) / 3.6)

    has_tag = code >= 0
    segments = np.bincount(hwy, minlength=n_cls)
    with_tag = np.bincount(hwy[has_tag], minlength=n_cls)
    by_class: dict[str, dict[str, Any]] = {}
    for c in np.nonzero(segments)[0].tolist():
        mine = speed[hwy == c]
        mean = float(np.mean(mine))
        untagged = mine[~has_tag[hwy == c]]
        by_class[ways.highways[c]] = class_speed_entry(
            "default" if count[c] == 0 else "maxspeed_mean",
            imputed_kph=float(untagged[0]) if len(untagged) else mean,
            truck_max_kph=truck_max_kph,
            segments=int(segments[c]),
            segments_with_maxspeed=int(with_tag[c]),
            mean_kph=mean,
        )
    return car_s, truck_s, {h: by_class[h] for h in sorted(by_class)}


# ----------------------------------------------------------------------------- public API
def _peak_rss_gb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    try:
        import resource
    except ImportError:  # not on POSIX
        return math.nan
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def _first_appearance(codes: I32, values: list[str]) -> tuple[I32, list[str]]:
    """Renumber ``codes`` (``-1`` kept) in order of first appearance, like ``geodata.osm``."""
    used, first = np.unique(codes, return_index=True)
    first, used = first[used >= 0], used[used >= 0]
    by_first = used[np.argsort(first)]
    renum = np.full(len(values) + 1, -1, dtype=np.int32)  # slot -1: absent
    renum[by_first] = np.arange(len(by_first), dtype=np.int32)
    return renum[codes], [values[c] for c in by_first.tolist()]


def build_street_graph_streaming(
    path: Path,
    *,
    bbox: tuple[float, float, float, float] | None = None,
    polygon: Polygon | MultiPolygon | None = None,
    truck_max_kph: float = 60.0,
    walk_kph: float = 5.0,
    progress: bool = False,
) -> RoadGraph:
    """The street graph of :func:`geodata.osm.build_street_graph`, built by streaming.

    Same parameters, result and errors as :func:`geodata.osm.build_street_graph` (see
    there), for extracts of any size: see the module docstring for the method.
    ``progress`` shows tqdm bars while reading and simplifying and logs each step with its
    duration at INFO level.
    """
    path = Path(path)
    check_speed_args(truck_max_kph, walk_kph)
    suffix = _check_input(path)
    clip = _clip_geometry(bbox, polygon)
    step = log.info if progress else log.debug
    started = time.perf_counter()

    def took() -> str:
        return f"{time.perf_counter() - started:.1f} s, peak RSS {_peak_rss_gb():.2f} GB"

    step("reading %s", path)
    ways = _read_ways(path, progress=progress)
    step(
        "read %d highway ways, %d in the drive or walk network, %d node references (%s)",
        ways.ways_read,
        len(ways.way_len),
        len(ways.refs),
        took(),
    )
    seg = _segments(ways, clip)
    ways.refs, ways.x, ways.y = ways.refs[:0], ways.x[:0], ways.y[:0]  # free the node arrays
    if seg.pieces == 0:
        where = "inside the clip" if clip is not None else "in the file"
        raise OSMInputError(
            f"{path}: no drivable or walkable OSM way {where} ({ways.ways_read} highway ways read)"
        )
    i18n: dict[str, dict[str, str]] = {}
    for row in np.nonzero(seg.way_has_piece & (ways.i18n >= 0))[0].tolist():
        i18n.setdefault(ways.names[ways.name[row]], ways.i18n_values[ways.i18n[row]])
    n = len(seg.node_id)
    step("%d way pieces, %d nodes, %d directed segments (%s)", seg.pieces, n, len(seg.u), took())

    drive_all = ways.drive[seg.way]
    walk_all = ways.walk[seg.way]
    car_s, truck_s, by_class = _car_speeds(ways, seg, drive_all, truck_max_kph)
    in_drive = np.zeros(len(seg.u), dtype=bool)
    in_walk = np.zeros(len(seg.u), dtype=bool)
    for mask, into in ((drive_all, in_drive), (walk_all, in_walk)):
        sel = np.nonzero(mask)[0]
        into[sel] = largest_wcc(n, seg.u[sel], seg.v[sel])
    step(
        "kept %d/%d drive and %d/%d walk segments (largest component per mode, %s)",
        int(in_drive.sum()),
        int(drive_all.sum()),
        int(in_walk.sum()),
        int(walk_all.sum()),
        took(),
    )
    hwy_seg = ways.highway[seg.way].astype(np.int64)
    name_seg = ways.name[seg.way].astype(np.int64)
    packed = ((name_seg + 1) * (len(ways.highways) + 1) + hwy_seg + 1) * 4
    del hwy_seg, name_seg
    _, code = np.unique(packed + in_drive * 2 + in_walk, return_inverse=True)
    del packed
    try:
        simple = simplify(
            n,
            seg.u,
            seg.v,
            keep=in_drive | in_walk,
            code=code.astype(np.int64),
            length_m=seg.length_m,
            car_s=car_s,
            truck_s=truck_s,
            oneway=seg.oneway,
        )
    except SimplifyError as exc:
        raise OSMInputError(f"{path}: {exc}") from exc
    del code
    step("simplified to %d edges (%s)", len(simple.u), took())

    # merge into one directed graph: edges by (tail id, head id), walk-only reverse twins
    renum = np.cumsum(simple.keep_nodes) - 1
    order = np.lexsort((np.arange(len(simple.u)), simple.v, simple.u))
    drive_e, walk_e = in_drive[simple.seg], in_walk[simple.seg]
    twin = walk_e & simple.oneway
    reps = 1 + twin[order].astype(np.int64)
    src = np.repeat(order, reps)
    is_twin = np.zeros(len(src), dtype=bool)
    is_twin[(np.cumsum(reps) - 1)[twin[order]]] = True
    tail = np.where(is_twin, simple.v[src], simple.u[src])
    head = np.where(is_twin, simple.u[src], simple.v[src])
    car_ok = drive_e[src] & ~is_twin
    # polylines: the twin runs its original's backwards
    g_start = simple.geom_offsets[src]
    g_len = simple.geom_offsets[src + 1] - g_start
    offsets = np.zeros(len(src) + 1, dtype=np.int64)
    np.cumsum(g_len, out=offsets[1:])
    within = np.arange(int(offsets[-1]), dtype=np.int64) - np.repeat(offsets[:-1], g_len)
    rev = np.repeat(is_twin, g_len)
    pick = np.repeat(g_start, g_len) + np.where(rev, np.repeat(g_len, g_len) - 1 - within, within)
    geom_node = simple.geom_nodes[pick]
    way_e = seg.way[simple.seg[src]]
    highway, classes = _first_appearance(ways.highway[way_e], ways.highways)
    name, names = _first_appearance(ways.name[way_e], ways.names)
    graph = street_graph_from_arrays(
        node_lon=seg.node_lon[simple.keep_nodes],
        node_lat=seg.node_lat[simple.keep_nodes],
        edge_u=renum[tail].astype(np.int32),
        edge_v=renum[head].astype(np.int32),
        edge_length_m=simple.length_m[src],
        edge_highway=highway,
        edge_name=name,
        edge_oneway=simple.oneway[src],
        geom_offsets=offsets,
        geom_lon=seg.node_lon[geom_node],
        geom_lat=seg.node_lat[geom_node],
        car_allowed=car_ok,
        walk_allowed=walk_e[src],
        car_s=np.where(car_ok, simple.car_s[src], 0.0),
        truck_s=np.where(car_ok, simple.truck_s[src], 0.0),
        walk_kph=walk_kph,
        highway_classes=classes,
        names=names,
        i18n=i18n,
    )
    graph.speeds_kph = speeds_meta(by_class, truck_max_kph, walk_kph)
    graph.extra.update(
        {
            "builder": "stream",
            "source_format": suffix,
            "highway_ways_read": ways.ways_read,
            "way_pieces": seg.pieces,
            "way_nodes": n,
            "clip_bounds": list(clip.bounds) if clip is not None else None,
            "drive_segments": {
                "total": int(drive_all.sum()),
                "largest_component": int(in_drive.sum()),
            },
            "walk_segments": {
                "total": int(walk_all.sum()),
                "largest_component": int(in_walk.sum()),
            },
            "osmnx_version": _pkg_version("osmnx"),
            "osmium_version": _pkg_version("osmium"),
        }
    )
    graph.validate()
    log.info(
        "street graph: %d nodes, %d directed edges (%d car, %d walk) (%s)",
        graph.n_nodes,
        graph.n_edges,
        int(graph.edge_allowed["car"].sum()),
        int(graph.edge_allowed["walk"].sum()),
        took(),
    )
    return graph


__all__: list[str] = ["build_street_graph_streaming"]
