"""Benchmark (issue 13): the nearest-station question over HTTP, ours and the peers', in one run.

Not a test. From the repository root::

    .venv/bin/python benchmarks/bench_http.py [--seconds 8] [--sequential 3000] [--out FILE]

On the regional network, the driver's question "which driver station do I reach first
from here?" (query points beside every station that snaps, rotating):

- **ours**: ``locator serve`` (uvicorn + httptools + uvloop, the fast lane) with 1 and
  with 2 workers, ``GET /v1/nearest?lon&lat&kind=driver_station`` (k = 1, the route's
  geometry and the station's record included), rate limit off, access log off (as
  behind a proxy that logs) — plus the sequential probe with the default settings
  (access log on);
- **OSRM 26.10** ``osrm-routed --algorithm ch``: ``GET /table/v1/driving/q;s1;…;sS
  ?sources=0`` (one row of travel times to the S driver stations; the client takes the
  minimum: less than our answer, which also carries the route and the station), also
  with the stations' ``hints`` from a first answer (OSRM then snaps only the query point);
- **Valhalla 3.9.1** ``valhalla_service``: ``POST /sources_to_targets`` with the same
  one source and S targets (``timedistancematrix``).

Each server gets a sequential keep-alive client (the standard library's
``http.client``; p50/p90/p99 over ``--sequential`` requests after a warm-up) and ``wrk``
with 4 connections on the same 2 cores (p50, requests/s, errors); ours ``--rounds``
times (medians; the peers, far slower, once). The peers read a
``.osm.pbf`` written from our graph at our truck speed (as in ``bench_trips.py``) and run
from the Python 3.12 venv ``benchmarks/.peers-venv312`` (created here when missing, as
``benchmarks/run_all.py`` does; ``PEERS_PYTHON=/path/to/python3.12`` picks the
interpreter); the script exits non-zero, saying why, when a peer cannot run. Noisy
machine: read the ratios.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import _free_port, _lua_rotating, parse_wrk
from benchmarks.peers import networks, osm_peers

log = logging.getLogger("bench_http")


def _artifact(path: Path, work: Path) -> Path:
    if (path / "manifest.json").exists():
        return path
    from geodata.build import BuildOptions, build
    from locator.config import Settings

    out = work / "regional"
    build(BuildOptions(out=out, progress=False), Settings(artifact_dir=out))
    return out


def _wait(host: str, port: int, path: str, proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection(host, port, timeout=2)
            c.request("GET", path)
            if c.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"server on port {port} did not answer within {timeout_s:.0f} s")


@contextlib.contextmanager
def _serving(
    cmd: list[Any], env: dict[str, str], port: int, probe: str, work: Path
) -> Iterator[None]:
    logf = open(work / f"server-{port}.log", "wb")  # noqa: SIM115 (closed below)
    proc = subprocess.Popen([str(c) for c in cmd], env=env, stdout=logf, stderr=logf, cwd=work)
    try:
        _wait("127.0.0.1", port, probe, proc, 180)
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        logf.close()


def sequential(
    port: int, requests: list[tuple[str, str, bytes | None]], n: int
) -> dict[str, float]:
    """p50/p90/p99 (ms) of ``n`` requests one after another on one kept-alive connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times: list[float] = []
    errors = reconnects = 0
    for i in range(n + 300):
        method, path, body = requests[i % len(requests)]
        headers = {"Content-Type": "application/json"} if body else {}
        t = time.perf_counter()
        try:
            conn.request(method, path, body=body, headers=headers)
            r = conn.getresponse()
        except (http.client.RemoteDisconnected, ConnectionError):
            # a server that closes kept-alive connections after a number of requests:
            # this request again on a new connection (its time is not counted)
            reconnects += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(method, path, body=body, headers=headers)
            conn.getresponse().read()
            continue
        r.read()
        dt = time.perf_counter() - t
        if r.status != 200:
            errors += 1
        if i >= 300:  # after the warm-up
            times.append(dt)
    conn.close()
    times.sort()

    def q(p: float) -> float:
        return round(1000 * times[min(len(times) - 1, int(p * len(times)))], 3)

    return {
        "p50_ms": q(0.5),
        "p90_ms": q(0.9),
        "p99_ms": q(0.99),
        "errors": errors,
        "n": len(times),
        "reconnects": reconnects,
    }


