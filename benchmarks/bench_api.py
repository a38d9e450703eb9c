"""HTTP benchmark of the API: uvicorn on loopback, driven by ``wrk`` (bounded runs).

Starts ``uvicorn api.app:create_app --factory`` on 127.0.0.1 in a subprocess on a regional
artifact (built into a temporary directory unless ``--artifact`` is given), with the rate
limit off, then runs ``wrk --latency`` against

* ``GET /v1/nearest`` (k = 1, one kind: the driver's question; query points rotate over
  positions next to every station), and
* ``GET /v1/isochrones?station_id=…`` (precomputed circles; station ids rotate),

and prints p50/p99 latency and requests/s as JSON. Targets (issue 4): nearest p50 < 5 ms
and >= 1000 req/s on 2 cores; station isochrones p50 < 5 ms. The client shares the
machine with the server, so numbers are noisy; compare runs on the same machine.

Usage::

    apt-get install wrk       # Debian package
    python benchmarks/bench_api.py [--artifact DIR] [--workers 1] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not become ready")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if m is None:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(out: str) -> dict[str, float]:
    """p50/p90/p99 (ms), requests/s and non-2xx count from ``wrk --latency`` output."""
    res: dict[str, float] = {}
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", out, re.MULTILINE)
        if m:
            res[f"p{pct}_ms"] = round(_ms(m.group(1)), 3)
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    res["requests_per_s"] = float(m.group(1)) if m else 0.0
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = float(m.group(1)) if m else 0.0
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    res["non_2xx"] = float(m.group(1)) if m else 0.0
    return res


def _lua_rotating(paths: list[str]) -> str:
    items = ",\n".join(json.dumps(p) for p in paths)
    return (
        "local paths = {\n" + items + "\n}\nlocal i = 0\n"
        "request = function()\n  i = i % #paths + 1\n"
        "  return wrk.format('GET', paths[i])\nend\n"
    )


def run(args: argparse.Namespace) -> dict[str, object]:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    artifact = args.artifact
    if artifact is None:
        sys.path.insert(0, str(ROOT))
        from geodata.build import BuildOptions, build
        from locator.config import Settings

        artifact = tmp / "regional"
        build(BuildOptions(out=artifact, progress=False), Settings(artifact_dir=artifact))
    sys.path.insert(0, str(ROOT))
    from locator import Locator
    from locator.config import Settings

    loc = Locator.open(artifact, Settings(artifact_dir=artifact))
    stations = loc.stations()
    drivers = [s for s in stations if s.kind.value == "driver_station"]
    nearest_paths = []
    for s in stations:  # a point beside each station that snaps (regional snap radius 2 km)
        lon, lat = s.lon + 0.001, s.lat + 0.001
        try:
            loc.nearest(lon, lat, kind="driver_station")
        except Exception:
            continue
        nearest_paths.append(f"/v1/nearest?lon={lon:.6f}&lat={lat:.6f}&kind=driver_station")
    iso_paths = [f"/v1/isochrones?station_id={s.id}" for s in stations]
    del loc

    port = _free_port()
    env = {
        **os.environ,
        "LOCATOR_ARTIFACT_DIR": str(artifact),
        "LOCATOR_RATE_LIMIT_ENABLED": "false",
        "PYTHONPATH": str(ROOT),
    }
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(args.workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    server = subprocess.Popen(cmd, env=env, cwd=ROOT)
    results: dict[str, object] = {
        "workers": args.workers,
        "connections": args.connections,
        "threads": args.threads,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "nearest_points": len(nearest_paths),
        "stations": len(stations),
        "driver_stations": len(drivers),
    }
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base + "/health", server)
        for name, paths in (("nearest", nearest_paths), ("isochrones_station", iso_paths)):
            script = tmp / f"{name}.lua"
            script.write_text(_lua_rotating(paths))
            # warm-up (first requests build caches), then the measured run
            subprocess.run(
                [wrk, "-t1", "-c2", "-d2s", "-s", str(script), base],
                check=True,
                capture_output=True,
                text=True,
            )
            out = subprocess.run(
                [
                    wrk,
                    f"-t{args.threads}",
                    f"-c{args.connections}",
                    f"-d{args.seconds}s",
                    "--latency",
                    "-s",
                    str(script),
                    base,
                ],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            results[name] = parse_wrk(out)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--artifact", type=Path, default=None)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--connections", type=int, default=8, help="wrk connections")
    parser.add_argument("--seconds", type=int, default=10, help="measured run per route")
    print(json.dumps(run(parser.parse_args()), indent=2))


if __name__ == "__main__":
    main()
