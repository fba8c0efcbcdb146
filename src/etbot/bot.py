"""The Discord bot: :class:`EtBot` and :func:`run_bot` (what ``etbot run`` calls).

The bot owns every long-lived resource - settings, the database (:class:`etbot.db.Db`), the
query cache and the warm chart renderer - and hands them to its cogs as one
:class:`etbot.commands._base.Resources`. Cogs live one per module in :mod:`etbot.commands`;
each cog module has a ``setup(bot)`` hook and is loaded automatically.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pkgutil
import signal
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from importlib import import_module
from pathlib import Path
from typing import Any

import aiohttp
import disnake
from disnake.ext import commands

import etbot.commands
from etbot.cache import QueryCache
from etbot.commands._base import Resources
from etbot.config import Settings
from etbot.db import Db
from etbot.ingest import Importer, ImportReport
from etbot.poster import Poster
from etbot.render import ChartRenderer
from etbot.sources.local import SETTLE_SECONDS, watch_folder
from etbot.sources.ssh import SftpPoller, SshConfig

log = logging.getLogger(__name__)

#: Exit codes of :func:`run_bot`.
EXIT_OK = 0
EXIT_UNREACHABLE = 1
EXIT_CONFIG = 2
EXIT_LOGIN_FAILED = 3

CACHE_MAXSIZE = 2048

ImportListener = Callable[[ImportReport, bool], Awaitable[None]]


def cog_modules() -> list[str]:
    """Dotted names of the cog modules in :mod:`etbot.commands`: those with a ``setup(bot)``
    hook. Helper modules (shared resources, converters, formatting) have none."""
    names = (
        f"{etbot.commands.__name__}.{info.name}"
        for info in pkgutil.iter_modules(etbot.commands.__path__)
    )
    return sorted(name for name in names if callable(getattr(import_module(name), "setup", None)))


class EtBot(commands.InteractionBot):
    """etbot's :class:`disnake.ext.commands.InteractionBot`.

    Args:
        settings: Runtime settings (token, API base, guilds, owner, timeouts…).
        db: Async access to the (already opened and migrated) database.
        cache: Query cache; a new one with ``settings.cache_ttl_seconds`` by default.
        renderer: Chart renderer; a new (not yet started) one by default.
        load_cogs: Load every cog of :mod:`etbot.commands` (tests may add their own).
        **kwargs: Passed to :class:`~disnake.ext.commands.InteractionBot` (e.g. a tiny
            ``guild_ready_timeout`` in tests).
    """

    #: How the ``STATS_DIR`` watcher waits: a file must stay unchanged this long before it
    #: is imported, and events are batched over this many ms (tests shorten both).
    watch_settle_seconds: float = SETTLE_SECONDS
    watch_debounce_ms: int = 1000

    def __init__(
        self,
        settings: Settings,
        db: Db,
        *,
        cache: QueryCache | None = None,
        renderer: ChartRenderer | None = None,
        load_cogs: bool = True,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("test_guilds", list(settings.guild_ids) or None)
        kwargs.setdefault("owner_id", settings.owner_id)
        # Never ping anyone by accident (player names may contain "@everyone").
        kwargs.setdefault("allowed_mentions", disnake.AllowedMentions.none())
        kwargs.setdefault("intents", disnake.Intents.default())
        super().__init__(**kwargs)
        self.settings = settings
        self.resources = Resources(
            settings=settings,
            db=db,
            cache=cache or QueryCache(ttl=settings.cache_ttl_seconds, maxsize=CACHE_MAXSIZE),
            renderer=renderer or ChartRenderer(),
        )
        #: Sends what features queue in the outbox (etbot.announce) to ANNOUNCE_CHANNEL_ID;
        #: cogs register a builder per kind of post in their setup.
        self.poster = Poster(self, db, settings.announce_channel_id)
        #: Called after every import that changed data: ``listener(report, live)``.
        self.import_listeners: list[ImportListener] = []
        #: Set once the files already in STATS_DIR at start-up are imported (at once
        #: without STATS_DIR): features that judge the whole history (seasons) wait for it.
        self.history_loaded = asyncio.Event()
        self._background: set[asyncio.Task[Any]] = set()
        self._ingest_lock = asyncio.Lock()
        self._previous_api_base: str | None = None
        self._resources_closed = False
        if load_cogs:
            for name in cog_modules():
                self.load_extension(name)
                log.debug("loaded %s", name)

    # ------------------------------------------------------------------ lifecycle

    async def login(self, token: str) -> None:
        """Point disnake at ``settings.discord_api_base``, log in, then warm up in the
        background: start the chart renderer and import what is in ``STATS_DIR``."""
        self._previous_api_base = disnake.http.Route.BASE
        disnake.http.Route.BASE = self.settings.discord_api_base
        await super().login(token)
        self.spawn(self._warm_renderer(), name="etbot-warm-renderer")
        if self.poster.enabled:
            self.spawn(self._post_announcements(), name="etbot-poster")
        if self.settings.stats_dir is not None:
            self.spawn(self._follow_stats_dir(self.settings.stats_dir), name="etbot-stats-dir")
        else:
            self.history_loaded.set()
        ssh = SshConfig.from_settings(self.settings)
        if ssh is not None:
            poller = SftpPoller(ssh, self.ingest_files, run_db=self.resources.db.run)
            self.spawn(poller.run(), name="etbot-ssh")

    async def close(self) -> None:
        """Disconnect, then stop background work, the renderer and the database."""
        await super().close()
        if self._resources_closed:
            return
        self._resources_closed = True
        for task in list(self._background):
            task.cancel()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        with contextlib.suppress(Exception):
            await self.resources.renderer.close()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.resources.db.close)
        if self._previous_api_base is not None:
            disnake.http.Route.BASE = self._previous_api_base
        log.info("bot stopped")

    async def on_ready(self) -> None:
        user = self.user
        log.info(
            "ready as %s (%s) in %d guild(s)", user, user.id if user else "?", len(self.guilds)
        )

    def spawn(self, coro: Coroutine[Any, Any, Any], *, name: str) -> asyncio.Task[Any]:
        """Run ``coro`` in a task that is logged on failure and cancelled on close."""
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.error("background task %s failed", task.get_name(), exc_info=exc)

    async def _warm_renderer(self) -> None:
        renderer = self.resources.renderer
        if not renderer.available:
            log.warning("no Chromium found: charts will fall back to text answers")
            return
        try:
            await renderer.start()
        except Exception as exc:  # noqa: BLE001 charts fall back to text; the bot keeps running
            log.warning("chart renderer did not start: %s", exc)

    async def _post_announcements(self) -> None:
        await self.wait_until_ready()
        await self.poster.run()

    async def _follow_stats_dir(self, stats_dir: Path) -> None:
        if not stats_dir.is_dir():  # noqa: ASYNC240 once at start-up, a local stat
            log.warning("STATS_DIR %s is not a folder; nothing imported", stats_dir)
            self.history_loaded.set()
            return
        # Watch first, then import what is already there: a round that ends during a long
        # start-up import is picked up too, and nothing is imported twice.
        try:
            await watch_folder(
                stats_dir,
                self._ingest_new_files,
                on_existing=self._import_existing,
                settle=self.watch_settle_seconds,
                debounce_ms=self.watch_debounce_ms,
            )
        finally:
            self.history_loaded.set()  # also when watching failed: never wait forever

    async def _import_existing(self, folder: Path) -> None:
        try:
            report = await self.ingest_paths([folder])
            log.info("imported from %s: %s", folder, report.summary())
        finally:
            self.history_loaded.set()

    async def _ingest_new_files(self, paths: list[Path]) -> None:
        report = await self.ingest_paths(paths, live=True)
        if report.imported or report.rejected:
            log.info("new stats files: %s", report.summary())

    # ------------------------------------------------------------------ ingest hook

    async def ingest_paths(
        self, paths: Iterable[str | os.PathLike[str]], *, live: bool = False
    ) -> ImportReport:
        """Import stats files/folders (off the event loop) and invalidate the query cache.

        This is the hook the ``STATS_DIR`` watcher calls with new files (``live``: they
        arrived while the bot runs, so they are announced). Imports run one at a time.
        Then every import listener is told, and the poster is woken.
        """
        files = list(paths)
        async with self._ingest_lock:
            report = await self.resources.db.run(_import_paths, files, live)
        return await self._imported(report, live)

    async def ingest_files(
        self, files: list[tuple[str, bytes]], *, live: bool = True
    ) -> ImportReport:
        """Import stats files given as ``(file name, content)`` (the SSH source's hook,
        live by default); otherwise like :meth:`ingest_paths`."""
        async with self._ingest_lock:
            report = await self.resources.db.run(_import_files, files, live)
        return await self._imported(report, live)

    async def _imported(self, report: ImportReport, live: bool) -> ImportReport:
        if report.changed:
            self.resources.cache.invalidate()
            await self._tell_import_listeners(report, live)
        for name, reason in report.rejected:
            log.warning("rejected %s: %s", name, reason)
        for path, reason in report.skipped:
            log.warning("skipped %s: %s", path, reason)
        for name, reason in report.replacements:
            log.info("replaced %s: %s", name, reason)
        if live:
            self.poster.wake()
        return report

    async def _tell_import_listeners(self, report: ImportReport, live: bool) -> None:
        for listener in self.import_listeners:
            try:
                await listener(report, live)
            except Exception:  # a feature's reaction never undoes or blocks the import
                log.exception("import listener %r failed", listener)


def _import_paths(paths: list[str | os.PathLike[str]], live: bool) -> ImportReport:
    """Runs in a DB thread: one importer per call (it is not thread-safe). The importer keeps
    the pre-aggregated tables and other derived data up to date inside its transactions."""
    return Importer(live=live).import_paths(paths)


def _import_files(files: list[tuple[str, bytes]], live: bool) -> ImportReport:
    """Like :func:`_import_paths`, for contents already read (the SSH source)."""
    report = ImportReport()
    Importer(live=live).import_many(files, report)
    return report


# ---------------------------------------------------------------------- entry point


def run_bot(settings: Settings) -> int:
    """Run the bot until it is stopped; returns the process exit code.

    * 1: Discord could not be reached (network, proxy, outage);
    * 2: configuration problem (no ``DISCORD_TOKEN``, bad ``DATABASE_URL``);
    * 3: Discord rejected the token;
    * 0: clean shutdown (Ctrl-C / SIGTERM).
    """
    if not settings.discord_token:
        print(
            "error: DISCORD_TOKEN is not set. Put the bot token from the Discord developer "
            "portal in the environment or in .env (DISCORD_TOKEN=...).",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    from etbot.db import (
        DatabaseOpenError,
        DatabaseUrlError,
        one_line,
        open_database,
        redact,
        redact_url,
    )

    url = settings.database_url
    try:
        database = open_database(url)
    except (DatabaseUrlError, DatabaseOpenError) as exc:  # both say it without the password
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except Exception as exc:  # noqa: BLE001 e.g. a migration the database refuses
        reason = one_line(redact(str(exc), url))
        print(f"error: cannot prepare the database {redact_url(url)!r}: {reason}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        return asyncio.run(_run(settings, Db(database), settings.discord_token))
    except KeyboardInterrupt:
        return EXIT_OK


async def _run(settings: Settings, db: Db, token: str) -> int:
    bot = EtBot(settings, db)
    loop = asyncio.get_running_loop()
    stopping: list[asyncio.Task[None]] = []  # keeps the close task referenced
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(
            signal.SIGTERM, lambda: stopping.append(loop.create_task(bot.close()))
        )
    try:
        await bot.start(token)
    except disnake.LoginFailure:
        print(
            "error: Discord rejected DISCORD_TOKEN (401 Unauthorized). Copy a fresh token from "
            "the Discord developer portal (Bot → Reset Token).",
            file=sys.stderr,
        )
        return EXIT_LOGIN_FAILED
    except (OSError, aiohttp.ClientError, disnake.HTTPException, disnake.GatewayNotFound) as exc:
        print(
            f"error: cannot talk to Discord at {settings.discord_api_base}: {exc}",
            file=sys.stderr,
        )
        return EXIT_UNREACHABLE
    finally:
        await bot.close()
    return EXIT_OK
