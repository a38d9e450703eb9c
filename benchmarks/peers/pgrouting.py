"""pgRouting 3.4 + PostGIS 3.3 on a private PostgreSQL 15 (Debian packages).

:class:`PrivatePostgres` runs ``initdb`` into a temporary directory and starts
``postgres`` listening on a Unix socket only (``listen_addresses=''``); ``stop()`` sends
SIGINT (fast shutdown) to that postmaster's PID and removes the directory. When the
harness runs as root, the server runs as the ``postgres`` system user (initdb refuses
root).
"""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from scipy.spatial import cKDTree

from benchmarks.peers.common import stats
from benchmarks.peers.networks import Scenario

log = logging.getLogger(__name__)

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def available() -> str | None:
    """None when the server binaries and the pgRouting extension are installed, else why."""
    if not (PG_BIN / "initdb").exists():
        return (
            f"{PG_BIN / 'initdb'} missing: apt-get install -y postgresql-15-pgrouting "
            "postgresql-15-postgis-3"
        )
    if not Path("/usr/share/postgresql/15/extension/pgrouting.control").exists():
        return "pgrouting extension missing: apt-get install -y postgresql-15-pgrouting"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg missing: pip install 'psycopg[binary]'"
    return None


class PrivatePostgres:
    """A throw-away PostgreSQL cluster on a Unix socket."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="bench-pg-"))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.sock.mkdir()
        self.proc: subprocess.Popen[bytes] | None = None
        self._user = "postgres" if os.geteuid() == 0 else None
        if self._user:
            pw = pwd.getpwnam(self._user)
            for p in (self.root, self.sock):
                os.chown(p, pw.pw_uid, pw.pw_gid)

    def start(self) -> None:
        subprocess.run(
            [
                PG_BIN / "initdb",
                "-D",
                self.data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            user=self._user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
        )
        self.log = open(self.root / "server.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                PG_BIN / "postgres",
                "-D",
                self.data,
                "-k",
                self.sock,
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=off",
                "-c",
                "shared_buffers=256MB",
                "-c",
                "work_mem=256MB",
                "-c",
                "max_parallel_workers_per_gather=0",
            ],
            user=self._user,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 30
        while not (self.sock / ".s.PGSQL.5432").exists():
            if self.proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(
                    "postgres did not start: " + (self.root / "server.log").read_text()[-800:]
                )
            time.sleep(0.1)
        time.sleep(0.3)

    def connect(self) -> Any:
        return self.connect_to("postgres")

    def connect_to(self, dbname: str) -> Any:
        import psycopg

        return psycopg.connect(host=str(self.sock), user="postgres", dbname=dbname, autocommit=True)

    def url(self, dbname: str) -> str:
        """A libpq URL of ``dbname`` on this cluster's socket."""
        return f"postgresql:///{dbname}?host={self.sock}&user=postgres"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGINT)  # fast shutdown, by PID
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        log_file = getattr(self, "log", None)
        if log_file is not None:
            log_file.close()
        shutil.rmtree(self.root, ignore_errors=True)


EDGES_SQL = "SELECT id, source, target, cost FROM edges"
REVERSE_EDGES_SQL = "SELECT id, target AS source, source AS target, cost FROM edges"


def load(pg: PrivatePostgres, sc: Scenario) -> tuple[Any, dict[str, Any]]:
    """Create the extensions, COPY our directed edges and nodes, index them."""
    g = sc.graph
    m = g.edge_allowed[sc.mode]
    conn = pg.connect()
    t0 = time.perf_counter()
    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    conn.execute("CREATE EXTENSION IF NOT EXISTS pgrouting")
    t_ext = time.perf_counter() - t0
    versions = conn.execute("SELECT pgr_version(), postgis_lib_version(), version()").fetchone()
    t1 = time.perf_counter()
    conn.execute("DROP TABLE IF EXISTS edges; DROP TABLE IF EXISTS v")
    conn.execute("CREATE TABLE edges (id bigint, source bigint, target bigint, cost float8)")
    conn.execute("CREATE TABLE v (id bigint PRIMARY KEY, x float8, y float8)")
    eu, ev, et = g.edge_u[m], g.edge_v[m], g.edge_time_s[sc.mode][m]
    with conn.cursor() as cur, cur.copy("COPY edges FROM STDIN") as cp:
        for i, (u, v, w) in enumerate(zip(eu.tolist(), ev.tolist(), et.tolist(), strict=True)):
            cp.write_row((i + 1, u, v, w))
    with conn.cursor() as cur, cur.copy("COPY v (id, x, y) FROM STDIN") as cp:
        for i, (x, y) in enumerate(zip(g.node_x.tolist(), g.node_y.tolist(), strict=True)):
            cp.write_row((i, x, y))
    conn.execute("ALTER TABLE v ADD COLUMN geom geometry(Point, 0)")
    conn.execute("UPDATE v SET geom = ST_MakePoint(x, y)")
    conn.execute("CREATE INDEX ON edges (id)")
    conn.execute("ANALYZE edges; ANALYZE v")
    t_load = time.perf_counter() - t1
    size = conn.execute(
        "SELECT pg_total_relation_size('edges') + pg_total_relation_size('v')"
    ).fetchone()[0]
    return conn, {
        "build_s": t_load,
        "parts_s": {"create extensions": t_ext, "copy+index": t_load},
        "table_size_mb": size / 1e6,
        "versions": {
            "pgrouting": versions[0],
            "postgis": versions[1],
            "postgresql": versions[2].split(",")[0],
        },
        "what": "COPY edges/nodes + index; pgRouting has no preprocessing (every query reads "
        "the edges SQL)",
    }


