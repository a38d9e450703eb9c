"""The served protocol: a connection whose request headers do not arrive in time is
closed (slowloris), on a fresh connection and on a kept-alive one; complete requests are
answered as usual."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from api.server import HeaderTimeoutProtocol

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
    headers = [(b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


@pytest.fixture
def port() -> Iterator[int]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        free = s.getsockname()[1]
    config = uvicorn.Config(
        _app, host="127.0.0.1", port=free, http=HeaderTimeoutProtocol, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield free
    server.should_exit = True
    thread.join(timeout=30)


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
