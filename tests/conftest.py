"""Shared fixtures. The grid factory lives in ``tests/gridfactory.py`` (importable by name)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from gridfactory import make_grid
from hypothesis import settings

from benchmarks.peers.pgrouting import PG_BIN, PrivatePostgres
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


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PrivatePostgres]:
    """A private PostgreSQL 15 + PostGIS 3 cluster (Debian packages; ``make test``
    installs them), on a Unix socket, stopped by its PID at the end of the session. A
    template database has PostGIS, so each test's database is one fast copy."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(
            f"{PG_BIN / 'initdb'} is missing: the PostgreSQL store tests need "
            "postgresql-15 and postgresql-15-postgis-3 (make install-postgres)"
        )
    pg = PrivatePostgres()
    pg.start()
    try:
        with pg.connect() as conn:
            conn.execute("CREATE DATABASE tmpl_postgis")
        with pg.connect_to("tmpl_postgis") as conn:
            conn.execute("CREATE EXTENSION postgis")
        yield pg
    finally:
        pg.stop()


_databases = itertools.count(1)


@pytest.fixture
def pg_database(pg_cluster: PrivatePostgres) -> Callable[[], str]:
    """A factory of fresh PostgreSQL databases (with PostGIS) on the session cluster;
    each call returns a ``postgresql://`` URL."""

    def make() -> str:
        name = f"store_{next(_databases)}"
        with pg_cluster.connect() as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE tmpl_postgis")
        return pg_cluster.url(name)

    return make


@pytest.fixture
def new_store_target(
    request: pytest.FixtureRequest, tmp_path: Path, store_backend: str
) -> Callable[[], str]:
    """A factory of fresh, empty station stores of the backend the test is parametrised
    with (``store_backend``): SQLite files, or PostgreSQL databases of the session
    cluster. Returns what ``StationStore(...)`` takes: a path or a URL."""
    if store_backend == "sqlite":
        files = itertools.count(1)
        return lambda: str(tmp_path / f"stations-{next(files)}.sqlite")
    factory: Callable[[], str] = request.getfixturevalue("pg_database")
    return factory


@pytest.fixture(params=["sqlite", "postgresql"])
def store_backend(request: pytest.FixtureRequest) -> str:
    """Each station-store test runs on both backends, so neither drifts."""
    return str(request.param)


@pytest.fixture
def store_target(new_store_target: Callable[[], str]) -> str:
    """One fresh, empty station store (path or URL) of the parametrised backend."""
    return new_store_target()
