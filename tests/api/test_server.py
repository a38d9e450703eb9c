"""The served process: a connection whose request headers do not arrive in time is
closed (slowloris), on a fresh connection and on a kept-alive one; complete requests are
answered as usual; X-Forwarded-For is believed only from configured proxies; API keys never
reach the access log."""

from __future__ import annotations

import contextlib
import http.client
import logging
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from stress.serving import free_port

from api.server import (
    HeaderTimeoutHttpToolsProtocol,
    HeaderTimeoutProtocol,
    RedactSecretsFilter,
    _listener,
    uvicorn_options,
)
from locator.config import Settings

HEADER_TIMEOUT_S = 0.3


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                scope["state"]["header_timeout_s"] = HEADER_TIMEOUT_S
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    # /client: who the server thinks the client is
    body = scope["client"][0].encode() if scope["path"] == "/client" else b"ok"
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@contextlib.contextmanager
def _running(config: uvicorn.Config) -> Iterator[None]:
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture(params=[HeaderTimeoutHttpToolsProtocol, HeaderTimeoutProtocol])
def port(request: pytest.FixtureRequest) -> Iterator[int]:
    """A server with each protocol class (httptools, the default; h11, the fallback)."""
    free = free_port()
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=free, http=request.param, log_level="warning"
    )
    with _running(config):
        yield free


def _closed_within(conn: socket.socket, seconds: float) -> bool:
    """True when the server closes ``conn`` (recv returns EOF) within ``seconds``."""
    conn.settimeout(seconds)
    try:
        while True:
            data = conn.recv(4096)
            if not data:
                return True
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def _reply(conn: socket.socket) -> bytes:
    """One response (ending in the app's ``ok`` body), or what came before EOF."""
    reply = b""
    while not reply.endswith(b"ok"):
        data = conn.recv(4096)
        if not data:
            break
        reply += data
    return reply


def test_partial_headers_are_cut_off(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")  # and never the blank line
        assert _closed_within(conn, 20)


def test_a_silent_connection_is_cut_off(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        assert _closed_within(conn, 20)


def test_complete_requests_are_answered_and_the_next_one_is_timed_too(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(20)
        for _ in range(3):  # headers sent in pieces, each well within the deadline
            conn.sendall(b"GET / HTTP/1.1\r\n")
            conn.sendall(b"Host: x\r\n\r\n")
            assert _reply(conn).startswith(b"HTTP/1.1 200")
        conn.sendall(b"GET / HTTP/1.1\r\n")  # a next request that stalls
        assert _closed_within(conn, 20)


def test_headers_that_arrive_slowly_but_in_time_are_served(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as conn:
        conn.settimeout(20)
        for piece in (b"GET / HT", b"TP/1.1\r\nHo", b"st: x\r\n", b"\r\n"):
            conn.sendall(piece)
            time.sleep(HEADER_TIMEOUT_S / 10)
        assert _reply(conn).startswith(b"HTTP/1.1 200")


def _client_seen(port: int, forwarded_for: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    conn.request("GET", "/client", headers={"X-Forwarded-For": forwarded_for})
    seen = conn.getresponse().read().decode()
    conn.close()
    return seen


@pytest.mark.parametrize(
    ("trusted", "expected"), [([], "127.0.0.1"), (["127.0.0.1"], "203.0.113.9")]
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    trusted: list[str], expected: str
) -> None:
    free = free_port()
    options = uvicorn_options(Settings(port=free, trusted_proxies=trusted))
    options.update(log_level="warning", log_config=None)
    with _running(uvicorn.Config(_app, **options)):
        assert _client_seen(free, "203.0.113.9") == expected


def test_keys_are_redacted_from_access_lines() -> None:
    key = "lk_3fa2c1d0_" + "s3cr3t" * 7
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/v1/stations?api_key={key}&x-api-key=abc&lang=zh", "1.1", 403),
        None,
    )
    assert RedactSecretsFilter().filter(record)
    line = record.getMessage()
    assert "s3cr3t" not in line and "abc" not in line
    assert "lang=zh" in line and "api_key=REDACTED" in line
    # a key anywhere in a path keeps only its id
    record.args = ("127.0.0.1:5000", "GET", f"/v1/{key}", "1.1", 404)
    RedactSecretsFilter().filter(record)
    assert "lk_3fa2c1d0_REDACTED" in record.getMessage()


def test_worker_sockets_say_they_are_tcp_so_nagle_is_off() -> None:
    """asyncio disables Nagle's algorithm only on sockets with proto IPPROTO_TCP; a
    listener made by socket.create_server (proto 0) made every kept-alive response of
    the forked workers wait 40 ms for a delayed ACK."""
    listener = _listener("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                assert accepted.proto == socket.IPPROTO_TCP  # what asyncio checks
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
    finally:
        listener.close()
