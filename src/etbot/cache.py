"""A small thread-safe TTL cache for query results, invalidated when ingest commits.

The bot runs queries in a thread pool, so the cache is shared between threads and
guarded by one lock. The computation itself runs outside the lock (a slow query must not
block cache hits of other commands); two threads missing the same key at once may both
compute it, which is harmless for read-only queries. A generation counter makes sure a
result computed before an :meth:`QueryCache.invalidate` is never stored after it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from cachetools import TTLCache

log = logging.getLogger(__name__)

T = TypeVar("T")


class QueryCache:
    """Cache of query results by key, each kept for ``ttl`` seconds, at most ``maxsize``."""

    def __init__(self, ttl: float = 300.0, maxsize: int = 1024) -> None:
        if ttl <= 0 or maxsize <= 0:
            raise ValueError("ttl and maxsize must be positive")
        self._cache: TTLCache[Hashable, Any] = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()
        self._generation = 0
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, key: Hashable, fn: Callable[[], T]) -> T:
        """Return the cached value of ``key``, or compute it with ``fn()`` and cache it.

        Exceptions raised by ``fn`` propagate and nothing is cached.
        """
        with self._lock:
            try:
                value: T = self._cache[key]
            except KeyError:
                self.misses += 1
                generation = self._generation
            else:
                self.hits += 1
                return value
        value = fn()
        with self._lock:
            if generation == self._generation:
                self._cache[key] = value
        return value

    def invalidate(self) -> None:
        """Forget everything (called after each ingest commit)."""
        with self._lock:
            self._cache.clear()
            self._generation += 1
        log.debug("query cache invalidated")

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)
