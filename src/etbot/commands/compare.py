"""/compare: two to four players on a radar chart (community percentiles) + raw numbers
(domain: :mod:`etbot.compare`)."""

from __future__ import annotations

import disnake
import plotly.graph_objects as go
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import charts, compare
from etbot.commands._base import (
    COLOUR_INFO,
    BaseCog,
    chart_cooldown,
    get_resources,
    period_param,
    reply_with_chart,
)
from etbot.commands.converters import (
    optional_player_param,
    player_param,
    to_optional_player,
)
from etbot.commands.formatting import FIELD_NAME_MAX, TITLE_MAX, clip_markdown, escape
from etbot.errors import BadOption
from etbot.players import PlayerRef
from etbot.statdefs import COMMUNITY_MIN_ROUNDS


def fmt_raw(unit: str, value: float) -> str:
    """Raw compare values: ratios with 2 decimals, DPM and percentages with 1."""
    if unit == "DPM":
        return f"{value:.1f}"
    if unit.endswith("%"):
        return f"{value:.1f}%"
    return f"{value:.2f}"


def compare_embed(data: compare.CompareData) -> disnake.Embed:
    """One inline field per player with the raw numbers (and percentiles) behind the radar."""
    names = " vs ".join(escape(p.player.name) for p in data.players)
    embed = disnake.Embed(
        title=clip_markdown("Comparison · " + names, TITLE_MAX),
        description=(
            f"{data.period} · radar axes are percentiles among the {data.community_size} "
            f"players with at least {COMMUNITY_MIN_ROUNDS} rounds"
        ),
        colour=COLOUR_INFO,
    )
    for player in data.players:
        lines = [f"Rounds: {player.rounds:,}"]
        for unit, raw, pct in zip(data.units, player.raw, player.percentiles, strict=True):
            lines.append(f"{unit}: **{fmt_raw(unit, raw)}** (p{pct:.0f})")
        embed.add_field(clip_markdown(escape(player.player.name), FIELD_NAME_MAX), "\n".join(lines))
    return embed


def radar_chart(data: compare.CompareData) -> go.Figure:
    """The radar figure: one series of percentiles per player."""
    series = [charts.RadarSeries(p.player.name, p.percentiles) for p in data.players]
    return charts.radar_figure(series, data.axes, f"Player comparison · {data.period}")


class CompareCog(BaseCog):
    """Side-by-side comparison of players."""

    @commands.slash_command(name="compare", description="Compare 2-4 players on a radar chart")
    @chart_cooldown
    async def compare_command(
        self,
        inter: ApplicationCommandInteraction,
        # Blank text in any player option leaves that player out (the domain then asks for
        # at least one player).
        player1: PlayerRef | None = player_param("First player", converter=to_optional_player),
        player2: PlayerRef | None = player_param("Second player", converter=to_optional_player),
        player3: PlayerRef | None = optional_player_param("Third player (optional)"),
        player4: PlayerRef | None = optional_player_param("Fourth player (optional)"),
        period: str = period_param(),
    ) -> None:
        refs = [ref for ref in (player1, player2, player3, player4) if ref is not None]
        if len({ref.id for ref in refs}) != len(refs):
            raise BadOption("Pick different players: each one may appear only once.")
        window = self.res.period(period)
        await inter.response.defer()
        ids = tuple(ref.id for ref in refs)
        data = await self.res.run(compare.compare, ids, window)
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
