"""Side-by-side benchmark: our engine vs OSRM, Valhalla, pgRouting, Pandana, OSMnx + NetworkX
and spopt on the same networks, stations, query points and (where the engine allows) speeds.

One command, from the repository root (about 35 minutes on 2 shared cores)::

    make bench-peers        # = .venv/bin/python benchmarks/run_all.py

It first installs missing peers into their own environments (``--no-setup`` skips that):
OSRM 26.10 and Valhalla 3.9.1 wheels into ``benchmarks/.peers-venv312`` (cp312 only),
Pandana / igraph / rustworkx / psycopg / spopt / osmnx into the running interpreter, and
PostgreSQL 15 + pgRouting 3.4 + PostGIS 3.3 from Debian (only when running as root). Then,
per network (regional, Helsinki, world), it measures build/preprocessing, nearest station
(k=1, k=3), route, service circles 5/10/15 with polygon quality, coverage labelling of
every node, site suggestions (vs the exact spopt MCLP), and the agreement of travel
times. Engines run one after the other (never in parallel). Then the extras of the same
run (``--extras``, :mod:`benchmarks.issue13`): HTTP against ``osrm-routed`` and
``valhalla_service``, the streaming OSM build, the memory of a second worker. Writes
``benchmarks/results/peers_<network>.json``, ``peers_summary.json``, ``peers_tables.md``
(issue 13's targets first), ``peers_query_time.png``, and the generated part of
BENCHMARKS.md; exits 2 when a requested peer or extra could not run.

``--quick`` uses few samples and no extras (a sanity run in about 3 minutes);
``--networks regional`` restricts the networks (OSRM builds only MLD on the world graph);
``--engines ours,networkx`` the engines; ``--extras ""`` skips the extras.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import issue13
from benchmarks.peers import common, networks, osm_peers, ours, pgrouting, py_peers
from benchmarks.peers.quality import polygon_quality, truth_zone

log = logging.getLogger("run_all")

ALL_ENGINES = ("ours", "networkx", "pandana", "spopt", "pgrouting", "osrm", "valhalla")
MINUTES = (5, 10, 15)
COVER_LIMIT_S = 900.0


# ------------------------------------------------------------------------------ setup
def find_python312() -> str | None:
    """A working Python 3.12 for the OSRM/Valhalla wheels (cp312 only).

    ``PEERS_PYTHON`` first, then pyenv's versions directory (``pyenv prefix`` resolves
    only installed versions, and pyenv's ``python3.12`` shim fails unless 3.12 is the
    global version), then a real ``python3.12`` on the PATH; each candidate must run.
    """
    candidates: list[str] = []
    if os.environ.get("PEERS_PYTHON"):
        candidates.append(os.environ["PEERS_PYTHON"])
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    candidates += [str(p / "bin" / "python") for p in sorted(root.glob("3.12*"), reverse=True)]
    on_path = shutil.which("python3.12")
    if on_path:
        candidates.append(on_path)
    for cand in candidates:
        ok = subprocess.run(
            [cand, "-c", "import sys; assert sys.version_info[:2] == (3, 12)"],
            capture_output=True,
            check=False,
        )
        if ok.returncode == 0:
            return cand
    return None


def setup_peers(engines: set[str]) -> dict[str, str]:
    """Install missing peers; return the reason for every peer that still cannot run."""
    notes: dict[str, str] = {}
    need_py = []
    for mod, pkg in (
        ("pandana", "pandana"),
        ("psycopg", "psycopg[binary]"),
        ("spopt", "spopt"),
        ("osmnx", "osmnx"),
        ("igraph", "igraph"),
        ("rustworkx", "rustworkx"),
    ):
        try:
            __import__(mod)
        except ImportError:
            need_py.append(pkg)
    if need_py:
        log.info("pip install %s", " ".join(need_py))
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", *need_py], check=False)
    if {"osrm", "valhalla"} & engines and not common.PEERS_PYTHON.exists():
        py312 = find_python312()
        if py312 is None:
            notes["osrm"] = notes["valhalla"] = (
                "no Python 3.12 interpreter found (set PEERS_PYTHON=/path/to/python3.12)"
            )
        else:
            log.info("creating %s with %s", common.PEERS_VENV, py312)
            subprocess.run([py312, "-m", "venv", common.PEERS_VENV], check=False)
    if {"osrm", "valhalla"} & engines and common.PEERS_PYTHON.exists():
        have = (
            subprocess.run(
                [common.PEERS_PYTHON, "-c", "import osrm, valhalla"],
                capture_output=True,
                check=False,
            ).returncode
            == 0
        )
        if not have:
            subprocess.run(
                [
                    common.PEERS_PYTHON,
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "osrm-bindings==26.10.*",
                    "pyvalhalla==3.9.1",
                ],
                check=False,
            )
    if "pgrouting" in engines and pgrouting.available() and os.geteuid() == 0:
        log.info("apt-get install postgresql-15-pgrouting postgresql-15-postgis-3")
        subprocess.run(["apt-get", "update", "-q"], check=False, capture_output=True)
        subprocess.run(
            [
                "apt-get",
                "install",
                "-y",
                "-q",
                "postgresql-15-pgrouting",
                "postgresql-15-postgis-3",
            ],
            check=False,
            capture_output=True,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
        )
    for eng in engines:
        why = None
        if eng in ("osrm", "valhalla"):
            why = osm_peers.available(eng)
        elif eng == "pgrouting":
            why = pgrouting.available()
        elif eng in ("pandana", "spopt", "networkx"):
            mod = {"networkx": "osmnx"}.get(eng, eng)
            try:
                __import__(mod)
            except ImportError as exc:
                why = f"import {mod}: {exc}"
        if why:
            notes[eng] = why
    return notes


# ------------------------------------------------------------------------------ sizes
SIZES = {
    #            nearest  ours/pandana, osm peers, nx recipe, nx fast, pg; routes; circles
    "full": {
        "points": 1000,
        "osm": 300,
        "nx": 20,
        "nx_fast": 100,
        "pg": 30,
        "routes": 200,
        "circles": 40,
        "circles_pg": 12,
        "circles_nx": 8,
        "quality": 8,
        "cover_rep": 10,
        "k": 5,
        "candidates": 1000,
        "cbc_limit_s": 120.0,
    },
    "quick": {
        "points": 100,
        "osm": 40,
        "nx": 5,
        "nx_fast": 20,
        "pg": 5,
        "routes": 30,
        "circles": 8,
        "circles_pg": 3,
        "circles_nx": 3,
        "quality": 3,
        "cover_rep": 3,
        "k": 3,
        "candidates": 200,
        "cbc_limit_s": 30.0,
    },
    "smoke": {
        "points": 20,
        "osm": 10,
        "nx": 3,
        "nx_fast": 5,
        "pg": 3,
        "routes": 5,
        "circles": 3,
        "circles_pg": 2,
        "circles_nx": 2,
        "quality": 2,
        "cover_rep": 1,
        "k": 2,
        "candidates": 40,
        "cbc_limit_s": 20.0,
        "site_minutes": 1.0,
    },
}


# the 560k-node world graph: fewer samples for the engines that search it per query
WORLD_SIZES = {
    "nx": 3,
    "nx_fast": 5,
    "pg": 3,
    "osm": 50,
    "circles": 10,
    "circles_pg": 3,
    "circles_nx": 3,
    "quality": 3,
    "cover_rep": 3,
    "candidates": 300,
}


def _safe(rec: dict[str, Any], key: str, fn: Any) -> Any:
    """Run one engine step; on failure record the error text instead of numbers."""
    try:
        return fn()
    except Exception as exc:
        log.exception("%s failed", key)
        rec.setdefault("errors", {})[key] = f"{type(exc).__name__}: {exc}"[:2000]
        return None


def _strip(d: dict[str, Any]) -> dict[str, Any]:
    """Drop bulky arrays/objects from a result before it goes to JSON."""
    drop = {
        "polygons",
        "delivered",
        "node_time_s",
        "cover",
        "remaining",
        "candidates",
        "k1_station",
        "k1_duration_s",
        "k3_station",
        "k3_duration_s",
        "duration_s",
        "distance_m",
    }
    return {k: v for k, v in d.items() if k not in drop}


def run_scenario(
    sc: networks.Scenario,
    engines: set[str],
    size: dict[str, Any],
    work: Path,
    pg: pgrouting.PrivatePostgres | None,
    unavailable: dict[str, str],
) -> dict[str, Any]:
    """Every task on one network, engines one after another."""
    rec: dict[str, Any] = {
        "network": sc.describe(),
        "build": {},
        "nearest_k1": {},
        "nearest_k3": {},
        "route": {},
        "circles": {},
        "circle_quality": {},
        "coverage": {},
        "coverage_all": {},
        "siting": {},
        "agreement": {},
        "unavailable": {},
    }
    for eng in engines:
        if eng in unavailable:
            rec["unavailable"][eng] = unavailable[eng]
    n = min(size["points"], sc.point_lonlat.shape[0])
    g = sc.graph
    log.info("== %s: %d nodes, %d edges, mode %s", sc.name, g.n_nodes, g.n_edges, sc.mode)

    # ---- ours (always: it is the reference for answers and quality)
    o, b = ours.build(sc)
    rec["build"]["ours"] = b
    on = ours.nearest(o, sc, n)
    rec["nearest_k1"]["ours"] = {**on["k1"], "method": on["method"]}
    rec["nearest_k3"]["ours"] = {**on["k3"], "method": on["method"]}
    n_routes = min(size["routes"], n)
    orr = ours.route(o, sc, n_routes, on["k1_station"])
    rec["route"]["ours"] = {**orr["route"], "method": orr["method"]}
    circle_idx = list(range(size["circles"]))
    oc = ours.circles(o, sc, circle_idx, MINUTES)
    rec["circles"]["ours"] = {**oc["circles"], "method": oc["method"]}
    ocov = ours.coverage(o, sc, COVER_LIMIT_S, size["cover_rep"])
    rec["coverage"]["ours"] = {
        **ocov["coverage"],
        "method": ocov["method"],
        "snapped_stations": ocov["coverage_snapped_stations"],
    }
    ocov_all = ours.coverage(o, sc, np.inf, size["cover_rep"])
    rec["coverage_all"]["ours"] = {
        **ocov_all["coverage"],
        "method": ocov_all["method"],
        "snapped_stations": ocov_all["coverage_snapped_stations"],
    }
    fin = ocov_all["node_time_s"][np.isfinite(ocov_all["node_time_s"])]
    # finite bounds covering every node / every k=3 answer; whole seconds because pandana
    # keeps POI bounds in single precision and rejects a query bound above the stored one
    all_bound_s = float(np.ceil(float(fin.max()) * 1.001 + 1.0))
    k3d = [d for row in on["k3_duration_s"] for d in row if np.isfinite(d)]
    nearest_bound_s = float(np.ceil(max(k3d) * 1.05 + 1.0)) if k3d else COVER_LIMIT_S
    osit = ours.siting(o, sc, size["k"], size.get("site_minutes", 15.0), size["candidates"], seed=0)
    rec["siting"]["ours"] = _strip(osit)

    # truth for circle quality: road actually reachable from each quality point
    q_idx = circle_idx[: size["quality"]]
    truth_lines = {
        i: [
            ours.reached_lines(o, sc, float(sc.point_lonlat[i, 0]), float(sc.point_lonlat[i, 1]), m)
            for m in MINUTES
        ]
        for i in q_idx
    }
    truth = {i: [truth_zone(ls) for ls in truth_lines[i]] for i in q_idx}

    project = _lonlat_projector(sc)

    def quality(
        name: str,
        polys: list[list[Any]],
        idx: list[int],
        delivered: list[list[Any]] | None = None,
    ) -> None:
        rows = [
            polygon_quality(
                polys[j],
                truth[i],
                truth_lines[i],
                delivered=delivered[j] if delivered is not None else None,
                project=project,
            )
            for j, i in enumerate(idx)
            if i in truth
        ]
        if not rows:
            return
        agg: dict[str, Any] = {
            "points": len(rows),
            "nested_all": all(r["nested"] for r in rows),
            "nested_points": sum(bool(r["nested"]) for r in rows),
            "max_nesting_violation_km2": max(r["nesting_violation_km2"] for r in rows),
        }
        for key in ("area_km2", "false_area_km2", "false_share", "missed_road_share"):
            arr = np.array([r[key] for r in rows])
            agg[key + "_median"] = {
                str(m): float(np.median(arr[:, k])) for k, m in enumerate(MINUTES)
            }
        rec["circle_quality"][name] = agg

    quality("ours", oc["polygons"], circle_idx, oc["delivered"])
    ref_k1 = np.array(on["k1_station"])
    ref_d1 = np.array(on["k1_duration_s"])
    ref_cov = ocov["node_time_s"]

    def agree_nearest(name: str, res: dict[str, Any]) -> None:
        st = np.array(res["k1_station"])
        m = st.shape[0]
        same = float(np.mean(st == ref_k1[:m]))
        d = np.array(res["k1_duration_s"], dtype=float)
        ok = np.isfinite(d) & np.isfinite(ref_d1[:m])
        diff = np.abs(d[ok] - ref_d1[:m][ok])
        rec["agreement"].setdefault("nearest_k1", {})[name] = {
            "same_station_share": same,
            "queries": m,
            "median_abs_diff_s": float(np.median(diff)) if diff.size else None,
            "p99_abs_diff_s": float(np.percentile(diff, 99)) if diff.size else None,
            "median_ratio_peer_over_ours": float(
                np.median(d[ok & (ref_d1[:m] > 0)] / ref_d1[:m][ok & (ref_d1[:m] > 0)])
            )
            if np.any(ok & (ref_d1[:m] > 0))
            else None,
        }

    def agree_cov(name: str, times: np.ndarray, every: bool = False) -> None:
        a, b2 = (ocov_all["node_time_s"], times) if every else (ref_cov, times)
        lim = all_bound_s if every else COVER_LIMIT_S
        both = np.isfinite(a) & np.isfinite(b2) & (a <= lim) & (b2 <= lim)
        only = int(np.sum(np.isfinite(a) & (a < lim - 1e-3) & ~np.isfinite(b2)))
        only += int(np.sum(np.isfinite(b2) & (b2 < lim - 1e-3) & ~np.isfinite(a)))
        diff = np.abs(a[both] - b2[both])
        kind = "coverage_all_node_times" if every else "coverage_15min_node_times"
        rec["agreement"].setdefault(kind, {})[name] = {
            "nodes_compared": int(both.sum()),
            "max_abs_diff_s": float(diff.max()) if diff.size else None,
            "nodes_reached_by_one_only": only,
        }

    # ---- NetworkX / OSMnx
    log.info("-- %s", "networkx")
    if "networkx" in engines and "networkx" not in unavailable:
        mg, b = py_peers.nx_build(sc)
        rec["build"]["networkx"] = b
        r = _safe(rec, "networkx.nearest", lambda: py_peers.nx_nearest(mg, sc, size["nx"]))
        if r:
            rec["nearest_k1"]["osmnx+networkx"] = {**r["k1"], "method": r["method"]}
            rec["nearest_k3"]["osmnx+networkx"] = {**r["k3"], "method": r["method"]}
            agree_nearest("osmnx+networkx", r)
        r = _safe(
            rec, "networkx.nearest_fast", lambda: py_peers.nx_nearest_fast(mg, sc, size["nx_fast"])
        )
        if r:
            rec["nearest_k1"]["networkx (kd-tree + multi-source)"] = {
                **r["k1"],
                "method": r["method"],
            }
        r = _safe(
            rec,
            "networkx.circles",
            lambda: py_peers.nx_circles(mg, sc, circle_idx[: size["circles_nx"]], MINUTES),
        )
        if r:
            rec["circles"]["osmnx ego_graph+hull"] = {**r["circles"], "method": r["method"]}
            quality("osmnx ego_graph+hull", r["polygons"], circle_idx[: size["circles_nx"]])
        r = _safe(rec, "networkx.coverage", lambda: py_peers.nx_coverage(mg, sc, COVER_LIMIT_S))
        if r:
            rec["coverage"]["networkx"] = {**r["coverage"], "method": r["method"]}
            agree_cov("networkx", r["node_time_s"])
        r = _safe(rec, "networkx.coverage_all", lambda: py_peers.nx_coverage(mg, sc, np.inf))
        if r:
            rec["coverage_all"]["networkx"] = {**r["coverage"], "method": r["method"]}
            agree_cov("networkx", r["node_time_s"], every=True)
        del mg

    # ---- Pandana
    log.info("-- %s", "pandana")
    if "pandana" in engines and "pandana" not in unavailable:
        pb = _safe(rec, "pandana.build", lambda: py_peers.pandana_build(sc, nearest_bound_s))
        if pb:
            net, b = pb
            rec["build"]["pandana"] = b
            r = _safe(
                rec,
                "pandana.nearest",
                lambda: py_peers.pandana_nearest(net, sc, n, nearest_bound_s),
            )
            if r:
                rec["nearest_k1"]["pandana nearest_pois"] = {
                    **r["k1"],
                    "method": r["method"],
                    "precompute_all_nodes_s": r["precompute_all_nodes_s"],
                }
                rec["nearest_k3"]["pandana nearest_pois"] = {**r["k3"], "method": r["method"]}
                q = r["per_query_ch"]
                rec["nearest_k1"]["pandana 1xS CH"] = {**q["k1"], "method": q["method"]}
                rec["nearest_k3"]["pandana 1xS CH"] = {**q["k3"], "method": q["method"]}
                agree_nearest("pandana nearest_pois", r)
                agree_nearest("pandana 1xS CH", q)
            # labelling needs its own POI category bounded by the limit
            for every, lim in ((False, COVER_LIMIT_S), (True, all_bound_s)):
                r = _safe(
                    rec,
                    f"pandana.coverage{'_all' if every else ''}",
                    lambda lim=lim: _pandana_cov(net, sc, lim, size["cover_rep"]),
                )
                if r:
                    rec["coverage_all" if every else "coverage"]["pandana"] = {
                        **r["coverage"],
                        "method": r["method"],
                    }
                    agree_cov("pandana", r["node_time_s"], every=every)
            del net

    # ---- spopt
    log.info("-- %s", "spopt")
    if "spopt" in engines and "spopt" not in unavailable:
        r = _safe(rec, "spopt", lambda: py_peers.spopt_mclp(osit, size["k"], size["cbc_limit_s"]))
        if r:
            rec["siting"]["spopt MCLP (CBC)"] = r
            rec["siting"]["ours_objective_share_of_spopt"] = (
                osit["objective"] / r["objective"] if r["objective"] > 0 else None
            )

    # ---- pgRouting
    log.info("-- %s", "pgrouting")
    if "pgrouting" in engines and pg is not None:
        loaded = _safe(rec, "pgrouting.load", lambda: pgrouting.load(pg, sc))
        if loaded:
            conn, b = loaded
            rec["build"]["pgrouting"] = b
            r = _safe(rec, "pgrouting.nearest", lambda: pgrouting.nearest(conn, sc, size["pg"]))
            if r:
                rec["nearest_k1"]["pgrouting"] = {**r["k1"], "method": r["method"]}
                rec["nearest_k3"]["pgrouting"] = {**r["k3"], "method": r["method"]}
                agree_nearest("pgrouting", r)
            r = _safe(
                rec,
                "pgrouting.circles",
                lambda: pgrouting.circles(conn, sc, circle_idx[: size["circles_pg"]], MINUTES),
            )
            if r:
                rec["circles"]["pgrouting drivingDistance+ConcaveHull"] = {
                    **r["circles"],
                    "method": r["method"],
                }
                quality(
                    "pgrouting drivingDistance+ConcaveHull",
                    r["polygons"],
                    circle_idx[: size["circles_pg"]],
                )
            for every, lim in ((False, COVER_LIMIT_S), (True, all_bound_s)):
                for eq in (False, True):
                    name = "pgrouting equicost" if eq else "pgrouting"
                    r = _safe(
                        rec,
                        f"{name}.coverage{'_all' if every else ''}",
                        lambda lim=lim, eq=eq: pgrouting.coverage(
                            conn, sc, lim, max(1, size["cover_rep"] // 3), equicost=eq
                        ),
                    )
                    if r:
                        rec["coverage_all" if every else "coverage"][name] = {
                            **r["coverage"],
                            "method": r["method"],
                        }
                        agree_cov(name, r["node_time_s"], every=every)
            conn.close()

    # ---- OSRM / Valhalla (their own processes)
    osm_engines = [e for e in ("osrm", "valhalla") if e in engines and e not in unavailable]
    if osm_engines:
        pbf = sc.pbf
        uniform = sc.uniform_kph is not None
        if pbf is None:
            pbf = _safe(
                rec,
                "write_pbf",
                lambda: networks.write_uniform_pbf(
                    g, sc.mode, float(sc.uniform_kph or 60.0), work / f"{sc.name}.osm.pbf"
                ),
            )
        n_osm = min(size["osm"], n)
        route_pairs = [
            [i, int(on["k1_station"][i])]
            for i in range(min(n_routes, n_osm))
            if on["k1_station"][i] >= 0
        ]
        assert sc.station_snapped is not None
        job = {
            "points": sc.point_lonlat[:n].tolist(),
            "stations": sc.station_snapped.tolist(),
            "n_nearest": n_osm,
            "route_pairs": route_pairs,
            "circle_points": circle_idx,
            "minutes": list(MINUTES),
            "fixed_speed_kph": sc.uniform_kph if uniform else None,
        }
        for eng in osm_engines:
            if pbf is None:
                break
            log.info("-- %s", eng)
            ew = work / f"{sc.name}-{eng}"
            with_ch = sc.name != "world"  # CH contraction of the world graph: too slow here
            built = _safe(
                rec,
                f"{eng}.build",
                (lambda ew=ew, ch=with_ch: osm_peers.build_osrm(pbf, ew, uniform, ch=ch))
                if eng == "osrm"
                else (lambda ew=ew: osm_peers.build_valhalla(pbf, ew)),
            )
            if not built:
                continue
            data, b = built
            rec["build"][eng] = b
            algos = sorted(data) if eng == "osrm" else [""]  # OSRM: "CH" and/or "MLD"
            runs: dict[str, Any] = {}
            for algo in algos:
                res = _safe(
                    rec,
                    f"{eng}{algo}.queries",
                    lambda eng=eng, data=data, ew=ew, algo=algo: osm_peers.run_worker(
                        {
                            **job,
                            "engine": eng,
                            "algorithm": algo,
                            "data": str(data[algo] if algo else data),
                        },
                        ew,
                    ),
                )
                if not res:
                    continue
                if all(k < 0 for k in res["k1_station"]):
                    rec.setdefault("errors", {})[f"{eng}{algo}.nearest"] = (
                        "every nearest query failed: " + str(res.get("errors", {}))[:500]
                    )
                    continue
                runs[algo] = res
                key = f"serving_peak_rss_mb{'_' + algo if algo else ''}"
                rec["build"][eng][key] = res["worker_peak_rss_mb"]
                label = {
                    "osrm": f"osrm table 1xS ({algo})",
                    "valhalla": "valhalla sources_to_targets",
                }[eng]
                method = {
                    "osrm": f"libosrm Table ({algo}), 1 source x all stations, "
                    "in-process binding; min",
                    "valhalla": "Actor.matrix, 1 source x all stations, in-process; min",
                }[eng]
                rec["nearest_k1"][label] = {**common.stats(res["k1_times"]), "method": method}
                rec["nearest_k3"][label] = {**common.stats(res["k1_times"]), "method": method}
                agree_nearest(label, res)
                if algo == "MLD" and "CH" in runs:
                    rec["route"]["osrm route (MLD)"] = common.stats(res["route_times"])
            # route agreement and circles from the CH run (OSRM) or the only run (Valhalla)
            res = runs.get("CH", runs.get("MLD", runs.get("")))
            if not res:
                continue
            if res.get("errors"):
                rec.setdefault("errors", {}).update(
                    {f"{eng}.{k} (first failure)": v for k, v in res["errors"].items()}
                )
            used = "CH" if "CH" in runs else "MLD"
            rname = {"osrm": f"osrm route ({used})", "valhalla": "valhalla route"}[eng]
            rec["route"][rname] = common.stats(res["route_times"])
            od = np.array(orr["duration_s"][: len(res["route_duration_s"])])
            pd_ = np.array(res["route_duration_s"], dtype=float)
            okm = np.isfinite(pd_) & (od > 0)
            rec["agreement"].setdefault("route_duration", {})[rname] = {
                "routes": int(okm.sum()),
                "median_ratio_peer_over_ours": float(np.median(pd_[okm] / od[okm]))
                if okm.any()
                else None,
                "median_abs_diff_s": float(np.median(np.abs(pd_[okm] - od[okm])))
                if okm.any()
                else None,
            }
            if eng == "valhalla":
                rec["circles"]["valhalla isochrone"] = {
                    **common.stats(res["circle_times"]),
                    "method": "Actor.isochrone, contours 5/10/15, polygons",
                }
                lonlat = [_valhalla_polys(f) for f in res["circle_features"]]
                polys = [[project(p) for p in ps] for ps in lonlat]
                quality("valhalla isochrone", polys, circle_idx, lonlat)
    return rec


def _pandana_cov(net: Any, sc: networks.Scenario, limit_s: float, repeat: int) -> dict[str, Any]:
    """Every node's time to the nearest station within ``limit_s`` (set_pois untimed)."""
    import pandas as pd

    assert sc.station_nodes is not None
    cat = f"cover{limit_s:.0f}"
    g = sc.graph
    net.set_pois(
        cat,
        limit_s,
        1,
        pd.Series(g.node_x[sc.station_nodes]),
        pd.Series(g.node_y[sc.station_nodes]),
    )
    t: list[float] = []
    table = None
    for _ in range(repeat):
        a = time.perf_counter()
        table = net.nearest_pois(limit_s, cat, num_pois=1)
        t.append(time.perf_counter() - a)
    assert table is not None
    d = table[1].reindex(range(g.n_nodes)).to_numpy(dtype=float)
    d = np.where(d >= limit_s, np.inf, d)
    return {
        "coverage": common.stats(t),
        "node_time_s": d,
        "method": f"set_pois(stations, maxdist={limit_s:.0f} s) once (untimed), then "
        "nearest_pois(num_pois=1) over all nodes (timed)",
    }


