"""Shared pieces of the Discord layer: injected resources, option builders, embed helpers.

Cogs stay thin: they read options (player options arrive converted, see
:mod:`etbot.commands.converters`), call one domain function through :meth:`Resources.run`
(off the event loop; declared cached queries are answered from the cache) and turn the
answer into an embed, a file or a view. Modules without a ``setup`` hook (this one,
:mod:`~etbot.commands.converters`, :mod:`~etbot.commands.formatting`) are helpers, not
cogs; the bot's loader skips them.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ParamSpec, TypeVar

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot.cache import QueryCache
from etbot.config import Settings
from etbot.db import Db
from etbot.periods import PERIODS, Period, parse_period
from etbot.render import ChartRenderer, RenderError
from etbot.statdefs import STATS

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

#: Embed colours (Discord's palette).
COLOUR_INFO = disnake.Colour(0x5865F2)
COLOUR_ERROR = disnake.Colour(0xED4245)
COLOUR_OK = disnake.Colour(0x57F287)

#: Chart image size in CSS pixels (rendered at scale 1).
CHART_WIDTH = 1000
CHART_HEIGHT = 620


@dataclass
class Resources:
    """What the bot owns and hands to every cog (tests build one around a temp database)."""

    settings: Settings
    db: Db
    cache: QueryCache
    renderer: ChartRenderer

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """``fn(*args, **kwargs)`` in a DB thread. Queries declared with
        :func:`etbot.cache.cached_query` are answered from the cache (the key is derived
        from the call); everything else (writes, per-member lookups) always runs."""
        return await self.db.run(self.cache.call, fn, *args, **kwargs)

    def local_now(self) -> datetime:
        """The current time in the server's timezone (aware)."""
        return datetime.now(self.settings.tz)

    def window_end(self) -> datetime:
        """The end of a "last N days / weeks" window: now in the server's timezone, rounded
        up to the next whole minute, so that the calls of one minute share a cache entry
        and no round that has ended is left out."""
        now = self.local_now()
        start_of_minute = now.replace(second=0, microsecond=0)
        return start_of_minute if now == start_of_minute else start_of_minute + timedelta(minutes=1)

    def period(self, value: str) -> Period:
        """Parse a period option; "last 7 days" counts server-local calendar days.

        Raises:
            etbot.errors.BadOption: unknown period value.
        """
        return parse_period(value, self.local_now())

    async def render_png(self, fig: Any) -> bytes:
        """Render a plotly figure on the bot's one warm browser.

        Raises:
            etbot.render.RenderError: no browser, timeout or crash; callers fall back to text.
        """
        return await self.renderer.render_png(
            fig,
            width=CHART_WIDTH,
            height=CHART_HEIGHT,
            timeout=self.settings.render_timeout_seconds,
        )

    async def try_render(self, build: Callable[..., Any], *args: Any) -> bytes | None:
        """Build a figure with ``build(*args)`` off the loop and render it; ``None`` (logged)
        when rendering is impossible, so the caller can answer with text instead."""
        fig = await asyncio.to_thread(build, *args)
        try:
            return await self.render_png(fig)
        except RenderError as exc:
            log.warning("chart not rendered, answering with text: %s", exc)
            return None


async def reply_with_chart(
    inter: ApplicationCommandInteraction,
    embed: disnake.Embed,
    png: bytes | None,
    filename: str,
    fallback: str,
) -> None:
    """Finish a deferred command: ``embed`` with the chart as its image, or with the
    ``fallback`` text in place of the chart when there is no image."""
    file = attach_chart(embed, png, filename, fallback)
    if file is None:
        await inter.edit_original_response(embed=embed)
        return
    await inter.edit_original_response(embed=embed, file=file)


def attach_chart(
    embed: disnake.Embed, png: bytes | None, filename: str, fallback: str
) -> disnake.File | None:
    """Put the chart ``png`` on ``embed`` as its image and return the attachment, or,
    without an image, add the ``fallback`` text in its place and return None (shared by
    :func:`reply_with_chart` and the demo, so both show the same answer)."""
    if png is None:
        embed.add_field("Chart unavailable", fallback[:1024] or "–", inline=False)
        return None
    embed.set_image(url=f"attachment://{filename}")
    return png_file(png, filename)


#: Charts are the expensive commands: three per member and command every 30 s.
chart_cooldown = commands.cooldown(3, 30.0, commands.BucketType.user)


class BaseCog(commands.Cog):
    """A cog with the bot's :class:`Resources` injected."""

    def __init__(self, resources: Resources) -> None:
        self.res = resources


def get_resources(bot: commands.InteractionBot) -> Resources:
    """The :class:`Resources` of an :class:`etbot.bot.EtBot` (used by cog ``setup`` hooks)."""
    res = getattr(bot, "resources", None)
    if not isinstance(res, Resources):
        raise TypeError("etbot cogs need a bot with a `resources` attribute (etbot.bot.EtBot)")
    return res


# --------------------------------------------------------------------------- options


def period_param(default: str = "all") -> Any:
    """The period option, choices from :data:`etbot.periods.PERIODS`."""
    return commands.Param(
        default=default,
        description="Time range",
        choices=[disnake.OptionChoice(label, value) for value, label in PERIODS.items()],
    )


def stat_param(description: str = "Which statistic", **kwargs: Any) -> Any:
    """The stat option, choices from :data:`etbot.statdefs.STATS`."""
    return commands.Param(
        description=description,
        choices=[disnake.OptionChoice(d.label, key) for key, d in STATS.items()],
        **kwargs,
    )


# --------------------------------------------------------------------------- embeds


def png_file(data: bytes, name: str) -> disnake.File:
    """A PNG attachment."""
    return disnake.File(io.BytesIO(data), filename=name)


def error_embed(message: str, title: str = "Sorry") -> disnake.Embed:
    """The red embed of the error path."""
    return disnake.Embed(title=title, description=message, colour=COLOUR_ERROR)
