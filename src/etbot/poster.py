"""Sends the outbox (:mod:`etbot.announce`) to the announcement channel.

Features register one *builder* per kind of post (``poster.register("map_summary",
build)``); a builder turns the row's key into a :class:`Post` (or ``None`` when there is
nothing to say any more). :meth:`Poster.run` drains the outbox whenever it is woken (after
a live import) and every ``poll_seconds`` otherwise, so posts queued by another process
or before a restart go out too.

Failures never crash anything: a missing channel or missing permission is logged and the
post is marked failed; a temporary Discord error is retried a few times.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import disnake

from etbot import announce
from etbot.db import Db

log = logging.getLogger(__name__)

#: Drain at least this often, even when nobody wakes the poster.
POLL_SECONDS = 30.0


@dataclass
class Post:
    """One message to post. Mentions ping nobody unless ``allowed_mentions`` says so."""

    content: str | None = None
    embeds: list[disnake.Embed] = field(default_factory=list)
    #: Attachments as (file name, bytes), e.g. a rendered chart.
    files: list[tuple[str, bytes]] = field(default_factory=list)
    allowed_mentions: disnake.AllowedMentions = field(default_factory=disnake.AllowedMentions.none)


Builder = Callable[[str], Awaitable[Post | None]]


class Poster:
    """Drains the outbox into one channel; see the module docstring.

    Args:
        bot: The client that sends (its HTTP session and channel cache).
        db: Async database access.
        channel_id: The announcement channel; ``None`` switches posting off.
        poll_seconds: Longest pause between two drains.
    """

    def __init__(
        self,
        bot: disnake.Client,
        db: Db,
        channel_id: int | None,
        *,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.bot = bot
        self.db = db
        self.channel_id = channel_id
        self.poll_seconds = poll_seconds
        self.worker = announce.new_worker_id()
        self._builders: dict[str, Builder] = {}
        self._wake = asyncio.Event()

    @property
    def enabled(self) -> bool:
        return self.channel_id is not None

    @property
    def kinds(self) -> list[str]:
        """The kinds of post some feature can build, sorted."""
        return sorted(self._builders)

    def register(self, kind: str, builder: Builder) -> None:
        """Let ``builder`` turn outbox rows of ``kind`` into posts."""
        if kind in self._builders:
            raise ValueError(f"a builder for {kind!r} is already registered")
        self._builders[kind] = builder

    def wake(self) -> None:
        """Drain soon (called after a live import queued something)."""
        self._wake.set()

    async def run(self) -> None:
        """Drain forever: when woken, and every ``poll_seconds``."""
        while True:
            self._wake.clear()
            try:
                await self.drain()
            except asyncio.CancelledError:
                raise
            except Exception:  # one bad round of posting must not stop later ones
                log.exception("posting announcements failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)

    async def drain(self) -> int:
        """Post what is pending now; returns how many messages were sent."""
        channel_id = self.channel_id
        if channel_id is None:
            return 0
        await self.db.run(announce.expire_sending)
        sent = 0
        while claimed := await self.db.run(announce.claim, self.worker):
            channel = await self._channel(channel_id)
            for row in claimed:
                if await self._post(row, channel):
                    sent += 1
        return sent

    async def _post(self, row: announce.Claimed, channel: Any) -> bool:
        worker = self.worker
        builder = self._builders.get(row.kind)
        if builder is None:
            await self.db.run(
                announce.mark_failed, row.id, worker, "no builder for this kind", retry=False
            )
            log.warning("no builder for announcement kind %r; dropped %s", row.kind, row.key)
            return False
        if channel is None:
            await self.db.run(
                announce.mark_failed, row.id, worker, "announcement channel not found", retry=False
            )
            return False
        guild = getattr(channel, "guild", None)
        if guild is not None and not await self.db.run(announce.kind_enabled, guild.id, row.kind):
            await self.db.run(announce.mark_silent, row.id, worker, "switched off by an admin")
            return False
        try:
            post = await builder(row.key)
        except Exception as exc:
            log.exception("building announcement %s %s failed", row.kind, row.key)
            await self.db.run(announce.mark_failed, row.id, worker, f"build: {exc}", retry=True)
            return False
        if post is None:
            await self.db.run(announce.mark_silent, row.id, worker, "nothing to post")
            return False
        if not await self.db.run(announce.mark_sending, row.id, worker):
            return False  # our claim went stale and someone else took it
        try:
            message = await channel.send(
                content=post.content,
                embeds=post.embeds or None,
                files=[disnake.File(io.BytesIO(data), filename=name) for name, data in post.files]
                or None,
                allowed_mentions=post.allowed_mentions,
            )
        except (disnake.Forbidden, disnake.NotFound) as exc:
            log.warning(
                "cannot post %s %s in channel %s: %s (check the bot's permissions)",
                row.kind,
                row.key,
                self.channel_id,
                exc,
            )
            await self.db.run(announce.mark_failed, row.id, worker, str(exc), retry=False)
            return False
        except disnake.HTTPException as exc:
            # Discord answered with an error, so nothing was posted: safe to retry.
            log.warning("posting %s %s failed: %s", row.kind, row.key, exc)
            await self.db.run(announce.mark_failed, row.id, worker, str(exc), retry=True)
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            # The message may or may not have arrived: never risk showing it twice.
            log.warning("posting %s %s was interrupted: %s", row.kind, row.key, exc)
            await self.db.run(announce.mark_failed, row.id, worker, str(exc), retry=False)
            return False
        await self.db.run(
            announce.mark_sent, row.id, worker, channel_id=channel.id, message_id=message.id
        )
        log.info("posted %s %s", row.kind, row.key)
        return True

    async def _channel(self, channel_id: int) -> Any:
        """The announcement channel, or ``None`` (logged) when it is gone or hidden."""
        channel = self.bot.get_channel(channel_id)
        if channel is None:
            try:
                channel = await self.bot.fetch_channel(channel_id)
            except (disnake.NotFound, disnake.Forbidden) as exc:
                log.warning("ANNOUNCE_CHANNEL_ID %s: channel not found: %s", channel_id, exc)
                return None
        if not isinstance(channel, disnake.abc.Messageable):
            log.warning("ANNOUNCE_CHANNEL_ID %s is not a text channel", channel_id)
            return None
        return channel
