"""Per-client rate limiting and security headers (pure ASGI, cheap per request).

Rate limit: a token bucket per client address (``rate_limit_burst`` tokens, refilled at
``rate_limit_per_s``) over every ``/v1/`` route. Responses carry the IETF draft headers
``RateLimit-Limit``, ``RateLimit-Remaining``, ``RateLimit-Reset`` (seconds until the bucket
is full) and ``RateLimit-Policy``; an empty bucket answers 429 ``rate_limited`` with
``Retry-After``. State is in memory, per process (each uvicorn worker limits on its own).

Framing: write requests (POST, PATCH, DELETE) and ``/v1/admin/`` routes send
``X-Frame-Options: DENY`` and ``Content-Security-Policy: frame-ancestors 'none'``; read
routes may be embedded.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NamedTuple

from api.problems import PROBLEM_JSON, problem_body
from api.ratelimit import TokenBucket

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NO_FRAMING = [
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
]


class ApiHeadersMiddleware:
    """Rate limiting (``/v1/``) and anti-framing headers (writes and admin routes)."""

    def __init__(self, app: ASGIApp, *, bucket: TokenBucket | None) -> None:
        self.app = app
        self.bucket = bucket

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        extra: list[tuple[bytes, bytes]] = []
        if method not in _READ_METHODS or path.startswith("/v1/admin"):
            extra.extend(_NO_FRAMING)
        if self.bucket is not None and path.startswith("/v1/") and method != "OPTIONS":
            # a request the fast lane passed on has had its token taken there already
            taken = scope.get(RATE_LIMIT_SCOPE_KEY) or rate_limit(self.bucket, scope)
            allowed, seconds, headers = taken
            extra += headers
            if not allowed:
                await _too_many(send, extra, seconds)
                return

        if not extra:
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


#: Where :mod:`api.fastlane` leaves the token it took for a request it passes on.
RATE_LIMIT_SCOPE_KEY = "locator.rate_limit"


def rate_limit(bucket: TokenBucket, scope: Scope) -> tuple[bool, int, list[tuple[bytes, bytes]]]:
    """Take a token for the request's client: (allowed, seconds until the bucket is full,
    the ``RateLimit-*`` headers of the answer)."""
    client = scope.get("client")
    key = client[0] if client else "unknown"
    allowed, remaining, seconds = bucket.take(key)
    window_s = math.ceil(bucket.burst / bucket.rate_per_s)
    return (
        allowed,
        seconds,
        [
            (b"ratelimit-limit", str(bucket.burst).encode()),
            (b"ratelimit-remaining", str(remaining).encode()),
            (b"ratelimit-reset", str(seconds).encode()),
            (b"ratelimit-policy", f"{bucket.burst};w={window_s}".encode()),
        ],
    )


async def _too_many(send: Send, headers: list[tuple[bytes, bytes]], retry_after: int) -> None:
    await _problem(
        send,
        429,
        "rate_limited",
        "Too many requests",
        f"rate limit exceeded; retry in {retry_after} s",
        ((b"retry-after", str(retry_after).encode()), *headers),
        close=False,
        retry_after_s=retry_after,
    )


class BodyLimitMiddleware:
    """Bounded request bodies, read before the application sees them.

    - A body larger than ``max_bytes`` answers 413 ``request_too_large`` (from the
      ``Content-Length`` header before anything is read, else as soon as the streamed
      body passes the limit), so no request can make the server hold more than that.
    - A body that does not arrive within ``timeout_s`` answers 408 ``request_timeout``
      (a client trickling bytes cannot hold a worker thread).
    - A keyed write (``POST``/``PATCH``/``DELETE`` on the key-protected prefixes) without
      the API key header answers 401 before its body is read at all.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        timeout_s: float,
        keyed_prefixes: tuple[str, ...],
        key_header: str,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.keyed_prefixes = keyed_prefixes
        self.key_name = key_header
        self.key_header = key_header.lower().encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _READ_METHODS:
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            await _problem(send, *refusal)
            return
        body = await self._read_body(receive, send)
        if body is None:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: disconnect notifications

        await self.app(scope, replay, send)

    def _refusal(self, scope: Scope) -> _Refusal | None:
        """Why the request is refused from its headers alone, if it is."""
        headers = dict(scope.get("headers") or [])
        path: str = scope["path"]
        if path.startswith(self.keyed_prefixes) and not headers.get(self.key_header):
            challenge = f'ApiKey header="{self.key_name}"'.encode()
            return _Refusal(
                401,
                "api_key_missing",
                "API key missing",
                f"this route needs an API key in the {self.key_name} header",
                ((b"www-authenticate", challenge),),
            )
        declared = headers.get(b"content-length")
        if declared is not None and not declared.isdigit():
            return _Refusal(400, "bad_request", "Bad request", "Content-Length is not a byte count")
        if declared is not None and int(declared) > self.max_bytes:
            return self._too_big()
        return None

    async def _read_body(self, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once a refusal has been sent (or the client left)."""
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.timeout_s):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        return None
                    chunk = message.get("body", b"")
                    size += len(chunk)
                    if size > self.max_bytes:
                        await _problem(send, *self._too_big())
                        return None
                    chunks.append(chunk)
                    if not message.get("more_body", False):
                        return b"".join(chunks)
        except TimeoutError:
            detail = f"the request body did not arrive within {self.timeout_s:g} s"
            await _problem(send, *_Refusal(408, "request_timeout", "Request timeout", detail))
            return None

    def _too_big(self) -> _Refusal:
        detail = f"request bodies are limited to {self.max_bytes} bytes (service limit)"
        return _Refusal(413, "request_too_large", "Request too large", detail)


class _Refusal(NamedTuple):
    status: int
    code: str
    title: str
    detail: str
    headers: tuple[tuple[bytes, bytes], ...] = ()


async def _problem(  # noqa: PLR0917  (the fields of a _Refusal, in order)
    send: Send,
    status: int,
    code: str,
    title: str,
    detail: str,
    extra: tuple[tuple[bytes, bytes], ...] = (),
    *,
    close: bool = True,
    **fields: Any,
) -> None:
    """Answer with :func:`api.problems.problem_body` before the application runs;
    ``close`` ends the connection (the request body may not have been read)."""
    body = json.dumps(problem_body(status, code, title, detail, **fields)).encode()
    headers = [
        (b"content-type", PROBLEM_JSON.encode()),
        (b"content-length", str(len(body)).encode()),
        *([(b"connection", b"close")] if close else []),
        *extra,
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