def _lonlat_projector(sc: networks.Scenario) -> Any:
    """Lon/lat geometry -> the network's projected CRS, vertex by vertex (as the
    harness has always projected peers' output for areas)."""
    import shapely

    from locator.network.projection import Projector

    proj = Projector(sc.graph.crs)

    def fwd(xy: np.ndarray) -> np.ndarray:
        x, y = proj.forward(xy[:, 0], xy[:, 1])
        return np.column_stack((x, y))

    return lambda geom: shapely.transform(geom, fwd)


def _valhalla_polys(features: list[dict[str, Any]]) -> list[Any]:
    """Valhalla's contours as delivered (lon/lat polygons), one per budget."""
    import shapely
    from shapely.geometry import shape

    by_min: dict[float, Any] = {}
    for f in features:
        if "geometry" not in f:
            continue
        geom = shape(f["geometry"])
        if geom.geom_type == "LineString":
            geom = shapely.Polygon(geom.coords)
        by_min[float(f["properties"]["contour"])] = geom
    return [by_min.get(float(m), shapely.Polygon()) for m in MINUTES]


# ------------------------------------------------------------------------------ report
def ratio_rows(rec: dict[str, Any], task: str) -> list[str]:
    rows = []
    ours_med = rec[task].get("ours", {}).get("median_ms")
    for eng, r in rec[task].items():
        if not isinstance(r, dict) or "median_ms" not in r:
            continue
        ratio = (r["median_ms"] / ours_med) if ours_med else float("nan")
        rows.append(
            f"| {eng} | {r['n']} | {r['median_ms']:.3f} | {r['p99_ms']:.3f} | "
            f"{'1x' if eng == 'ours' else f'{ratio:.3g}x'} |"
        )
    return rows


