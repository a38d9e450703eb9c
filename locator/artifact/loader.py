"""The one loader of artifacts: used by the server, by ``locator check`` and by the build.

:func:`open_artifact` reads an artifact directory and builds everything a query needs,
once: the network (geometry, mode graphs, snap index), the routing and circle engines,
the regions and ports, the station catalogue, the nearest-station indexes and the
precomputed circles. Prepared files that no longer match the station store (edits since
the build) are recomputed, never served stale. The build writes the raw parts, opens the
staging directory with this loader (which computes the prepared parts because there are
none yet) and saves them; ``locator check`` opens a finished artifact the same way and
reports what it found.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from locator.analysis.isochrones import Contour, IsochroneEngine
from locator.analysis.nearest import StationIndex
from locator.analysis.regions import AdminUnits
from locator.analysis.routing import RoutingEngine
from locator.artifact.manifest import (
    ADMIN_FILE,
    PORTS_FILE,
    STATIONS_FILE,
    load_manifest,
    manifest_summary,
)
from locator.artifact.prepared import (
    FORESTS_FILE,
    IndexKey,
    circles_file,
    compute_circles,
    compute_indexes,
    load_circles,
    load_indexes,
    read_fingerprint,
)
from locator.config import DEFAULT_MINUTES, Settings
from locator.errors import ArtifactError, LocatorError, StoreUnavailableError
from locator.network.core import Network
from locator.network.graph import RoadGraph
from locator.stations.catalogue import Catalogue
from locator.stations.model import Port
from locator.stations.store import StationStore

log = logging.getLogger(__name__)


@dataclass
class Engines:
    """Everything built from the network (and the regions) once per artifact."""

    net: Network
    routing: RoutingEngine
    circles: IsochroneEngine
    regions: AdminUnits | None = None
    ports: list[Port] = field(default_factory=list)

    @classmethod
    def build(
        cls, graph: RoadGraph, *, regions: AdminUnits | None = None, ports: list[Port] | None = None
    ) -> Engines:
        """The engines of ``graph``; the China outline of ``regions`` (when it has one)
        decides the border flag of routes."""
        net = Network(graph)
        has_country = regions is not None and regions.has_country
        routing = RoutingEngine(
            net,
            inside_country=regions.in_china if has_country and regions else None,
            outline=regions.country_outline() if has_country and regions else None,
        )
        return cls(net, routing, IsochroneEngine(net), regions, list(ports or []))


@dataclass
class Artifact:
    """A loaded artifact: engines, store and the station-dependent structures."""

    directory: Path
    manifest: dict[str, Any]
    settings: Settings
    engines: Engines
    store: StationStore
    catalogue: Catalogue
    indexes: dict[IndexKey, StationIndex]
    circles: dict[str, dict[str, list[Contour]]]
    recomputed: bool = False
    load_seconds: float = 0.0

    @property
    def max_snap_m(self) -> float:
        return self.settings.max_snap_m(self.engines.net.kind)

    @property
    def buffer_m(self) -> float:
        return self.settings.circle_buffer_m(self.engines.net.kind)


def load_ports(path: Path) -> list[Port]:
    """The ports of an artifact (``ports.json``; none when absent)."""
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text("utf-8"))
        items = data if isinstance(data, list) else data.get("ports", [])
        ports = [Port.model_validate(p) for p in items]
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from exc
    ids = [p.id for p in ports]
    if len(set(ids)) != len(ids):
        raise ArtifactError(f"duplicate port ids in {path}")
    return ports


def open_artifact(
    directory: Path,
    settings: Settings,
    *,
    manifest: dict[str, Any] | None = None,
    artifact_store: bool = False,
) -> Artifact:
    """Load ``directory``; raise :class:`ArtifactError` if any part is unusable.

    ``manifest`` lets the build open its staging directory before the manifest exists.
    The stations come from ``settings.store_url`` when set (a PostgreSQL store shared by
    replicas; an empty one is seeded from the artifact's own stations), else from the
    artifact's ``stations.sqlite``; ``artifact_store=True`` always reads the artifact's own
    file (the build and ``locator check`` look at the artifact itself).
    """
    started = time.perf_counter()
    if manifest is None:
        manifest = load_manifest(directory)
    graph = RoadGraph.load(directory)
    regions = (
        AdminUnits.load(directory / ADMIN_FILE) if (directory / ADMIN_FILE).is_file() else None
    )
    engines = Engines.build(graph, regions=regions, ports=load_ports(directory / PORTS_FILE))
    own = directory / STATIONS_FILE
    shared = bool(settings.store_url) and not artifact_store
    try:
        if shared:
            store = StationStore(str(settings.store_url))
            _seed(store, own, manifest)
        else:
            store = StationStore(own)
        revisions, seq = store.snapshot()
        catalogue = Catalogue.from_revisions(revisions, seq=seq)
    except (sqlite3.DatabaseError, StoreUnavailableError, ValueError) as exc:
        where = "the station store (LOCATOR_STORE_URL)" if shared else STATIONS_FILE
        raise ArtifactError(f"cannot read {where}: {exc}") from exc
    art = Artifact(directory, manifest, settings, engines, store, catalogue, {}, {})
    _load_prepared(art)
    art.load_seconds = time.perf_counter() - started
    log.info("loaded artifact %s in %.3f s", directory, art.load_seconds)
    return art


def _seed(store: StationStore, own: Path, manifest: dict[str, Any]) -> None:
    """Give a store that was never written the artifact's stations (the first replica on
    a new database); a store with any history is left as it is."""
    if store.seq() or not own.is_file():
        return
    with StationStore(own, read_only=True) as source:
        stations = source.all()
    what = f"artifact {manifest.get('artifact_id', '?')}"
    if store.seed(stations, actor="seed", what=what):
        log.info("seeded the empty station store with %d stations from %s", len(stations), what)


def _load_prepared(art: Artifact) -> None:
    """Stored indexes and circles when they match the station set, else recompute."""
    fingerprint = art.catalogue.fingerprint
    path = art.directory / FORESTS_FILE
    stored = None
    if path.is_file():
        stored, indexes = load_indexes(path, art.engines.routing)
        if stored == fingerprint:
            art.indexes = indexes
    if stored != fingerprint:
        if stored is not None:
            log.warning("station store changed since the build: recomputing the indexes")
        art.indexes = compute_indexes(art.engines.routing, art.catalogue, max_snap_m=art.max_snap_m)
        art.recomputed = True
    for mode in art.engines.net.modes:
        cpath = art.directory / circles_file(mode)
        # stored circles are only served for the station set they were computed from;
        # otherwise every station's circles are computed on first request
        art.circles[mode] = load_circles(cpath) if stored == fingerprint and cpath.is_file() else {}


def precompute_circles(art: Artifact) -> dict[str, dict[str, list[Contour]]]:
    """Every station's circles for every mode at the default minutes (build time)."""
    out: dict[str, dict[str, list[Contour]]] = {}
    for mode in art.engines.net.modes:
        out[mode] = compute_circles(
            art.engines.circles,
            list(art.catalogue),
            mode=mode,
            max_snap_m=art.max_snap_m,
            buffer_m=art.buffer_m,
            minutes=DEFAULT_MINUTES,
        )
    return out


