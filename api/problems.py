"""Errors as ``application/problem+json`` (RFC 9457) with stable ``code`` values.

Every error response of the API has the same shape (:class:`Problem`) and a ``code`` a
client can switch on. Codes of domain errors come from :mod:`locator.errors`; the API adds
its own for authentication, rate limiting and conflicts (:class:`ApiError`). The table of
codes is in ``docs/api.md``.
"""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from locator.errors import LocatorError

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"

#: Query parameters that carry coordinates: a validation error on one of them is reported
#: with the code ``invalid_coordinate`` rather than the generic ``invalid_request``.
COORDINATE_PARAMS = frozenset({"lon", "lat", "from", "to", "bbox", "center"})


class Problem(BaseModel):
    """An RFC 9457 problem document with a stable machine-readable ``code``."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank#no_road_nearby",
                    "title": "SnapError",
                    "status": 422,
                    "code": "no_road_nearby",
                    "detail": "no road within 2000 m of (112.500000, 44.000000) usable by truck",
                }
            ]
        },
    )

    type: str = Field(description="URI reference naming the problem type")
    title: str
    status: int
    code: str = Field(description="Stable error code (see docs/api.md)")
    detail: str


class ApiError(Exception):
    """An error raised by the HTTP layer itself (not by the domain).

    Parameters
    ----------
    status
        HTTP status.
    code
        Stable error code.
    detail
        Human-readable explanation.
    headers
        Extra response headers (e.g. ``WWW-Authenticate``, ``Retry-After``).
    """

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra


_TITLES = {
    304: "Not modified",
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    408: "Request timeout",
    409: "Conflict",
    412: "Precondition failed",
    413: "Request too large",
    422: "Unprocessable request",
    429: "Too many requests",
    503: "Service unavailable",
}


#: Longest quoted text and list in an error response (see :func:`problem`).
MAX_ECHO_CHARS = 300
MAX_ECHO_ITEMS = 100


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response (body: :func:`problem_body`)."""
    body = problem_body(status, code, title, detail, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_body(status: int, code: str, title: str, detail: str, **extra: Any) -> dict[str, Any]:
    """The one shape of every error the service answers (RFC 9457 plus ``code``), for the
    exception handlers and the middleware alike. Whatever a client sent and an error
    quotes back is cut short (:data:`MAX_ECHO_CHARS` per text, :data:`MAX_ECHO_ITEMS` per
    list), so an error is never larger than a few kB however large the bad input."""
    return {
        "type": f"about:blank#{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": _short(detail, 4 * MAX_ECHO_CHARS),
        **{k: _clean(v) for k, v in extra.items()},
    }


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries documenting problem+json errors for ``statuses``."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in (422, 429, *statuses):
        out[status] = {
            "description": _TITLES.get(status, "Error"),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Map domain errors, validation errors, HTTP errors and crashes to problem+json."""

    @app.exception_handler(LocatorError)
    async def _locator_error(_: Request, exc: LocatorError) -> JSONResponse:
        status = exc.http_status if exc.http_status < 500 else 503
        return problem(status, exc.code, type(exc).__name__, exc.message, **_jsonable(exc.details))

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return problem(
            exc.status,
            exc.code,
            _TITLES.get(exc.status, "Error"),
            exc.detail,
            headers=exc.headers,
            **_jsonable(exc.extra),
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {
                "loc": [str(p) for p in e.get("loc", ())],
                "msg": str(e.get("msg", "")),
                "type": str(e.get("type", "")),
            }
            for e in exc.errors()
        ]
        on_coords = bool(errors) and all(
            len(e["loc"]) >= 2
            and e["loc"][0] == "query"
            and e["loc"][1] in COORDINATE_PARAMS
            and e["type"] != "missing"
            for e in errors
        )
        code = "invalid_coordinate" if on_coords else "invalid_request"
        title = "Invalid coordinate" if on_coords else "Invalid request"
        return problem(
            422,
            code,
            title,
            "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors),
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not_found",
            405: "method_not_allowed",
            401: "unauthorized",
            403: "forbidden",
        }.get(exc.status_code, "http_error")
        return problem(
            exc.status_code, code, str(exc.detail), str(exc.detail), headers=dict(exc.headers or {})
        )


def _jsonable(details: dict[str, Any]) -> dict[str, Any]:
    return {str(k): _clean(v) for k, v in details.items()}


def _clean(value: Any) -> Any:
    """JSON-safe copy: NaN and infinities become strings, unknown objects their ``str``."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        return _short(value, MAX_ECHO_CHARS)
    if isinstance(value, int | float | bool | type(None)):
        return value
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value[:MAX_ECHO_ITEMS]]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in list(value.items())[:MAX_ECHO_ITEMS]}
    return _short(str(value), MAX_ECHO_CHARS)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"
