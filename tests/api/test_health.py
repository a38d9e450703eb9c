"""The app factory, /health and problem+json errors."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from geodata.build import BuildOptions, build
from locator.config import Settings
from locator.errors import ArtifactError


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    out = tmp_path_factory.mktemp("api") / "regional"
    build(BuildOptions(out=out, progress=False), Settings(artifact_dir=out))
    return out


def test_health_shows_manifest_summary(artifact):
    with TestClient(create_app(Settings(artifact_dir=artifact))) as client:
        r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["artifact"]["network_kind"] == "regional"
    assert body["artifact"]["nodes"] == 21585
    assert body["artifact"]["stations"] >= 40


def test_unknown_route_is_problem_json(artifact):
    with TestClient(create_app(Settings(artifact_dir=artifact))) as client:
        r = client.get("/no/such/route")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == "not_found"


def test_missing_artifact_fails_at_startup_with_clear_error(tmp_path):
    app = create_app(Settings(artifact_dir=tmp_path / "nothing"))
    with pytest.raises(ArtifactError, match="locator build"), TestClient(app):
        pass


def test_settings_come_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LOCATOR_ARTIFACT_DIR", str(tmp_path))
    monkeypatch.setenv("LOCATOR_MAX_K", "3")
    s = Settings()
    assert s.artifact_dir == tmp_path
    assert s.max_k == 3