def markdown(summary: dict[str, Any]) -> str:
    out = []
    for name, rec in summary["networks"].items():
        net = rec["network"]
        out.append(
            f"### {name}: {net['nodes']} nodes, {net['directed_edges']} directed edges, "
            f"mode {net['mode']}, {net['stations']} stations\n"
        )
        if "carried_from_run" in rec:
            out.append(
                f"*Not re-measured in this run: these figures come from {rec['carried_from_run']}"
                " (same harness and seed; older code).*\n"
            )
        for note in net["notes"]:
            out.append(f"- {note}")
        out.append("")
        for task, title in (
            ("nearest_k1", "Nearest station, k=1"),
            ("nearest_k3", "Nearest stations, k=3"),
            ("route", "Route to the chosen station"),
            ("circles", "Service circles 5/10/15 min (one point, all three)"),
            ("coverage", "Coverage labelling of every node (15 min bound)"),
            (
                "coverage_all",
                "Coverage labelling of every node (no bound: "
                "time to the nearest station everywhere)",
            ),
        ):
            rows = ratio_rows(rec, task)
            if not rows:
                continue
            out.append(f"**{title}** (ms per call; ratio = peer median / our median)\n")
            out.append("| engine | n | median ms | p99 ms | peer / ours |")
            out.append("|---|---:|---:|---:|---:|")
            out.extend(rows)
            out.append("")
        if rec["circle_quality"]:
            out.append(
                "**Circle quality** (medians over points; false area = polygon farther "
                "than 500 m from road reachable in time; missed = reachable road "
                "outside the polygon)\n"
            )
            out.append(
                "| engine | points | nested (points) | worst overlap km² | area km² 5/10/15 "
                "| false area km² 5/10/15 | false share 15 | missed road 15 |"
            )
            out.append("|---|---:|---|---:|---|---|---:|---:|")
            for eng, q in rec["circle_quality"].items():
                a = "/".join(f"{v:.1f}" for v in q["area_km2_median"].values())
                f = "/".join(f"{v:.1f}" for v in q["false_area_km2_median"].values())
                out.append(
                    f"| {eng} | {q['points']} | {q['nested_points']}/{q['points']} | "
                    f"{q['max_nesting_violation_km2']:.3f} | {a} | {f} | "
                    f"{q['false_share_median']['15']:.0%} | "
                    f"{q['missed_road_share_median']['15']:.0%} |"
                )
            out.append("")
        out.append("**Build / preprocessing**\n")
        out.append("| engine | build s | memory | what |")
        out.append("|---|---:|---|---|")
        for eng, b in rec["build"].items():
            mem = []
            if b.get("rss_growth_mb") is not None:
                mem.append(f"RSS +{b['rss_growth_mb']:.0f} MB")
            if b.get("peak_rss_mb") is not None:
                mem.append(f"build peak {b['peak_rss_mb']:.0f} MB")
            if b.get("serving_peak_rss_mb") is not None:
                mem.append(f"query process peak {b['serving_peak_rss_mb']:.0f} MB")
            if b.get("table_size_mb") is not None:
                mem.append(f"tables {b['table_size_mb']:.0f} MB")
            if b.get("tiles_mb") is not None:
                mem.append(f"tiles {b['tiles_mb']:.0f} MB")
            out.append(f"| {eng} | {b['build_s']:.2f} | {', '.join(mem)} | {b['what']} |")
        out.append("")
        s = rec["siting"]
        if "ours" in s:
            out.append(
                f"**Site suggestions** ({len(s['ours']['sites'])} new sites, "
                f"{s['ours']['minutes']:g} min, road-length demand)\n"
            )
            out.append("| engine | time ms | objective (road m newly covered) | note |")
            out.append("|---|---:|---:|---|")
            o = s["ours"]
            out.append(
                f"| ours greedy | {o['time_ms']:.0f} | {o['objective']:.0f} | {o['method']} |"
            )
            sp = s.get("spopt MCLP (CBC)")
            if sp:
                out.append(
                    f"| spopt MCLP | {sp['time_ms']:.0f} | {sp['objective']:.0f} | "
                    f"{sp['status']}; {sp['demand_nodes']} demand nodes x "
                    f"{sp['candidates']} candidates; given our coverage sets "
                    f"({o['coverage_sets_ms']:.0f} ms) |"
                )
                share = s.get("ours_objective_share_of_spopt")
                if share is not None:
                    out.append(f"\nOur objective = {share:.2%} of spopt's.\n")
        if rec["agreement"]:
            out.append("**Agreement**\n")
            for kind, rows in rec["agreement"].items():
                for eng, a in rows.items():
                    out.append(
                        f"- {kind} / {eng}: "
                        + ", ".join(
                            f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}"
                            for k, v in a.items()
                        )
                    )
            out.append("")
        if rec.get("unavailable") or rec.get("errors"):
            out.append("**Could not run**\n")
            for eng, why in {**rec.get("unavailable", {}), **rec.get("errors", {})}.items():
                out.append(f"- {eng}: {why}")
            out.append("")
    return "\n".join(out) + "\n"


