"""/activity: when a player (or the whole server) plays, as a weekday × hour heatmap
(domain: :mod:`etbot.activity`)."""

from __future__ import annotations

from typing import NamedTuple

import disnake
import plotly.graph_objects as go
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import activity, charts
from etbot.commands._base import (
    COLOUR_INFO,
    BaseCog,
    chart_cooldown,
    get_resources,
    reply_with_chart,
)
from etbot.commands.converters import optional_player_param, server_param
from etbot.commands.formatting import escaped_title
from etbot.players import PlayerRef
from etbot.servers import ServerRef

DEFAULT_WEEKS = 12
BUSIEST_SHOWN = 3


class Slot(NamedTuple):
    """One cell of the heatmap."""

    weekday: int  # Monday 0
    hour: int
    rounds: int


def busiest_slots(counts: list[list[int]], top: int = BUSIEST_SHOWN) -> list[Slot]:
    """The ``top`` busiest cells, busiest first (then earliest); empty cells never."""
    cells = [
        Slot(weekday, hour, rounds)
        for weekday, row in enumerate(counts)
        for hour, rounds in enumerate(row)
        if rounds > 0
    ]
    cells.sort(key=lambda cell: (-cell.rounds, cell.weekday, cell.hour))
    return cells[:top]


def activity_summary(counts: list[list[int]], timezone: str) -> str:
    """Total rounds and the busiest slots as text (also the fallback without a chart)."""
    total = sum(sum(row) for row in counts)
    if total == 0:
        return "No rounds in this time range."
    slots = ", ".join(
        f"{charts.WEEKDAYS[wd]} {hr:02d}:00 ({n})" for wd, hr, n in busiest_slots(counts)
    )
    return f"{total:,} rounds · busiest ({timezone}): {slots}"


def activity_title(who: str, weeks: int) -> str:
    """The chart's title (and, escaped, the embed's): "Server · activity over 12 weeks"."""
    return f"{who} · activity over {weeks} week{'s' if weeks != 1 else ''}"


def activity_embed(who: str, title: str, counts: list[list[int]], timezone: str) -> disnake.Embed:
    """The /activity embed for ``who`` (a player's name or "Server")."""
    return disnake.Embed(
        title=escaped_title(who, title[len(who) :]),
        description=activity_summary(counts, timezone),
        colour=COLOUR_INFO,
    )


def heatmap_chart(counts: list[list[int]], title: str, timezone: str) -> go.Figure:
    """The weekday × hour heatmap figure."""
    return charts.heatmap_figure(counts, title, timezone)


class ActivityCog(BaseCog):
    """Activity heatmaps."""

    @commands.slash_command(name="activity", description="When people play: weekday × hour heatmap")
    @chart_cooldown
    async def activity_command(
        self,
        inter: ApplicationCommandInteraction,
        player: PlayerRef | None = optional_player_param("Player (default: the whole server)"),
        weeks: int = commands.Param(
            default=DEFAULT_WEEKS, ge=1, le=520, description="How many weeks back (1-520)"
        ),
        server: ServerRef | None = server_param(),
    ) -> None:
        await inter.response.defer()
        player_id = player.id if player else None
        # Windows end now (server time), like the periods of /stats and /leaderboard.
        counts = await self.res.run(
            activity.activity,
            player_id,
            weeks,
            self.res.window_end(),
            server.id if server else None,
        )
        timezone = self.res.settings.server_timezone
        if server is None:
            who = player.name if player else "Server"
        elif player is None:
            who = server.name
        else:
            who = f"{player.name} on {server.name}"
        title = activity_title(who, weeks)
        embed = activity_embed(who, title, counts, timezone)
        png = await self.res.try_render(heatmap_chart, counts, title, timezone)
        await reply_with_chart(inter, embed, png, "activity.png", "The heatmap could not be drawn.")


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(ActivityCog(get_resources(bot)))
