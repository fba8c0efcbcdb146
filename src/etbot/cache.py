"""Declared cached queries, and the thread-safe TTL cache that holds their answers.

A read-only query is declared cacheable once, where it is defined, with
:func:`cached_query`; its cache key is derived from the function and every argument of the
call (:func:`cache_key`), so no caller writes a key by hand and a key always describes the
call completely. :meth:`QueryCache.call` answers declared queries from the cache and runs
everything else directly. Every import that changes data clears the cache
(:meth:`QueryCache.invalidate`).

The bot runs queries in a thread pool, so the cache is shared between threads and
guarded by one lock. The computation itself runs outside the lock (a slow query must not
block cache hits of other commands); two threads missing the same key at once may both
compute it, which is harmless for read-only queries. A generation counter makes sure a
result computed before an :meth:`QueryCache.invalidate` is never stored after it.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable, Hashable, Mapping
from functools import partial
from typing import Any, ParamSpec, TypeVar

from cachetools import TTLCache

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")
F = TypeVar("F", bound=Callable[..., Any])

#: Signatures of the declared cached queries (by function), to bind calls to names.
_DECLARED: dict[Callable[..., Any], inspect.Signature] = {}


def cached_query(fn: F) -> F:
    """Declare ``fn`` a cacheable read-only query: its answer depends only on its
    arguments and the database, so it may be served from the cache until the next import.

    The function must take named parameters only (no ``*args`` / ``**kwargs``), so every
    argument of a call is part of its key.
    """
    signature = inspect.signature(fn)
    variadic = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    if any(p.kind in variadic for p in signature.parameters.values()):
        raise TypeError(f"{fn.__qualname__}: a cached query needs named parameters only")
    _DECLARED[fn] = signature
    return fn


def is_cached_query(fn: Callable[..., Any]) -> bool:
    """True when ``fn`` was declared with :func:`cached_query`."""
    return fn in _DECLARED


def cache_key(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Hashable:
    """The key of the call ``fn(*args, **kwargs)`` of a declared query.

    The function's qualified name and every parameter by name, defaults filled in: calls
    that mean the same (positional or keyword, default given or left out) share a key, and
    calls that differ in any argument never do.

    Raises:
        TypeError: ``fn`` is not a declared query, the arguments do not fit its signature,
            or an argument is not hashable (use tuples and frozen dataclasses).
    """
    signature = _DECLARED.get(fn)
    if signature is None:
        raise TypeError(f"{getattr(fn, '__qualname__', fn)!r} is not a declared cached query")
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    key = (f"{fn.__module__}.{fn.__qualname__}", tuple(bound.arguments.items()))
    try:
        hash(key)
    except TypeError:
        unhashable = [name for name, value in bound.arguments.items() if not _hashable(value)]
        raise TypeError(
            f"{fn.__qualname__}: argument(s) {', '.join(unhashable)} cannot be part of a "
            "cache key (not hashable)"
        ) from None
    return key


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


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

    def call(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)``, from the cache when ``fn`` is a declared query.

        Functions not declared with :func:`cached_query` (writes, lookups that change
        without an import, answers that depend on the clock) always run.
        """
        if not is_cached_query(fn):
            return fn(*args, **kwargs)
        key = cache_key(fn, args, kwargs)
        return self.get_or_compute(key, partial(fn, *args, **kwargs))

    def invalidate(self) -> None:
        """Forget everything (called after each ingest commit)."""
        with self._lock:
            self._cache.clear()
            self._generation += 1
        log.debug("query cache invalidated")

    def __len__(self) -> int:
        with self._lock:
            return len(self._cache)
