"""/compare: two to four players on a radar chart (community percentiles) + raw numbers."""

from __future__ import annotations

import logging

import disnake
import plotly.graph_objects as go
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import charts, stats
from etbot.commands._base import (
    COLOUR_INFO,
    BaseCog,
    chart_cooldown,
    clip,
    get_resources,
    period_param,
    player_param,
    reply_with_chart,
    resolve_player,
)

log = logging.getLogger(__name__)


def fmt_raw(unit: str, value: float) -> str:
    """Raw compare values: ratios with 2 decimals, DPM and percentages with 1."""
    if unit == "DPM":
        return f"{value:.1f}"
    if unit.endswith("%"):
        return f"{value:.1f}%"
    return f"{value:.2f}"


def compare_embed(data: stats.CompareData) -> disnake.Embed:
    """One inline field per player with the raw numbers (and percentiles) behind the radar."""
    embed = disnake.Embed(
        title=clip("Comparison · " + " vs ".join(p.player.name for p in data.players), 256),
        description=(
            f"{data.period} · radar axes are percentiles among the {data.community_size} "
            f"players with at least {stats.COMMUNITY_MIN_ROUNDS} rounds"
        ),
        colour=COLOUR_INFO,
    )
    for player in data.players:
        lines = [f"Rounds: {player.rounds:,}"]
        for unit, raw, pct in zip(data.units, player.raw, player.percentiles, strict=True):
            lines.append(f"{unit}: **{fmt_raw(unit, raw)}** (p{pct:.0f})")
        embed.add_field(disnake.utils.escape_markdown(player.player.name)[:256], "\n".join(lines))
    return embed


def radar_chart(data: stats.CompareData) -> go.Figure:
    series = [charts.RadarSeries(p.player.name, p.percentiles) for p in data.players]
    return charts.radar_figure(series, data.axes, f"Player comparison · {data.period}")


class CompareCog(BaseCog):
    """Side-by-side comparison of players."""

    @commands.slash_command(name="compare", description="Compare 2-4 players on a radar chart")
    @chart_cooldown
    async def compare(
        self,
        inter: ApplicationCommandInteraction,
        player1: str = player_param("First player"),
        player2: str = player_param("Second player"),
        player3: str | None = player_param("Third player (optional)", default=None),
        player4: str | None = player_param("Fourth player (optional)", default=None),
        period: str = period_param(),
    ) -> None:
        values = [v for v in (player1, player2, player3, player4) if v and v.strip()]
        refs = [await resolve_player(self.res, value) for value in values]
        if len({ref.id for ref in refs}) != len(refs):
            raise stats.BadOption("Pick different players: each one may appear only once.")
        window = self.res.period(period)
        await inter.response.defer()
        ids = [ref.id for ref in refs]
        data = await self.res.query(("compare", tuple(ids), period), stats.compare, ids, window)
        png = await self.res.try_render(radar_chart, data)
        await reply_with_chart(
            inter,
            compare_embed(data),
            png,
            "compare.png",
            "The radar chart could not be drawn; the numbers are above.",
        )


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(CompareCog(get_resources(bot)))
