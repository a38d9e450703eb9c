"""OSRM / Valhalla query worker. Runs in the Python 3.12 peers venv (the PyPI wheels
``osrm-bindings`` and ``pyvalhalla`` are cp312 only), in-process through their bindings, so
no HTTP overhead is counted. Standard library only besides the engine module.

Usage::

    benchmarks/.peers-venv312/bin/python benchmarks/peers/osm_worker.py JOB.json OUT.json

JOB keys: task ("trips" for stations along a trip, see ``_osrm_trips``; default the
nearest/route/circle run), engine ("osrm"|"valhalla"), data (OSRM base path / Valhalla config JSON),
points [[lon, lat]], stations [[lon, lat]], n_nearest, route_pairs [[point, station]],
circle_points [point index], minutes [5, 10, 15], fixed_speed_kph (Valhalla, optional).
OUT: load time, raw per-call seconds and answers (the harness computes statistics).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any


def _osrm(job: dict[str, Any]) -> dict[str, Any]:
    import osrm

    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    eng = osrm.OSRM(
        storage_config=job["data"],
        algorithm=job.get("algorithm") or "CH",
        use_shared_memory=False,
        max_locations_distance_table=100000,
        max_locations_viaroute=100,
    )
    out["load_s"] = time.perf_counter() - t0
    pts, st = job["points"], [tuple(s) for s in job["stations"]]
    dests = list(range(1, len(st) + 1))
    times, k1, d1, k3 = [], [], [], []
    for i in range(job["n_nearest"]):
        a = time.perf_counter()
        p = osrm.TableParameters(coordinates=[tuple(pts[i]), *st], sources=[0], destinations=dests)
        r = eng.Table(p)
        row = list(r["durations"][0])
        ranked = sorted((float(x), j) for j, x in enumerate(row) if x is not None)
        times.append(time.perf_counter() - a)
        k1.append(ranked[0][1] if ranked else -1)
        d1.append(ranked[0][0] if ranked else float("inf"))
        k3.append([j for _, j in ranked[:3]])
    out.update(k1_times=times, k1_station=k1, k1_duration_s=d1, k3_station=k3)
    rt, rd, rl = [], [], []
    for i, s in job["route_pairs"]:
        a = time.perf_counter()
        rp = osrm.RouteParameters(
            coordinates=[tuple(pts[i]), st[s]], overview="full", geometries="geojson", steps=True
        )
        try:
            route = eng.Route(rp)["routes"][0]
            rd.append(float(route["duration"]))
            rl.append(float(route["distance"]))
        except RuntimeError:  # NoRoute in OSRM's own car model: recorded as NaN
            rd.append(float("nan"))
            rl.append(float("nan"))
        rt.append(time.perf_counter() - a)
    out.update(route_times=rt, route_duration_s=rd, route_distance_m=rl)
    return out


def _quiet(cfg: Any) -> None:
    if isinstance(cfg, dict):
        for k, v in cfg.items():
            if k == "logging" and isinstance(v, dict):
                v["type"] = ""
            else:
                _quiet(v)


def _valhalla(job: dict[str, Any]) -> dict[str, Any]:
    import valhalla

    with open(job["data"]) as fh:
        cfg = json.load(fh)
    _quiet(cfg)
    big = 100_000_000  # metres: the world graph spans more than 10,000 km
    lim = cfg["service_limits"]
    for costing in ("auto", "truck"):
        lim[costing]["max_matrix_distance"] = big
        lim[costing]["max_matrix_location_pairs"] = big
        lim[costing]["max_distance"] = big
    lim["isochrone"]["max_distance"] = big
    lim["isochrone"]["max_time_contour"] = 600
    # one source to many targets: the Dijkstra-based matrix, not the bidirectional CostMatrix
    cfg["thor"]["source_to_target_algorithm"] = job.get("valhalla_matrix", "timedistancematrix")
    out: dict[str, Any] = {}
    t0 = time.perf_counter()
    actor = valhalla.Actor(cfg)
    out["load_s"] = time.perf_counter() - t0
    costing_options: dict[str, Any] = {}
    if job.get("fixed_speed_kph"):
        costing_options = {"auto": {"fixed_speed": int(job["fixed_speed_kph"])}}
    pts, st = job["points"], job["stations"]
    targets = [{"lon": s[0], "lat": s[1]} for s in st]
    errors: dict[str, str] = {}
    out["errors"] = errors
    times, k1, d1, k3 = [], [], [], []
    for i in range(job["n_nearest"]):
        a = time.perf_counter()
        q = {
            "sources": [{"lon": pts[i][0], "lat": pts[i][1]}],
            "targets": targets,
            "costing": "auto",
            "costing_options": costing_options,
        }
        try:
            r = actor.matrix(q)
            row = r["sources_to_targets"][0]
            ranked = sorted(
                (float(c["time"]), int(c["to_index"])) for c in row if c.get("time") is not None
            )
        except Exception as exc:  # a failed query is recorded, not fatal
            ranked = []
            errors.setdefault("matrix", str(exc)[:500])
        times.append(time.perf_counter() - a)
        k1.append(ranked[0][1] if ranked else -1)
        d1.append(ranked[0][0] if ranked else float("inf"))
        k3.append([j for _, j in ranked[:3]])
    out.update(k1_times=times, k1_station=k1, k1_duration_s=d1, k3_station=k3)
    rt, rd, rl = [], [], []
    for i, s in job["route_pairs"]:
        a = time.perf_counter()
        q = {
            "locations": [{"lon": pts[i][0], "lat": pts[i][1]}, {"lon": st[s][0], "lat": st[s][1]}],
            "costing": "auto",
            "costing_options": costing_options,
        }
        try:
            r = actor.route(q)
            summ = r["trip"]["summary"]
            rd.append(float(summ["time"]))
            rl.append(float(summ["length"]) * 1000.0)
        except Exception as exc:
            rd.append(float("nan"))
            rl.append(float("nan"))
            errors.setdefault("route", str(exc)[:500])
        rt.append(time.perf_counter() - a)
    out.update(route_times=rt, route_duration_s=rd, route_distance_m=rl)
    ct, polys = [], []
    for i in job["circle_points"]:
        a = time.perf_counter()
        q = {
            "locations": [{"lon": pts[i][0], "lat": pts[i][1]}],
            "costing": "auto",
            "costing_options": costing_options,
            "contours": [{"time": m} for m in job["minutes"]],
            "polygons": True,
        }
        try:
            r = actor.isochrone(q)
            feats = r["features"]
        except Exception as exc:
            feats = [{"error": str(exc)}]
            errors.setdefault("isochrone", str(exc)[:500])
        ct.append(time.perf_counter() - a)
        polys.append(feats)
    out.update(circle_times=ct, circle_features=polys)
    return out


def _detours(t_os: list[Any], t_sd: list[Any], t_od: Any) -> list[float | None]:
    if t_od is None:
        return [None] * len(t_os)
    return [
        None if a is None or b is None else float(a) + float(b) - float(t_od)
        for a, b in zip(t_os, t_sd, strict=True)
    ]


Times = tuple[Any, list[Any], list[Any]]  # t(o, d), t(o, s) per station, t(s, d)


def _trip_runs(
    job: dict[str, Any],
    table: Callable[[Any, Any], Times],
    leg: Callable[[Any, Any], float | None],
) -> dict[str, Any]:
    """Per trip: (a) the table recipe, (b) for the first ``n_route_trips`` trips one route
    per leg (o->s, s->d per station, o->d); timed, with the detours they give."""
    st = job["stations"]
    table_t, table_d, route_t, route_d = [], [], [], []
    for k, (o, d) in enumerate(job["trips"]):
        a = time.perf_counter()
        t_od, t_os, t_sd = table(o, d)
        table_t.append(time.perf_counter() - a)
        table_d.append(_detours(t_os, t_sd, t_od))
        if k >= job["n_route_trips"]:
            continue
        a = time.perf_counter()
        t_od = leg(o, d)
        t_os = [leg(o, s) for s in st]
        t_sd = [leg(s, d) for s in st]
        route_t.append(time.perf_counter() - a)
        route_d.append(_detours(t_os, t_sd, t_od))
    return {
        "table_times": table_t,
        "table_detour_s": table_d,
        "route_times": route_t,
        "route_detour_s": route_d,
    }


def _osrm_trips(job: dict[str, Any]) -> dict[str, Any]:
    """Stations along a trip, the peers' way: one ``Table`` over origin + stations x
    destination + stations (CH many-to-many), or one ``Route`` per leg."""
    import osrm

    eng = osrm.OSRM(
        storage_config=job["data"],
        algorithm=job.get("algorithm") or "CH",
        use_shared_memory=False,
        max_locations_distance_table=100000,
        max_locations_viaroute=100,
    )
    st = [tuple(s) for s in job["stations"]]
    n = len(st)

    def table(o: Any, d: Any) -> Times:
        p = osrm.TableParameters(
            coordinates=[tuple(o), tuple(d), *st],
            sources=[0, *range(2, n + 2)],
            destinations=[1, *range(2, n + 2)],
        )
        m = eng.Table(p)["durations"]
        return m[0][0], [m[0][1 + j] for j in range(n)], [m[1 + j][0] for j in range(n)]

    def leg(x: Any, y: Any) -> float | None:
        rp = osrm.RouteParameters(coordinates=[tuple(x), tuple(y)], overview="false")
        try:
            return float(eng.Route(rp)["routes"][0]["duration"])
        except RuntimeError:
            return None

    return _trip_runs(job, table, leg)


def _valhalla_trips(job: dict[str, Any]) -> dict[str, Any]:
    """As :func:`_osrm_trips` with Valhalla's matrix (CostMatrix) and routes."""
    import valhalla

    with open(job["data"]) as fh:
        cfg = json.load(fh)
    _quiet(cfg)
    big = 100_000_000
    lim = cfg["service_limits"]
    for costing in ("auto", "truck"):
        lim[costing]["max_matrix_distance"] = big
        lim[costing]["max_matrix_location_pairs"] = big
        lim[costing]["max_distance"] = big
    cfg["thor"]["source_to_target_algorithm"] = "costmatrix"
    actor = valhalla.Actor(cfg)
    co: dict[str, Any] = {}
    if job.get("fixed_speed_kph"):
        co = {"auto": {"fixed_speed": int(job["fixed_speed_kph"])}}
    st = job["stations"]
    n = len(st)
    errors: dict[str, str] = {}

    def loc(p: Any) -> dict[str, float]:
        return {"lon": p[0], "lat": p[1]}

    def table(o: Any, d: Any) -> Times:
        q = {
            "sources": [loc(o), *map(loc, st)],
            "targets": [loc(d), *map(loc, st)],
            "costing": "auto",
            "costing_options": co,
        }
        try:
            m = actor.matrix(q)["sources_to_targets"]
        except Exception as exc:  # a failed query is recorded, not fatal
            errors.setdefault("matrix", str(exc)[:500])
            return None, [None] * n, [None] * n
        return (
            m[0][0].get("time"),
            [m[0][1 + j].get("time") for j in range(n)],
            [m[1 + j][0].get("time") for j in range(n)],
        )

    def leg(x: Any, y: Any) -> float | None:
        q = {"locations": [loc(x), loc(y)], "costing": "auto", "costing_options": co}
        try:
            return float(actor.route(q)["trip"]["summary"]["time"])
        except Exception as exc:
            errors.setdefault("route", str(exc)[:500])
            return None

    return {**_trip_runs(job, table, leg), "errors": errors}


def main() -> int:
    job_path, out_path = sys.argv[1], sys.argv[2]
    with open(job_path) as fh:
        job = json.load(fh)
    if job.get("task") == "trips":
        res = _osrm_trips(job) if job["engine"] == "osrm" else _valhalla_trips(job)
    else:
        res = _osrm(job) if job["engine"] == "osrm" else _valhalla(job)
    with open(out_path, "w") as fh:
        json.dump(res, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
