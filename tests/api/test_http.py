"""Rate limiting, CORS, framing headers and language negotiation."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.i18n import FALLBACK, Lang, parse_accept_language, pick, resolve_lang
from api.ratelimit import TokenBucket
from locator.config import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=2.0, burst=3, clock=clock)
    assert [bucket.take("a")[0] for _ in range(4)] == [True, True, True, False]
    allowed, remaining, retry = bucket.take("a")
    assert (allowed, remaining, retry) == (False, 0, 1)
    assert bucket.take("b")[0]  # clients are independent
    clock.now += 0.5  # one token back
    assert bucket.take("a")[:2] == (True, 0)
    assert not bucket.take("a")[0]
    clock.now += 10
    assert bucket.take("a") == (True, 2, 1)


def test_rate_limit_answers_429_with_headers(api_artifact: Path) -> None:
    app = create_app(Settings(artifact_dir=api_artifact, rate_limit_burst=3, rate_limit_per_s=0.01))
    with TestClient(app) as c:
        seen = [c.get("/v1/ports") for _ in range(4)]
        assert [r.status_code for r in seen] == [200, 200, 200, 429]
        assert [r.headers["ratelimit-remaining"] for r in seen] == ["2", "1", "0", "0"]
        assert seen[0].headers["ratelimit-limit"] == "3"
        limited = seen[-1]
        assert limited.headers["content-type"] == "application/problem+json"
        assert limited.json()["code"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert c.get("/health").status_code == 200  # not limited


def test_cors_open_for_reads_only(client: TestClient) -> None:
    r = client.get("/v1/ports", headers={"Origin": "https://example.org"})
    assert r.headers["access-control-allow-origin"] == "*"
    exposed = r.headers["access-control-expose-headers"].lower()
    assert "etag" in exposed
    assert "ratelimit-remaining" in exposed
    pre = client.options(
        "/v1/stations",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET"},
    )
    assert pre.status_code == 200
    post = client.options(
        "/v1/stations",
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"},
    )
    assert post.status_code == 400
    assert "x-frame-options" not in r.headers  # reads may be embedded


def test_admin_reads_refuse_framing(client: TestClient) -> None:
    r = client.get("/v1/admin/keys")
    assert r.status_code == 401
    assert r.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("zh-CN,zh;q=0.9,en;q=0.8", Lang.zh),
        ("fr-FR, ru;q=0.5, en;q=0.7", Lang.en),
        ("mn-Cyrl-MN", Lang.mn),
        ("de, *;q=0.1", Lang.en),
        ("en;q=0, ru", Lang.ru),
        ("ru;q=abc, mn;q=0.2", Lang.mn),
        (";;;,,,q=1", None),
        ("ru;q=nan", None),
    ],
)
def test_accept_language_parsing(header: str | None, expected: Lang | None) -> None:
    assert parse_accept_language(header) == expected


def test_lang_parameter_wins_and_en_is_the_default() -> None:
    assert resolve_lang(Lang.mn, "zh") is Lang.mn
    assert resolve_lang(None, "de") is Lang.en


def test_fallback_chains() -> None:
    names = {"zh": "二连浩特", "en": "Erenhot", "ru": "Эрэнхот"}
    assert pick(names, Lang.mn) == "Эрэнхот"
    assert pick({"zh": "二连浩特"}, Lang.ru) == "二连浩特"
    assert pick({"en": "Erenhot"}, Lang.zh) == "Erenhot"
    assert all(chain[0] == lang.value for lang, chain in FALLBACK.items())
    assert pick({}, Lang.en) is None
