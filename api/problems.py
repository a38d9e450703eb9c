"""Errors as ``application/problem+json`` (RFC 9457) with stable ``code`` values."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from locator.errors import LocatorError

PROBLEM_JSON = "application/problem+json"


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> JSONResponse:
    body = {"type": f"about:blank#{code}", "title": title, "status": status, "code": code,
            "detail": detail, **extra}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON)


def install_problem_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors, HTTP errors and crashes to problem+json."""

    @app.exception_handler(LocatorError)
    async def _locator_error(_: Request, exc: LocatorError) -> JSONResponse:
        status = exc.http_status if exc.http_status < 500 else 503
        return problem(status, exc.code, type(exc).__name__, exc.message, **_jsonable(exc.details))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", "")),
             "type": str(e.get("type", ""))}
            for e in exc.errors()
        ]
        return problem(422, "invalid_request", "Invalid request",
                       "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors),
                       errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
                403: "forbidden"}.get(exc.status_code, "http_error")
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in details.items():
        if isinstance(value, str | int | float | bool | type(None) | list | dict):
            out[key] = value
        else:
            out[key] = str(value)
    return out
