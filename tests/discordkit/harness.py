"""Run a real disnake bot against :class:`discordkit.FakeDiscord`.

::

    async with FakeDiscord() as server, running_bot(bot, server) as bot:
        ...  # the bot is READY and its application commands are synced

:func:`running_bot` points ``disnake.http.Route.BASE`` at the server (restored afterwards),
starts ``bot.start(token)`` in a task, waits for ``on_ready`` and for the command sync, and on
exit closes the bot and awaits the task, all with timeouts so a broken test fails instead of
hanging. If the bot task dies early (e.g. a bad route), its exception is raised.

Create the bot with a tiny guild-ready timeout and an owner so start-up makes no extra calls::

    bot = commands.InteractionBot(test_guilds=[GUILD_ID], owner_id=OWNER_ID,
                                  guild_ready_timeout=0.05)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import TypeVar

import disnake
from disnake.ext.commands.interaction_bot_base import InteractionBotBase

from .fake_server import FakeDiscord

__all__ = ["running_bot", "use_api_base", "wait_for_command_sync"]

BotT = TypeVar("BotT", bound=disnake.Client)

FAKE_TOKEN = "fake-bot-token"


@contextlib.contextmanager
def use_api_base(url: str) -> Iterator[None]:
    """Temporarily set ``disnake.http.Route.BASE`` (REST and webhook URLs) to ``url``."""
    old = disnake.http.Route.BASE
    disnake.http.Route.BASE = url
    try:
        yield
    finally:
        disnake.http.Route.BASE = old


def _expected_commands(bot: disnake.Client) -> list[tuple[str, int | None]]:
    if not isinstance(bot, InteractionBotBase):
        return []
    flags = bot.command_sync_flags
    test_guilds = getattr(bot, "_test_guilds", None)
    everything = [
        *bot.all_slash_commands.values(),
        *bot.all_user_commands.values(),
        *bot.all_message_commands.values(),
    ]
    expected: list[tuple[str, int | None]] = []
    for command in everything:
        guild_ids = command.guild_ids or test_guilds
        if guild_ids:
            if flags.sync_guild_commands:
                expected.extend((command.name, guild_id) for guild_id in guild_ids)
        elif flags.sync_global_commands:
            expected.append((command.name, None))
    return expected


async def wait_for_command_sync(bot: disnake.Client, timeout: float = 10.0) -> None:
    """Wait until every application command of ``bot`` is in its synced command cache
    (only then does disnake run guild commands instead of re-syncing)."""
    expected = _expected_commands(bot)

    def missing() -> list[tuple[str, int | None]]:
        return [
            (name, guild_id)
            for name, guild_id in expected
            if (
                bot.get_global_command_named(name)
                if guild_id is None
                else bot.get_guild_command_named(guild_id, name)
            )
            is None
        ]

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while left := missing():
        if loop.time() > deadline:
            raise TimeoutError(f"commands not synced within {timeout}s: {left}")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running_bot(
    bot: BotT,
    server: FakeDiscord,
    *,
    token: str = FAKE_TOKEN,
    timeout: float = 10.0,
    wait_for_sync: bool = True,
) -> AsyncIterator[BotT]:
    """Start ``bot`` against ``server``; yield it once ready (see the module docstring)."""
    with use_api_base(server.base_url):
        task = asyncio.create_task(bot.start(token, reconnect=False), name="fake-discord-bot")
        clean_exit = False
        try:
            ready = asyncio.create_task(bot.wait_until_ready())
            done, _ = await asyncio.wait(
                {task, ready}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
            )
            if ready not in done:
                ready.cancel()
                if task in done:
                    task.result()  # raises the start-up error
                    raise RuntimeError("bot.start() returned before the bot was ready")
                raise TimeoutError(f"bot not ready within {timeout}s")
            if wait_for_sync:
                await wait_for_command_sync(bot, timeout)
            yield bot
            clean_exit = True
        finally:
            await _stop_bot(bot, task, timeout, report=clean_exit)


async def _stop_bot(
    bot: disnake.Client, task: asyncio.Task[None], timeout: float, *, report: bool
) -> None:
    with contextlib.suppress(Exception):
        await asyncio.wait_for(bot.close(), timeout)
    if not task.done():
        # close() ends the connect loop; wait_for cancels the task if it hangs anyway
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await asyncio.wait_for(task, timeout)
    if task.done() and not task.cancelled():
        exc = task.exception()
        if report and exc is not None and not isinstance(exc, disnake.ConnectionClosed):
            raise exc
