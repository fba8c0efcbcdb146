"""/leaderboard: top players by one statistic, paged (domain: :mod:`etbot.leaderboard`)."""

from __future__ import annotations

import math

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import leaderboard
from etbot.commands._base import (
    COLOUR_INFO,
    BaseCog,
    Resources,
    get_resources,
    period_param,
    stat_param,
)
from etbot.commands.converters import server_param
from etbot.commands.formatting import clip, escape, fmt_stat
from etbot.periods import PERIODS, Period
from etbot.servers import ServerRef
from etbot.statdefs import STATS
from etbot.views.paginator import Page, PageFetcher, Paginator

LEADERBOARD_PAGE_SIZE = 10
#: Width of the name column of the table.
NAME_WIDTH = 20


def leaderboard_embed(
    page: leaderboard.LeaderboardPage,
    stat: str,
    period_value: str,
    min_rounds: int,
    page_index: int,
    page_count: int,
    server: str | None = None,
) -> disnake.Embed:
    """The /leaderboard embed for one page of rows (a table in a code block, where
    markdown is not interpreted: names need no escaping, only no backtick); ``server``
    names the game server the ranking counts (None: every server)."""
    definition = STATS[stat]
    embed = disnake.Embed(
        title=f"Leaderboard · {definition.label}",
        colour=COLOUR_INFO,
    )
    lines = []
    for row in page.rows:
        name = clip(row.name.replace("`", "'"), NAME_WIDTH)  # a backtick would end the block
        lines.append(
            f"{row.rank:>3}. {name:<{NAME_WIDTH}} {fmt_stat(stat, row.value):>10}  {row.rounds:>5}"
        )
    header = f"{'#':>3}  {'Player':<{NAME_WIDTH}} {definition.label[:10]:>10}  {'Rnds':>5}"
    body = "\n".join(lines) if lines else "(nobody qualifies yet)"
    where = f"On **{escape(clip(server, 100))}** · " if server is not None else ""
    embed.description = (
        f"{where}{PERIODS.get(period_value, period_value)} · at least {min_rounds} rounds\n"
        f"```\n{header}\n{body}\n```"
    )
    embed.set_footer(text=f"Page {page_index + 1} of {page_count} · {page.total} players")
    return embed


class LeaderboardCog(BaseCog):
    """Leaderboards."""

    @commands.slash_command(name="leaderboard", description="Top players by one statistic")
    async def leaderboard_command(
        self,
        inter: ApplicationCommandInteraction,
        stat: str = stat_param(),
        period: str = period_param(),
        min_rounds: int = commands.Param(
            default=10, ge=1, le=10_000, description="Only players with at least this many rounds"
        ),
        server: ServerRef | None = server_param(),
    ) -> None:
        window = self.res.period(period)
        await inter.response.defer()
        fetch = make_leaderboard_fetcher(self.res, stat, period, window, min_rounds, server)
        await Paginator.start(inter, fetch)


def make_leaderboard_fetcher(
    res: Resources,
    stat: str,
    period_value: str,
    window: Period,
    min_rounds: int,
    server: ServerRef | None = None,
) -> PageFetcher:
    """A :data:`~etbot.views.paginator.PageFetcher` that re-queries one leaderboard page
    (of one game server's rounds when ``server`` is given)."""

    async def fetch(page_index: int) -> Page:
        page = await res.run(
            leaderboard.leaderboard,
            stat,
            window,
            min_rounds=min_rounds,
            limit=LEADERBOARD_PAGE_SIZE,
            offset=page_index * LEADERBOARD_PAGE_SIZE,
            server=server.id if server else None,
        )
        page_count = max(1, math.ceil(page.total / LEADERBOARD_PAGE_SIZE))
        embed = leaderboard_embed(
            page,
            stat,
            period_value,
            min_rounds,
            page_index,
            page_count,
            server.name if server else None,
        )
        return Page(embed, page_count)

    return fetch


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(LeaderboardCog(get_resources(bot)))
