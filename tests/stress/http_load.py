"""HTTP load for tests/test_stress.py: client threads firing a mix of reads and keyed edits
at a running server, from the moment it accepts connections (during its warm-up) on.

``run(base, key, stations, threads, requests)`` returns every non-2xx/4xx outcome
(5xx, connection errors, timeouts) and the notes each PATCH client last had acknowledged.
"""

from __future__ import annotations

import http.client
import json
import random
import threading
import urllib.parse
from typing import Any


def _request(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        headers["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=headers)
    resp = conn.getresponse()
    return resp.status, resp.read()


def run(
    host: str,
    port: int,
    key: str,
    stations: list[dict[str, Any]],
    *,
    threads: int,
    requests: int,
) -> tuple[list[str], dict[str, str]]:
    problems: list[str] = []
    acked: dict[str, str] = {}
    lock = threading.Lock()
    league = "150800"  # Bayannur (any league code works)

    def client(k: int) -> None:
        rng = random.Random(k)
        conn = http.client.HTTPConnection(host, port, timeout=60)
        mine = stations[k % len(stations)]["id"]  # each client patches its own station
        for i in range(requests):
            st = rng.choice(stations)
            lon, lat = st["lon"] + 0.002, st["lat"] - 0.001
            q = urllib.parse.urlencode
            pick = (k + i) % 10
            try:
                if pick == 0:
                    status, _ = _request(
                        conn,
                        "GET",
                        "/v1/nearest?" + q({"lon": lon, "lat": lat, "kind": "driver_station"}),
                    )
                elif pick == 1:
                    status, _ = _request(
                        conn,
                        "GET",
                        "/v1/nearest?"
                        + q(
                            {
                                "lon": lon,
                                "lat": lat,
                                "kind": "driver_station",
                                "k": 3,
                                "services": "rest",
                            }
                        ),
                    )
                elif pick == 2:
                    status, _ = _request(
                        conn,
                        "GET",
                        "/v1/isochrones?" + q({"lon": lon, "lat": lat, "minutes": "5,10"}),
                    )
                elif pick == 3:
                    status, _ = _request(
                        conn, "GET", "/v1/isochrones?" + q({"station_id": st["id"]})
                    )
                elif pick == 4:
                    status, _ = _request(
                        conn, "GET", "/v1/route?" + q({"from": f"{lon},{lat}", "to": st["id"]})
                    )
                elif pick == 5 and i % 3 == 0:
                    status, _ = _request(
                        conn,
                        "GET",
                        "/v1/coverage?"
                        + q({"kind": "outdoor_worker_post", "region": league, "minutes": 10}),
                    )
                elif pick == 6:
                    status, _ = _request(conn, "GET", "/v1/stations?limit=50")
                elif pick == 7:
                    note = f"client {k} write {i}"
                    status, _ = _request(
                        conn, "PATCH", f"/v1/stations/{mine}", {"notes": note}, **{"X-API-Key": key}
                    )
                    if status == 200:
                        with lock:
                            acked[mine] = note
                elif pick == 8:
                    sid = f"stress-{k}-{i}"
                    rec = {
                        "id": sid,
                        "kind": "outdoor_worker_post",
                        "name": {"en": sid},
                        "lon": st["lon"],
                        "lat": st["lat"],
                        "source": "stress test",
                        "location_accuracy_m": 10,
                    }
                    status, _ = _request(conn, "POST", "/v1/stations", rec, **{"X-API-Key": key})
                    if status == 201:
                        status, _ = _request(
                            conn, "DELETE", f"/v1/stations/{sid}", **{"X-API-Key": key}
                        )
                else:
                    status, _ = _request(conn, "GET", "/health")
                if status >= 500:
                    with lock:
                        problems.append(f"client {k} request {i} (kind {pick}): {status}")
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    problems.append(f"client {k} request {i} (kind {pick}): {exc!r}")
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
        conn.close()

    pool = [threading.Thread(target=client, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return problems, acked
