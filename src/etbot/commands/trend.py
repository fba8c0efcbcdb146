"""/trend: one stat per gaming session, with a fitted trend line and a one-line verdict."""

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
    fmt_stat,
    get_resources,
    player_param,
    reply_with_chart,
    resolve_player,
    stat_param,
)
from etbot.trend import MIN_POINTS

log = logging.getLogger(__name__)

DEFAULT_DAYS = 90
#: Sessions listed in the text answer when no chart can be rendered.
FALLBACK_POINTS = 12

_ARROWS = {"improving": "📈", "declining": "📉", "stable": "➖", "not enough data": "❔"}


def verdict_line(data: stats.TrendData) -> str:
    """One sentence saying whether the player is improving, declining or stable."""
    fit = data.fit
    arrow = _ARROWS.get(fit.verdict, "")
    if fit.verdict == "not enough data":
        return (
            f"{arrow} Not enough sessions for a trend yet: {fit.n} of at least {MIN_POINTS} "
            f"in the last {data.days} days."
        )
    change = (
        f"{fit.relative_change:+.0%} over the period, " if fit.relative_change is not None else ""
    )
    significance = "p < 0.001" if fit.p_value < 0.001 else f"p = {fit.p_value:.2f}"
    return (
        f"{arrow} {data.label}: **{fit.verdict}** ({change}{significance}, "
        f"{fit.n} sessions in the last {data.days} days)"
    )


def trend_chart(data: stats.TrendData) -> go.Figure:
    """The line chart of :func:`etbot.charts.trend_figure` for one trend answer."""
    return charts.trend_figure(
        [point.started_at for point in data.points],
        [point.value for point in data.points],
        data.fit,
        f"{data.player.name} · {data.label} per session",
        data.label,
    )


def fallback_text(data: stats.TrendData) -> str:
    """The latest sessions as text, for when no chart can be rendered."""
    latest = data.points[-FALLBACK_POINTS:]
    lines = [f"{p.day:%Y-%m-%d}: {fmt_stat(data.stat, p.value)}" for p in latest]
    return "```\n" + "\n".join(lines) + "\n```"


class TrendCog(BaseCog):
    """Is a player getting better?"""

    @commands.slash_command(name="trend", description="A player's stat per session, with trend")
    @chart_cooldown
    async def trend(
        self,
        inter: ApplicationCommandInteraction,
        player: str = player_param(),
        stat: str = stat_param(),
        days: int = commands.Param(
            default=DEFAULT_DAYS, ge=7, le=3650, description="How many days back (7-3650)"
        ),
    ) -> None:
        ref = await resolve_player(self.res, player)
        await inter.response.defer()
        # Windows end now (server time), like the periods of /stats and /leaderboard.
        now = self.res.local_now()
        data = await self.res.query(
            ("trend", ref.id, stat, days), stats.trend, ref.id, stat, days, now
        )
        embed = disnake.Embed(
            title=f"{disnake.utils.escape_markdown(ref.name)} · {data.label} trend",
            description=verdict_line(data),
            colour=COLOUR_INFO,
        )
        png = await self.res.try_render(trend_chart, data)
        await reply_with_chart(inter, embed, png, "trend.png", fallback_text(data))


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(TrendCog(get_resources(bot)))
