"""The fast lane (api/fastlane.py) gives the full stack's answers: the same status,
headers (in order) and body for random ``GET /v1/nearest`` queries — valid, invalid,
repeated, unknown parameters, gzip or not, any language — and the same rate limiting.
It must also actually answer the plain queries (a lane that always passes on would pass
the comparison)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.app import create_app
from api.fastlane import INLINE_BELOW_S, POOLED_AFTER_SLOW, FastLane
from api.ratelimit import TokenBucket
from locator.config import Settings

POINTS = [(111.973, 43.63), (117.47, 49.567), (101.227, 42.586), (116.993, 45.525)]
KINDS = ["driver_station", "worker_home", "outdoor_worker_post", "", "nope"]
SERVICES = ["hot_meals", "toilet,rest", "hot_meals,overnight_lodging", "", "bogus"]


def _lane(app: FastAPI) -> FastLane:
    lane = app.outer  # type: ignore[attr-defined]
    assert isinstance(lane, FastLane)
    return lane


@pytest.fixture(scope="module")
def clients(api_artifact: Path) -> Iterator[tuple[TestClient, TestClient, FastLane]]:
    fast_app = create_app(Settings(artifact_dir=api_artifact, rate_limit_enabled=False))
    full_app = create_app(
        Settings(artifact_dir=api_artifact, rate_limit_enabled=False, fast_lane=False)
    )
    assert not isinstance(full_app.outer, FastLane)  # type: ignore[attr-defined]
    with TestClient(fast_app) as fast, TestClient(full_app) as full:
        yield fast, full, _lane(fast_app)


@st.composite
def _query(draw: st.DrawFn) -> list[tuple[str, str]]:
    lon, lat = draw(st.sampled_from(POINTS))
    dx = draw(st.sampled_from([0.0, 0.004, -0.02, 3.0]))
    items: list[tuple[str, str]] = [
        ("lon", draw(st.sampled_from([f"{lon + dx}", f"{lon}", "abc", "nan", "200", ""]))),
        ("lat", draw(st.sampled_from([f"{lat}", f"{lat - dx}", "91", "1e1"]))),
    ]
    optional = {
        "kind": st.sampled_from(KINDS),
        "services": st.sampled_from(SERVICES),
        "k": st.sampled_from(["1", "3", "10", "11", "0", "2.0", "x"]),
        "mode": st.sampled_from(["truck", "car", "walk", "boat"]),
        "crs": st.sampled_from(["wgs84", "gcj02", "bd09", "utm"]),
        "lang": st.sampled_from(["zh", "en", "mn", "ru", "fr"]),
        "depart_at": st.sampled_from(
            ["2026-12-01T23:00:00", "2026-12-01T07:30:00+08:00", "2026-12-01", "soon"]
        ),
        "open_on_arrival": st.sampled_from(["true", "false", "1", "yes", "maybe"]),
        "at": st.sampled_from(["2026-12-02T12:00:00", "noon"]),
        "extra": st.just("ignored"),
    }
    for name, values in optional.items():
        if draw(st.booleans()):
            items.append((name, draw(values)))
    if draw(st.integers(0, 4)) == 0:  # a repeated parameter: the last one counts
        items.append(("kind", draw(st.sampled_from(KINDS))))
    return items


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    query=_query(),
    gzip=st.booleans(),
    accept_language=st.sampled_from([None, "ru-RU,ru;q=0.9", "zh-CN", "mn", "de"]),
)
def test_every_answer_is_the_full_stacks(
    clients: tuple[TestClient, TestClient, FastLane],
    query: list[tuple[str, str]],
    gzip: bool,
    accept_language: str | None,
) -> None:
    fast, full, lane = clients
    headers = {"Accept-Encoding": "gzip" if gzip else "identity"}
    if accept_language:
        headers["Accept-Language"] = accept_language
    url = "/v1/nearest?" + urlencode(query)
    before = lane.answered
    a = fast.get(url, headers=headers)
    b = full.get(url, headers=headers)
    # a 200 is always the lane's own (it passes on only errors and cross-origin requests)
    assert (lane.answered > before) == (a.status_code == 200), url
    assert a.status_code == b.status_code, (url, a.text[:300], b.text[:300])
    assert a.headers.multi_items() == b.headers.multi_items(), url
    assert a.content == b.content, url


def test_the_lane_answers_plain_queries_and_passes_the_rest_on(
    clients: tuple[TestClient, TestClient, FastLane],
) -> None:
    fast, _, lane = clients
    before = lane.answered
    for lon, lat in POINTS:
        r = fast.get("/v1/nearest", params={"lon": lon, "lat": lat, "kind": "driver_station"})
        assert r.status_code == 200
    assert lane.answered == before + len(POINTS)
    # passed on: an error, a bad parameter, a cross-origin request, another route
    fast.get("/v1/nearest", params={"lon": 0, "lat": 0})
    fast.get("/v1/nearest", params={"lon": "x", "lat": 1})
    r = fast.get(
        "/v1/nearest",
        params={"lon": 111.973, "lat": 43.63},
        headers={"Origin": "https://example.org"},
    )
    assert r.status_code == 200
    fast.get("/health")
    assert lane.answered == before + len(POINTS)


def test_rate_limit_is_the_same_on_both_paths(api_artifact: Path) -> None:
    """Five requests against a bucket of three: the same statuses and RateLimit headers,
    one token per request on either path (also for requests the lane passes on)."""

    def run(fast_lane: bool) -> list[tuple[int, list[tuple[str, str]]]]:
        # a stopped clock: the reset header must not depend on how long a request took
        bucket = TokenBucket(rate_per_s=0.001, burst=3, clock=lambda: 1000.0)
        app = create_app(Settings(artifact_dir=api_artifact, fast_lane=fast_lane), bucket=bucket)
        out = []
        with TestClient(app) as client:
            for i in range(5):
                lon, lat = (0.0, 0.0) if i == 1 else POINTS[0]  # one error: passed on
                r = client.get("/v1/nearest", params={"lon": lon, "lat": lat})
                out.append(
                    (
                        r.status_code,
                        [(k, v) for k, v in r.headers.multi_items() if k.startswith("ratelimit")],
                    )
                )
        return out

    fast, full = run(True), run(False)
    assert [s for s, _ in fast] == [200, 422, 200, 429, 429]
    assert fast == full


def test_slow_answers_move_to_the_pool_and_back(
    clients: tuple[TestClient, TestClient, FastLane],
) -> None:
    """After a slow answer the next ones run on the pool (same answers), then inline.
    Which answers count as slow is set here, not measured (no clock in the test)."""
    fast, full, lane = clients
    params = {"lon": 117.47, "lat": 49.567, "kind": "worker_home", "k": 3}
    expect = full.get("/v1/nearest", params=params).content
    try:
        lane.inline_below_s = float("inf")  # no answer is slow: the pool drains
        lane._pooled = 3  # as after a slow answer
        answers = [fast.get("/v1/nearest", params=params).content for _ in range(5)]
        assert lane._pooled == 0
        assert all(a == expect for a in answers)
        lane.inline_below_s = 0.0  # every answer is slow: the next ones go to the pool
        answers = [fast.get("/v1/nearest", params=params).content for _ in range(3)]
        assert lane._pooled == POOLED_AFTER_SLOW
        assert all(a == expect for a in answers)
    finally:
        lane.inline_below_s = INLINE_BELOW_S
