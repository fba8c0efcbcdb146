"""QueryCache: caching, expiry, invalidation, errors and threads."""

from __future__ import annotations

import functools
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from cachetools import TTLCache

from etbot.cache import QueryCache


def test_caches_by_key_until_invalidated() -> None:
    cache = QueryCache(ttl=60, maxsize=10)
    calls: list[str] = []

    def compute(key: str) -> str:
        calls.append(key)
        return key.upper()

    assert cache.get_or_compute("a", lambda: compute("a")) == "A"
    assert cache.get_or_compute("a", lambda: compute("a")) == "A"
    assert cache.get_or_compute(("b", 1), lambda: compute("b")) == "B"
    assert calls == ["a", "b"]
    assert (cache.hits, cache.misses) == (1, 2)
    cache.invalidate()
    assert len(cache) == 0
    assert cache.get_or_compute("a", lambda: compute("a")) == "A"
    assert calls == ["a", "b", "a"]


def test_entries_expire_after_ttl(monkeypatch: pytest.MonkeyPatch) -> None:
    # A fake clock for the TTLCache inside (time-machine does not move time.monotonic).
    now = 1000.0
    monkeypatch.setattr("etbot.cache.TTLCache", functools.partial(TTLCache, timer=lambda: now))
    cache = QueryCache(ttl=60, maxsize=10)
    values = iter([1, 2])
    assert cache.get_or_compute("k", lambda: next(values)) == 1
    now += 59
    assert cache.get_or_compute("k", lambda: next(values)) == 1
    now += 2
    assert cache.get_or_compute("k", lambda: next(values)) == 2


def test_maxsize_bounds_the_cache() -> None:
    cache = QueryCache(ttl=60, maxsize=3)
    for i in range(10):
        cache.get_or_compute(i, functools.partial(int, i))
    assert len(cache) == 3


def test_errors_are_not_cached() -> None:
    cache = QueryCache(ttl=60, maxsize=10)

    def boom() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError):
        cache.get_or_compute("k", boom)
    assert cache.get_or_compute("k", lambda: 7) == 7


def test_result_computed_before_an_invalidation_is_not_stored() -> None:
    cache = QueryCache(ttl=60, maxsize=10)

    def stale() -> str:
        cache.invalidate()  # an ingest commits while the query runs
        return "old"

    assert cache.get_or_compute("k", stale) == "old"
    assert cache.get_or_compute("k", lambda: "new") == "new"


def test_rejects_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        QueryCache(ttl=0, maxsize=1)
    with pytest.raises(ValueError):
        QueryCache(ttl=1, maxsize=0)


def test_threads_share_one_cache() -> None:
    cache = QueryCache(ttl=60, maxsize=100)
    lock = threading.Lock()
    computed: list[int] = []

    def compute(k: int) -> int:
        with lock:
            computed.append(k)
        time.sleep(0.001)  # a slow query, so that misses of one key overlap (not a clock)
        return k * k

    def work(i: int) -> int:
        return cache.get_or_compute(i % 10, lambda: compute(i % 10))

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(work, range(400)))
    assert results == [(i % 10) ** 2 for i in range(400)]
    # Racing misses may compute a key more than once, but nowhere near once per call.
    assert set(computed) == set(range(10)) and len(computed) < 100
    assert cache.hits + cache.misses == 400
