"""Shared fixtures. The grid factory lives in ``tests/gridfactory.py`` (importable by name)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from gridfactory import make_grid
from hypothesis import settings

from geodata.build import BuildOptions, build
from locator.config import Settings
from locator.network.graph import RoadGraph

# Local runs explore new random examples every time; CI (CI=true) replays a fixed
# derandomised sequence so a landing never depends on luck. Failures print a reproducer.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def grid_factory() -> Callable[..., RoadGraph]:
    """The :func:`make_grid` factory."""
    return make_grid


@pytest.fixture(scope="session")
def regional_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The regional artifact with the bundled sample stations, built once per session.

    Read-only: tests that edit stations copy it first.
    """
    out = tmp_path_factory.mktemp("regional") / "regional"
    build(BuildOptions(out=out, progress=False), Settings(artifact_dir=out))
    return out
