"""Bounded work per process: a few slots for the heavy requests.

Coverage reports, site plans and live service circles can take a CPU-second and tens of
MB each; a burst of them (16 at once pushed a server to 816 MB) would starve everything
else. :class:`HeavySlots` lets ``max_heavy_requests`` of them run at once; the others wait
up to ``heavy_wait_s`` for a slot and then answer 503 ``busy`` with ``Retry-After``.
Cheap requests (nearest, stored circles, station reads) never wait for a slot.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

from fastapi import Request

from api.problems import ApiError


class HeavySlots:
    """A counting semaphore with a bounded wait."""

    def __init__(self, slots: int, wait_s: float) -> None:
        self._sem = threading.BoundedSemaphore(slots)
        self.slots = slots
        self.wait_s = wait_s

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the block; 503 ``busy`` after waiting ``wait_s`` in vain."""
        if not self._sem.acquire(timeout=self.wait_s):
            raise ApiError(
                503,
                "busy",
                f"the server is at its limit of {self.slots} heavy requests at once; retry",
                headers={"Retry-After": "2"},
            )
        try:
            yield
        finally:
            self._sem.release()


def heavy_slot(request: Request) -> Iterator[None]:
    """FastAPI dependency: run the route while holding one of the app's heavy slots."""
    slots: HeavySlots = request.app.state.heavy_slots
    with slots.slot():
        yield