def _med(rec: dict[str, Any], task: str, eng: str) -> float | None:
    r = rec.get(task, {}).get(eng)
    return r["median_ms"] if isinstance(r, dict) and "median_ms" in r else None


def targets(summary: dict[str, Any]) -> str:
    """The issue's targets with the measured value beside each, per network."""
    out = [
        "| target | network | measured | met? |",
        "|---|---|---|---|",
    ]
    for key, rec in summary["networks"].items():
        name = f"{key} (earlier run)" if "carried_from_run" in rec else key
        ours_k1 = _med(rec, "nearest_k1", "ours")
        nx_k1 = _med(rec, "nearest_k1", "osmnx+networkx")
        if ours_k1 and nx_k1:
            ratio = nx_k1 / ours_k1
            out.append(
                f"| nearest k=1 >= 100x faster than OSMnx + NetworkX | {name} | "
                f"{ratio:.0f}x ({ours_k1:.3f} vs {nx_k1:.1f} ms) | "
                f"{'yes' if ratio >= 100 else 'NO'} |"
            )
        for task, label in (("nearest_k1", "k=1"), ("nearest_k3", "k=3")):
            o = _med(rec, task, "ours")
            peers = {
                e: r["median_ms"]
                for e, r in rec.get(task, {}).items()
                if e != "ours" and isinstance(r, dict) and "median_ms" in r
            }
            if o and peers:
                best = min(peers, key=peers.__getitem__)
                ok = o < peers[best]
                out.append(
                    f"| nearest {label} faster than every peer | {name} | fastest peer "
                    f"{best} {peers[best]:.3f} ms vs ours {o:.3f} ms "
                    f"({peers[best] / o:.3g}x) | {'yes' if ok else 'NO'} |"
                )
        o, v = _med(rec, "circles", "ours"), _med(rec, "circles", "valhalla isochrone")
        q = rec.get("circle_quality", {})
        if o and v:
            qo, qv = q.get("ours", {}), q.get("valhalla isochrone", {})
            fo = qo.get("false_area_km2_median", {}).get("15")
            fv = qv.get("false_area_km2_median", {}).get("15")
            out.append(
                f"| circles faster than Valhalla | {name} | ours {o:.1f} ms vs Valhalla "
                f"{v:.1f} ms ({v / o:.3g}x) | {'yes' if o < v else 'NO'} |"
            )
            if fo is not None and fv is not None:
                out.append(
                    f"| circles nest, less false area than Valhalla | {name} | nested "
                    f"{qo['nested_points']}/{qo['points']} vs {qv['nested_points']}/"
                    f"{qv['points']}; false area at 15 min {fo:.1f} vs {fv:.1f} km² | "
                    f"{'yes' if qo['nested_all'] and fo <= fv else 'NO'} |"
                )
        for task in ("coverage", "coverage_all"):
            o, pdn = _med(rec, task, "ours"), _med(rec, task, "pandana")
            if o and pdn:
                what = "15 min" if task == "coverage" else "all nodes"
                out.append(
                    f"| coverage labelling ({what}) faster than Pandana | {name} | "
                    f"{pdn / o:.1f}x ({o:.2f} vs {pdn:.2f} ms) | "
                    f"{'yes' if o < pdn else 'NO'} |"
                )
        share = rec.get("siting", {}).get("ours_objective_share_of_spopt")
        if share is not None:
            out.append(
                f"| site objective >= 99% of spopt's optimum | {name} | {share:.2%} | "
                f"{'yes' if share >= 0.99 else 'NO'} |"
            )
    return "\n".join(out) + "\n"


