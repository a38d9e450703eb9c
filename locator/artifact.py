"""Artifact directories: the versioned output of ``locator build``.

An artifact holds everything the server needs and nothing it must recompute::

    manifest.json         what was built from what (hashes, CRS, counts, versions, licences)
    graph.npz             road graph arrays          (locator.graph)
    graph_meta.json       modes, CRS, names          (locator.graph)
    stations.sqlite       station store              (locator.store)
    ports.json            ports with names in zh/en/mn/ru
    admin_units.geojson.gz  leagues and banners of Inner Mongolia (WGS 84)

:func:`load_manifest` reads and checks the manifest; :func:`check_artifact` loads every
part the way the server does and reports what it found (``locator check``).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from locator.errors import ArtifactError
from locator.graph import RoadGraph

ARTIFACT_FORMAT = 1
MANIFEST = "manifest.json"
REQUIRED_FILES = ("manifest.json", "graph.npz", "graph_meta.json", "stations.sqlite")


def load_manifest(directory: Path) -> dict[str, Any]:
    """Read ``manifest.json``; raise :class:`ArtifactError` if absent, corrupt or foreign."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise ArtifactError(f"artifact directory {directory} does not exist; run `locator build`")
    try:
        manifest: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path} is missing; is {directory} an artifact?") from exc
    except (OSError, ValueError) as exc:
        raise ArtifactError(f"cannot read {path}: {exc}") from exc
    if manifest.get("artifact_format") != ARTIFACT_FORMAT:
        raise ArtifactError(
            f"{directory} has artifact format {manifest.get('artifact_format')!r}; "
            f"this version reads {ARTIFACT_FORMAT}: rebuild it with `locator build`"
        )
    missing = [f for f in REQUIRED_FILES if not (directory / f).is_file()]
    if missing:
        raise ArtifactError(f"artifact {directory} lacks {', '.join(missing)}")
    return manifest


def manifest_summary(manifest: dict[str, Any]) -> dict[str, Any]:
    """The short form of a manifest shown by ``GET /health`` and ``locator check``."""
    network = manifest.get("network", {})
    return {
        "artifact_format": manifest.get("artifact_format"),
        "artifact_id": manifest.get("artifact_id"),
        "built_at": manifest.get("built_at"),
        "network_kind": network.get("kind"),
        "network_source": network.get("source"),
        "nodes": network.get("nodes"),
        "edges": network.get("edges"),
        "crs": network.get("crs"),
        "modes": network.get("modes"),
        "stations": manifest.get("stations", {}).get("count"),
        "ports": manifest.get("ports", {}).get("count"),
    }


def check_artifact(directory: Path) -> dict[str, Any]:
    """Load and validate every part of an artifact; return a report or raise.

    Raises
    ------
    ArtifactError
        When any part is missing, corrupt, or disagrees with the manifest.
    """
    started = time.perf_counter()
    manifest = load_manifest(directory)
    graph = RoadGraph.load(directory)
    network = manifest.get("network", {})
    problems: list[str] = []
    if network.get("nodes") != graph.n_nodes:
        problems.append(f"manifest says {network.get('nodes')} nodes, graph has {graph.n_nodes}")
    if network.get("directed_edges") != graph.n_edges:
        problems.append(
            f"manifest says {network.get('directed_edges')} directed edges, "
            f"graph has {graph.n_edges}"
        )
    if network.get("crs") != graph.crs:
        problems.append("manifest CRS differs from the graph's")
    from locator.store import StationStore  # local: keeps graph-only tools light

    with StationStore(directory / "stations.sqlite") as store:
        n_stations = store.count()
    if manifest.get("stations", {}).get("count") != n_stations:
        problems.append(
            f"manifest says {manifest.get('stations', {}).get('count')} stations, "
            f"store has {n_stations}"
        )
    prepared = manifest.get("prepared", {})
    if prepared:
        from locator.prepared import FORESTS_FILE, circles_file, load_forests_fingerprint

        if not (directory / FORESTS_FILE).is_file():
            problems.append(f"{FORESTS_FILE} is missing")
        elif load_forests_fingerprint(directory / FORESTS_FILE) != prepared.get(
            "stations_fingerprint"
        ):
            problems.append("forests were computed for another station set")
        for mode in graph.modes:
            if not (directory / circles_file(mode)).is_file():
                problems.append(f"{circles_file(mode)} is missing")
    if problems:
        raise ArtifactError(f"artifact {directory} is inconsistent: " + "; ".join(problems))
    # finally load everything the way the server does (indexes, forests, circles)
    from locator.service import Locator

    loc = Locator.open(directory)
    loc.store.close()
    return {
        "ok": True,
        "directory": str(directory),
        "summary": manifest_summary(manifest),
        "server_load_seconds": round(loc.load_seconds, 3),
        "check_seconds": round(time.perf_counter() - started, 3),
    }
