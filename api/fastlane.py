"""A short path for the hottest read route, ``GET /v1/nearest``, past the web framework.

The engine answers a nearest-station query in about 0.2 ms; routing, dependency
injection, validation, three generic middlewares and a thread-pool hop cost two to three
times that (BENCHMARKS.md, "HTTP, round two"). :class:`FastLane` is the outermost layer
of the application and answers a request itself only when it is sure to give, byte for
byte, the answer the full stack would:

- ``GET /v1/nearest`` with no body and no ``Origin`` header (same-origin pages, apps,
  servers; cross-origin requests take the full path, where the CORS middleware decides);
- the query parsed as Starlette does (the last value of a repeated parameter wins, blanks
  kept) and validated by the route's own parameter model
  (:class:`api.routers.nearest.NearestQuery`), the body built by the route's own function
  (:func:`api.routers.nearest.nearest_answer`);
- the rate limit taken from the same bucket with the same headers
  (:func:`api.middleware.rate_limit`), the body gzipped exactly as the gzip middleware
  would (same zlib stream, same threshold), ``Vary`` merged as the CORS and gzip
  middlewares merge it.

Anything else — another route, an invalid parameter, an empty bucket, an error of the
engine (no road nearby, no route...), a locator not loaded yet — goes on to the full
stack, which gives the documented answer or problem (for errors the engine's work is
then done twice).

Short answers (under :data:`INLINE_BELOW_S`) are computed on the event loop itself — a
thread hop would cost about as much as the answer — and, after a slow one, the next ones
on a small thread pool of the lane's own. ``tests/api/test_fastlane.py`` checks on
random queries that every answer equals the full stack's, headers and body.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from api.i18n import resolve_lang
from api.middleware import RATE_LIMIT_SCOPE_KEY, rate_limit
from api.ratelimit import TokenBucket
from api.routers.nearest import NearestQuery, nearest_answer
from locator.errors import LocatorError

if TYPE_CHECKING:
    from fastapi import FastAPI

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]

log = logging.getLogger(__name__)

_GEOJSON = (b"content-type", b"application/geo+json")

#: Request headers that send the request down the full path.
_FULL_PATH_HEADERS = frozenset((b"content-length", b"transfer-encoding", b"origin"))

#: Answers run on the event loop itself while they take less than this (the loop then
#: waits for one no longer than a few thread hops would cost); after a slower one (a big
#: network, a filter that forces a search) the next :data:`POOLED_AFTER_SLOW` go to the
#: lane's thread pool, so slow questions do not hold up the other connections.
INLINE_BELOW_S = 0.002
POOLED_AFTER_SLOW = 64


class FastLane:
    """Answers plain ``GET /v1/nearest`` requests directly; everything else goes on to
    ``app`` (see the module docstring).

    Parameters
    ----------
    app
        The rest of the application (outer middlewares, then FastAPI).
    owner
        The FastAPI application, whose ``state.locator`` and ``state.station_features``
        the answers use (set by its lifespan).
    bucket
        The rate limit's bucket (``None``: no limit), shared with the full path.
    gzip_minimum_size, gzip_level
        The gzip middleware's settings (the same answers, compressed the same way).
    threads
        Threads of the lane's pool (engine calls at once after a slow answer).
    """

    def __init__(
        self,
        app: ASGIApp,
        owner: FastAPI,
        *,
        bucket: TokenBucket | None,
        gzip_minimum_size: int,
        gzip_level: int,
        threads: int = 8,
    ) -> None:
        self.app = app
        self.owner = owner
        self.bucket = bucket
        self.gzip_minimum_size = gzip_minimum_size
        self.gzip_level = gzip_level
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="fastlane")
        #: answers still to run on the pool after a slow one (a plain int: a race between
        #: threads only changes how many)
        self._pooled = POOLED_AFTER_SLOW  # the first answers build caches: not inline
        #: answers slower than this send the next ones to the pool
        self.inline_below_s = INLINE_BELOW_S
        #: answers given by the lane (for tests and monitoring)
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["path"] == "/v1/nearest"
            and scope["method"] == "GET"
            and not any(k in _FULL_PATH_HEADERS for k, _ in scope["headers"])
        ):
            loc = getattr(self.owner.state, "locator", None)
            if loc is not None and await self._answer(loc, scope, send):
                return
        await self.app(scope, receive, send)

    async def _answer(self, loc: Any, scope: Scope, send: Send) -> bool:
        """Send the answer and return True, or send nothing and return False."""
        limit: Headers = []
        if self.bucket is not None:
            taken = rate_limit(self.bucket, scope)
            # the full path uses this very token (never a second one for one request)
            scope[RATE_LIMIT_SCOPE_KEY] = taken
            allowed, _, limit = taken
            if not allowed:  # the full path answers the 429
                return False
        if self._pooled <= 0:
            answer = self._timed(loc, scope)  # short: not worth a thread hop
        else:
            self._pooled -= 1
            loop = asyncio.get_running_loop()
            answer = await loop.run_in_executor(self._pool, self._timed, loc, scope)
        if answer is None:
            return False
        body, headers = answer
        await self._send(scope, send, body, headers, limit)
        self.answered += 1
        return True

    async def _send(
        self, scope: Scope, send: Send, body: bytes, headers: dict[str, str], limit: Headers
    ) -> None:
        """The answer as the route, the rate limit, gzip and CORS layers would send it:
        the route's headers, then content length and type, the ``RateLimit-*`` headers,
        the compression, ``Vary`` merged in place."""
        vary = [headers.pop("Vary")] if "Vary" in headers else []
        out: Headers = [
            (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()
        ]
        accepts_gzip = any(k == b"accept-encoding" and b"gzip" in v for k, v in scope["headers"])
        packed = body
        if len(body) >= self.gzip_minimum_size:  # the gzip layer varies on it either way
            vary.append("Accept-Encoding")
            if accepts_gzip:
                packer = zlib.compressobj(self.gzip_level, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
                packed = packer.compress(body) + packer.flush()
        vary.append("Origin")
        at = len(out)  # where Vary stands: after the route's own headers, as in Starlette
        out.insert(at, (b"vary", ", ".join(vary).encode("latin-1")))
        encoded = packed != body
        if encoded:
            body = packed
        out += [(b"content-length", str(len(body)).encode()), _GEOJSON, *limit]
        if encoded:
            out.append((b"content-encoding", b"gzip"))
        await send({"type": "http.response.start", "status": 200, "headers": out})
        await send({"type": "http.response.body", "body": body})

    def _timed(self, loc: Any, scope: Scope) -> tuple[bytes, dict[str, str]] | None:
        """:meth:`_nearest`; an answer slower than ``inline_below_s`` sends the next
        :data:`POOLED_AFTER_SLOW` to the thread pool."""
        t0 = time.perf_counter()
        try:
            return self._nearest(loc, scope)
        finally:
            if time.perf_counter() - t0 > self.inline_below_s:
                self._pooled = POOLED_AFTER_SLOW

    def _nearest(self, loc: Any, scope: Scope) -> tuple[bytes, dict[str, str]] | None:
        """The route's body and headers, or ``None`` when the full path should answer."""
        try:
            raw = scope["query_string"].decode("latin-1")
            params = dict(parse_qsl(raw, keep_blank_values=True))
            query = NearestQuery.model_validate(params)
        except (ValidationError, UnicodeDecodeError, ValueError):
            return None
        accept = None
        for k, v in scope["headers"]:
            if k == b"accept-language":
                accept = v.decode("latin-1")
        language = resolve_lang(query.lang, accept)
        try:
            loc.refresh()
            return nearest_answer(loc, query, language, self.owner.state)
        except LocatorError:
            return None  # the full path answers with the problem document
        except Exception:  # a bug: let the full path's error handling log it and answer
            log.debug("fast lane fell through on an unexpected error", exc_info=True)
            return None


__all__ = ["INLINE_BELOW_S", "POOLED_AFTER_SLOW", "FastLane"]
