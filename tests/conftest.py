"""Shared fixtures. The grid factory lives in ``tests/gridfactory.py`` (importable by name)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gridfactory import make_grid

from locator.graph import RoadGraph


@pytest.fixture
def grid_factory() -> Callable[..., RoadGraph]:
    """The :func:`make_grid` factory."""
    return make_grid
