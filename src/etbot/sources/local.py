"""Watch a local folder (the game server's ``gamestats/``) for new stats files.

The game server writes one file when a round ends. :class:`FolderWatcher` waits for
filesystem events (inotify through ``watchfiles``; polling where that is unavailable) and
settles every new or changed ``*.txt`` file in its own task: a file is handed to the
callback (the bot's ``ingest_paths``) only once its size and mtime have stayed the same for
``settle`` seconds, because a half-written file could parse as a round with fewer players
and the complete file would then clash with it.

Nothing can stall the watch:

* each file settles concurrently with the others, so one slow file never holds up the rest
  and a burst of a thousand files takes one settle period, not a thousand;
* a file that is empty once settled, is not a regular file (a FIFO, a folder named
  ``*.txt``) or cannot be read is rejected with a logged reason; one that is still changing
  after ``deadline`` seconds is given up. Either is tried again when it changes next.

At start-up the watch begins *before* the files already in the folder are imported, so a
round that ends during that import is picked up too; a file the start-up import covered is
not handed over again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import stat
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from watchfiles import Change, awatch

log = logging.getLogger(__name__)

#: How long a file's size and mtime must stay the same before it counts as written.
SETTLE_SECONDS = 1.0
SETTLE_POLL_SECONDS = 0.25
#: A file still changing after this long is given up (until it changes again).
SETTLE_DEADLINE_SECONDS = 60.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]
#: (size, mtime in ns): what a file looked like when it was handed over.
Signature = tuple[int, int]


@dataclass(frozen=True)
class SettleRules:
    """When a file counts as completely written, and when to give up on it."""

    settle: float = SETTLE_SECONDS
    poll: float = SETTLE_POLL_SECONDS
    deadline: float = SETTLE_DEADLINE_SECONDS


@dataclass(frozen=True)
class Settled:
    """The outcome of :func:`wait_until_settled` for one file."""

    path: Path
    size: int = 0
    mtime_ns: int = 0
    #: Why the file is not handed over (None: complete and readable).
    problem: str | None = None
    #: The file disappeared while it was being watched (a temporary file renamed away).
    vanished: bool = False

    @property
    def ok(self) -> bool:
        return self.problem is None

    @property
    def signature(self) -> Signature:
        return (self.size, self.mtime_ns)


def is_stats_file(change: Change, path: str) -> bool:
    """watchfiles filter: added or modified ``*.txt`` files."""
    return change in (Change.added, Change.modified) and path.endswith(".txt")


def _unreadable(path: Path) -> str | None:
    """Why ``path`` (a regular file) cannot be opened for reading, or None."""
    try:
        # O_NONBLOCK: never hang here, whatever the file turned into meanwhile.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        return f"cannot read it: {exc.strerror or exc}"
    os.close(fd)
    return None


async def wait_until_settled(
    path: Path,
    rules: SettleRules = SettleRules(),
    *,
    clock: Clock | None = None,
    sleep: Sleep = asyncio.sleep,
) -> Settled:
    """Wait until ``path``'s size and mtime stop changing for ``rules.settle`` seconds.

    Returns a :class:`Settled` that is ``ok`` for a complete, readable, non-empty regular
    file. It is not ok when the file vanished, is not a regular file, cannot be read, is
    empty once settled, or is still changing after ``rules.deadline`` seconds. ``clock``
    and ``sleep`` default to the event loop's; tests pass a virtual clock.
    """
    now = clock or asyncio.get_running_loop().time
    started = now()
    last: Signature | None = None
    stable_since = started
    while True:
        try:
            st = path.stat()  # noqa: ASYNC240 one local stat per poll; a thread hop costs more
        except FileNotFoundError:
            return Settled(path, problem="disappeared before it was complete", vanished=True)
        except OSError as exc:
            return Settled(path, problem=f"cannot read it: {exc.strerror or exc}")
        if not stat.S_ISREG(st.st_mode):
            return Settled(path, problem="not a regular file")
        t = now()
        current = (st.st_size, st.st_mtime_ns)
        if current != last:
            last, stable_since = current, t
        elif t - stable_since >= rules.settle:
            if st.st_size == 0:
                return Settled(path, *current, problem="empty file (0 bytes)")
            problem = _unreadable(path)
            return Settled(path, *current, problem=problem)
        if t - started >= rules.deadline:
            return Settled(
                path, *current, problem=f"still being written after {rules.deadline:g} s"
            )
        await sleep(rules.poll)


def snapshot(folder: Path) -> dict[Path, Signature]:
    """Every ``*.txt`` regular file below ``folder`` with its (size, mtime); blocking."""
    found: dict[Path, Signature] = {}
    for path in folder.rglob("*.txt"):
        try:
            st = path.stat()
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            found[path] = (st.st_size, st.st_mtime_ns)
    return found


class FolderWatcher:
    """Hands each new, completely written stats file below ``folder`` to ``on_files``.

    Args:
        folder: The folder to follow (recursively).
        on_files: Called with batches of settled files (sorted paths). Its errors are
            logged and the watch goes on.
        on_existing: Called once with ``folder`` after the watch has begun: import what is
            already there. Files it covered are not handed to ``on_files`` again.
        rules: Settle time, poll interval and deadline per file.
        debounce_ms: How long watchfiles gathers events into one batch.
        force_polling: Poll the folder instead of using inotify (network file systems).
        clock, sleep: Time source for the settle loops (tests inject a virtual clock).
    """

    def __init__(
        self,
        folder: Path,
        on_files: Callable[[list[Path]], Awaitable[Any]],
        *,
        on_existing: Callable[[Path], Awaitable[Any]] | None = None,
        rules: SettleRules = SettleRules(),
        debounce_ms: int = 1000,
        force_polling: bool | None = None,
        clock: Clock | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.folder = folder
        self.on_files = on_files
        self.on_existing = on_existing
        self.rules = rules
        self.debounce_ms = debounce_ms
        self.force_polling = force_polling
        self._clock = clock
        self._sleep = sleep
        self._settling: dict[Path, asyncio.Task[None]] = {}
        self._ready: asyncio.Queue[Settled] = asyncio.Queue()
        #: What each file looked like when handed over (or covered by the start-up import).
        self._handed: dict[Path, Signature] = {}
        self._existing_done = asyncio.Event()
        self._starting = on_existing is not None
        self._handing = False
        if on_existing is None:
            self._existing_done.set()

    @property
    def idle(self) -> bool:
        """The start-up import is over and nothing is being settled or handed over."""
        return not (self._starting or self._handing or self._settling or not self._ready.empty())

    async def run(self, stop_event: asyncio.Event | None = None) -> None:
        """Follow the folder until ``stop_event`` is set or the task is cancelled."""
        stop = stop_event or asyncio.Event()
        changes = awatch(
            self.folder,
            watch_filter=is_stats_file,
            debounce=self.debounce_ms,
            stop_event=stop,
            force_polling=self.force_polling,
        )
        next_changes = asyncio.ensure_future(anext(changes))
        # awatch registers its watch (inotify or the poller's first scan) synchronously
        # when first resumed, before it awaits anything: after this one step every change
        # in the folder is recorded, so listing the folder now misses nothing.
        await asyncio.sleep(0)
        log.info("watching %s for new stats files", self.folder)
        helpers = [asyncio.create_task(self.handover(), name="etbot-watch-handover")]
        if self.on_existing is not None:
            helpers.append(
                asyncio.create_task(
                    self._import_existing(self.on_existing), name="etbot-watch-start"
                )
            )
        try:
            while True:
                try:
                    batch = await next_changes
                except StopAsyncIteration:
                    return
                self.consider(Path(path) for _change, path in batch)
                next_changes = asyncio.ensure_future(anext(changes))
        finally:
            pending = [next_changes, *helpers, *self._settling.values()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            with contextlib.suppress(RuntimeError):
                await changes.aclose()

    def consider(self, paths: Iterable[Path]) -> None:
        """Start settling each path (unless it is already being settled)."""
        for path in paths:
            if path not in self._settling:
                self._settling[path] = asyncio.create_task(self._settle(path))

    async def _settle(self, path: Path) -> None:
        try:
            result = await wait_until_settled(
                path, self.rules, clock=self._clock, sleep=self._sleep
            )
        finally:
            self._settling.pop(path, None)
        if result.ok:
            self._ready.put_nowait(result)
        elif result.vanished:
            log.info("not importing %s: %s", path, result.problem)
        else:
            log.warning("not importing %s: %s (tried again when it changes)", path, result.problem)

    async def handover(self) -> None:
        """Hand settled files to ``on_files`` in batches, each file state once; forever."""
        await self._existing_done.wait()
        while True:
            batch = {(first := await self._ready.get()).path: first}
            while not self._ready.empty():
                item = self._ready.get_nowait()
                batch[item.path] = item
            fresh = [s for s in batch.values() if self._handed.get(s.path) != s.signature]
            if not fresh:
                continue
            for item in fresh:
                self._handed[item.path] = item.signature
            paths = sorted(item.path for item in fresh)
            self._handing = True
            try:
                await self.on_files(paths)
            except Exception:
                log.exception("importing %d new file(s) from %s failed", len(paths), self.folder)
                for item in fresh:  # not imported: the next change hands it over again
                    self._handed.pop(item.path, None)
            finally:
                self._handing = False

    async def _import_existing(self, on_existing: Callable[[Path], Awaitable[Any]]) -> None:
        before: dict[Path, Signature] = {}
        try:
            before = await asyncio.to_thread(snapshot, self.folder)
            self._handed.update(before)
            await on_existing(self.folder)
        except Exception:
            log.exception("importing the files already in %s failed", self.folder)
        finally:
            self._existing_done.set()
        # Belt and braces: anything that appeared or changed during the start-up import
        # is settled like a new file, even if its event was missed.
        try:
            after = await asyncio.to_thread(snapshot, self.folder)
            self.consider(path for path, sig in after.items() if before.get(path) != sig)
        finally:
            self._starting = False


async def watch_folder(
    folder: Path,
    on_files: Callable[[list[Path]], Awaitable[Any]],
    *,
    stop_event: asyncio.Event | None = None,
    on_existing: Callable[[Path], Awaitable[Any]] | None = None,
    settle: float = SETTLE_SECONDS,
    poll: float = SETTLE_POLL_SECONDS,
    deadline: float = SETTLE_DEADLINE_SECONDS,
    debounce_ms: int = 1000,
    force_polling: bool | None = None,
) -> None:
    """Call ``on_files`` with each batch of new, completely written stats files.

    Runs until ``stop_event`` is set or the task is cancelled; see :class:`FolderWatcher`.
    """
    watcher = FolderWatcher(
        folder,
        on_files,
        on_existing=on_existing,
        rules=SettleRules(settle=settle, poll=poll, deadline=deadline),
        debounce_ms=debounce_ms,
        force_polling=force_polling,
    )
    await watcher.run(stop_event)
