"""Running the app under uvicorn with the limits a public server needs.

uvicorn bounds the idle time between requests (``timeout_keep_alive``) but not the time
a client may take to send a request's headers: a connection that sends half a request
line and then nothing is held forever (slowloris). :class:`HeaderTimeoutProtocol` closes a
connection whose headers have not all arrived within ``header_timeout_s`` of it opening,
or of the first byte of the next request on a kept-alive connection. Bodies are bounded
in time and size by :class:`api.middleware.BodyLimitMiddleware`.

The timeout is read from the app's lifespan state (``header_timeout_s``), so the class
needs no module-level configuration and can be named by import path.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import re
from typing import Any

import h11
import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol

from api.app import create_app
from locator.config import Settings

#: Used until the app's lifespan has said otherwise.
DEFAULT_HEADER_TIMEOUT_S = 10.0


class HeaderTimeoutProtocol(H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for each request's headers."""

    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        before = self.cycle
        super().data_received(data)
        if self.cycle is not before:  # a request's headers are in
            self._disarm()
        elif self._header_timer is None and self._awaiting_headers():
            self._arm()  # first bytes of the next request on a kept-alive connection

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _awaiting_headers(self) -> bool:
        idle = self.cycle is None or self.cycle.response_complete
        return idle and self.conn.their_state is h11.IDLE

    def _arm(self) -> None:
        timeout_s = float(self.app_state.get("header_timeout_s", DEFAULT_HEADER_TIMEOUT_S))
        self._header_timer = self.loop.call_later(timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing() and self._awaiting_headers():
            self.logger.info("closing a connection whose request headers did not arrive in time")
            self.transport.close()


#: API keys (``lk_<id>_<secret>``) and key-like query parameters, wherever they appear.
_SECRET_PARAM = re.compile(r"(?i)((?:api[_-]?key|x-api-key|key|token|secret)=)[^&\s]*")
_KEY = re.compile(r"\blk_([0-9a-f]{8})_[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    """``text`` with API keys and key-like query values replaced (the key id is kept)."""
    return _KEY.sub(r"lk_\1_REDACTED", _SECRET_PARAM.sub(r"\1REDACTED", text))


class RedactSecretsFilter(logging.Filter):
    """Access-log filter: a key sent in the query string (which the API refuses) must not
    end up in the log either."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def log_config() -> dict[str, Any]:
    """uvicorn's logging configuration plus :class:`RedactSecretsFilter` on access lines."""
    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact_secrets": {"()": RedactSecretsFilter}}
    config["handlers"]["access"]["filters"] = ["redact_secrets"]
    return config


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.run``/``uvicorn.Config`` for this service.

    ``X-Forwarded-For``/``-Proto`` are believed only from ``settings.trusted_proxies``
    (none by default), so a client cannot pick its own address for the rate limit.
    """
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "log_config": log_config(),
        "http": HeaderTimeoutProtocol,
        "timeout_keep_alive": settings.keep_alive_s,
        "limit_concurrency": settings.max_connections,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or "",
    }


def serve(settings: Settings) -> None:
    """Serve the API on ``settings`` in this process until interrupted."""
    uvicorn.run(create_app(settings), **uvicorn_options(settings))
