"""Watch a local folder (the game server's ``gamestats/``) for new stats files.

The game server writes one file when a round ends. :func:`watch_folder` waits for
filesystem events (inotify through ``watchfiles``; polling where that is unavailable),
batches them, waits until each new file has stopped growing — a half-written file must
never be imported: it could parse as a round with fewer players, and the complete file
would then clash with it — and hands the settled ``*.txt`` files to a callback (the bot's
``ingest_paths``). Importing is idempotent, so an event for a file already imported costs
one hash lookup.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from watchfiles import Change, awatch

log = logging.getLogger(__name__)

#: How long a file's size must stay the same before it counts as written.
SETTLE_SECONDS = 1.0
SETTLE_POLL_SECONDS = 0.25


def is_stats_file(change: Change, path: str) -> bool:
    """watchfiles filter: added or modified ``*.txt`` files."""
    return change in (Change.added, Change.modified) and path.endswith(".txt")


async def wait_until_settled(
    path: Path,
    settle: float = SETTLE_SECONDS,
    poll: float = SETTLE_POLL_SECONDS,
    *,
    clock: Callable[[], float] | None = None,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> bool:
    """Wait until ``path`` is not empty and its size and mtime stop changing for ``settle``
    seconds (checked every ``poll`` seconds).

    Returns False when the file disappeared meanwhile. ``clock`` (default: the event
    loop's) and ``sleep`` exist so that tests can run this on a fake clock.
    """
    now_of = clock or asyncio.get_running_loop().time
    last: tuple[int, int] | None = None
    stable_since = now_of()
    while True:
        try:
            st = path.stat()
        except FileNotFoundError:
            return False
        now = now_of()
        current = (st.st_size, st.st_mtime_ns)
        if current != last:
            last, stable_since = current, now
        elif st.st_size > 0 and now - stable_since >= settle:
            return True
        await sleep(poll)


async def watch_folder(
    folder: Path,
    on_files: Callable[[list[Path]], Awaitable[Any]],
    *,
    stop_event: asyncio.Event | None = None,
    settle: float = SETTLE_SECONDS,
    debounce_ms: int = 1000,
    force_polling: bool | None = None,
) -> None:
    """Call ``on_files`` with each batch of new, completely written stats files.

    Runs until ``stop_event`` is set or the task is cancelled. Errors of the callback are
    logged and the watch goes on (one bad import never stops later rounds).
    """
    log.info("watching %s for new stats files", folder)
    async for changes in awatch(
        folder,
        watch_filter=is_stats_file,
        debounce=debounce_ms,
        stop_event=stop_event,
        force_polling=force_polling,
    ):
        paths = sorted({Path(path) for _change, path in changes})
        settled = [p for p in paths if await wait_until_settled(p, settle)]
        if not settled:
            continue
        try:
            await on_files(settled)
        except Exception:
            log.exception("importing %d new file(s) from %s failed", len(settled), folder)
