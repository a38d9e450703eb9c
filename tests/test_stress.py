"""Bounded concurrency stress tests (issue 9): counted in requests and rounds, never timed.

Each runs in a separate process under ``python -X faulthandler``, so a crash of native
code (the GEOS abort of D1) fails the test with the dump instead of killing pytest.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from stress.http_load import run as http_load
from stress.serving import serving

from api.auth import KeyStore
from locator.artifact.manifest import ADMIN_FILE
from locator.config import Settings
from locator.stations import StationStore

ROOT = Path(__file__).resolve().parents[1]
STRESS = Path(__file__).parent / "stress"


def _script(name: str, *args: object, timeout: float = 600) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-X", "faulthandler", str(STRESS / name), *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert proc.returncode == 0, (
        f"exit {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    out: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return out


def test_fresh_regions_survive_concurrent_first_queries(regional_artifact: Path) -> None:
    """D1: 16 threads at one barrier on administrative units nobody has queried yet
    (lazily built GEOS indexes), 6 times; unguarded this aborts the process."""
    out = _script("regions.py", regional_artifact / ADMIN_FILE, 6, 16, 8)
    assert out["threads_done"] == 6 * 16


def test_locator_survives_concurrent_queries_edits_and_warm_up(
    regional_artifact: Path, tmp_path: Path
) -> None:
    """16 threads at one barrier with the warm-up: nearest, filtered k-nearest, live and
    stored circles, routes, coverage, region lookups, patches and moves; 3 fresh opens."""
    art = tmp_path / "art"
    shutil.copytree(regional_artifact, art)
    out = _script("inprocess.py", art, 3, 16, 12)
    counts = out["counts"]
    assert isinstance(counts, dict) and counts["ok"] + counts["locator_error"] == 3 * 16 * 12


def test_server_survives_concurrent_load_from_start_up(
    regional_artifact: Path,
    tmp_path: Path,
    store_backend: str,
    new_store_target: Callable[[], str],
) -> None:
    """A real server (uvicorn, thread pool) hit by 12 clients from the moment it listens
    (during its warm-up): reads, keyed patches, adds and deletes; 2 starts; on the
    artifact's SQLite store and on a PostgreSQL one. No 5xx, no dropped connection, no
    crash, and every acknowledged patch is in the store."""
    art = tmp_path / "art"
    shutil.copytree(regional_artifact, art)
    key = KeyStore(Settings(artifact_dir=art).keys_path()).create("stress")
    env = {"LOCATOR_RATE_LIMIT_ENABLED": "false"}
    if store_backend == "postgresql":
        env["LOCATOR_STORE_URL"] = new_store_target()
    target = env.get("LOCATOR_STORE_URL") or art / "stations.sqlite"
    with StationStore(art / "stations.sqlite") as store:
        stations = [
            {"id": s.id, "lon": s.lon, "lat": s.lat}
            for s in store.all()
            if s.kind.value == "driver_station"
        ]
    for start in range(2):
        with serving(art, env=env) as server:
            problems, acked = http_load(
                "127.0.0.1", server.port, key, stations, threads=12, requests=30
            )
            assert server.proc.poll() is None, "the server died under load"
        err = server.stderr
        assert "Fatal Python error" not in err, err[-4000:]
        assert not problems, f"start {start}: {problems[:10]}\n{err[-3000:]}"
        with StationStore(target) as store:
            for sid, note in acked.items():
                assert store.get(sid).notes == note
