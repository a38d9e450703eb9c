"""``locator serve --workers 2`` (issue 9, D3): workers forked from one loaded artifact.

Every request goes on a fresh connection, so the kernel spreads them over the workers
(``/health`` names the answering pid; both must answer). An edit acknowledged by one
worker is in the very next answer of every worker (read-your-writes across workers); the
rate limit is one limit across the workers; a worker killed with SIGKILL is replaced and
no acknowledged edit is lost. Bounded in requests, never timed.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

from stress.serving import Served, serving

from api.auth import KeyStore
from locator.config import Settings
from locator.stations import StationStore

STATION = "erl-driver-home-01"


def _pids(server: Served, tries: int = 60) -> set[int]:
    pids = set()
    for _ in range(tries):
        status, _, body = server.request("GET", "/health")
        assert status == 200
        pids.add(body["worker"]["pid"])
    return pids


def _copy(regional_artifact: Path, tmp_path: Path) -> tuple[Path, dict[str, str]]:
    art = tmp_path / "art"
    shutil.copytree(regional_artifact, art)
    key = KeyStore(Settings(artifact_dir=art).keys_path()).create("workers")
    return art, {"X-API-Key": key}


def _store_env(
    art: Path, store_backend: str, new_store_target: Callable[[], str]
) -> dict[str, str]:
    """The artifact's SQLite file, or a fresh PostgreSQL database (seeded on start)."""
    if store_backend == "sqlite":
        return {}
    return {"LOCATOR_STORE_URL": new_store_target()}


def _store(art: Path, env: dict[str, str]) -> StationStore:
    return StationStore(env.get("LOCATOR_STORE_URL") or art / "stations.sqlite")


def test_two_workers_answer_with_each_others_edits(
    regional_artifact: Path,
    tmp_path: Path,
    store_backend: str,
    new_store_target: Callable[[], str],
) -> None:
    art, key = _copy(regional_artifact, tmp_path)
    with StationStore(art / "stations.sqlite") as store:
        record = store.get(STATION).model_dump(mode="json", exclude_none=True)
    env = {
        "LOCATOR_RATE_LIMIT_ENABLED": "false",
        **_store_env(art, store_backend, new_store_target),
    }
    with serving(art, "--workers", "2", env=env) as server:
        assert len(_pids(server)) == 2, "both workers answer"
        stale: list[str] = []
        for i in range(15):
            status, _, _ = server.request(
                "PATCH", f"/v1/stations/{STATION}", {"notes": f"edit {i}"}, key
            )
            assert status == 200
            for _ in range(4):
                _, _, body = server.request("GET", f"/v1/stations/{STATION}")
                if body["properties"]["notes"] != f"edit {i}":
                    stale.append(f"edit {i}: {body['properties']['notes']!r}")
        assert stale == []

        # a move changes what nearest answers, on every worker
        status, _, moved = server.request(
            "PATCH", f"/v1/stations/{STATION}", {"lon": 117.43, "lat": 49.59}, key
        )
        assert status == 200, moved
        for _ in range(8):
            status, _, near = server.request(
                "GET", "/v1/nearest?lon=117.43&lat=49.59&kind=driver_station"
            )
            assert status == 200, near
            assert near["features"][0]["id"] == STATION
        # a delete is a 404 everywhere at once, and the id can be posted again
        status, _, _ = server.request("DELETE", f"/v1/stations/{STATION}", None, key)
        assert status == 200
        for _ in range(8):
            assert server.request("GET", f"/v1/stations/{STATION}")[0] == 404
        status, _, posted = server.request("POST", "/v1/stations", record, key)
        assert status == 201, posted
        for _ in range(8):
            assert server.request("GET", f"/v1/stations/{STATION}")[0] == 200
    assert "Traceback" not in server.stderr, server.stderr[-3000:]


def test_the_rate_limit_is_one_limit_across_workers(
    regional_artifact: Path, tmp_path: Path
) -> None:
    art, _ = _copy(regional_artifact, tmp_path)
    env = {"LOCATOR_RATE_LIMIT_BURST": "30", "LOCATOR_RATE_LIMIT_PER_S": "0.001"}
    with serving(art, "--workers", "2", env=env) as server:
        assert len(_pids(server, tries=40)) == 2  # /health is outside /v1/: not limited
        answers = [server.request("GET", "/v1/ports") for _ in range(50)]
    allowed = [h for status, h, _ in answers if status == 200]
    assert len(allowed) == 30
    assert [int(h["ratelimit-remaining"]) for h in allowed] == list(range(29, -1, -1))
    assert all(status == 429 for status, _, _ in answers[30:])


def test_a_killed_worker_is_replaced_and_loses_no_edit(
    regional_artifact: Path,
    tmp_path: Path,
    store_backend: str,
    new_store_target: Callable[[], str],
) -> None:
    art, key = _copy(regional_artifact, tmp_path)
    env = {
        "LOCATOR_RATE_LIMIT_ENABLED": "false",
        **_store_env(art, store_backend, new_store_target),
    }
    with serving(art, "--workers", "2", env=env) as server:
        pids = _pids(server)
        assert len(pids) == 2
        acked = []
        for i in range(10):
            status, _, _ = server.request(
                "PATCH", f"/v1/stations/{STATION}", {"notes": f"before kill {i}"}, key
            )
            assert status == 200
            acked.append(f"before kill {i}")
        victim = min(pids)
        os.kill(victim, signal.SIGKILL)
        seen: set[int] = set()
        for _ in range(200):  # the survivor answers meanwhile; the replacement joins
            status, _, body = server.request("GET", "/health")
            assert status == 200
            seen.add(body["worker"]["pid"])
            if len(seen - {victim}) == 2:
                break
        assert len(seen - {victim}) == 2, f"no replacement worker answered: {seen}"
        for _ in range(8):  # the new worker starts from every acknowledged edit
            _, _, body = server.request("GET", f"/v1/stations/{STATION}")
            assert body["properties"]["notes"] == acked[-1]
    with _store(art, env) as store:
        assert store.get(STATION).notes == acked[-1]
    assert "exited (signal SIGKILL)" in server.stderr
