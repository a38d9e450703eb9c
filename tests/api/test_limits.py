"""Bounded work per request: body size and arrival time, keyed writes refused before their
body is read, free text of bounded length, errors that do not echo a large input, and a
few slots for the heavy routes (503 ``busy`` when they are all taken)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.middleware import BodyLimitMiddleware
from api.problems import MAX_ECHO_CHARS
from locator.config import Settings
from locator.stations.model import MAX_TEXT_CHARS

STATION = "erl-driver-home-01"


def _key(writer: TestClient) -> dict[str, str]:
    return {"X-API-Key": writer.key}  # type: ignore[attr-defined]


Receive = Callable[[], Awaitable[dict[str, Any]]]


def _refusal(
    receive: Receive,
    *,
    path: str = "/v1/plan/sites",
    headers: list[tuple[bytes, bytes]] | None = None,
    max_bytes: int = 10_000,
    timeout_s: float = 5.0,
) -> list[dict[str, Any]]:
    """What :class:`BodyLimitMiddleware` sends for one POST, with an application behind
    it that must never run (``/v1/stations`` is key-protected)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the application must not run")

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    mw = BodyLimitMiddleware(
        app,
        max_bytes=max_bytes,
        timeout_s=timeout_s,
        keyed_prefixes=("/v1/stations",),
        key_header="X-API-Key",
    )
    scope = {"type": "http", "method": "POST", "path": path, "headers": headers or []}
    asyncio.run(mw(scope, receive, send))
    return sent


def test_a_keyed_write_without_a_key_is_refused_before_its_body_is_read() -> None:
    reads: list[str] = []

    async def receive() -> dict[str, Any]:
        reads.append("body")
        return {"type": "http.request", "body": b"x" * 100, "more_body": True}

    sent = _refusal(receive, path="/v1/stations")
    assert reads == []
    assert sent[0]["status"] == 401
    assert (b"www-authenticate", b'ApiKey header="X-API-Key"') in sent[0]["headers"]
    assert json.loads(sent[1]["body"])["code"] == "api_key_missing"


def test_a_body_that_trickles_answers_408_and_the_app_never_runs() -> None:
    async def receive() -> dict[str, Any]:
        await asyncio.sleep(0.05)  # one byte every 50 ms: far too slow for 0.3 s
        return {"type": "http.request", "body": b"x", "more_body": True}

    sent = _refusal(receive, timeout_s=0.3)
    assert sent[0]["status"] == 408
    assert json.loads(sent[1]["body"])["code"] == "request_timeout"


def test_a_streamed_body_over_the_limit_stops_being_read() -> None:
    chunks = 0

    async def receive() -> dict[str, Any]:
        nonlocal chunks
        chunks += 1
        return {"type": "http.request", "body": b"x" * 1000, "more_body": True}

    sent = _refusal(receive, max_bytes=5_500)
    assert chunks == 6  # the sixth chunk passes 5,500 bytes; nothing after it is read
    assert sent[0]["status"] == 413


def test_large_bodies_answer_413_with_or_without_a_key(writer: TestClient) -> None:
    big = json.dumps({"kind": "driver_station", "region": "x" * 3_000_000})
    r = writer.post("/v1/plan/sites", content=big, headers={"Content-Type": "application/json"})
    assert (r.status_code, r.json()["code"]) == (413, "request_too_large")
    assert len(r.content) < 1000
    r = writer.post("/v1/stations", content=big, headers=_key(writer))
    assert (r.status_code, r.json()["code"]) == (413, "request_too_large")
    r = writer.post("/v1/stations", content=big)  # no key: 401 first, body never read
    assert (r.status_code, r.json()["code"]) == (401, "api_key_missing")
    # below the limit the same routes work (the body is handed on whole)
    r = writer.patch(f"/v1/stations/{STATION}", json={"notes": "ok"}, headers=_key(writer))
    assert r.status_code == 200, r.text


def test_free_text_is_bounded_and_errors_do_not_echo_it(writer: TestClient) -> None:
    before = writer.get(f"/v1/stations/{STATION}").json()["properties"]["notes"]
    r = writer.patch(
        f"/v1/stations/{STATION}",
        json={"notes": "n" * (MAX_TEXT_CHARS + 1)},
        headers=_key(writer),
    )
    assert (r.status_code, r.json()["code"]) == (422, "invalid_stations"), r.text
    assert r.json()["problems"][0]["field"] == "notes"
    assert len(r.content) < 4 * MAX_ECHO_CHARS + 2000
    assert writer.get(f"/v1/stations/{STATION}").json()["properties"]["notes"] == before
    r = writer.patch(
        f"/v1/stations/{STATION}", json={"notes": "n" * MAX_TEXT_CHARS}, headers=_key(writer)
    )
    assert r.status_code == 200, r.text
    # a long region is refused with a short answer (it used to come back twice)
    r = writer.post("/v1/plan/sites", json={"kind": "driver_station", "region": "1" * 100_000})
    assert (r.status_code, r.json()["code"]) == (422, "invalid_request")
    assert len(r.content) < 4 * MAX_ECHO_CHARS + 2000


def test_heavy_routes_wait_for_a_slot_then_answer_503(writable_artifact: Path) -> None:
    settings = Settings(
        artifact_dir=writable_artifact,
        rate_limit_enabled=False,
        max_heavy_requests=1,
        heavy_wait_s=0.2,
    )
    app: FastAPI = create_app(settings)
    with TestClient(app) as c:
        slots = app.state.heavy_slots
        with slots.slot():  # someone else holds the only slot
            for method, path, kwargs in (
                ("GET", "/v1/coverage", {"params": {"kind": "driver_station"}}),
                ("POST", "/v1/plan/sites", {"json": {"kind": "driver_station", "k": 1}}),
                ("GET", "/v1/isochrones", {"params": {"lon": 111.97, "lat": 43.65}}),
            ):
                r = c.request(method, path, **kwargs)
                assert (r.status_code, r.json()["code"]) == (503, "busy"), (path, r.text)
                assert r.headers["retry-after"] == "2"
            # cheap routes never wait for a heavy slot
            assert c.get("/v1/nearest", params={"lon": 111.97, "lat": 43.65}).status_code == 200
            assert c.get("/v1/isochrones", params={"station_id": STATION}).status_code == 200
        # the slot is free again: the same requests answer
        r = c.get("/v1/coverage", params={"kind": "driver_station", "region": "152500"})
        assert r.status_code == 200, r.text
        # and a request that failed inside the slot gave it back
        assert c.post("/v1/plan/sites", json={"kind": "driver_station", "k": 99}).status_code == 413
        assert c.post("/v1/plan/sites", json={"kind": "driver_station", "k": 1}).status_code == 200


@pytest.mark.parametrize(("declared", "status"), [(b"9999999", 413), (b"-1", 400), (b"1e3", 400)])
def test_content_length_is_checked_before_the_body_is_read(declared: bytes, status: int) -> None:
    reads: list[str] = []

    async def receive() -> dict[str, Any]:
        reads.append("body")
        return {"type": "http.request", "body": b"", "more_body": False}

    sent = _refusal(receive, headers=[(b"content-length", declared)])
    assert reads == []
    assert sent[0]["status"] == status
