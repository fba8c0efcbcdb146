"""Everything an import does to a file before the database sees it: read, hash, compress,
parse and turn each player line into the values the importer stores (pure, no database).

This is the CPU-heavy half of an import, so a bulk import (thousands of files) runs it in
worker processes (:func:`prepare_paths`) while the importer writes the previous batch;
a few files (the bot's live sources, a short import) are prepared in the calling process,
which pays no pool start-up, and so is everything in a process that runs other threads
(the bot), where forking workers is not safe (:func:`can_fork`). Both give the same
:data:`Prepared` values: the importer cannot tell which way a file came.

What crosses the process boundary is kept to plain tuples (:class:`PreparedRound`,
:class:`Human`): unpickling the parser's frozen dataclasses cost the importer more than
parsing itself (measured), while tuples of numbers cost little.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
import threading
import zlib
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime
from pathlib import Path
from typing import Any, NamedTuple

from etbot.ingest.differential import WeaponRow, stored_values, stored_weapons
from etbot.ingest.results import FileResult
from etbot.statsfile import ParsedRound, ParseError, parse_round

log = logging.getLogger(__name__)


class Human(NamedTuple):
    """A human player line of a round, ready to store (bots are only counted)."""

    guid: str
    name: str
    raw_name: str
    team: int
    rounds: int
    #: :data:`~etbot.ingest.differential.VALUE_FIELDS` as stored for a round 1
    #: (:func:`~etbot.ingest.differential.stored_values`).
    values: tuple[object, ...]
    #: Weapons with at least one non-zero counter (zero rows are never stored).
    weapons: tuple[WeaponRow, ...]


class PreparedRound(NamedTuple):
    """One parsed stats file as the importer uses it (the header plus :class:`Human` rows)."""

    file_name: str
    ended_at: datetime
    server_name: str
    map: str
    config: str
    round_no: int
    defender: int
    winner: int
    time_limit_s: int
    round_time_s: int | None
    play_time_ms: int | None
    layout: int
    humans: tuple[Human, ...]
    bot_count: int

    @property
    def line_count(self) -> int:
        """Player lines in the file (humans and bots)."""
        return len(self.humans) + self.bot_count


class Prepared(NamedTuple):
    """A file ready for the database."""

    file_name: str
    #: SHA-256 of the bytes (files are deduplicated by content).
    digest: str
    #: The bytes, zlib-compressed as :class:`~etbot.models.SourceFile` stores them.
    content: bytes
    #: The round, or why the file is not a stats file.
    parsed: PreparedRound | ParseError


def sha256(data: bytes) -> str:
    """The content hash files are deduplicated by."""
    return hashlib.sha256(data).hexdigest()


def compress(data: bytes) -> bytes:
    """A stats file as it is stored (level 1: fast, and text compresses well anyway)."""
    return zlib.compress(data, 1)


def from_parsed(parsed: ParsedRound) -> PreparedRound:
    """The importer's view of a parsed round."""
    humans = []
    bots = 0
    layout = parsed.layout
    for p in parsed.players:
        if p.is_bot:
            bots += 1
            continue
        humans.append(
            Human(
                p.guid,
                p.name,
                p.raw_name,
                p.team,
                p.rounds,
                stored_values(p, layout),
                stored_weapons(
                    [(w.weapon, w.hits, w.shots, w.kills, w.deaths, w.headshots) for w in p.weapons]
                ),
            )
        )
    return PreparedRound(
        parsed.file_name,
        parsed.ended_at,
        parsed.server_name,
        parsed.map,
        parsed.config,
        parsed.round_no,
        parsed.defender,
        parsed.winner,
        parsed.time_limit_s,
        parsed.round_time_s,
        parsed.play_time_ms,
        layout,
        tuple(humans),
        bots,
    )


def prepare(file_name: str, data: bytes) -> Prepared:
    """Hash, compress and parse one file's bytes (never raises for a bad file)."""
    try:
        parsed: PreparedRound | ParseError = from_parsed(parse_round(data, file_name))
    except ParseError as exc:
        parsed = exc
    return Prepared(file_name, sha256(data), compress(data), parsed)


# ---------------------------------------------------------------- paths, in a worker pool

#: Files handed to a worker at a time (small: the importer gets the first ones early).
CHUNK = 50
#: Below this many files an import prepares them itself (a pool costs its start-up).
POOL_MIN_FILES = 1000
#: How much lower the workers' CPU priority is than the importer's (``nice``). The
#: importer, which writes one batch after the other, is what an import waits for; at the
#: same priority two workers and the importer shared two cores three ways while the
#: workers were far ahead (measured: 6-9 % more files/s this way). It also leaves the
#: game server on the same machine its share while a big history is imported.
WORKER_NICENESS = 10


