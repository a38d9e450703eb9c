"""Artifact directories: the versioned output of ``locator build``.

An artifact holds everything the server needs and nothing it must recompute::

    manifest.json         what was built from what (hashes, CRS, counts, versions, licences)
    graph.npz             road graph arrays, mapped  (locator.network.graph)
    graph_meta.json       modes, CRS, names          (locator.network.graph)
    stations.sqlite       station store              (locator.stations.store)
    ports.json            ports with names in zh/en/mn/ru
    admin_units.geojson.gz  leagues and banners of Inner Mongolia (WGS 84)
    forests.npz           nearest-station forests, mapped (locator.artifact.prepared)
    circles_{mode}.npz    every station's circles    (locator.artifact.prepared)

:func:`load_manifest` reads and checks the manifest; :func:`manifest_summary` is its
short form (``GET /health``, ``locator check``). The loader
(:mod:`locator.artifact.loader`) loads the rest.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from locator.errors import ArtifactError

#: 3: graph.npz and forests.npz are uncompressed with aligned members, memory-mapped at
#: load (``locator.network.graph.map_npz``); format 2 read them into private memory.
ARTIFACT_FORMAT = 3
MANIFEST = "manifest.json"
STATIONS_FILE = "stations.sqlite"
PORTS_FILE = "ports.json"
ADMIN_FILE = "admin_units.geojson.gz"
REQUIRED_FILES = (MANIFEST, "graph.npz", "graph_meta.json", STATIONS_FILE)


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
