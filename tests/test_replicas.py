"""Replicas (issue 9): ``deploy/replicas.py`` runs two ``locator serve`` processes behind
Debian's nginx on one PostgreSQL store. An edit through one replica is in the very next
answer of the other; killing one replica with SIGKILL under load leaves nginx serving
through the other, and no acknowledged edit is lost. Bounded in requests, never timed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from stress.serving import ROOT, free_port, http_request

from api.auth import KeyStore
from locator.config import Settings
from locator.stations import StationStore

STATION = "erl-driver-home-01"


@pytest.fixture
def deployment(
    regional_artifact: Path, tmp_path: Path, pg_database: Callable[[], str]
) -> Iterator[dict[str, Any]]:
    art = tmp_path / "art"
    shutil.copytree(regional_artifact, art)
    key = KeyStore(Settings(artifact_dir=art).keys_path()).create("replicas")
    url = pg_database()
    port = free_port()
    err_path = tmp_path / "deploy.err"
    err = err_path.open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "deploy" / "replicas.py"),
            "--artifact",
            str(art),
            "--store-url",
            url,
            "--replicas",
            "2",
            "--port",
            str(port),
            "--run-dir",
            str(tmp_path / "run"),
        ],
        cwd=ROOT,
        env={**os.environ, "LOCATOR_RATE_LIMIT_ENABLED": "false"},
        stdout=subprocess.PIPE,
        stderr=err,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the deployment, once nginx answers
    if not line:
        proc.wait(timeout=60)
        pytest.fail(
            f"deploy/replicas.py failed:\n{proc.stderr.read()[-4000:] if proc.stderr else ''}"
        )
    info = json.loads(line)
    info.update(key={"X-API-Key": key}, store_url=url, proc=proc, nginx_port=port)
    try:
        yield info
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=90)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()
        err.close()


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


def test_an_edit_through_one_replica_is_in_the_next_answer_of_the_other(
    deployment: dict[str, Any],
) -> None:
    a, b = (_port(r["url"]) for r in deployment["replicas"])
    front = deployment["nginx_port"]
    key = deployment["key"]
    pids = {http_request(front, "GET", "/health")[2]["worker"]["pid"] for _ in range(12)}
    assert pids == {r["pid"] for r in deployment["replicas"]}  # nginx uses both
    for i in range(10):
        writer, reader = (a, b) if i % 2 == 0 else (b, a)
        status, _, _ = http_request(
            writer, "PATCH", f"/v1/stations/{STATION}", {"notes": f"n{i}"}, key
        )
        assert status == 200
        status, headers, body = http_request(reader, "GET", f"/v1/stations/{STATION}")
        assert status == 200 and body["properties"]["notes"] == f"n{i}"
        assert headers["etag"].startswith(f'"v{body["properties"]["version"]}')
    status, _, _ = http_request(a, "DELETE", f"/v1/stations/{STATION}", None, key)
    assert status == 200
    assert http_request(b, "GET", f"/v1/stations/{STATION}")[0] == 404
    with StationStore(deployment["store_url"]) as store:
        assert STATION not in store.ids()


def test_a_replica_killed_under_load_loses_no_acknowledged_edit(
    deployment: dict[str, Any],
) -> None:
    front = deployment["nginx_port"]
    key = deployment["key"]
    victim = deployment["replicas"][0]["pid"]
    acked: dict[str, str] = {}
    problems: list[str] = []
    after_kill: list[int] = []
    killed = threading.Event()
    lock = threading.Lock()
    with StationStore(deployment["store_url"]) as store:
        ids = sorted(s.id for s in store.all() if s.kind.value == "driver_station")[:6]

    def client(k: int) -> None:
        sid = ids[k]
        for i in range(40):
            if k == 0 and i == 15:
                os.kill(victim, signal.SIGKILL)
                killed.set()
            note = f"client {k} note {i}"
            try:
                status, headers, body = http_request(
                    front, "PATCH", f"/v1/stations/{sid}", {"notes": note}, key
                )
            except OSError as exc:
                problems.append(f"PATCH {sid}: {exc!r}")
                continue
            if status == 200:
                with lock:
                    acked[sid] = note
            elif status == 502:  # in flight at the kill: not retried, not acknowledged
                if headers.get("content-type") != "application/problem+json" or not (
                    isinstance(body, dict) and body.get("code") == "upstream_unavailable"
                ):
                    problems.append(f"PATCH {sid}: 502 without a problem body: {body!r:.200}")
            else:
                problems.append(f"PATCH {sid}: {status}")
            status, _, _ = http_request(front, "GET", "/v1/nearest?lon=111.97&lat=43.65")
            if killed.is_set():
                after_kill.append(status)
            if status != 200:
                problems.append(f"GET nearest: {status}")

    threads = [threading.Thread(target=client, args=(k,)) for k in range(len(ids))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert killed.is_set()
    assert not problems, problems[:10]  # reads were retried on the survivor by nginx
    assert after_kill and set(after_kill) == {200}
    with StationStore(deployment["store_url"]) as store:
        for sid, note in acked.items():
            assert store.get(sid).notes == note
    # the survivor still serves every acknowledged edit
    survivor = _port(deployment["replicas"][1]["url"])
    for sid, note in acked.items():
        assert (
            http_request(survivor, "GET", f"/v1/stations/{sid}")[2]["properties"]["notes"] == note
        )
