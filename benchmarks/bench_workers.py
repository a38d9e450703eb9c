"""One worker or two: throughput, memory and edit propagation of ``locator serve --workers N``.

Measures, in one run, on a regional artifact (built into a temporary directory, or a
*copy* of ``--artifact``: the benchmark edits stations and must not touch the original),
with ``LOCATOR_RATE_LIMIT_ENABLED=false``:

1. **Throughput / latency** of ``GET /v1/nearest?kind=driver_station`` driven by
   ``wrk --latency -t2`` with ``-c4`` and ``-c16``, ``--seconds`` each, against
   ``--workers 1`` and ``--workers 2``. Query points rotate over positions next to every
   station (the Lua rotation of ``bench_api.py``). Each worker count is measured twice in
   the order 1, 2, 1, 2 (a fresh server each time; the second round runs -c16 before
   -c4) and medians are reported: requests/s, p50/p90/p99, non-2xx and socket errors,
   plus the CPU seconds used by every server process and by wrk during each run.
   **wrk runs on the same 2 cores as the server**, so the client takes CPU the server
   could otherwise use; compare numbers from the same machine only.
2. **Memory**: RSS and PSS (``/proc/PID/smaps_rollup``) of the parent and of each worker,
   after a 5 s wrk warm-up and again after the measured wrk runs. With ``--workers 1``
   the server is one process (``uvicorn.run`` in-process, no fork). The sum of PSS is
   the real memory cost (shared copy-on-write pages are split between the processes).
3. **Edit propagation** between the two workers: ``--propagation-rounds`` times, learn
   the writer's pid (``/health``) and ``PATCH`` a station's ``notes`` on one fresh
   connection, then poll ``GET /v1/stations/{id}`` on fresh connections, each followed
   by ``GET /health`` on the *same* kept-alive connection (one connection stays on one
   worker) to learn which worker answered, until the *other* worker answers. Reports
   the time from the PATCH acknowledgement to that answer (median, p90, max) and the
   number of stale answers (any answer, from either worker, not showing the new note:
   must be 0).
4. **Memory under station moves** (2 workers): ``--moves`` PATCHes of ``lon``/``lat``,
   each on a fresh connection, moving ``--move-stations`` driver stations alternately
   between their own position and one ~1 km north of it (they end where they started).
   RSS/PSS of every process before and after, and the move latency (connect + PATCH +
   response) median/p90 over the first 100 and the last 100 moves.

Every server is stopped at the end (SIGTERM to the parent, which stops its workers;
SIGKILL to the process group if that does not work), also on Ctrl-C.

Usage (about 10-15 minutes with the default 60 s runs)::

    apt-get install wrk       # Debian package
    .venv/bin/python benchmarks/bench_workers.py [--seconds 60] [--artifact DIR] \\
        [--out benchmarks/results/workers.json]

The JSON goes to ``--out``; markdown tables of the four parts (and a list of findings:
2 workers slower than 1, errors, stale reads, memory growth > 10 %) are printed on
stdout, progress on stderr. To measure a fixed commit while the work tree changes, run
the script from an export of it (``git archive HEAD | tar -x -C /tmp/snap``, copy this
file in, ``cd /tmp/snap`` and pass ``--code-rev`` and an absolute ``--out``): the servers
run the code next to the script.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.bench_api import _free_port, _lua_rotating, parse_wrk

HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
_SERVERS: list[Server] = []


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- helpers


def percentile(values: list[float], pct: float) -> float:
    """Linear-interpolated percentile (numpy's default) of a non-empty list."""
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * pct / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summary_ms(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1e3 for v in values_s]
    return {
        "n": len(ms),
        "median_ms": round(statistics.median(ms), 3),
        "p90_ms": round(percentile(ms, 90), 3),
        "max_ms": round(max(ms), 3),
        "min_ms": round(min(ms), 3),
    }


def smaps_rollup(pid: int) -> dict[str, int]:
    """RSS, PSS and friends (kB) of one process from /proc/PID/smaps_rollup."""
    out: dict[str, int] = {}
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            m = re.match(r"(\w+):\s+(\d+) kB", line)
            if m:
                out[m.group(1)] = int(m.group(2))
    keep = ("Rss", "Pss", "Pss_Anon", "Pss_File", "Shared_Clean", "Shared_Dirty")
    res = {k.lower() + "_kb": out.get(k, 0) for k in keep}
    res["private_clean_kb"] = out.get("Private_Clean", 0)
    res["private_dirty_kb"] = out.get("Private_Dirty", 0)
    res["uss_kb"] = res["private_clean_kb"] + res["private_dirty_kb"]
    return res


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def machine_busy_s() -> float:
    """CPU seconds all cores have spent busy (not idle or iowait) since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


def children_of(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
        return sorted(int(x) for x in text.split())
    except OSError:  # kernels without CONFIG_PROC_CHILDREN: scan /proc
        kids = []
        for d in Path("/proc").iterdir():
            if d.name.isdigit():
                with contextlib.suppress(OSError):
                    stat = (d / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(stat[1]) == pid:
                        kids.append(int(d.name))
        return sorted(kids)


def machine_info() -> dict[str, Any]:
    model = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        m = re.search(r"^Model name:\s+(.+)$", out, re.MULTILINE)
        model = m.group(1).strip() if m else None
    wrk_version = None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        r = subprocess.run(["wrk", "-v"], check=False, capture_output=True, text=True)
        wrk_version = (r.stdout + r.stderr).splitlines()[0].strip()
    versions = {}
    for mod in ("uvicorn", "fastapi", "starlette", "h11"):
        with contextlib.suppress(Exception):
            versions[mod] = __import__(mod).__version__
    mem_total = None
    with contextlib.suppress(OSError):
        m = re.search(r"MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text())
        mem_total = int(m.group(1)) if m else None
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "mem_total_kb": mem_total,
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "kernel": platform.release(),
        "wrk": wrk_version,
        "packages": versions,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "loadavg_at_start": os.getloadavg(),
    }


def code_info(label: str | None) -> dict[str, Any]:
    """Which code the servers ran: this file's checkout (git HEAD and dirty state if it is
    a git work tree) and an optional free-text ``--code-rev``."""
    info: dict[str, Any] = {"root": str(ROOT), "label": label}
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        head = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "HEAD"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        info["git_head"] = head
        info["git_dirty_files"] = len(dirty.splitlines()) if dirty else 0
    return info


# ---------------------------------------------------------------------------- server


class Server:
    """``locator serve --workers N`` in its own session, output to a log file."""

    def __init__(self, artifact: Path, workers: int, logdir: Path, tag: str) -> None:
        self.artifact = artifact
        self.workers = workers
        self.port = _free_port()
        self.log_path = logdir / f"server-{tag}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.worker_pids: list[int] = []

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> Server:
        env = {**os.environ, "LOCATOR_RATE_LIMIT_ENABLED": "false"}
        env.pop("LOCATOR_WORKERS", None)
        cmd = [
            sys.executable,
            "-m",
            "locator_cli.main",
            "serve",
            "--artifact",
            str(self.artifact),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        self._log = open(self.log_path, "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        _SERVERS.append(self)
        deadline = time.monotonic() + 90
        seen: set[int] = set()
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_path}")
            try:
                seen.add(health(self.port)["worker"]["pid"])
            except (OSError, http.client.HTTPException, ValueError, KeyError):
                time.sleep(0.2)
                continue
            if self.workers == 1:
                self.worker_pids = [self.proc.pid]
                break
            kids = children_of(self.proc.pid)
            if len(kids) == self.workers:
                self.worker_pids = kids
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"server did not become ready: {self.log_path}")
        log(
            f"server workers={self.workers} port={self.port} parent={self.proc.pid} "
            f"workers={self.worker_pids}"
        )
        return self

    def processes(self) -> dict[str, int]:
        """Role -> pid: ``server`` (one process) or ``parent``, ``worker0``, ``worker1``…"""
        assert self.proc is not None
        if self.workers == 1:
            return {"server": self.proc.pid}
        roles = {"parent": self.proc.pid}
        for i, pid in enumerate(self.worker_pids):
            roles[f"worker{i}"] = pid
        return roles

    def memory(self) -> dict[str, Any]:
        procs = {role: {"pid": pid, **smaps_rollup(pid)} for role, pid in self.processes().items()}
        return {
            "processes": procs,
            "sum_rss_kb": sum(p["rss_kb"] for p in procs.values()),
            "sum_pss_kb": sum(p["pss_kb"] for p in procs.values()),
        }

    def cpu(self) -> dict[str, float]:
        return {role: cpu_s(pid) for role, pid in self.processes().items()}

    def stop(self) -> dict[str, Any]:
        if self.proc is None:
            return {}
        pids = [self.proc.pid, *self.worker_pids]
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        # workers are the parent's children; after it has gone, make sure they have too
        deadline = time.monotonic() + 10
        left = [p for p in pids if Path(f"/proc/{p}").exists()]
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            left = [p for p in pids if Path(f"/proc/{p}").exists()]
        for p in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        with contextlib.suppress(ValueError):
            _SERVERS.remove(self)
        self._log.close()
        text = self.log_path.read_text(errors="replace")
        problems = [
            ln
            for ln in text.splitlines()
            if re.search(r"\b(ERROR|CRITICAL|Traceback|exited \()", ln)
        ]
        code = self.proc.returncode
        self.proc = None
        return {
            "exit_code_parent": code,
            "log_problem_lines": problems[:20],
            "log_problem_count": len(problems),
            "leftover_pids": left,
        }


def _stop_all(*_args: object) -> None:
    for s in list(_SERVERS):
        with contextlib.suppress(Exception):
            s.stop()


def _on_signal(signum: int, _frame: object) -> None:
    _stop_all()
    raise SystemExit(128 + signum)


# ---------------------------------------------------------------------------- HTTP


def request(
    port: int,
    method: str,
    path: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes]:
    """One request; on ``conn`` if given (kept alive), else on a fresh connection."""
    own = conn is None
    c = conn or http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        hdrs = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            hdrs["Content-Type"] = "application/json"
        c.request(method, path, body=data, headers=hdrs)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        if own:
            c.close()


def health(port: int, conn: http.client.HTTPConnection | None = None) -> dict[str, Any]:
    status, body = request(port, "GET", "/health", conn=conn)
    if status != 200:
        raise ValueError(f"/health answered {status}")
    doc: dict[str, Any] = json.loads(body)
    return doc


# ---------------------------------------------------------------------------- wrk


def parse_socket_errors(out: str) -> dict[str, int]:
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    keys = ("connect", "read", "write", "timeout")
    if m is None:
        return dict.fromkeys(keys, 0)
    return dict(zip(keys, (int(g) for g in m.groups()), strict=True))


def run_wrk(
    server: Server, script: Path, threads: int, conns: int, seconds: int, latency: bool = True
) -> dict[str, Any]:
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds}s"]
    if latency:
        cmd.append("--latency")
    cmd += ["-s", str(script), server.base]
    cpu0 = server.cpu()
    busy0 = machine_busy_s()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1 = machine_busy_s()
    cpu1 = server.cpu()
    res: dict[str, Any] = dict(parse_wrk(out))
    res["socket_errors"] = parse_socket_errors(out)
    res["socket_errors_total"] = sum(res["socket_errors"].values())
    res["wall_s"] = round(wall, 2)
    res["server_cpu_s"] = {k: round(cpu1[k] - cpu0[k], 2) for k in cpu1}
    res["wrk_cpu_s"] = round((ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime), 2)
    # CPU used by anything else on the machine (this script, other jobs): noise
    res["other_cpu_s"] = round(
        max(0.0, busy1 - busy0 - sum(res["server_cpu_s"].values()) - res["wrk_cpu_s"]), 2
    )
    res["cpu_busy_of_2_cores"] = round(
        (sum(res["server_cpu_s"].values()) + res["wrk_cpu_s"]) / (wall * (os.cpu_count() or 1)), 3
    )
    return res


# ---------------------------------------------------------------------------- parts


def prepare(args: argparse.Namespace, tmp: Path) -> tuple[Path, str]:
    art = tmp / "artifact"
    if args.artifact is not None:
        log(f"copying {args.artifact} to {art} (the benchmark edits stations)")
        shutil.copytree(args.artifact, art, ignore=shutil.ignore_patterns("api_keys.json"))
    else:
        log(f"building a regional artifact in {art}")
        subprocess.run(
            [sys.executable, "-m", "locator_cli.main", "build", "--out", str(art)],
            cwd=ROOT,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    key = (
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locator_cli.main",
                "keys",
                "create",
                "--artifact",
                str(art),
                "--name",
                "bench-workers",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
        .strip()
    )
    if not key.startswith("lk_"):
        raise SystemExit(f"unexpected key output: {key!r}")
    return art, key


def stations(port: int) -> list[dict[str, Any]]:
    status, body = request(port, "GET", "/v1/stations?limit=1000")
    if status != 200:
        raise RuntimeError(f"/v1/stations answered {status}")
    feats: list[dict[str, Any]] = json.loads(body)["features"]
    return feats


def nearest_paths(port: int, feats: list[dict[str, Any]]) -> list[str]:
    """A point beside each station that snaps (as bench_api.py: +0.001 deg lon and lat)."""
    paths = []
    for f in feats:
        lon, lat = f["geometry"]["coordinates"]
        path = f"/v1/nearest?lon={lon + 0.001:.6f}&lat={lat + 0.001:.6f}&kind=driver_station"
        if request(port, "GET", path)[0] == 200:
            paths.append(path)
    return paths


def probe_keepalive(server: Server, paths: list[str], n: int = 100) -> dict[str, Any]:
    """Sequential ``GET /v1/nearest``: ``n`` on one kept-alive connection (after a first
    request) and ``n`` each on a fresh connection; median/p90 per request. A kept-alive
    median ~40 ms above the fresh one is Nagle's algorithm meeting the client's delayed
    ACK (the response is written in two pieces and the socket lacks TCP_NODELAY)."""
    out: dict[str, Any] = {}
    conn = http.client.HTTPConnection(HOST, server.port, timeout=30)
    try:
        request(server.port, "GET", paths[0], conn=conn)
        ka = []
        for i in range(n):
            t0 = time.perf_counter()
            request(server.port, "GET", paths[i % len(paths)], conn=conn)
            ka.append(time.perf_counter() - t0)
    finally:
        conn.close()
    fresh = []
    for i in range(n):
        t0 = time.perf_counter()
        request(server.port, "GET", paths[i % len(paths)])
        fresh.append(time.perf_counter() - t0)
    out["keep_alive"] = summary_ms(ka)
    out["fresh_connection"] = summary_ms(fresh)
    return out


def part_throughput(
    args: argparse.Namespace, art: Path, tmp: Path, script: Path, paths: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    conns = args.connections
    rounds: list[dict[str, Any]] = []
    memory: list[dict[str, Any]] = []
    order = [w for _ in range(args.repeats) for w in (1, 2)]
    for i, workers in enumerate(order):
        rnd = i // 2
        server = Server(art, workers, tmp, f"w{workers}-r{rnd}").start()
        try:
            log(f"warm-up wrk -t{args.threads} -c4 -d{args.warmup}s (workers={workers})")
            run_wrk(server, script, args.threads, 4, args.warmup, latency=False)
            mem_warm = server.memory()
            probe = probe_keepalive(server, paths)
            log(
                f"sequential probe: keep-alive median {probe['keep_alive']['median_ms']} ms, "
                f"fresh connection median {probe['fresh_connection']['median_ms']} ms"
            )
            runs = {}
            for c in conns if rnd % 2 == 0 else list(reversed(conns)):
                log(f"wrk -t{args.threads} -c{c} -d{args.seconds}s workers={workers} round={rnd}")
                r = run_wrk(server, script, args.threads, c, args.seconds)
                log(
                    f"  {r['requests_per_s']:.0f} req/s p50 {r.get('p50_ms')} ms "
                    f"p99 {r.get('p99_ms')} ms non2xx {r['non_2xx']:.0f} "
                    f"sockerr {r['socket_errors_total']} cpu {r['server_cpu_s']} "
                    f"wrk {r['wrk_cpu_s']} other {r['other_cpu_s']}"
                )
                runs[f"c{c}"] = r
            mem_after = server.memory()
        finally:
            stopped = server.stop()
        rounds.append(
            {
                "order": i,
                "round": rnd,
                "workers": workers,
                "runs": runs,
                "sequential_probe": probe,
                "server_log": stopped,
            }
        )
        memory.append(
            {
                "order": i,
                "round": rnd,
                "workers": workers,
                "after_warmup": mem_warm,
                "after_wrk": mem_after,
            }
        )
    summary = {}
    for workers in (1, 2):
        for c in conns:
            samples = [r["runs"][f"c{c}"] for r in rounds if r["workers"] == workers]
            med = {
                k: round(statistics.median(s[k] for s in samples), 3)
                for k in ("requests_per_s", "p50_ms", "p90_ms", "p99_ms")
            }
            med["non_2xx_total"] = int(sum(s["non_2xx"] for s in samples))
            med["socket_errors_total"] = int(sum(s["socket_errors_total"] for s in samples))
            med["requests_per_s_samples"] = [s["requests_per_s"] for s in samples]
            med["p50_ms_samples"] = [s["p50_ms"] for s in samples]
            med["server_cpu_s_median"] = round(
                statistics.median(sum(s["server_cpu_s"].values()) for s in samples), 2
            )
            med["wrk_cpu_s_median"] = round(statistics.median(s["wrk_cpu_s"] for s in samples), 2)
            med["other_cpu_s_max"] = max(s["other_cpu_s"] for s in samples)
            summary[f"workers{workers}_c{c}"] = med
        probes = [r["sequential_probe"] for r in rounds if r["workers"] == workers]
        summary[f"workers{workers}_sequential_probe"] = {
            k: round(statistics.median(p[k]["median_ms"] for p in probes), 3)
            for k in ("keep_alive", "fresh_connection")
        }
    throughput = {
        "route": "GET /v1/nearest?lon=..&lat=..&kind=driver_station (points rotate)",
        "wrk": f"wrk --latency -t{args.threads} -c{{{','.join(map(str, conns))}}} "
        f"-d{args.seconds}s",
        "order": "workers 1,2,1,2 (fresh server each); round 0 runs connections ascending, "
        "round 1 descending",
        "note": "wrk runs on the same 2 cores as the server: the client's CPU (wrk_cpu_s) "
        "is taken from the server; server_cpu_s is per process over the run",
        "median_of_rounds": summary,
        "rounds": rounds,
    }
    return throughput, {"runs": memory}


def part_propagation(
    args: argparse.Namespace, server: Server, key: str, feats: list[dict[str, Any]]
) -> dict[str, Any]:
    port = server.port
    auth = {"X-API-Key": key}
    latencies: list[float] = []
    poll_request_s: list[float] = []
    polls_needed: list[int] = []
    first_poll: list[float] = []  # rounds whose first poll reached the other worker
    stale_same = stale_other = answers_same = answers_other = 0
    not_reached = errors = 0
    writers: dict[int, int] = {}
    stale_examples: list[dict[str, Any]] = []
    ids = [f["id"] for f in feats]
    for i in range(args.propagation_rounds):
        sid = ids[i % len(ids)]
        note = f"bench-workers propagation {i} {uuid.uuid4().hex}"
        wconn = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            writer = health(port, conn=wconn)["worker"]["pid"]
            status, _ = request(
                port, "PATCH", f"/v1/stations/{sid}", {"notes": note}, auth, conn=wconn
            )
            t_ack = time.perf_counter()
        finally:
            wconn.close()
        if status != 200:
            errors += 1
            continue
        writers[writer] = writers.get(writer, 0) + 1
        deadline = t_ack + 10.0
        n = 0
        while True:
            n += 1
            c = http.client.HTTPConnection(HOST, port, timeout=30)
            try:
                t_send = time.perf_counter()
                st, body = request(port, "GET", f"/v1/stations/{sid}", conn=c)
                t_recv = time.perf_counter()
                pid = health(port, conn=c)["worker"]["pid"]
            finally:
                c.close()
            if st != 200:
                errors += 1
                fresh = False
            else:
                fresh = json.loads(body)["properties"].get("notes") == note
            if pid == writer:
                answers_same += 1
                stale_same += not fresh
            else:
                answers_other += 1
                stale_other += not fresh
            if not fresh and len(stale_examples) < 10:
                stale_examples.append(
                    {"round": i, "station": sid, "pid": pid, "writer": writer, "poll": n}
                )
            if pid != writer:
                latencies.append(t_recv - t_ack)
                poll_request_s.append(t_recv - t_send)
                polls_needed.append(n)
                if n == 1:
                    first_poll.append(t_recv - t_ack)
                break
            if time.perf_counter() > deadline:
                not_reached += 1
                break
    lat = summary_ms(latencies) if latencies else {}
    return {
        "rounds": args.propagation_rounds,
        "method": "writer pid from /health then PATCH notes on one fresh connection; then "
        "fresh connections each doing GET /v1/stations/{id} + GET /health (same "
        "connection) until the other worker answers; time = PATCH ack -> that "
        "station response received",
        "ack_to_other_worker": lat,
        "other_worker_request_only": summary_ms(poll_request_s) if poll_request_s else {},
        "ack_to_other_worker_when_first_poll": summary_ms(first_poll) if first_poll else {},
        "polls_needed": {
            "median": statistics.median(polls_needed) if polls_needed else None,
            "max": max(polls_needed) if polls_needed else None,
        },
        "answers_from_writer": answers_same,
        "answers_from_other": answers_other,
        "stale_from_writer": stale_same,
        "stale_from_other": stale_other,
        "stale_total": stale_same + stale_other,
        "stale_examples": stale_examples,
        "other_worker_not_reached_in_10s": not_reached,
        "http_errors": errors,
        "patches_by_writer_pid": {str(k): v for k, v in writers.items()},
    }


def part_moves(
    args: argparse.Namespace, server: Server, key: str, feats: list[dict[str, Any]], script: Path
) -> dict[str, Any]:
    port = server.port
    auth = {"X-API-Key": key}
    drivers = [f for f in feats if f["properties"]["kind"] == "driver_station"]
    step = max(1, len(drivers) // args.move_stations)
    chosen = drivers[::step][: args.move_stations]
    dlat = 0.009  # ~1.0 km north
    positions = []
    for f in chosen:
        lon, lat = f["geometry"]["coordinates"]
        b = (lon, round(lat + dlat, 6))
        if request(port, "GET", f"/v1/nearest?lon={b[0]}&lat={b[1]}&kind=driver_station")[0] != 200:
            b = (round(lon + 0.0125, 6), lat)  # ~1 km east instead
        positions.append((f["id"], (lon, lat), b))
    log(f"warm-up wrk -t{args.threads} -c4 -d{args.warmup}s before moves")
    run_wrk(server, script, args.threads, 4, args.warmup, latency=False)
    before = server.memory()
    lat_s: list[float] = []
    by_worker: dict[int, int] = {}
    checkpoints: list[dict[str, Any]] = []
    records: list[dict[str, Any]] = []
    pending = dict.fromkeys(server.worker_pids, 0)
    errors = 0
    cpu0, busy0 = server.cpu(), machine_busy_s()
    self0 = resource.getrusage(resource.RUSAGE_SELF)
    for i in range(args.moves):
        sid, a, b = positions[i % len(positions)]
        lon, lat = b if (i // len(positions)) % 2 == 0 else a
        c = http.client.HTTPConnection(HOST, port, timeout=30)
        try:
            t0 = time.perf_counter()
            st, _ = request(
                port, "PATCH", f"/v1/stations/{sid}", {"lon": lon, "lat": lat}, auth, conn=c
            )
            lat_s.append(time.perf_counter() - t0)
            pid = health(port, conn=c)["worker"]["pid"]
        finally:
            c.close()
        by_worker[pid] = by_worker.get(pid, 0) + 1
        errors += st != 200
        # moves the answering worker had to apply first (made by the other since its last)
        pend = pending.get(pid, 0)
        records.append({"ms": round(lat_s[-1] * 1e3, 3), "worker_pid": pid, "applied_first": pend})
        for w in pending:
            pending[w] = 0 if w == pid else pending[w] + (st == 200)
        if i + 1 in (1, 10) or (i + 1) % 100 == 0:
            mem = server.memory()
            checkpoints.append(
                {
                    "moves": i + 1,
                    "sum_pss_kb": mem["sum_pss_kb"],
                    "pss_kb": {r: p["pss_kb"] for r, p in mem["processes"].items()},
                    "rss_kb": {r: p["rss_kb"] for r, p in mem["processes"].items()},
                    "median_ms_last_100": round(
                        statistics.median(lat_s[-100:]) * 1e3, 3
                    ),  # or fewer
                }
            )
            log(
                f"  {i + 1} moves, median of last 100 "
                f"{checkpoints[-1]['median_ms_last_100']} ms, sum PSS {mb(mem['sum_pss_kb'])} MiB"
            )
    cpu1, busy1 = server.cpu(), machine_busy_s()
    self1 = resource.getrusage(resource.RUSAGE_SELF)
    server_cpu = {k: round(cpu1[k] - cpu0[k], 2) for k in cpu1}
    self_cpu = (self1.ru_utime - self0.ru_utime) + (self1.ru_stime - self0.ru_stime)
    other_cpu = round(max(0.0, busy1 - busy0 - sum(server_cpu.values()) - self_cpu), 2)
    by_pending: dict[str, Any] = {}
    for label, lo, hi in (("0", 0, 0), ("1", 1, 1), ("2+", 2, 1 << 30)):
        xs = [r["ms"] / 1e3 for r in records if lo <= r["applied_first"] <= hi]
        if xs:
            by_pending[label] = summary_ms(xs)
    # a read on several fresh connections, so both workers apply the last moves
    for _ in range(8):
        request(port, "GET", "/health")
    after = server.memory()
    growth = {}
    for role, p in after["processes"].items():
        b0 = before["processes"][role]
        growth[role] = {
            "rss_pct": round(100.0 * (p["rss_kb"] - b0["rss_kb"]) / b0["rss_kb"], 1),
            "pss_pct": round(100.0 * (p["pss_kb"] - b0["pss_kb"]) / b0["pss_kb"], 1),
        }
    growth["sum_pss_pct"] = round(
        100.0 * (after["sum_pss_kb"] - before["sum_pss_kb"]) / before["sum_pss_kb"], 1
    )
    final = {f["id"]: f["geometry"]["coordinates"] for f in stations(port)}
    back_home = all(
        abs(final[sid][0] - a[0]) < 1e-6 and abs(final[sid][1] - a[1]) < 1e-6
        for sid, a, _ in positions
    )
    return {
        "moves": args.moves,
        "stations": [{"id": sid, "a": a, "b": b} for sid, a, b in positions],
        "latency_first_100": summary_ms(lat_s[:100]),
        "latency_last_100": summary_ms(lat_s[-100:]),
        "latency_all": summary_ms(lat_s),
        "latency_by_moves_applied_first": by_pending,
        "server_cpu_s": server_cpu,
        "client_cpu_s": round(self_cpu, 2),
        "other_cpu_s": other_cpu,
        "http_errors": errors,
        "moves_by_worker_pid": {str(k): v for k, v in by_worker.items()},
        "per_move": records,
        "memory_before": before,
        "memory_after": after,
        "memory_after_n_moves": checkpoints,
        "growth": growth,
        "stations_back_at_start": back_home,
    }


# ---------------------------------------------------------------------------- report


def mb(kb: int) -> str:
    return f"{kb / 1024:.1f}"


def markdown(res: dict[str, Any]) -> str:
    m = res["machine"]
    lines = [
        f"Machine: {m['cpu_model']}, {m['cores']} cores, Python {m['python']}, {m['date']}; "
        f"wrk shares the 2 cores with the server.",
        "",
        "**1. `GET /v1/nearest`, wrk -t2, medians of 2 rounds (order 1,2,1,2)**",
        "",
        "| workers | conns | req/s | p50 ms | p90 ms | p99 ms | non-2xx | socket errors | "
        "server CPU s | wrk CPU s | other CPU s (max) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    med_rounds = res["throughput"]["median_of_rounds"]
    for key, s in med_rounds.items():
        km = re.fullmatch(r"workers(\d+)_c(\d+)", key)
        if km is None:
            continue
        w, c = km.groups()
        samples = " / ".join(f"{x:.0f}" for x in s["requests_per_s_samples"])
        lines.append(
            f"| {w} | {c} | {s['requests_per_s']:.0f} ({samples}) | {s['p50_ms']} | "
            f"{s['p90_ms']} | {s['p99_ms']} | {s['non_2xx_total']} | "
            f"{s['socket_errors_total']} | {s['server_cpu_s_median']} | {s['wrk_cpu_s_median']} | "
            f"{s['other_cpu_s_max']} |"
        )
    lines += [
        "",
        "Sequential `GET /v1/nearest` (one request at a time, 100 each, median of rounds):",
        "",
        "| workers | kept-alive connection, median ms | fresh connection each, median ms |",
        "|---:|---:|---:|",
    ]
    for workers in (1, 2):
        pr = med_rounds.get(f"workers{workers}_sequential_probe")
        if pr:
            lines.append(f"| {workers} | {pr['keep_alive']} | {pr['fresh_connection']} |")
    lines += [
        "",
        "**2. Memory (MiB), round 1 / round 2**",
        "",
        "| workers | process | RSS warm | PSS warm | RSS after wrk | PSS after wrk |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    runs = res["memory"]["runs"]
    for workers in (1, 2):
        rs = [r for r in runs if r["workers"] == workers]
        roles = list(rs[0]["after_warmup"]["processes"])
        for role in roles:
            cells = [
                " / ".join(mb(r[stage]["processes"][role][field]) for r in rs)
                for stage in ("after_warmup", "after_wrk")
                for field in ("rss_kb", "pss_kb")
            ]
            lines.append(f"| {workers} | {role} | " + " | ".join(cells) + " |")
        tots = [
            " / ".join(mb(r[stage][field]) for r in rs)
            for stage in ("after_warmup", "after_wrk")
            for field in ("sum_rss_kb", "sum_pss_kb")
        ]
        lines.append(
            f"| {workers} | **sum** | {tots[0]} | **{tots[1]}** | {tots[2]} | **{tots[3]}** |"
        )
    p = res["propagation"]
    a = p["ack_to_other_worker"]
    o = p["other_worker_request_only"]
    lines += [
        "",
        f"**3. Edit propagation between 2 workers ({p['rounds']} note PATCHes)**",
        "",
        "| measure | value |",
        "|---|---|",
        f"| PATCH ack -> first answer of the other worker: median / p90 / max | "
        f"{a.get('median_ms')} / {a.get('p90_ms')} / {a.get('max_ms')} ms |",
        f"| same, rounds whose first poll reached the other worker: median / max | "
        f"{p['ack_to_other_worker_when_first_poll'].get('median_ms')} / "
        f"{p['ack_to_other_worker_when_first_poll'].get('max_ms')} ms |",
        f"| of which that read itself (fresh connection): median / max | "
        f"{o.get('median_ms')} / {o.get('max_ms')} ms |",
        f"| polls until the other worker answered: median / max | "
        f"{p['polls_needed']['median']} / {p['polls_needed']['max']} |",
        f"| answers checked (writer / other) | {p['answers_from_writer']} / "
        f"{p['answers_from_other']} |",
        f"| stale answers (writer / other) | **{p['stale_from_writer']} / "
        f"{p['stale_from_other']}** |",
        f"| other worker not reached in 10 s; HTTP errors | "
        f"{p['other_worker_not_reached_in_10s']}; {p['http_errors']} |",
    ]
    mv = res["moves"]
    lines += [
        "",
        f"**4. {mv['moves']} station moves through the API (2 workers, "
        f"{len(mv['stations'])} driver stations, ~1 km back and forth)**",
        "",
        "| process | RSS before | RSS after | PSS before | PSS after | PSS growth |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for role, pb in mv["memory_before"]["processes"].items():
        pa = mv["memory_after"]["processes"][role]
        lines.append(
            f"| {role} | {mb(pb['rss_kb'])} | {mb(pa['rss_kb'])} | {mb(pb['pss_kb'])} | "
            f"{mb(pa['pss_kb'])} | {mv['growth'][role]['pss_pct']:+.1f}% |"
        )
    lines.append(
        f"| **sum** | {mb(mv['memory_before']['sum_rss_kb'])} | "
        f"{mb(mv['memory_after']['sum_rss_kb'])} | {mb(mv['memory_before']['sum_pss_kb'])} | "
        f"{mb(mv['memory_after']['sum_pss_kb'])} | {mv['growth']['sum_pss_pct']:+.1f}% |"
    )
    f100, l100 = mv["latency_first_100"], mv["latency_last_100"]
    lines += [
        "",
        "| moves | median ms | p90 ms | max ms |",
        "|---|---:|---:|---:|",
        f"| first 100 | {f100['median_ms']} | {f100['p90_ms']} | {f100['max_ms']} |",
        f"| last 100 | {l100['median_ms']} | {l100['p90_ms']} | {l100['max_ms']} |",
        f"| all {mv['moves']} | {mv['latency_all']['median_ms']} | "
        f"{mv['latency_all']['p90_ms']} | {mv['latency_all']['max_ms']} |",
    ]
    for label, sm in mv["latency_by_moves_applied_first"].items():
        lines.append(
            f"| worker first applied {label} move(s) of the other ({sm['n']}) | "
            f"{sm['median_ms']} | {sm['p90_ms']} | {sm['max_ms']} |"
        )
    lines += [
        "",
        f"HTTP errors during moves: {mv['http_errors']}; stations back at their start: "
        f"{mv['stations_back_at_start']}; moves per worker: {mv['moves_by_worker_pid']}; "
        f"server CPU s during the moves: {mv['server_cpu_s']}; other processes: "
        f"{mv['other_cpu_s']} CPU s.",
        "",
        "Sum of PSS (MiB) after N moves: "
        + ", ".join(f"{c['moves']}: {mb(c['sum_pss_kb'])}" for c in mv["memory_after_n_moves"]),
    ]
    if res.get("findings"):
        lines += ["", "**Findings**", ""] + [f"- {f}" for f in res["findings"]]
    return "\n".join(lines)


def findings(res: dict[str, Any]) -> list[str]:
    """Plain-text flags: 2 workers slower than 1, errors, stale reads, memory growth."""
    out = []
    med = res["throughput"]["median_of_rounds"]
    for c in res["setup"]["connections"]:
        one, two = med[f"workers1_c{c}"], med[f"workers2_c{c}"]
        if two["requests_per_s"] < one["requests_per_s"]:
            out.append(
                f"-c{c}: 2 workers are slower than 1 ({two['requests_per_s']:.0f} vs "
                f"{one['requests_per_s']:.0f} req/s; p50 {two['p50_ms']} vs {one['p50_ms']} ms)"
            )
        for w, m in (("1", one), ("2", two)):
            if m["non_2xx_total"] or m["socket_errors_total"]:
                out.append(
                    f"-c{c} workers={w}: {m['non_2xx_total']} non-2xx, "
                    f"{m['socket_errors_total']} socket errors"
                )
        for w, m in (("1", one), ("2", two)):
            if m["other_cpu_s_max"] > 0.05 * res["setup"]["seconds"] * (os.cpu_count() or 1):
                out.append(
                    f"-c{c} workers={w}: other processes used up to "
                    f"{m['other_cpu_s_max']} CPU s during a run (noise)"
                )
    pr1 = med.get("workers1_sequential_probe", {})
    pr2 = med.get("workers2_sequential_probe", {})
    for w, pr in (("1", pr1), ("2", pr2)):
        if pr and pr["keep_alive"] > pr["fresh_connection"] + 20:
            out.append(
                f"workers={w}: a request on a kept-alive connection takes {pr['keep_alive']} ms "
                f"against {pr['fresh_connection']} ms on a fresh one (a ~40 ms stall, the mark of "
                "Nagle's algorithm meeting delayed ACKs: is TCP_NODELAY set on accepted sockets?)"
            )
    p = res["propagation"]
    if p["stale_total"]:
        out.append(f"edit propagation: {p['stale_total']} stale answers")
    if p["http_errors"] or p["other_worker_not_reached_in_10s"]:
        out.append(
            f"edit propagation: {p['http_errors']} HTTP errors, "
            f"{p['other_worker_not_reached_in_10s']} rounds never reached the other worker"
        )
    mv = res["moves"]
    for role, g in mv["growth"].items():
        if role == "sum_pss_pct":
            continue
        if g["pss_pct"] > 10 or g["rss_pct"] > 10:
            out.append(
                f"moves: {role} grew RSS {g['rss_pct']:+.1f}%, PSS {g['pss_pct']:+.1f}% "
                f"over {mv['moves']} moves"
            )
    if mv["http_errors"]:
        out.append(f"moves: {mv['http_errors']} HTTP errors")
    slow = mv["latency_last_100"]["median_ms"] / mv["latency_first_100"]["median_ms"]
    if slow > 1.2:
        out.append(f"moves: the last 100 moves are {slow:.1f}x slower (median) than the first 100")
    for part in ("propagation", "moves"):
        n = res[part].get("server_log", {}).get("log_problem_count", 0)
        if n:
            out.append(f"{part}: {n} error lines in the server log")
    for r in res["throughput"]["rounds"]:
        if r["server_log"].get("log_problem_count"):
            out.append(
                f"throughput workers={r['workers']} round={r['round']}: "
                f"{r['server_log']['log_problem_count']} error lines in the server log"
            )
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install wrk")
    tmp = Path(tempfile.mkdtemp(prefix="bench-workers-"))
    started = time.monotonic()
    res: dict[str, Any] = {"machine": machine_info(), "code": code_info(args.code_rev)}
    try:
        art, key = prepare(args, tmp)
        probe = Server(art, 1, tmp, "probe").start()
        try:
            feats = stations(probe.port)
            paths = nearest_paths(probe.port, feats)
        finally:
            probe.stop()
        script = tmp / "nearest.lua"
        script.write_text(_lua_rotating(paths))
        res["setup"] = {
            "artifact": "fresh regional build"
            if args.artifact is None
            else f"copy of {args.artifact}",
            "stations": len(feats),
            "driver_stations": sum(f["properties"]["kind"] == "driver_station" for f in feats),
            "nearest_points": len(paths),
            "seconds": args.seconds,
            "warmup_s": args.warmup,
            "threads": args.threads,
            "connections": args.connections,
            "rate_limit": "off (LOCATOR_RATE_LIMIT_ENABLED=false)",
            "server": "python -m locator_cli.main serve --artifact A --host 127.0.0.1 "
            "--port P --workers N (access log on, to a file)",
        }
        res["throughput"], res["memory"] = part_throughput(args, art, tmp, script, paths)

        server = Server(art, 2, tmp, "propagation").start()
        try:
            log(f"propagation: {args.propagation_rounds} rounds")
            res["propagation"] = part_propagation(args, server, key, feats)
        finally:
            res["propagation"]["server_log"] = server.stop()

        server = Server(art, 2, tmp, "moves").start()
        try:
            log(f"moves: {args.moves}")
            res["moves"] = part_moves(args, server, key, feats, script)
        finally:
            res["moves"]["server_log"] = server.stop()
    finally:
        _stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    res["runtime_s"] = round(time.monotonic() - started, 1)
    res["findings"] = findings(res)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="Measures wrk throughput/latency, RSS/PSS, edit propagation and memory under "
        "moves for --workers 1 vs 2; see the module docstring.",
    )
    parser.add_argument("--seconds", type=int, default=60, help="each measured wrk run (s)")
    parser.add_argument(
        "--artifact",
        type=Path,
        default=None,
        help="artifact to copy (default: build a fresh regional one)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "benchmarks/results/workers.json",
        help="where to write the JSON results",
    )
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--connections", type=int, nargs="+", default=[4, 16], help="wrk connection counts"
    )
    parser.add_argument("--repeats", type=int, default=2, help="rounds of (1 worker, 2 workers)")
    parser.add_argument("--warmup", type=int, default=5, help="wrk warm-up per server (s)")
    parser.add_argument("--propagation-rounds", type=int, default=200)
    parser.add_argument("--moves", type=int, default=1000)
    parser.add_argument("--move-stations", type=int, default=5)
    parser.add_argument(
        "--code-rev",
        default=None,
        help="free text recorded as the code measured (e.g. when run from a git archive)",
    )
    args = parser.parse_args()
    atexit.register(_stop_all)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    res = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(res, indent=2) + "\n")
    log(f"wrote {args.out} ({res['runtime_s']} s)")
    print(markdown(res))


if __name__ == "__main__":
    main()
