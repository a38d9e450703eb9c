"""Edit propagation between replicas on one PostgreSQL store (issue 9), bounded.

Starts ``deploy/replicas.py`` (2 replicas behind nginx, a private PostgreSQL 15 +
PostGIS cluster, a fresh regional artifact), then ``--rounds`` times: ``PATCH`` a
station's note on replica A (or B, alternating) and immediately ``GET`` it from the other
replica on a fresh connection, recording the time from the ``PATCH``'s acknowledgement to
the other replica's answer and whether that answer already had the note (it must). Also
times sequential ``GET /v1/nearest`` directly on a replica and through nginx. Prints
JSON; ``--out`` writes it.

Usage::

    apt-get install nginx postgresql-15 postgresql-15-postgis-3
    .venv/bin/python benchmarks/bench_replicas.py [--rounds 200] [--out results.json]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
STATION = "erl-driver-home-01"


def _request(port: int, method: str, path: str, body: Any = None, key: str = "") -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        headers = {"Content-Type": "application/json", **({"X-API-Key": key} if key else {})}
        conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        r = conn.getresponse()
        raw = r.read()
        return r.status, json.loads(raw) if raw else None
    finally:
        conn.close()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _sequential(port: int, n: int) -> float:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    times = []
    for _ in range(n):
        t = time.perf_counter()
        conn.request("GET", "/v1/nearest?lon=111.97&lat=43.65&kind=driver_station")
        r = conn.getresponse()
        r.read()
        assert r.status == 200, r.status
        times.append((time.perf_counter() - t) * 1000)
    conn.close()
    return round(statistics.median(times), 3)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--port", type=int, default=18080, help="nginx port")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-replicas-"))
    art = work / "regional"
    locator = [sys.executable, "-m", "locator_cli.main"]
    subprocess.run(
        [*locator, "build", "--out", str(art), "--no-progress"],
        check=True,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    key = subprocess.run(
        [*locator, "keys", "create", "--artifact", str(art), "--name", "bench"],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    env = {**os.environ, "LOCATOR_RATE_LIMIT_ENABLED": "false"}
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "deploy" / "replicas.py"),
            "--artifact",
            str(art),
            "--private-postgres",
            "--port",
            str(args.port),
            "--run-dir",
            str(work / "run"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit("deploy/replicas.py failed to start (see its run directory)")
        info = json.loads(line)
        ports = [int(r["url"].rsplit(":", 1)[1]) for r in info["replicas"]]
        delays, stale = [], 0
        for i in range(args.rounds):
            writer, reader = (ports[0], ports[1]) if i % 2 == 0 else (ports[1], ports[0])
            status, _ = _request(
                writer, "PATCH", f"/v1/stations/{STATION}", {"notes": f"r{i}"}, key
            )
            acked = time.perf_counter()
            assert status == 200, status
            status, body = _request(reader, "GET", f"/v1/stations/{STATION}")
            delays.append((time.perf_counter() - acked) * 1000)
            if status != 200 or body["properties"]["notes"] != f"r{i}":
                stale += 1
        result = {
            "machine": {
                "cpu": os.cpu_count(),
                "python": sys.version.split()[0],
                "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            "rounds": args.rounds,
            "ack_to_other_replica_answer_ms": {
                "median": round(statistics.median(delays), 3),
                "p90": round(_percentile(delays, 0.9), 3),
                "max": round(max(delays), 3),
            },
            "stale_answers": stale,
            "sequential_nearest_p50_ms": {
                "direct_replica": _sequential(ports[0], 300),
                "through_nginx": _sequential(args.port, 300),
            },
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=90)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out is not None:
        args.out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
