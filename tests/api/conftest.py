"""Shared API fixtures: one regional artifact per session, clients on it or on a copy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.auth import KeyStore
from geodata.build import BuildOptions, build
from locator import Locator
from locator.config import Settings


@pytest.fixture(scope="session")
def api_artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The regional artifact with the sample stations, built once (read-only by convention)."""
    out = tmp_path_factory.mktemp("api-session") / "regional"
    build(BuildOptions(out=out, progress=False), Settings(artifact_dir=out))
    return out


@pytest.fixture(scope="session")
def app(api_artifact: Path) -> FastAPI:
    """An app on the shared artifact, rate limit off (tests of the limit make their own)."""
    return create_app(Settings(artifact_dir=api_artifact, rate_limit_enabled=False))


@pytest.fixture(scope="session")
def client(app: FastAPI) -> Iterator[TestClient]:
    """A client on the shared artifact (never used for writes)."""
    with TestClient(app) as c:
        yield c


@pytest.fixture(scope="session")
def loc(client: TestClient) -> Locator:
    """The locator behind :func:`client` (reference answers come from it)."""
    locator: Locator = client.app.state.locator  # type: ignore[attr-defined]
    return locator


@pytest.fixture
def writable_artifact(api_artifact: Path, tmp_path: Path) -> Path:
    """A private copy of the artifact for tests that change stations."""
    out = tmp_path / "regional"
    shutil.copytree(api_artifact, out)
    return out


@pytest.fixture
def admin_key(writable_artifact: Path) -> str:
    """A valid API key for the writable artifact."""
    return KeyStore(Settings(artifact_dir=writable_artifact).keys_path()).create("tests")


@pytest.fixture
def writer(writable_artifact: Path, admin_key: str) -> Iterator[TestClient]:
    """A client on the writable copy; ``writer.key`` holds a valid API key."""
    app = create_app(Settings(artifact_dir=writable_artifact, rate_limit_enabled=False))
    with TestClient(app) as c:
        c.key = admin_key  # type: ignore[attr-defined]
        yield c
