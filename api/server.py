"""Running the app under uvicorn with the limits a public server needs.

uvicorn bounds the idle time between requests (``timeout_keep_alive``) but not the time
a client may take to send a request's headers: a connection that sends half a request
line and then nothing is held forever (slowloris). :class:`HeaderTimeoutHttpToolsProtocol`
(httptools, the default; :class:`HeaderTimeoutProtocol` is the h11 one) closes a
connection whose headers have not all arrived within ``header_timeout_s`` of it opening,
or of the first byte of the next request on a kept-alive connection. Bodies are bounded
in time and size by :class:`api.middleware.BodyLimitMiddleware`.

The timeout is read from the app's lifespan state (``header_timeout_s``), so the class
needs no module-level configuration and can be named by import path.

``serve(settings, workers=N)`` with N > 1 is a pre-fork server (as gunicorn's ``--preload``):
the parent opens and warms the artifact once, creates the shared rate-limit table and
the listening socket, then forks N workers that inherit all three. The graph, indexes
and circles are shared copy-on-write (read-only numpy buffers stay shared pages), the
rate limit is one table in shared memory, and each worker applies the store's edit
sequence before answering (:meth:`locator.Locator.refresh`), so an edit acknowledged by one
worker is in the next answer of any other. The parent restarts a worker that dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ctypes
import ctypes.util
import gc
import logging
import os
import re
import signal
import socket
import time
from types import FrameType
from typing import Any

import h11
import uvicorn
from uvicorn.config import LOGGING_CONFIG
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.app import create_app
from api.ratelimit import TokenBucket
from locator import Locator
from locator.config import Settings

log = logging.getLogger(__name__)

#: Used until the app's lifespan has said otherwise.
DEFAULT_HEADER_TIMEOUT_S = 10.0


class _HeaderDeadline:
    """The header deadline shared by both protocol classes: armed when a connection
    opens and at the first byte of each next request, disarmed when its headers are in."""

    _header_timer: asyncio.TimerHandle | None = None
    app_state: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport
    logger: logging.Logger

    def _arm(self) -> None:
        timeout_s = float(self.app_state.get("header_timeout_s", DEFAULT_HEADER_TIMEOUT_S))
        self._header_timer = self.loop.call_later(timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _awaiting_headers(self) -> bool:
        return True

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing() and self._awaiting_headers():
            self.logger.info("closing a connection whose request headers did not arrive in time")
            self.transport.close()


class HeaderTimeoutProtocol(_HeaderDeadline, H11Protocol):
    """uvicorn's h11 protocol, plus a deadline for each request's headers (the fallback
    when ``httptools`` is not installed)."""

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


class HeaderTimeoutHttpToolsProtocol(_HeaderDeadline, HttpToolsProtocol):
    """uvicorn's httptools protocol (the C parser: about 0.2 ms less per request than
    h11), plus the same deadline for each request's headers."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # first bytes of a request
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)


#: API keys (``lk_<id>_<secret>``) and key-like query parameters, wherever they appear.
_SECRET_PARAM = re.compile(r"(?i)((?:api[_-]?key|x-api-key|key|token|secret)=)[^&\s]*")
_KEY = re.compile(r"\blk_([0-9a-f]{8})_[A-Za-z0-9_-]+")


def redact(text: str) -> str:
    """``text`` with API keys and key-like query values replaced (the key id is kept)."""
    low = text.lower()
    # both patterns need one of these words: most log lines skip the regular expressions
    if "lk_" not in low and "key" not in low and "token" not in low and "secret" not in low:
        return text
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
        "access_log": settings.access_log,
        # the C HTTP parser and event loop (dependencies of the package); both halve the
        # server's own share of a request
        "http": HeaderTimeoutHttpToolsProtocol,
        "loop": "uvloop",
        "timeout_keep_alive": settings.keep_alive_s,
        "limit_concurrency": settings.max_connections,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": ",".join(settings.trusted_proxies) or "",
    }


