"""QueryCache (caching, expiry, invalidation, errors, threads) and declared queries (keys
derived from the call)."""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from cachetools import TTLCache

from etbot import activity, compare, leaderboard, players, sessions, summary, trend
from etbot.cache import QueryCache, cache_key, cached_query, is_cached_query
from etbot.periods import Period


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

    with pytest.raises(ValueError, match="no"):
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
    with pytest.raises(ValueError, match="must be positive"):
        QueryCache(ttl=0, maxsize=1)
    with pytest.raises(ValueError, match="must be positive"):
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
    assert set(computed) == set(range(10))
    assert len(computed) < 100
    assert cache.hits + cache.misses == 400


# --------------------------------------------------------------------------- declared queries

CALLS: list[tuple[object, ...]] = []


@cached_query
def _query(a: int, b: int = 2, *, c: str | None = None) -> tuple[int, int, str | None]:
    CALLS.append((a, b, c))
    return a, b, c


@cached_query
def _other(a: int, b: int = 2, *, c: str | None = None) -> tuple[int, int, str | None]:
    return a, b, c


@cached_query
def _by_period(period: Period) -> str:
    CALLS.append((period,))
    return period.label


def test_a_key_names_the_function_and_every_argument() -> None:
    same = {
        cache_key(_query, (1,), {}),
        cache_key(_query, (1, 2), {}),
        cache_key(_query, (), {"a": 1}),
        cache_key(_query, (1,), {"b": 2, "c": None}),
    }
    assert len(same) == 1, "calls that mean the same share a key (defaults filled in)"
    different = {
        cache_key(_query, (1,), {}),
        cache_key(_query, (2,), {}),
        cache_key(_query, (1, 3), {}),
        cache_key(_query, (1,), {"c": "x"}),
        cache_key(_other, (1,), {}),
    }
    assert len(different) == 5, "any other argument or function is another key"


def test_periods_are_keys_by_value() -> None:
    start = datetime(2025, 3, 4)
    week = Period(start, None, "Last 7 days")
    assert cache_key(_by_period, (week,), {}) == cache_key(
        _by_period, (Period(datetime(2025, 3, 4), None, "Last 7 days"),), {}
    )
    assert cache_key(_by_period, (week,), {}) != cache_key(
        _by_period, (Period(start + timedelta(days=1), None, "Last 7 days"),), {}
    )


def test_call_caches_declared_queries_per_call() -> None:
    cache = QueryCache(ttl=60, maxsize=10)
    CALLS.clear()
    assert cache.call(_query, 1) == (1, 2, None)
    assert cache.call(_query, a=1, b=2) == (1, 2, None)  # the same call: a hit
    assert cache.call(_query, 1, c="x") == (1, 2, "x")  # another argument: another entry
    assert cache.call(_query, 1, 3) == (1, 3, None)
    assert CALLS == [(1, 2, None), (1, 2, "x"), (1, 3, None)]
    assert (cache.hits, cache.misses, len(cache)) == (1, 3, 3)
    cache.invalidate()
    assert cache.call(_query, 1) == (1, 2, None)
    assert len(CALLS) == 4


def test_undeclared_functions_always_run() -> None:
    cache = QueryCache(ttl=60, maxsize=10)
    calls: list[int] = []

    def write(x: int) -> int:
        calls.append(x)
        return x

    assert cache.call(write, 5) == cache.call(write, 5) == 5
    assert calls == [5, 5]
    assert len(cache) == 0
    with pytest.raises(TypeError, match="not a declared cached query"):
        cache_key(write, (5,), {})


def test_unhashable_arguments_are_refused_not_ignored() -> None:
    @cached_query
    def by_ids(ids: Sequence[int]) -> int:
        return len(ids)

    cache = QueryCache(ttl=60, maxsize=10)
    with pytest.raises(TypeError, match="ids"):
        cache.call(by_ids, [1, 2])
    assert cache.call(by_ids, (1, 2)) == 2
    with pytest.raises(TypeError):
        cache_key(_query, (), {})  # a missing argument is not silently a key


def test_variadic_functions_cannot_be_declared() -> None:
    def loose(*args: int, **kwargs: int) -> int:
        return 0

    with pytest.raises(TypeError, match="named parameters only"):
        cached_query(loose)


def test_the_bots_cached_queries_are_declared() -> None:
    """Answers that only depend on the data are cached; answers that depend on the clock
    or on links (which change without an import) are not."""
    for query in (
        activity.activity,
        compare.compare,
        leaderboard.leaderboard,
        players.autocomplete_players,
        sessions.recent_sessions,
        summary.player_summary,
        trend.trend,
    ):
        assert is_cached_query(query), query.__qualname__
    for uncached in (
        sessions.weekly_pattern,
        players.player_for_discord,
        players.resolve_player,
        players.link_discord,
        players.unlink_discord,
    ):
        assert not is_cached_query(uncached), uncached.__qualname__
