"""The loaded artifact as one object: what the API (and other callers) query.

``Locator.open(directory, settings)`` loads an artifact once; every later query reuses
the loaded arrays and indexes.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from locator.artifact import load_manifest, manifest_summary
from locator.config import Settings
from locator.graph import RoadGraph

log = logging.getLogger(__name__)


class Locator:
    """A loaded artifact: graph, station store, manifest (and, later, engine indexes)."""

    def __init__(
        self, directory: Path, settings: Settings, manifest: dict[str, Any], graph: RoadGraph
    ) -> None:
        from locator.store import StationStore

        self.directory = directory
        self.settings = settings
        self.manifest = manifest
        self.graph = graph
        self.store = StationStore(directory / "stations.sqlite")

    @classmethod
    def open(cls, directory: Path, settings: Settings | None = None) -> Locator:
        """Load the artifact in ``directory``; raise ``ArtifactError`` if it is unusable."""
        started = time.perf_counter()
        settings = settings or Settings(artifact_dir=directory)
        manifest = load_manifest(directory)
        graph = RoadGraph.load(directory)
        loc = cls(directory, settings, manifest, graph)
        loc.load_seconds = time.perf_counter() - started
        log.info("loaded artifact %s in %.3f s", directory, loc.load_seconds)
        return loc

    load_seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        """Manifest summary plus live counts (for ``GET /health``)."""
        out = manifest_summary(self.manifest)
        out["stations"] = self.store.count()
        out["load_seconds"] = round(self.load_seconds, 3)
        return out
