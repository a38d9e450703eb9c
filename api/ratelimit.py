"""Token buckets in shared memory: one rate limit for every worker of a server.

``locator serve --workers N`` forks its workers from one parent; a bucket table created in
the parent (an anonymous ``MAP_SHARED`` mapping and one process-shared lock) is the same
table in every worker, so a client spread over the workers by the kernel meets the one
limit its ``RateLimit-*`` headers announce. In a single process it is simply the table.

The table has a fixed number of slots (no growth, no per-client allocation: memory is
bounded whatever the number of clients). A client's slot is found by open addressing from
a stable 64-bit hash of its address; a probe may take over a slot whose bucket has refilled
(that client is indistinguishable from a new one) or, when every probed slot is busy, the
one idle longest.
"""

from __future__ import annotations

import hashlib
import math
import mmap
import multiprocessing
import struct
import time
from collections.abc import Callable

_SLOT = struct.Struct("<Qdd")  # client hash, tokens, last update (monotonic seconds)
_PROBES = 8


class TokenBucket:
    """Token buckets keyed by client, shared by the processes forked after creation.

    Parameters
    ----------
    rate_per_s
        Refill rate (tokens per second).
    burst
        Bucket size.
    clock
        Monotonic clock in seconds, the same in every process (``time.monotonic`` is
        system-wide); injectable for tests.
    slots
        Size of the table (clients tracked at once).
    """

    def __init__(
        self,
        rate_per_s: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        slots: int = 65_536,
    ) -> None:
        if rate_per_s <= 0 or burst < 1 or slots < _PROBES:
            raise ValueError("rate_per_s > 0, burst >= 1 and slots >= 8 are required")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.clock = clock
        self.slots = slots
        self._mem = mmap.mmap(-1, slots * _SLOT.size, flags=mmap.MAP_SHARED)
        # a POSIX semaphore: one lock for the threads of every forked worker
        self._lock = multiprocessing.get_context("fork").Lock()

    def take(self, client: str) -> tuple[bool, int, int]:
        """Spend one token of ``client``.

        Returns
        -------
        tuple
            ``(allowed, remaining, seconds)``: ``seconds`` is the time until the bucket
            is full when allowed, until the next token otherwise.
        """
        key = _client_hash(client)
        with self._lock:
            now = self.clock()
            offset, tokens, last = self._find(key, now)
            tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate_per_s)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            _SLOT.pack_into(self._mem, offset, key, tokens, now)
        if allowed:
            return True, math.floor(tokens), math.ceil((self.burst - tokens) / self.rate_per_s)
        return False, 0, max(1, math.ceil((1.0 - tokens) / self.rate_per_s))

    def _find(self, key: int, now: float) -> tuple[int, float, float]:
        """``(offset, tokens, last)`` of ``key``'s slot (a fresh full bucket if new)."""
        start = key % self.slots
        reusable: int | None = None
        oldest: tuple[float, int] = (math.inf, 0)
        for probe in range(_PROBES):
            offset = ((start + probe) % self.slots) * _SLOT.size
            owner, tokens, last = _SLOT.unpack_from(self._mem, offset)
            if owner == key:
                return offset, tokens, last
            refilled = owner == 0 or tokens + (now - last) * self.rate_per_s >= self.burst
            if refilled and reusable is None:
                reusable = offset
            oldest = min(oldest, (last, offset))
        return (oldest[1] if reusable is None else reusable), float(self.burst), now


def _client_hash(client: str) -> int:
    """A stable, non-zero 64-bit hash (``hash()`` differs between processes)."""
    digest = hashlib.blake2b(client.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1
