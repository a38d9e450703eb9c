"""Compiled-kernel plumbing shared by the network's hot loops (snapping, reach
intervals, the searches of :mod:`locator.network.p2p` and
:mod:`locator.network.multitarget`).

- :func:`jit`: ``numba.njit(cache=True, nogil=True)``, falling back to an uncached compile
  when no cache directory is writable (a read-only install and home).
- :func:`heap_push` / :func:`heap_pop`: a binary min-heap over two parallel arrays (keys,
  ids), for kernels that run Dijkstra-like searches.
- :class:`WorkPool`: a few reusable per-call work sets (large arrays a kernel writes), so
  no two concurrent calls write the same arrays and a call does not allocate ``O(n)``.

numba's on-disk cache is keyed by the time stamp of the kernel's own file only: the heap
compiled into the kernels of other files is not checked. After editing this file in a
checkout that has run the kernels, ``make clean-kernels`` (fresh clones have no cache).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import numba
import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

#: work sets kept per pool for reuse (more concurrent calls allocate their own)
POOL_SIZE = 4

W = TypeVar("W")
A = TypeVar("A", bound=npt.NDArray[Any])


def jit(func: Callable[..., Any]) -> Callable[..., Any]:
    """``numba.njit(cache=True, nogil=True)``; without a writable cache directory (a
    read-only install and home), compiled on first use without the on-disk cache."""
    try:
        return numba.njit(cache=True, nogil=True)(func)
    except RuntimeError as exc:  # numba: "cannot cache function ...: no locator available"
        _no_cache(str(exc).rpartition(" for file ")[2])
        return numba.njit(nogil=True)(func)


@functools.cache
def _no_cache(where: str) -> None:
    """Say once per file that its kernels compile on every start."""
    log.warning("numba cannot cache the kernels of %s: they compile at every start", where)


def _heap_push(keys: Any, nodes: Any, size: int, key: float, node: int) -> int:
    """Push ``(key, node)`` onto the binary min-heap ``keys[:size]``; the new size."""
    i = size
    while i > 0:
        parent = (i - 1) >> 1
        if keys[parent] <= key:
            break
        keys[i] = keys[parent]
        nodes[i] = nodes[parent]
        i = parent
    keys[i] = key
    nodes[i] = node
    return size + 1


def _heap_pop(keys: Any, nodes: Any, size: int) -> int:
    """Remove the top of the heap ``keys[:size]``; the new size."""
    size -= 1
    key = keys[size]
    node = nodes[size]
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[child] >= key:
            break
        keys[i] = keys[child]
        nodes[i] = nodes[child]
        i = child
    if size > 0:
        keys[i] = key
        nodes[i] = node
    return size


def jit_inline(func: Callable[..., Any]) -> Callable[..., Any]:
    """:func:`jit` for a small helper inlined into the kernels that call it."""
    try:
        return numba.njit(cache=True, nogil=True, inline="always")(func)
    except RuntimeError as exc:
        _no_cache(str(exc).rpartition(" for file ")[2])
        return numba.njit(nogil=True, inline="always")(func)


def readonly(a: A) -> A:
    """A read-only, C-contiguous view of ``a`` (a kernel's inputs are never written)."""
    v = np.ascontiguousarray(a).view()
    v.flags.writeable = False
    return v  # type: ignore[return-value]  # a view keeps the array type


def readonly_all(*arrays: npt.NDArray[Any]) -> tuple[npt.NDArray[Any], ...]:
    """:func:`readonly` of each array."""
    return tuple(readonly(a) for a in arrays)


heap_push = jit(_heap_push)
heap_pop = jit(_heap_pop)


class WorkPool(Generic[W]):
    """Up to :data:`POOL_SIZE` work sets for reuse. :meth:`take` hands a set to one call
    (a new one when none is free or the free one is too small); :meth:`give` takes it
    back, clean. A kernel that raised may leave a set dirty: the caller then does not
    give it back."""

    def __init__(self, make: Callable[[int], W], size_of: Callable[[W], int]) -> None:
        self._make = make
        self._size_of = size_of
        self._free: list[W] = []
        self._lock = threading.Lock()

    def take(self, room: int) -> W:
        """A work set with at least ``room`` heap entries."""
        with self._lock:
            work = self._free.pop() if self._free else None
        if work is None or self._size_of(work) < room:
            work = self._make(room)
        return work

    def give(self, work: W) -> None:
        """Return a clean work set."""
        with self._lock:
            if len(self._free) < POOL_SIZE:
                self._free.append(work)
