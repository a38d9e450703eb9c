"""The shared token-bucket table: the same answers as a plain per-client model, one limit
across forked worker processes, bounded memory with more clients than slots."""

from __future__ import annotations

import math
import os

from hypothesis import given, settings
from hypothesis import strategies as st

from api.ratelimit import TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _reference(events: list[tuple[int, float]], rate: float, burst: int) -> list[tuple]:
    """A dict of buckets, the textbook way."""
    buckets: dict[int, tuple[float, float]] = {}
    now = 1000.0
    out = []
    for client, dt in events:
        now += dt
        tokens, last = buckets.get(client, (float(burst), now))
        tokens = min(float(burst), tokens + (now - last) * rate)
        allowed = tokens >= 1.0
        if allowed:
            tokens -= 1.0
        buckets[client] = (tokens, now)
        if allowed:
            out.append((True, math.floor(tokens), math.ceil((burst - tokens) / rate)))
        else:
            out.append((False, 0, max(1, math.ceil((1.0 - tokens) / rate))))
    return out


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(
        st.tuples(st.integers(0, 5), st.sampled_from([0.0, 0.0, 0.01, 0.1, 0.5, 3.0])),
        max_size=120,
    ),
    rate=st.sampled_from([0.5, 2.0, 20.0]),
    burst=st.integers(1, 6),
)
def test_the_table_answers_like_per_client_buckets(
    events: list[tuple[int, float]], rate: float, burst: int
) -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate, burst, clock=clock, slots=4096)
    got = []
    for client, dt in events:
        clock.now += dt
        got.append(bucket.take(f"10.0.0.{client}"))
    assert got == _reference(events, rate, burst)


def test_forked_workers_share_one_limit() -> None:
    bucket = TokenBucket(rate_per_s=0.001, burst=40, slots=1024)
    workers, tries = 4, 25  # 100 tries against 40 tokens
    pipes = []
    for _ in range(workers):
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # a worker
            os.close(read_fd)
            allowed = sum(bucket.take("198.51.100.7")[0] for _ in range(tries))
            os.write(write_fd, str(allowed).encode())
            os._exit(0)
        os.close(write_fd)
        pipes.append((pid, read_fd))
    total = 0
    for pid, read_fd in pipes:
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        total += int(os.read(read_fd, 64).decode())
        os.close(read_fd)
    assert total == 40  # exactly the burst, however the tries were spread
    assert not bucket.take("198.51.100.7")[0]  # and the parent sees the same bucket


def test_more_clients_than_slots_stay_bounded() -> None:
    clock = FakeClock()
    bucket = TokenBucket(rate_per_s=1.0, burst=2, clock=clock, slots=16)
    for i in range(1000):
        assert bucket.take(f"c{i}")[0]  # a new client always starts with a full bucket
    assert len(bucket._mem) == 16 * 24  # the table never grows
    # an active client is never evicted while fewer clients than a probe window are active
    clock.now += 100
    assert bucket.take("busy")[0] and bucket.take("busy")[0]
    for round_ in range(20):
        for i in range(6):
            bucket.take(f"d{i}")
            bucket.take(f"d{i}")
        clock.now += 0.01
        assert not bucket.take("busy")[0], round_
