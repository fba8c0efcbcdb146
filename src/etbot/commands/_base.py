"""Shared pieces of the Discord layer: injected resources, the player option, embed helpers.

Cogs stay thin: they read options, call one :mod:`etbot.stats` function through
:meth:`Resources.query` (off the event loop, cached) and turn the answer into an embed, a
file or a view. Modules whose name starts with ``_`` are helpers, not cogs; the bot's
loader skips them.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction, Interaction

from etbot import stats
from etbot.cache import QueryCache
from etbot.config import Settings
from etbot.db import Db
from etbot.render import ChartRenderer, RenderError

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Embed colours (Discord's palette).
COLOUR_INFO = disnake.Colour(0x5865F2)
COLOUR_ERROR = disnake.Colour(0xED4245)
COLOUR_OK = disnake.Colour(0x57F287)

#: Discord limits for autocomplete answers.
MAX_CHOICES = 25
MAX_CHOICE_LENGTH = 100

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

    async def query(self, key: Hashable, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` in a DB thread; answers are cached under ``key`` for the TTL.

        ``key`` must describe the call completely (function name and every argument).
        """
        return await self.db.run(self.cache.get_or_compute, key, partial(fn, *args))

    async def uncached(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn(*args, **kwargs)`` in a DB thread, uncached (writes, per-user lookups)."""
        return await self.db.run(fn, *args, **kwargs)

    def local_now(self) -> datetime:
        """The current time in the server's timezone (aware)."""
        return datetime.now(self.settings.tz)

    def period(self, value: str) -> stats.Period:
        """Parse a period option; "last 7 days" counts server-local calendar days.

        Raises:
            stats.BadOption: unknown period value.
        """
        return stats.parse_period(value, self.local_now())

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
    if png is None:
        embed.add_field("Chart unavailable", fallback[:1024] or "–", inline=False)
        await inter.edit_original_response(embed=embed)
        return
    embed.set_image(url=f"attachment://{filename}")
    await inter.edit_original_response(embed=embed, file=png_file(png, filename))


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


# --------------------------------------------------------------------------- player option


#: A Discord user mention, as the client inserts it when someone types @member.
MEMBER_MENTION = re.compile(r"<@!?(\d{15,21})>")


def clip(text: str, limit: int = MAX_CHOICE_LENGTH) -> str:
    """``text`` cut to ``limit`` characters (with an ellipsis when cut)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def autocomplete_player(cog: BaseCog, inter: Interaction, value: str) -> Any:
    """Autocomplete for every player option: a prefix query, at most 25 choices.

    Never raises: Discord shows "loading options failed" for errors, so a failure is logged
    and answered with no choices.
    """
    text = (value or "").strip()[:64]
    try:
        found = await cog.res.query(("autocomplete_players", text.lower()), _choices, text)
    except Exception:
        log.exception("player autocomplete failed for %r", text)
        return []
    return [disnake.OptionChoice(clip(c.label), clip(c.value)) for c in found[:MAX_CHOICES]]


def _choices(text: str) -> list[stats.PlayerChoice]:
    return list(stats.autocomplete_players(text, limit=MAX_CHOICES))


def player_param(description: str = "Player name, GUID or @member", **kwargs: Any) -> Any:
    """A string option with player autocomplete (use as a default value in a command)."""
    return commands.Param(
        description=description, autocomplete=autocomplete_player, max_length=100, **kwargs
    )


def optional_player_param(
    description: str = "Player name, GUID or @member (default: you)",
) -> Any:
    return player_param(description, default=None)


def period_param(default: str = "all") -> Any:
    """The period option, choices from :data:`etbot.stats.PERIODS`."""
    return commands.Param(
        default=default,
        description="Time range",
        choices=[disnake.OptionChoice(label, value) for value, label in stats.PERIODS.items()],
    )


def stat_param(description: str = "Which statistic", **kwargs: Any) -> Any:
    """The stat option, choices from :data:`etbot.stats.STATS`."""
    return commands.Param(
        description=description,
        choices=[disnake.OptionChoice(d.label, key) for key, d in stats.STATS.items()],
        **kwargs,
    )


async def resolve_player(res: Resources, value: str) -> stats.PlayerRef:
    """Turn an option value (autocomplete choice or typed text) into a player.

    Raises:
        stats.UnknownPlayer / stats.AmbiguousPlayer: shown to the user by the error cog.
    """
    text = value.strip()
    mention = MEMBER_MENTION.fullmatch(text)
    if mention is not None:  # "@member" typed into a player option: their linked profile
        linked = await res.uncached(stats.player_for_discord, int(mention[1]))
        if linked is None:
            raise stats.UserError(
                "That member has not linked a game profile yet (they can use `/link`)."
            )
        return linked
    return await res.uncached(stats.resolve_player, text)


async def player_or_linked(
    res: Resources, value: str | None, user: disnake.abc.User
) -> stats.PlayerRef:
    """The player named in an option, or the player linked to ``user`` when it is empty.

    Raises:
        stats.UserError: nothing given and no link yet ("link first with /link").
    """
    if value and value.strip():
        return await resolve_player(res, value)
    linked = await res.uncached(stats.player_for_discord, user.id)
    if linked is None:
        raise stats.UserError(
            "You have not linked your game profile yet. Link it first with `/link player:<name>`, "
            "or pass a `player`."
        )
    return linked


# --------------------------------------------------------------------------- formatting


def fmt_stat(key: str, value: float | None) -> str:
    """Format ``value`` with the stat's own formatter (:attr:`etbot.stats.StatDef.fmt`)."""
    if value is None:
        return "–"
    definition = stats.STATS.get(key)
    if definition is None:
        return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
    return definition.fmt(value)


def png_file(data: bytes, name: str) -> disnake.File:
    return disnake.File(io.BytesIO(data), filename=name)


def error_embed(message: str, title: str = "Sorry") -> disnake.Embed:
    return disnake.Embed(title=title, description=message, colour=COLOUR_ERROR)