def _tree(sc: Scenario) -> cKDTree:
    assert sc.node_xy is not None
    assert sc.usable_nodes is not None
    return cKDTree(sc.node_xy[sc.usable_nodes])


def nearest(conn: Any, sc: Scenario, n: int) -> dict[str, Any]:
    """KD-tree (built once) node of the point + ``pgr_dijkstraCost`` one-to-many to the
    station nodes, k fastest (k=1 and k=3 from one query)."""
    from locator.network.projection import Projector

    assert sc.station_nodes is not None
    assert sc.usable_nodes is not None
    tree = _tree(sc)
    px, py = Projector(sc.graph.crs).forward(sc.point_lonlat[:n, 0], sc.point_lonlat[:n, 1])
    st = [int(x) for x in sc.station_nodes]
    node_to_st: dict[int, int] = {}
    for j, s in enumerate(st):
        node_to_st.setdefault(s, j)
    sql = (
        "SELECT end_vid, agg_cost FROM pgr_dijkstraCost(%s, %s::bigint, %s::bigint[], "
        "directed => true) ORDER BY agg_cost LIMIT 3"
    )
    t: list[float] = []
    k1: list[int] = []
    d1: list[float] = []
    for i in range(n):
        a = time.perf_counter()
        origin = int(sc.usable_nodes[tree.query((px[i], py[i]))[1]])
        rows = conn.execute(sql, (EDGES_SQL, origin, st)).fetchall()
        t.append(time.perf_counter() - a)
        if origin in node_to_st:
            k1.append(node_to_st[origin])
            d1.append(0.0)
        elif rows:
            k1.append(node_to_st[int(rows[0][0])])
            d1.append(float(rows[0][1]))
        else:
            k1.append(-1)
            d1.append(float("inf"))
    return {
        "k1": stats(t),
        "k3": stats(t),
        "k1_station": k1,
        "k1_duration_s": d1,
        "method": "KD-tree node + pgr_dijkstraCost(one to all stations) ORDER BY cost LIMIT 3",
    }


def circles(conn: Any, sc: Scenario, idx: list[int], minutes: tuple[int, ...]) -> dict[str, Any]:
    """``pgr_drivingDistance`` from the point's node + ``ST_ConcaveHull(0.3)`` per budget,
    one SQL statement for the three budgets."""
    assert sc.point_nodes is not None
    sql = (
        "WITH dd AS (SELECT node, agg_cost FROM pgr_drivingDistance(%s, %s::bigint, %s, "
        "directed => true)) "
        "SELECT b.m, ST_AsBinary(ST_ConcaveHull(ST_Collect(v.geom), 0.3)) "
        "FROM unnest(%s::int[]) AS b(m) JOIN dd ON dd.agg_cost <= b.m * 60 "
        "JOIN v ON v.id = dd.node GROUP BY b.m ORDER BY b.m"
    )
    t: list[float] = []
    polys: list[list[shapely.Geometry]] = []
    for i in idx:
        a = time.perf_counter()
        rows = conn.execute(
            sql, (EDGES_SQL, int(sc.point_nodes[i]), float(max(minutes) * 60), list(minutes))
        ).fetchall()
        t.append(time.perf_counter() - a)
        got = {int(r[0]): shapely.from_wkb(bytes(r[1])) for r in rows}
        polys.append([got.get(m, shapely.Polygon()) for m in minutes])
    return {
        "circles": stats(t),
        "polygons": polys,
        "method": "pgr_drivingDistance + ST_ConcaveHull(ST_Collect(nodes), 0.3) per budget",
    }


def coverage(
    conn: Any, sc: Scenario, limit_s: float, repeat: int, *, equicost: bool = False
) -> dict[str, Any]:
    """Every node's time to its nearest station: multi-start ``pgr_drivingDistance`` on
    the reversed edges, ``GROUP BY node`` taking the minimum over the starts.

    ``equicost => true`` (one row per node, "nearest start") is the documented shortcut,
    but in pgRouting 3.4.2 it returns non-minimal costs for many nodes once the searches
    of different stations meet; the harness measures it separately and reports its error.
    """
    assert sc.station_nodes is not None
    st = sorted({int(x) for x in sc.station_nodes})
    sql = (
        "SELECT node, min(agg_cost) FROM pgr_drivingDistance(%s, %s::bigint[], %s, "
        "directed => true, equicost => %s) GROUP BY node"
    )
    t: list[float] = []
    rows: list[Any] = []
    for _ in range(repeat):
        a = time.perf_counter()
        rows = conn.execute(sql, (REVERSE_EDGES_SQL, st, float(limit_s), equicost)).fetchall()
        t.append(time.perf_counter() - a)
    out = np.full(sc.graph.n_nodes, np.inf)
    if rows:
        arr = np.array(rows, dtype=float)
        out[arr[:, 0].astype(np.int64)] = arr[:, 1]
    how = "equicost => true" if equicost else "equicost => false, GROUP BY node min(agg_cost)"
    return {
        "coverage": stats(t),
        "node_time_s": out,
        "method": f"pgr_drivingDistance(reversed edges, all station nodes, limit, {how})",
    }
