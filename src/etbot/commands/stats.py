"""/stats (player card) and /leaderboard (paged table)."""

from __future__ import annotations

import logging
import math
from datetime import datetime

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import stats
from etbot.commands._base import (
    COLOUR_INFO,
    BaseCog,
    Resources,
    fmt_stat,
    get_resources,
    optional_player_param,
    period_param,
    player_or_linked,
    stat_param,
)
from etbot.views.paginator import Page, PageFetcher, Paginator

log = logging.getLogger(__name__)

LEADERBOARD_PAGE_SIZE = 10


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "–"


def player_card(summary: stats.PlayerSummary) -> disnake.Embed:
    """The /stats embed for one player summary."""
    s = summary
    embed = disnake.Embed(
        title=disnake.utils.escape_markdown(s.name),
        description=f"GUID `{s.guid}` · {s.period}",
        colour=COLOUR_INFO,
    )
    embed.add_field("Rounds", f"{s.rounds:,}")
    embed.add_field("K/D", fmt_stat("kd", s.kd))
    embed.add_field("DPM", fmt_stat("dpm", s.dpm))
    embed.add_field("Kills / Deaths", f"{s.kills:,} / {s.deaths:,}")
    embed.add_field("Accuracy", fmt_stat("accuracy", s.accuracy))
    embed.add_field("Headshots", fmt_stat("headshot_pct", s.headshot_pct))
    embed.add_field("Revives", f"{s.revives:,}")
    embed.add_field("Objectives", f"{s.objectives:,}")
    embed.add_field("Kill assists", f"{s.assists:,}")
    embed.add_field("Time played", fmt_stat("time_played", s.time_played_s))
    weapon = f"{s.favourite_weapon} ({s.favourite_weapon_kills:,} kills)"
    embed.add_field("Favourite weapon", weapon if s.favourite_weapon else "–")
    best_map = f"{s.best_map} ({fmt_stat('dpm', s.best_map_dpm)} DPM)"
    embed.add_field("Best map", best_map if s.best_map else "–")
    if s.rank is not None:
        rank = f"#{s.rank} of {s.community_size}"
    else:
        rank = f"unranked (needs {stats.COMMUNITY_MIN_ROUNDS} rounds)"
    embed.add_field("DPM rank", rank)
    embed.add_field("Maps won / lost", f"{s.maps_won} / {s.maps_lost}")
    embed.add_field("Seen", f"{_date(s.first_seen)} → {_date(s.last_seen)}")
    aliases = [a for a in s.aliases if a != s.name]
    alias_text = ", ".join(disnake.utils.escape_markdown(a) for a in aliases) or "–"
    embed.add_field("Also known as", alias_text[:1024], inline=False)
    return embed


def leaderboard_embed(
    page: stats.LeaderboardPage,
    stat: str,
    period_value: str,
    min_rounds: int,
    page_index: int,
    page_count: int,
) -> disnake.Embed:
    """The /leaderboard embed for one page of rows."""
    definition = stats.STATS[stat]
    embed = disnake.Embed(
        title=f"Leaderboard · {definition.label}",
        colour=COLOUR_INFO,
    )
    lines = []
    for row in page.rows:
        name = row.name.replace("`", "'")  # a backtick would end the code block
        name = name if len(name) <= 20 else name[:19] + "…"
        lines.append(f"{row.rank:>3}. {name:<20} {fmt_stat(stat, row.value):>10}  {row.rounds:>5}")
    header = f"{'#':>3}  {'Player':<20} {definition.label[:10]:>10}  {'Rnds':>5}"
    body = "\n".join(lines) if lines else "(nobody qualifies yet)"
    embed.description = (
        f"{stats.PERIODS.get(period_value, period_value)} · at least {min_rounds} rounds\n"
        f"```\n{header}\n{body}\n```"
    )
    embed.set_footer(text=f"Page {page_index + 1} of {page_count} · {page.total} players")
    return embed


class StatsCog(BaseCog):
    """Player cards and leaderboards."""

    @commands.slash_command(name="stats", description="A player's card: K/D, DPM, maps, aliases")
    async def stats_command(
        self,
        inter: ApplicationCommandInteraction,
        player: str | None = optional_player_param(),
        period: str = period_param(),
    ) -> None:
        ref = await player_or_linked(self.res, player, inter.author)
        window = self.res.period(period)
        await inter.response.defer()
        summary = await self.res.query(
            ("player_summary", ref.id, period), stats.player_summary, ref.id, window
        )
        await inter.edit_original_response(embed=player_card(summary))

    @commands.slash_command(name="leaderboard", description="Top players by one statistic")
    async def leaderboard_command(
        self,
        inter: ApplicationCommandInteraction,
        stat: str = stat_param(),
        period: str = period_param(),
        min_rounds: int = commands.Param(
            default=10, ge=1, le=10_000, description="Only players with at least this many rounds"
        ),
    ) -> None:
        window = self.res.period(period)
        await inter.response.defer()
        fetch = make_leaderboard_fetcher(self.res, stat, period, window, min_rounds)
        await Paginator.start(inter, fetch)


def make_leaderboard_fetcher(
    res: Resources, stat: str, period_value: str, window: stats.Period, min_rounds: int
) -> PageFetcher:
    """A :data:`~etbot.views.paginator.PageFetcher` that re-queries one leaderboard page."""

    async def fetch(page_index: int) -> Page:
        offset = page_index * LEADERBOARD_PAGE_SIZE
        key = ("leaderboard", stat, period_value, min_rounds, LEADERBOARD_PAGE_SIZE, offset)
        page = await res.query(
            key, _leaderboard, stat, window, min_rounds, LEADERBOARD_PAGE_SIZE, offset
        )
        page_count = max(1, math.ceil(page.total / LEADERBOARD_PAGE_SIZE))
        embed = leaderboard_embed(page, stat, period_value, min_rounds, page_index, page_count)
        return Page(embed, page_count)

    return fetch


def _leaderboard(
    stat: str, window: stats.Period, min_rounds: int, limit: int, offset: int
) -> stats.LeaderboardPage:
    return stats.leaderboard(stat, window, min_rounds=min_rounds, limit=limit, offset=offset)


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(StatsCog(get_resources(bot)))