def plot(summary: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(16, 5))
    names = sorted(
        {
            eng
            for rec in summary["networks"].values()
            for task in ("nearest_k1", "circles", "coverage")
            for eng in rec[task]
        }
    )
    cmap = plt.get_cmap("tab20")
    colour = {eng: ("black" if eng == "ours" else cmap(i % 20)) for i, eng in enumerate(names)}
    for ax, task, title in zip(
        axes,
        ("nearest_k1", "circles", "coverage"),
        ("nearest station k=1", "circles 5/10/15", "coverage labelling, 15 min bound"),
        strict=True,
    ):
        series: dict[str, list[tuple[int, float]]] = {}
        for rec in summary["networks"].values():
            nodes = rec["network"]["nodes"]
            for eng, r in rec[task].items():
                if isinstance(r, dict) and "median_ms" in r:
                    series.setdefault(eng, []).append((nodes, r["median_ms"]))
        for eng, pts in sorted(series.items()):
            pts.sort()
            ax.plot(
                [p[0] for p in pts],
                [p[1] for p in pts],
                marker="o",
                color=colour[eng],
                linewidth=3 if eng == "ours" else 1.2,
                label=eng,
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("network nodes")
        ax.set_ylabel("median ms per call")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------ main
def run(
    network_names: list[str],
    engines: set[str],
    size_name: str,
    out_dir: Path,
    seed: int = 7,
    do_setup: bool = True,
    stations: int = 50,
) -> dict[str, Any]:
    """Run the comparison; return the summary (also written under ``out_dir``)."""
    started = time.perf_counter()
    unavailable = setup_peers(engines) if do_setup else {}
    if not do_setup:
        for eng in engines:
            why = (
                osm_peers.available(eng)
                if eng in ("osrm", "valhalla")
                else pgrouting.available()
                if eng == "pgrouting"
                else None
            )
            if why:
                unavailable[eng] = why
    size = SIZES[size_name]
    summary: dict[str, Any] = {
        "machine": common.machine_info(),
        "versions": common.versions(
            [
                "numpy",
                "scipy",
                "shapely",
                "networkx",
                "osmnx",
                "pandana",
                "spopt",
                "pulp",
                "psycopg",
                "igraph",
                "rustworkx",
                "osmium",
                "pyrosm",
            ]
        ),
        "sizes": size,
        "seed": seed,
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "networks": {},
        "unavailable": unavailable,
    }
    if common.PEERS_PYTHON.exists():
        r = subprocess.run(
            [
                common.PEERS_PYTHON,
                "-c",
                "from importlib.metadata import version as v;"
                "print(v('osrm-bindings'), v('pyvalhalla'))",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if r.returncode == 0:
            o, v = r.stdout.split()
            summary["versions"].update({"osrm-bindings": o, "pyvalhalla": v})
    pg = None
    work = Path(tempfile.mkdtemp(prefix="bench-peers-"))
    try:
        if "pgrouting" in engines and "pgrouting" not in unavailable:
            pg = pgrouting.PrivatePostgres()
            try:
                pg.start()
            except Exception as exc:
                unavailable["pgrouting"] = f"{type(exc).__name__}: {exc}"
                pg.stop()
                pg = None
        for name in network_names:
            t0 = time.perf_counter()
            if name == "regional":
                sc = networks.regional(size["points"], seed)
            elif name == "helsinki":
                sc = networks.helsinki(size["points"], stations, seed)
            elif name == "world":
                sc = networks.world(size["points"], 300, seed)
            elif name == "grid":
                sc = networks.grid(12, 12, size["points"], 2, seed)
            else:
                raise SystemExit(f"unknown network {name!r}")
            load_s = time.perf_counter() - t0
            sz = dict(size, **WORLD_SIZES) if name == "world" and size_name == "full" else size
            rec = run_scenario(sc, engines, sz, work, pg, unavailable)
            rec["network"]["our_graph_build_s"] = load_s
            summary["networks"][name] = rec
            common.write_json(out_dir / f"peers_{name}.json", rec)
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    summary["total_s"] = time.perf_counter() - started
    _carry_over(summary, out_dir / "peers_summary.json")
    common.write_json(out_dir / "peers_summary.json", summary)
    write_reports(summary, out_dir)
    return summary


def _carry_over(summary: dict[str, Any], previous_path: Path) -> None:
    """Keep the networks of the previous summary that this run did not measure (a
    ``--networks regional`` rerun must not drop the Helsinki and world tables), each
    marked with the run it comes from so the report does not pass it off as new."""
    if not previous_path.is_file():
        return
    import json

    try:
        previous = json.loads(previous_path.read_text())
    except (OSError, ValueError):
        log.warning("cannot read %s; earlier networks are not carried over", previous_path)
        return
    when = previous.get("run_at", "an earlier run")
    for name, rec in previous.get("networks", {}).items():
        if name not in summary["networks"]:
            rec.setdefault("carried_from_run", when)
            summary["networks"][name] = rec


def write_reports(
    summary: dict[str, Any], out_dir: Path, *, benchmarks_md: Path | None = None
) -> None:
    """peers_tables.md (issue 13's targets, the peer targets, the per-network tables) and
    the PNG plot; with ``benchmarks_md``, the same text replaces the generated part of
    BENCHMARKS.md (between :data:`issue13.BEGIN` and :data:`issue13.END`)."""
    when = summary.get("run_at", "?")
    body = (
        f"### Issue 13 targets (generated: one run, {when})\n\n"
        + issue13.targets_table(summary, out_dir)
        + f"\n### Peer targets (generated: {when})\n\n"
        + targets(summary)
        + "\n"
        + markdown(summary)
    )
    (out_dir / "peers_tables.md").write_text(body)
    plot(summary, out_dir / "peers_query_time.png")
    if benchmarks_md is not None and not issue13.splice(benchmarks_md, body):
        log.warning("%s has no generated-section markers; not updated", benchmarks_md)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--networks", default="regional,helsinki,world")
    ap.add_argument(
        "--extras",
        default=None,
        help="benchmarks run after the peer tables as part of the same run "
        f"(comma-separated, '' for none; known: {', '.join(issue13.EXTRAS)}; "
        "default: all of them, none with --quick)",
    )
    ap.add_argument("--engines", default=",".join(ALL_ENGINES))
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-setup", action="store_true")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, default=common.RESULTS_DIR)
    ap.add_argument(
        "--report-only",
        action="store_true",
        help="rewrite peers_tables.md and the plot from an existing peers_summary.json",
    )
    args = ap.parse_args(argv)
    md = ROOT / "BENCHMARKS.md" if args.out == common.RESULTS_DIR else None
    if args.report_only:
        import json

        summary = json.loads((args.out / "peers_summary.json").read_text())
        write_reports(summary, args.out, benchmarks_md=md)
        return 0
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s"
    )
    engines = {e.strip() for e in args.engines.split(",") if e.strip()} | {"ours"}
    started = time.perf_counter()
    summary = run(
        [n.strip() for n in args.networks.split(",")],
        engines,
        "quick" if args.quick else "full",
        args.out,
        args.seed,
        do_setup=not args.no_setup,
    )
    chosen = (
        ("" if args.quick else ",".join(issue13.EXTRAS)) if args.extras is None else args.extras
    )
    extras = [e.strip() for e in chosen.split(",") if e.strip()]
    failed = issue13.run_extras(extras, args.out)
    summary["extras_failed"] = failed
    summary["extras_measured"] = [e for e in extras if e not in failed]
    summary["total_s"] = time.perf_counter() - started
    common.write_json(args.out / "peers_summary.json", summary)
    write_reports(summary, args.out, benchmarks_md=md if not args.quick else None)
    log.info("done in %.0f s; results in %s", summary["total_s"], args.out)
    sys.stdout.write(markdown(summary))
    # a comparison that quietly drops a requested peer is not a comparison
    missing = sorted(set(summary.get("unavailable", {})) & engines)
    if missing:
        log.error("requested peers could not run: %s", ", ".join(missing))
    for name, why in failed.items():
        log.error("benchmark %s failed: %s", name, why)
    return 2 if missing or failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
