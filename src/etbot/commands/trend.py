"""/trend: one stat per gaming session, with a fitted trend line and a one-line verdict
(domain: :mod:`etbot.trend`)."""

from __future__ import annotations

import disnake
import plotly.graph_objects as go
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import charts, trend
from etbot.commands._base import (
    COLOUR_INFO,
    BaseCog,
    chart_cooldown,
    get_resources,
    reply_with_chart,
    stat_param,
)
from etbot.commands.converters import player_param
from etbot.commands.formatting import escaped_title, fmt_stat
from etbot.players import PlayerRef

DEFAULT_DAYS = 90
#: Sessions listed in the text answer when no chart can be rendered.
FALLBACK_POINTS = 12

_ARROWS = {"improving": "📈", "declining": "📉", "stable": "➖", "not enough data": "❔"}


def verdict_line(data: trend.TrendData) -> str:
    """One sentence saying whether the player is improving, declining or stable."""
    fit = data.fit
    arrow = _ARROWS.get(fit.verdict, "")
    if fit.verdict == "not enough data":
        return (
            f"{arrow} Not enough sessions for a trend yet: {fit.n} of at least "
            f"{trend.MIN_POINTS} in the last {data.days} days."
        )
    change = (
        f"{fit.relative_change:+.0%} over the period, " if fit.relative_change is not None else ""
    )
    significance = "p < 0.001" if fit.p_value < 0.001 else f"p = {fit.p_value:.2f}"
    return (
        f"{arrow} {data.label}: **{fit.verdict}** ({change}{significance}, "
        f"{fit.n} sessions in the last {data.days} days)"
    )


def trend_embed(player_name: str, data: trend.TrendData) -> disnake.Embed:
    """The /trend embed (the chart is attached as its image)."""
    return disnake.Embed(
        title=escaped_title(player_name, f" · {data.label} trend"),
        description=verdict_line(data),
        colour=COLOUR_INFO,
    )


def trend_chart(data: trend.TrendData) -> go.Figure:
    """The line chart of :func:`etbot.charts.trend_figure` for one trend answer."""
    return charts.trend_figure(
        [point.started_at for point in data.points],
        [point.value for point in data.points],
        data.fit,
        f"{data.player.name} · {data.label} per session",
        data.label,
    )


def fallback_text(data: trend.TrendData) -> str:
    """The latest sessions as text, for when no chart can be rendered."""
    latest = data.points[-FALLBACK_POINTS:]
    lines = [f"{p.day:%Y-%m-%d}: {fmt_stat(data.stat, p.value)}" for p in latest]
    return "```\n" + "\n".join(lines) + "\n```"


class TrendCog(BaseCog):
    """Is a player getting better?"""

    @commands.slash_command(name="trend", description="A player's stat per session, with trend")
    @chart_cooldown
    async def trend_command(
        self,
        inter: ApplicationCommandInteraction,
        player: PlayerRef = player_param(),
        stat: str = stat_param(),
        days: int = commands.Param(
            default=DEFAULT_DAYS, ge=7, le=3650, description="How many days back (7-3650)"
        ),
    ) -> None:
        await inter.response.defer()
        # Windows end now (server time), like the periods of /stats and /leaderboard.
        data = await self.res.run(trend.trend, player.id, stat, days, self.res.window_end())
        embed = trend_embed(player.name, data)
        png = await self.res.try_render(trend_chart, data)
        await reply_with_chart(inter, embed, png, "trend.png", fallback_text(data))


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(TrendCog(get_resources(bot)))
