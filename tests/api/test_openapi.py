"""The OpenAPI document: every route documented, and the app honours it (schemathesis)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    if ref is None:
        return schema
    node: Any = doc
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return _resolve(doc, node)


def _api_routes(app: FastAPI) -> list[tuple[str, set[str], str | None, object]]:
    """(path, methods, summary, response_model) of every documented operation.

    FastAPI >= 0.16x keeps included routers as wrappers whose effective routes carry the
    prefixed path; plain ``APIRoute`` objects are read directly.
    """
    out = []
    for route in app.routes:
        if isinstance(route, APIRoute):
            if route.include_in_schema:
                out.append(
                    (route.path_format, set(route.methods), route.summary, route.response_model)
                )
            continue
        contexts = getattr(route, "effective_route_contexts", None)
        for ctx in contexts() if callable(contexts) else []:
            original = ctx.original_route
            if isinstance(original, APIRoute) and original.include_in_schema:
                out.append((ctx.path, set(original.methods), ctx.summary, ctx.response_model))
    return out


def test_every_route_has_summary_response_model_and_example(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    routes = _api_routes(client.app)  # type: ignore[arg-type]
    assert len(routes) >= 14
    assert {p for p, *_ in routes} == set(doc["paths"])
    missing = []
    for path, methods, summary, response_model in routes:
        for method in methods:
            op = doc["paths"][path][method.lower()]
            if not summary:
                missing.append(f"{method} {path}: summary")
            if response_model is None:
                missing.append(f"{method} {path}: response_model")
            ok = [c for c in op["responses"] if c.startswith("2")]
            examples = False
            for code in ok:
                for media in op["responses"][code].get("content", {}).values():
                    schema = _resolve(doc, media.get("schema", {}))
                    if "example" in media or "examples" in media or "examples" in schema:
                        examples = True
                    for prop in schema.get("properties", {}).values():
                        examples = examples or "examples" in prop
            if not examples:
                missing.append(f"{method} {path}: example")
    assert not missing, missing


def test_every_error_code_is_documented(client: TestClient) -> None:
    """docs/api.md lists every stable code the API can send (like datasette's settings test)."""
    text = DOCS.read_text("utf-8")
    codes = {
        "invalid_coordinate",
        "invalid_request",
        "invalid_parameter",
        "outside_service_area",
        "no_road_nearby",
        "no_route",
        "no_rest_plan",
        "request_too_large",
        "station_not_found",
        "port_not_found",
        "region_not_found",
        "invalid_stations",
        "invalid_opening_hours",
        "api_key_missing",
        "api_key_invalid",
        "station_exists",
        "rate_limited",
        "not_found",
        "method_not_allowed",
    }
    documented = set(re.findall(r"`([a-z_]+)`", text))
    assert codes <= documented, sorted(codes - documented)


def test_every_route_has_a_curl_example_in_the_docs(client: TestClient) -> None:
    text = DOCS.read_text("utf-8")
    for path, *_ in _api_routes(client.app):  # type: ignore[arg-type]
        if path.startswith("/v1/basemap"):  # documented in docs/widget.md
            continue
        # a path parameter matches any one segment of the example (/v1/stations/{id}/…)
        parts = [r"[^/\s\"?]+" if p.startswith("{") else re.escape(p) for p in path.split("/")]
        pattern = "/".join(parts).removesuffix(r"/[^/\s\"?]+")
        assert re.search(rf"curl[^\n]*{pattern}", text), path


def test_app_honours_its_openapi(client: TestClient) -> None:
    """schemathesis on every operation: no 5xx, documented status codes and content
    types, bodies matching their schemas (a few examples per operation, derandomised)."""
    api = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    failures: dict[str, str] = {}
    operations = 0
    for result in api.get_all_operations():
        operation = result.ok()
        operations += 1

        strategy = operation.as_strategy(
            generation_mode=GenerationMode.POSITIVE
        ) | operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)

        @given(case=strategy)
        @settings(
            max_examples=12,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(
                checks=[
                    checks.not_a_server_error,
                    checks.status_code_conformance,
                    checks.content_type_conformance,
                    checks.response_schema_conformance,
                ]
            )

        try:
            run()
        except Exception as exc:  # collect every operation's failure, then report all
            failures[operation.label] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert operations >= 14
    assert not failures, "\n\n".join(f"{k}\n{v}" for k, v in failures.items())


def test_docs_pages_load_their_assets_from_this_server(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        r = client.get(path)
        assert r.status_code == 200 and "default-src 'self'" in r.headers["content-security-policy"]
        refs = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert refs and all(ref.startswith("/docs-assets/") for ref in refs), refs
        for ref in refs:
            assert client.get(ref).status_code == 200, ref
    assert "validatorUrl" in client.get("/docs").text
    js = client.get("/docs-assets/redoc.standalone.js")
    assert js.status_code == 200 and b"cdn.redoc.ly" not in js.content
