"""The compiled-kernel plumbing: the uncached fallback and the work-set pool."""

from __future__ import annotations

import logging
from typing import Any

import numba
import numpy as np
import pytest

from locator.network import kernels


def test_jit_compiles_without_a_cache_directory(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Where numba cannot cache (a read-only install and home), the kernel still
    compiles, uncached, with one warning."""
    real = numba.njit

    def njit(*args: Any, **kw: Any) -> Any:
        if kw.get("cache"):
            raise RuntimeError(
                "cannot cache function 'f': no locator available for file '/ro/x.py'"
            )
        return real(*args, **kw)

    monkeypatch.setattr(kernels.numba, "njit", njit)
    kernels._no_cache.cache_clear()

    def f(a: Any) -> float:
        return float(a.sum()) * 2.0

    with caplog.at_level(logging.WARNING, logger="locator.network.kernels"):
        g = kernels.jit(f)
        h = kernels.jit_inline(f)
    assert g(np.ones(3)) == 6.0 and h(np.ones(2)) == 4.0
    assert sum("cannot cache" in r.getMessage() for r in caplog.records) == 1


def test_heap_pops_in_key_order() -> None:
    rng = np.random.default_rng(3)
    keys = rng.uniform(0, 100, 200)
    hk, hn = np.empty(200), np.empty(200, dtype=np.int64)
    size = 0
    for i, k in enumerate(keys):
        size = kernels.heap_push(hk, hn, size, float(k), i)
    got = []
    while size:
        got.append(int(hn[0]))
        size = kernels.heap_pop(hk, hn, size)
    assert got == np.argsort(keys, kind="stable").tolist()


def test_work_pool_reuses_sets_and_grows_small_ones() -> None:
    made: list[int] = []

    def make(room: int) -> np.ndarray:
        made.append(room)
        return np.zeros(room)

    pool = kernels.WorkPool(make, lambda w: int(w.shape[0]))
    a = pool.take(10)
    b = pool.take(10)  # the first is out: a second one is made
    assert a is not b and made == [10, 10]
    pool.give(a)
    assert pool.take(5) is a  # reused: big enough
    pool.give(a)
    c = pool.take(20)  # too small: a new one
    assert c is not a and made == [10, 10, 20]
    for _ in range(kernels.POOL_SIZE + 3):
        pool.give(np.zeros(1))
    assert len(pool._free) == kernels.POOL_SIZE
