"""/matchup, /duos and /rivals: who plays well with whom and against whom
(domain: :mod:`etbot.matchups`)."""

from __future__ import annotations

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import matchups
from etbot.commands._base import COLOUR_INFO, BaseCog, get_resources
from etbot.commands.converters import player_or_self_param, player_param
from etbot.commands.formatting import clip, escape
from etbot.errors import BadOption
from etbot.matchups import Record
from etbot.players import PlayerRef

#: Players listed by /duos and /rivals.
LIST_LIMIT = 10
#: Discord's limits: embed title, field name and value.
TITLE_MAX = 256
FIELD_MAX = 1024


def plural(n: int, word: str) -> str:
    """ "1 map", "2 maps"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def record_text(rec: Record) -> str:
    """ "12 maps: 7 won · 4 lost · 1 draw · 64% won" (the rate over decided maps)."""
    if rec.maps == 0:
        return "no maps"
    rate = f" · {rec.win_rate:.0%} won" if rec.win_rate is not None else ""
    draws = f" · {plural(rec.draws, 'draw')}" if rec.draws else ""
    return f"{plural(rec.maps, 'map')}: {rec.wins} won · {rec.losses} lost{draws}{rate}"


def matchup_embed(a: PlayerRef, b: PlayerRef, m: matchups.Matchup) -> disnake.Embed:
    """The /matchup embed: together, against each other, and apart."""
    name_a, name_b = escape(a.name), escape(b.name)
    embed = disnake.Embed(
        title=clip(f"{name_a} & {name_b}", TITLE_MAX),
        description="Rated stopwatch maps (a map counts once both of its rounds are in).",
        colour=COLOUR_INFO,
    )
    embed.add_field("Together", record_text(m.together), inline=False)
    opposed = m.opposed
    if opposed.maps:
        draws = f", {plural(opposed.draws, 'draw')}" if opposed.draws else ""
        against = (
            f"{plural(opposed.maps, 'map')}: "
            f"**{name_a} {opposed.wins} – {opposed.losses} {name_b}**{draws}"
        )
    else:
        against = "never on opposite sides"
    embed.add_field("Against each other", clip(against, FIELD_MAX), inline=False)
    embed.add_field(
        clip(f"{name_a} without {name_b}", TITLE_MAX), record_text(m.a_without_b), inline=False
    )
    embed.add_field(
        clip(f"{name_b} without {name_a}", TITLE_MAX), record_text(m.b_without_a), inline=False
    )
    return embed


def partners_embed(title: str, rows: list[matchups.PartnerRecord], empty: str) -> disnake.Embed:
    """A numbered list of players with a record each (/duos, /rivals)."""
    lines = [
        f"{i}. **{escape(row.name)}** — {record_text(row.record)}"
        for i, row in enumerate(rows, start=1)
    ]
    return disnake.Embed(
        title=clip(title, TITLE_MAX),
        description=clip("\n".join(lines), 4096) if lines else empty,
        colour=COLOUR_INFO,
    )


class MatchupsCog(BaseCog):
    """Matchups, duos and rivals."""

    @commands.slash_command(
        name="matchup", description="Two players: maps together and apart, and head to head"
    )
    async def matchup_command(
        self,
        inter: ApplicationCommandInteraction,
        player1: PlayerRef = player_param("First player"),
        player2: PlayerRef = player_param("Second player"),
    ) -> None:
        if player1.id == player2.id:
            raise BadOption("Pick two different players.")
        await inter.response.defer()
        m = await self.res.run(matchups.matchup, player1.id, player2.id)
        await inter.edit_original_response(embed=matchup_embed(player1, player2, m))

    @commands.slash_command(name="duos", description="A player's best partners by win rate")
    async def duos_command(
        self,
        inter: ApplicationCommandInteraction,
        player: PlayerRef = player_or_self_param(),
        min_maps: int = commands.Param(
            default=matchups.DUO_MIN_MAPS,
            ge=1,
            le=1000,
            description="Only partners with at least this many maps together",
        ),
    ) -> None:
        await inter.response.defer()
        rows = await self.res.run(matchups.duos, player.id, min_maps=min_maps, limit=LIST_LIMIT)
        embed = partners_embed(
            f"{escape(player.name)} · best partners",
            rows,
            f"No partner with at least {min_maps} maps together yet.",
        )
        embed.set_footer(text=f"Win rate on the same side, draws excluded; ≥ {min_maps} maps")
        await inter.edit_original_response(embed=embed)

    @commands.slash_command(
        name="rivals", description="The opponents a player faced most, and the record"
    )
    async def rivals_command(
        self,
        inter: ApplicationCommandInteraction,
        player: PlayerRef = player_or_self_param(),
    ) -> None:
        await inter.response.defer()
        rows = await self.res.run(matchups.rivals, player.id, limit=LIST_LIMIT)
        embed = partners_embed(
            f"{escape(player.name)} · rivals",
            rows,
            "Never on opposite sides of a rated map yet.",
        )
        embed.set_footer(text=f"Maps on opposite sides, {player.name}'s record against each")
        await inter.edit_original_response(embed=embed)


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(MatchupsCog(get_resources(bot)))
