"""/rating: a player's skill rating, rank, recent change and rating history chart
(domain: :mod:`etbot.rating`)."""

from __future__ import annotations

from datetime import date

import disnake
import plotly.graph_objects as go
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import charts, rating
from etbot.commands._base import (
    COLOUR_INFO,
    BaseCog,
    chart_cooldown,
    get_resources,
    reply_with_chart,
)
from etbot.commands.converters import player_or_self_param
from etbot.commands.formatting import clip, escape
from etbot.players import PlayerRef

#: The change shown covers the player's last this many gaming sessions.
SESSIONS = 5
#: Maps listed under "moved it most".
TOP_MOVES = 3
#: Rated maps listed in the text answer when no chart can be rendered.
FALLBACK_POINTS = 12
#: Up to this many rated maps the chart has a point per map, beyond one per day played.
CHART_DETAIL_MAPS = 200
#: Discord's limit for an embed field value.
FIELD_MAX = 1024

_OUTCOME = {1.0: "won", 0.0: "lost"}


def outcome(score: float) -> str:
    """A map's result for the player's side: won, lost or draw."""
    return _OUTCOME.get(score, "draw")


def rank_text(s: rating.RatingSummary, active_days: int = 90) -> str:
    if s.rank is None:
        return f"not ranked: no rated map in the {active_days} days before the newest one"
    return f"#{s.rank} of {s.active_players} players active in the last {active_days} days"


def rating_embed(s: rating.RatingSummary) -> disnake.Embed:
    """The /rating embed for one player's rating summary."""
    embed = disnake.Embed(
        title=f"{escape(s.name)} · rating",
        description=f"**{s.rating}** · {rank_text(s)}",
        colour=COLOUR_INFO,
    )
    embed.add_field("Skill", f"{s.skill:.0f} ± {s.uncertainty:.0f}")
    embed.add_field("Maps", f"{s.maps} ({s.wins} won · {s.losses} lost · {s.draws} draws)")
    embed.add_field("Last played", f"{s.last_played:%Y-%m-%d}")
    sessions = "session" if s.sessions == 1 else f"{s.sessions} sessions"
    embed.add_field(
        f"Change over the last {sessions}",
        f"{s.rating_change:+d} rating (skill {s.skill_change:+.0f})",
    )
    moves = [
        f"{m.change:+.0f} · {escape(m.map)} · {outcome(m.score)} · {m.ended_at:%Y-%m-%d}"
        for m in s.top_moves
    ]
    embed.add_field(
        "Maps that moved the skill most", clip("\n".join(moves) or "–", FIELD_MAX), inline=False
    )
    embed.set_footer(
        text=(
            f"Rating = skill − {rating.CONSERVATIVE_SDS:g} × uncertainty. A skill of "
            f"{rating.DISPLAY_CENTER:.0f} is an average player; a newcomer's rating starts "
            f"at {rating.display_rating(0.0, rating.DEFAULT_PARAMS.player_sd)} and rises with "
            "wins and as the model gets surer."
        )
    )
    return embed


def chart_points(history: list[rating.RatingPoint]) -> list[rating.RatingPoint]:
    """Every rated map, or for a long history the rating at the end of each day played
    (thousands of points draw no better and render several times slower)."""
    if len(history) <= CHART_DETAIL_MAPS:
        return history
    last_of_day: dict[date, rating.RatingPoint] = {}
    for point in history:  # oldest first: the day's last map wins
        last_of_day[point.ended_at.date()] = point
    return list(last_of_day.values())


def rating_chart(name: str, history: list[rating.RatingPoint]) -> go.Figure:
    """The rating history line chart of :func:`etbot.charts.rating_history_figure`."""
    points = chart_points(history)
    per_day = " (end of each day played)" if len(points) < len(history) else ""
    return charts.rating_history_figure(
        [p.ended_at for p in points],
        [p.rating for p in points],
        [p.skill for p in points],
        [p.uncertainty for p in points],
        f"{name} · rating history{per_day}",
        reference=rating.DISPLAY_CENTER,
    )


def fallback_text(history: list[rating.RatingPoint]) -> str:
    """The latest rated maps as text, for when no chart can be rendered."""
    lines = []
    for p in history[-FALLBACK_POINTS:]:
        map_name = p.map.replace("`", "'")[:24]  # a backtick would end the code block
        lines.append(f"{p.ended_at:%Y-%m-%d} {map_name:<24} {outcome(p.score):<5} {p.rating}")
    return "```\n" + "\n".join(lines) + "\n```"


class RatingCog(BaseCog):
    """Skill ratings."""

    @commands.slash_command(
        name="rating", description="A player's skill rating, rank and rating history"
    )
    @chart_cooldown
    async def rating_command(
        self,
        inter: ApplicationCommandInteraction,
        player: PlayerRef = player_or_self_param(),
    ) -> None:
        await inter.response.defer()
        summary = await self.res.run(
            rating.rating_summary, player.id, sessions=SESSIONS, top=TOP_MOVES
        )
        history = await self.res.run(rating.rating_history, player.id)
        png = await self.res.try_render(rating_chart, summary.name, history)
        await reply_with_chart(
            inter, rating_embed(summary), png, "rating.png", fallback_text(history)
        )


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(RatingCog(get_resources(bot)))