def read_and_prepare(path: str) -> Prepared | FileResult:
    """Read and prepare one file; a file that cannot be read becomes its rejected result."""
    from etbot.ingest.importer import read_stats_file

    p = Path(path)
    try:
        data = read_stats_file(p)
    except OSError as exc:
        return FileResult(p.name, "rejected", f"cannot read: {exc.strerror or exc}")
    return prepare(p.name, data)


#: What a worker sends back per file (see :func:`_plain`).
Sent = Prepared | FileResult | tuple[Any, ...]


def _prepare_chunk(paths: Sequence[str]) -> list[Sent]:
    """A worker's chunk, a prepared round as plain tuples (:func:`_plain`)."""
    return [_plain(read_and_prepare(path)) for path in paths]


def _plain(item: Prepared | FileResult) -> Sent:
    """A prepared round as plain nested tuples: unpickling named tuples calls their
    Python constructor for every player, which cost the importer twice as much (measured:
    0.29 s vs 0.15 s for 5,140 files)."""
    if isinstance(item, Prepared) and isinstance(item.parsed, PreparedRound):
        parsed = item.parsed
        return (
            *item[:3],
            (*parsed[:12], tuple([tuple(h) for h in parsed.humans]), parsed.bot_count),
        )
    return item


_new = tuple.__new__


def _named(item: Sent) -> Prepared | FileResult:
    """:func:`_plain` undone (``tuple.__new__``: no Python code per player)."""
    if isinstance(item, Prepared | FileResult):
        return item
    file_name, digest, content, parsed = item
    humans = tuple([_new(Human, h) for h in parsed[12]])
    return _new(
        Prepared,
        (file_name, digest, content, _new(PreparedRound, (*parsed[:12], humans, parsed[13]))),
    )


def default_workers() -> int:
    """Worker processes for a bulk import: one per core, at most 2 (the importer itself
    needs a core for the database work)."""
    return max(1, min(2, os.cpu_count() or 1))


def can_fork() -> bool:
    """Can a worker pool start here? Workers are forked (instant, nothing to re-import),
    which is safe only while this process runs a single thread: forking beside other
    threads (the bot: its event loop and database threads) can copy a lock one of them
    holds. Elsewhere files are prepared in the importer's own thread."""
    return threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()


def prepare_paths(
    paths: Sequence[str | os.PathLike[str]], *, workers: int | None = None
) -> Iterator[Prepared | FileResult]:
    """Read and prepare ``paths`` in order, in worker processes for a bulk import.

    With fewer than :data:`POOL_MIN_FILES` files, ``workers=0``, or where no pool can
    start (:func:`can_fork`), everything runs here, one file at a time. Otherwise a pool
    of ``workers`` processes (default :func:`default_workers`) prepares chunks ahead of
    the consumer (a bounded number, so memory stays small however many files there are)
    while it writes earlier ones.
    Results come in the order of ``paths`` either way; a chunk whose worker died is
    prepared here instead, so a broken pool costs speed, never files.
    """
    names = [os.fspath(p) for p in paths]
    count = default_workers() if workers is None else workers
    if count <= 0 or len(names) < POOL_MIN_FILES or not can_fork():
        for name in names:
            yield read_and_prepare(name)
        return
    chunks = [names[i : i + CHUNK] for i in range(0, len(names), CHUNK)]
    ahead = max(4 * count, 2 * 1000 // CHUNK)  # about two bulk batches
    log.debug("preparing %d files in %d worker processes", len(names), count)
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(
        max_workers=count, mp_context=context, initializer=os.nice, initargs=(WORKER_NICENESS,)
    ) as pool:

        def submit(chunk: list[str]) -> Future[list[Sent]] | None:
            try:
                return pool.submit(_prepare_chunk, chunk)
            except BrokenProcessPool:  # a worker died before: prepare it here
                return None

        pending: deque[tuple[list[str], Future[list[Sent]] | None]] = deque()
        queue = iter(chunks)
        for chunk in _take(queue, ahead):
            pending.append((chunk, submit(chunk)))
        while pending:
            chunk, future = pending.popleft()
            for more in _take(queue, 1):
                pending.append((more, submit(more)))
            results: list[Sent] | None = None
            if future is not None:
                try:
                    results = future.result()
                except BrokenProcessPool:  # a worker died (killed, out of memory)
                    log.warning("a file preparation worker failed; preparing its files here")
            if results is None:
                results = _prepare_chunk(chunk)
            for item in results:
                yield _named(item)


def _take(items: Iterator[list[str]], n: int) -> Iterable[list[str]]:
    for _ in range(n):
        item = next(items, None)
        if item is None:
            return
        yield item
