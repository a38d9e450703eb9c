"""Stress script (run by tests/test_stress.py in a subprocess under ``-X faulthandler``):
open a Locator, release 16 threads at one barrier (with the warm-up) into a mix of queries
and edits, check every answer is a result or a ``LocatorError``, repeat with a fresh
Locator. A crash of native code (GEOS, scipy) kills this process, which the test sees as
a non-zero exit.

    python -X faulthandler tests/stress/inprocess.py ARTIFACT ROUNDS THREADS CALLS
"""

from __future__ import annotations

import json
import random
import sys
import threading
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from locator import Locator, StationKind
from locator.analysis.nearest.bounded import bounded_search
from locator.analysis.regions import AdminUnits
from locator.errors import LocatorError
from locator.stations import Station


@dataclass
class Round:
    """One fresh Locator and what its threads share."""

    number: int
    loc: Locator
    regions: AdminUnits
    stations: list[Station]
    barrier: threading.Barrier
    calls: int
    lock: threading.Lock = field(default_factory=threading.Lock)
    ok: int = 0
    refused: int = 0
    failures: list[str] = field(default_factory=list)


def _one(rd: Round, what: int, rng: random.Random, tag: str) -> None:
    st = rng.choice(rd.stations)
    lon, lat = st.lon + 0.002, st.lat - 0.001
    loc = rd.loc
    if what == 0:
        loc.nearest(lon, lat, kind="driver_station")
    elif what == 1:
        if rng.random() < 0.5:
            loc.nearest(lon, lat, kind="driver_station", k=3, services=["rest"])
        else:  # the search of networks too large for the tables: the station attachments
            # built on first use (each edit's new index builds its own), pooled work sets
            index = loc._state.index(loc.default_mode, StationKind.driver_station)
            bounded_search(index.targets, loc.snap(lon, lat), k=3)
    elif what == 2:
        loc.isochrones(lon=lon, lat=lat, minutes=[5, 10])
    elif what == 3:
        loc.isochrones(station_id=st.id)
    elif what == 4:
        x = rng.random()
        if x < 0.3:
            loc.route((lon, lat), (st.lon, st.lat))
        elif x < 0.5:  # point-to-station: the kernels' pooled work sets under contention
            loc.route((lon, lat), rng.choice(rd.stations).id)
        else:  # a trip: backward search, station tables, the cached forward times
            loc.along_route((lon, lat), rng.choice(rd.stations).id, limit=5)
    elif what == 5:
        # leagues in turn: threads fill the region road-length and projected-region memos
        # at the same time; what-ifs with demand share them too
        league = rng.choice(rd.regions.leagues()[:3]).code
        if rng.random() < 0.5:
            loc.coverage(kind="outdoor_worker_post", region=league, minutes=10)
        else:
            loc.evaluate_plan(
                kind="outdoor_worker_post",
                region=league,
                minutes=10,
                add=[(st.lon, st.lat)],
                demand=[(lon, lat, 3.0)],
            )
    elif what == 6:
        rd.regions.locate(lon, lat)
        rd.regions.in_china(lon, lat)
    elif what == 7:
        loc.patch_station(st.id, {"notes": tag}, actor="stress")
    else:
        loc.patch_station(st.id, {"lon": st.lon + rng.uniform(-1e-4, 1e-4)}, actor="stress")


def _worker(rd: Round, k: int) -> None:
    rng = random.Random(k * 1000 + rd.number)
    rd.barrier.wait()
    for i in range(rd.calls):
        what = (k + i) % 9
        if what == 5 and (k + i) % 4:  # coverage is the heavy one: 1 in 4 of its turns
            what = 0
        try:
            _one(rd, what, rng, f"round {rd.number} thread {k} call {i}")
            with rd.lock:
                rd.ok += 1
        except LocatorError:
            with rd.lock:
                rd.refused += 1
        except Exception:
            with rd.lock:
                rd.failures.append(traceback.format_exc())


def _warm(rd: Round) -> None:
    rd.barrier.wait()
    rd.loc.warm()


def main() -> int:
    artifact, rounds, n_threads, calls = Path(sys.argv[1]), *map(int, sys.argv[2:5])
    totals = {"ok": 0, "locator_error": 0}
    failures: list[str] = []
    for number in range(rounds):
        loc = Locator.open(artifact)
        assert loc.regions is not None
        rd = Round(
            number, loc, loc.regions, loc.stations(), threading.Barrier(n_threads + 1), calls
        )
        threads = [threading.Thread(target=_worker, args=(rd, k)) for k in range(n_threads)]
        threads.append(threading.Thread(target=_warm, args=(rd,)))
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        loc.close()
        totals["ok"] += rd.ok
        totals["locator_error"] += rd.refused
        failures += rd.failures
    print(json.dumps({"counts": totals, "failures": failures[:5], "n_failures": len(failures)}))
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