def _lua(requests: list[tuple[str, str, bytes | None]]) -> str:
    if all(m == "GET" for m, _, _ in requests):
        return _lua_rotating([p for _, p, _ in requests])
    # Lua long strings ([==[ ... ]==]) hold the JSON bodies as they are
    items = ",\n".join(
        f"{{ {json.dumps(p)}, [==[{(b or b'').decode()}]==] }}" for _, p, b in requests
    )
    return (
        "local reqs = {\n" + items + "\n}\nlocal i = 0\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n  i = i % #reqs + 1\n"
        "  return wrk.format('POST', reqs[i][1], nil, reqs[i][2])\nend\n"
    )


def loaded(
    port: int, requests: list[tuple[str, str, bytes | None]], seconds: int, work: Path
) -> dict[str, float]:
    """wrk with 4 connections (1 thread) on the same machine."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    script = work / f"wrk-{port}.lua"
    script.write_text(_lua(requests))
    base = f"http://127.0.0.1:{port}"
    subprocess.run(
        [wrk, "-t1", "-c2", "-d2s", "-s", str(script), base], check=True, capture_output=True
    )
    out = subprocess.run(
        [wrk, "-t1", "-c4", f"-d{seconds}s", "--latency", "-s", str(script), base],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return parse_wrk(out)


def _median_of(rounds: list[dict[str, dict[str, float]]]) -> dict[str, Any]:
    """Per figure, the median over rounds (the rounds are kept too)."""
    out: dict[str, Any] = {"rounds": rounds}
    for part in rounds[0]:
        out[part] = {
            key: statistics.median(r[part][key] for r in rounds) for key in rounds[0][part]
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--artifact", type=Path, default=ROOT / "artifacts" / "regional")
    ap.add_argument("--seconds", type=int, default=8)
    ap.add_argument("--sequential", type=int, default=3000)
    ap.add_argument("--engines", default="ours,osrm,valhalla")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of ours (medians)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "http.json")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    from locator import Locator

    results: dict[str, Any] = {"cpus": os.cpu_count(), "seconds": args.seconds}
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        work = Path(tmp)
        artifact = _artifact(args.artifact, work)
        loc = Locator.open(artifact)
        drivers = [s for s in loc.stations() if s.kind.value == "driver_station"]
        points = []
        for s in loc.stations():
            lon, lat = round(s.lon + 0.001, 6), round(s.lat + 0.001, 6)
            try:
                loc.nearest(lon, lat, kind="driver_station")
            except Exception:
                continue
            points.append((lon, lat))
        targets = []
        for s in drivers:
            sn = loc.snap(s.lon, s.lat, "truck")
            targets.append((round(sn.snapped_lon, 6), round(sn.snapped_lat, 6)))
        results["points"], results["driver_stations"] = len(points), len(drivers)
        ours_reqs = [
            ("GET", f"/v1/nearest?lon={x}&lat={y}&kind=driver_station", None) for x, y in points
        ]
        if "ours" in engines:
            env = {
                **os.environ,
                "LOCATOR_RATE_LIMIT_ENABLED": "false",
                "PYTHONPATH": str(ROOT),
            }
            serve = [sys.executable, "-m", "locator_cli.main", "serve", "--artifact", artifact]
            for workers in (1, 2):
                port = _free_port()
                cmd = [*serve, "--port", port, "--workers", workers]
                quiet = {**env, "LOCATOR_ACCESS_LOG": "false"}
                log.info("-- ours, %d worker(s)", workers)
                with _serving(cmd, quiet, port, "/health", work):
                    time.sleep(2)  # warm-up thread
                    rounds = [
                        {
                            "sequential": sequential(port, ours_reqs, args.sequential),
                            "wrk_c4": loaded(port, ours_reqs, args.seconds, work),
                        }
                        for _ in range(args.rounds)
                    ]
                    results[f"ours_w{workers}"] = _median_of(rounds)
            port = _free_port()
            log.info("-- ours, default settings (access log on), sequential")
            with _serving([*serve, "--port", port], env, port, "/health", work):
                time.sleep(2)
                results["ours_w1_access_log"] = {
                    "sequential": sequential(port, ours_reqs, args.sequential)
                }
        peers = [e for e in engines if e in ("osrm", "valhalla")]
        if peers:
            if any(osm_peers.available(e) for e in peers):
                from benchmarks.run_all import setup_peers

                setup_peers(set(peers))
            g = loc.network.graph
            kph = float(g.speeds_kph["truck"])  # type: ignore[arg-type]
            pbf = networks.write_uniform_pbf(g, "truck", kph, work / "regional.osm.pbf")
        for eng in peers:
            why = osm_peers.available(eng)
            if why:
                raise SystemExit(f"{eng} cannot run: {why}")
            port = _free_port()
            if eng == "osrm":
                bases, _ = osm_peers.build_osrm(pbf, work / "osrm", True, ch=True)
                cmd = [
                    osm_peers.OSRM_BIN / "osrm-routed",
                    "--algorithm",
                    "ch",
                    "-p",
                    port,
                    "-t",
                    "2",
                    bases["CH"],
                ]
                dest = ";".join(f"{x},{y}" for x, y in targets)
                reqs = [
                    ("GET", f"/table/v1/driving/{x},{y};{dest}?sources=0", None) for x, y in points
                ]
                probe = reqs[0][1]
            else:
                cfg_path, _ = osm_peers.build_valhalla(pbf, work / "valhalla")
                cfg = json.loads(cfg_path.read_text())
                cfg["httpd"]["service"]["listen"] = f"tcp://127.0.0.1:{port}"
                cfg["thor"]["source_to_target_algorithm"] = "timedistancematrix"
                for costing in ("auto", "truck"):
                    cfg["service_limits"][costing]["max_matrix_location_pairs"] = 100_000
                    cfg["service_limits"][costing]["max_matrix_distance"] = 100_000_000
                cfg_path.write_text(json.dumps(cfg))
                cmd = [osm_peers.VALHALLA_BIN / "valhalla_service", cfg_path, "2"]
                reqs = [
                    (
                        "POST",
                        "/sources_to_targets",
                        json.dumps(
                            {
                                "sources": [{"lon": x, "lat": y}],
                                "targets": [{"lon": a, "lat": b} for a, b in targets],
                                "costing": "auto",
                                "costing_options": {"auto": {"fixed_speed": int(kph)}},
                            }
                        ).encode(),
                    )
                    for x, y in points
                ]
                probe = "/status"
            log.info("-- %s", eng)
            with _serving(cmd, dict(os.environ), port, probe, work):
                results[eng] = {
                    "sequential": sequential(port, reqs, args.sequential),
                    "wrk_c4": loaded(port, reqs, args.seconds, work),
                }
                if eng == "osrm":  # as a careful user would: the stations' snaps as hints
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                    c.request("GET", reqs[0][1])
                    marks = [w["hint"] for w in json.loads(c.getresponse().read())["destinations"]]
                    c.close()
                    hints = ";" + ";".join(marks[1:])
                    hinted = [("GET", f"{p}&hints={hints}", None) for _, p, _ in reqs]
                    results["osrm_hints"] = {
                        "sequential": sequential(port, hinted, args.sequential),
                        "wrk_c4": loaded(port, hinted, args.seconds, work),
                    }
        loc.close()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    for name, r in results.items():
        if isinstance(r, dict) and "sequential" in r:
            s = r["sequential"]
            w = r.get("wrk_c4", {})
            print(
                f"{name:<22} sequential p50 {s['p50_ms']:.3f} ms p99 {s['p99_ms']:.3f} ms "
                f"(errors {s['errors']})"
                + (
                    f" | wrk c4: p50 {w.get('p50_ms', 0):.3f} ms, "
                    f"{w.get('requests_per_s', 0):,.0f} req/s, non-2xx {w.get('non_2xx', 0):.0f}"
                    if w
                    else ""
                )
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