def bound_malloc() -> bool:
    """Make glibc's allocator give freed memory back, so a long-running server's memory
    follows what it holds (returns whether it could; not glibc: nothing to do).

    Edits replace the station-dependent arrays whole (hundreds of kB to MB each). glibc
    raises its mmap threshold every time such a block is freed, after which the
    replacements come from heap arenas (one per thread) that keep the freed space: 1,000
    moves grew each worker's RSS by 27 %. A fixed 128 KiB threshold (every larger block
    mapped and unmapped) and two arenas keep it within 2.3 %; a move costs ≈ 25 ms more.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_mmap_threshold, m_arena_max = -3, -8
    return bool(mallopt(m_mmap_threshold, 128 * 1024)) and bool(mallopt(m_arena_max, 2))


def serve(settings: Settings, *, workers: int = 1) -> None:
    """Serve the API on ``settings`` until interrupted: in this process, or (``workers``
    > 1) in that many forked workers sharing one loaded artifact and one rate limit."""
    if not bound_malloc():
        log.info("not glibc: the allocator keeps its defaults")
    if workers <= 1:
        uvicorn.run(create_app(settings), **uvicorn_options(settings))
        return
    _Prefork(settings, workers).run()


class _Prefork:
    """The parent of ``workers`` forked uvicorn servers on one listening socket."""

    def __init__(self, settings: Settings, workers: int) -> None:
        self.settings = settings
        self.workers = workers
        self.children: dict[int, int] = {}  # pid -> worker slot
        self.started_at: dict[int, float] = {}
        self.stopping = False

    def run(self) -> None:
        s = self.settings
        # one listening socket per worker on one port (SO_REUSEPORT): the kernel spreads
        # new connections over the workers; the parent keeps them open, so a restarted
        # worker takes over its predecessor's queue
        first = _listener(s.host, s.port)
        port = first.getsockname()[1]
        self.sockets = [first] + [_listener(s.host, port) for _ in range(self.workers - 1)]
        started = time.perf_counter()
        self.locator = Locator.open(s.artifact_dir, s)
        self.locator.warm()  # before forking: the warmed indexes are shared pages
        self.bucket = (
            TokenBucket(s.rate_limit_per_s, s.rate_limit_burst) if s.rate_limit_enabled else None
        )
        log.info(
            "loaded %s in %.1f s; forking %d workers on http://%s:%d",
            s.artifact_dir,
            time.perf_counter() - started,
            self.workers,
            s.host,
            port,
        )
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        for slot in range(self.workers):
            self._spawn(slot)
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            slot = self.children.pop(pid, -1)
            if slot < 0 or self.stopping:
                continue
            lived_s = time.monotonic() - self.started_at.pop(pid, 0.0)
            log.warning(
                "worker %d (pid %d) exited (%s) after %.0f s; starting another",
                slot,
                pid,
                _exit_reason(status),
                lived_s,
            )
            if lived_s < 5:
                time.sleep(1.0)  # do not spin on a worker that cannot start
            self._spawn(slot)
        for sock in self.sockets:
            sock.close()
        log.info("all workers stopped")

    def _spawn(self, slot: int) -> None:
        self.locator.refresh()  # a new worker starts from the store's current edits
        # the loaded objects go to the collector's permanent generation: no process's
        # collections write to them, so their pages stay shared by the parent and every
        # worker (BENCHMARKS.md "Memory"); the parent, which only waits and respawns,
        # keeps them frozen too (unfreezing there would copy the pages it then scans);
        # the price: reference cycles in a state a later refresh replaces are never
        # collected in the parent (a few per respawn, bounded by the respawns)
        gc.collect()
        gc.freeze()
        pid = os.fork()
        if pid:
            self.children[pid] = slot
            self.started_at[pid] = time.monotonic()
            return
        code = 0
        try:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            app = create_app(self.settings, locator=self.locator, bucket=self.bucket)
            config = uvicorn.Config(app, **uvicorn_options(self.settings))
            uvicorn.Server(config).run(sockets=[self.sockets[slot]])
        except BaseException:
            log.exception("worker %d failed", slot)
            code = 1
        finally:
            os._exit(code)

    def _stop(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            return
        self.stopping = True
        log.info("%s: stopping %d workers", signal.Signals(signum).name, len(self.children))
        for pid in list(self.children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def _listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket with ``SO_REUSEPORT``, inheritable by forked workers.

    Made with ``proto=IPPROTO_TCP`` (``socket.create_server`` leaves it 0): asyncio turns
    Nagle's algorithm off only on sockets that say they are TCP, and with it on every
    kept-alive response waited 40 ms for a delayed ACK (2 workers: 44 ms per request).
    """
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.set_inheritable(True)
    except OSError:
        sock.close()
        raise
    return sock


def _exit_reason(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"