def check_artifact(directory: Path, settings: Settings | None = None) -> dict[str, Any]:
    """Load and validate every part of an artifact; return a report or raise.

    Raises
    ------
    ArtifactError
        Any part missing, corrupt, or disagreeing with the manifest (every problem
        found is listed).
    """
    started = time.perf_counter()
    settings = settings or Settings(artifact_dir=directory)
    manifest = load_manifest(directory)
    problems: list[str] = []
    prepared = manifest.get("prepared", {})
    if prepared:
        forests = directory / FORESTS_FILE
        if not forests.is_file():
            problems.append(f"{FORESTS_FILE} is missing")
        elif read_fingerprint(forests) != prepared.get("stations_fingerprint"):
            problems.append("forests were computed for another station set")
    art = open_artifact(directory, settings, manifest=manifest, artifact_store=True)
    edits = 0
    try:
        graph = art.engines.net.graph
        network = manifest.get("network", {})
        if network.get("nodes") != graph.n_nodes:
            problems.append(
                f"manifest says {network.get('nodes')} nodes, graph has {graph.n_nodes}"
            )
        if network.get("directed_edges") != graph.n_edges:
            problems.append(
                f"manifest says {network.get('directed_edges')} directed edges, "
                f"graph has {graph.n_edges}"
            )
        if network.get("crs") != graph.crs:
            problems.append("manifest CRS differs from the graph's")
        if network.get("max_segment_m") != graph.max_segment_m:
            problems.append("manifest densification rule differs from the graph's")
        built = manifest.get("stations", {})
        count = built.get("count")
        # stations edited since the build (API, imports) are the store's business: the
        # count only has to match while the store is as the build left it
        edits = art.catalogue.seq - int(built.get("edit_seq", 1 if count else 0))
        if edits <= 0 and count != len(art.catalogue):
            problems.append(f"manifest says {count} stations, store has {len(art.catalogue)}")
        if prepared:
            for mode in graph.modes:
                if not (directory / circles_file(mode)).is_file():
                    problems.append(f"{circles_file(mode)} is missing")
        # every station's nearest-station answer is reachable through the indexes
        for (mode, kind), index in art.indexes.items():
            for sid in index.ids:
                if sid is not None and sid not in art.catalogue:
                    problems.append(f"index {mode}|{kind} holds unknown station {sid}")
    except LocatorError as exc:
        problems.append(exc.message)
    finally:
        art.store.close()
    if problems:
        raise ArtifactError(
            f"artifact {directory} is inconsistent: " + "; ".join(problems), problems=problems
        )
    return {
        "ok": True,
        "directory": str(directory),
        "summary": manifest_summary(manifest),
        "stations": {"count": len(art.catalogue), "edits_since_build": max(edits, 0)},
        "server_load_seconds": round(art.load_seconds, 3),
        "check_seconds": round(time.perf_counter() - started, 3),
    }
