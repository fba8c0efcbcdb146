"""/stats: a player's card (domain: :mod:`etbot.summary`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import seasons, summary
from etbot.commands._base import COLOUR_INFO, BaseCog, get_resources, period_param
from etbot.commands.converters import player_or_self_param, server_param
from etbot.commands.formatting import escape, escaped_title, fmt_stat
from etbot.commands.seasons import season_param
from etbot.players import PlayerRef
from etbot.servers import ServerRef
from etbot.statdefs import COMMUNITY_MIN_ROUNDS

#: Characters Discord allows in one embed field value.
FIELD_MAX = 1024


def _date(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "–"


def player_card(s: summary.PlayerSummary, trophies: Sequence[seasons.Trophy] = ()) -> disnake.Embed:
    """The /stats embed for one player summary (and the player's season awards)."""
    where = f" · on **{escape(s.server)}**" if s.server is not None else ""
    embed = disnake.Embed(
        title=escaped_title(s.name),
        description=f"GUID `{s.guid}` · {s.period}{where}",
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
    best_map = f"{escape(s.best_map or '')} ({fmt_stat('dpm', s.best_map_dpm)} DPM)"
    embed.add_field("Best map", best_map if s.best_map else "–")
    if s.rank is not None:
        rank = f"#{s.rank} of {s.community_size}"
    else:
        rank = f"unranked (needs {COMMUNITY_MIN_ROUNDS} rounds)"
    embed.add_field("DPM rank", rank)
    embed.add_field("Maps won / lost", f"{s.maps_won} / {s.maps_lost}")
    embed.add_field("Seen", f"{_date(s.first_seen)} → {_date(s.last_seen)}")
    aliases = [a for a in s.aliases if a != s.name]
    alias_text = ", ".join(escape(a) for a in aliases) or "–"
    embed.add_field("Also known as", alias_text[:FIELD_MAX], inline=False)
    if trophies:
        embed.add_field(f"Trophies ({len(trophies)})", trophies_text(trophies), inline=False)
    return embed


def trophies_text(trophies: Sequence[seasons.Trophy]) -> str:
    """One line per season award, newest season first, within one field."""
    lines = [f"🏆 {escape(t.season_name)}: {t.label}" for t in trophies]
    text = ""
    for shown, line in enumerate(lines):
        more = f"\n… and {len(lines) - shown} more"
        if len(text) + len(line) + 1 + len(more) > FIELD_MAX:
            return text + more
        text = f"{text}\n{line}" if text else line
    return text


class SummaryCog(BaseCog):
    """Player cards."""

    @commands.slash_command(name="stats", description="A player's card: K/D, DPM, maps, aliases")
    async def stats_command(
        self,
        inter: ApplicationCommandInteraction,
        player: PlayerRef = player_or_self_param(),
        period: str = period_param(),
        season: str = season_param("A season instead of the period (autocomplete)"),
        server: ServerRef | None = server_param(),
    ) -> None:
        window = self.res.period(period)
        await inter.response.defer()
        now = self.res.local_now()
        if season.strip():
            window = (await self.res.run(seasons.find_season, season, now)).period
        card = await self.res.run(
            summary.player_summary, player.id, window, server.id if server else None
        )
        trophies = await self.res.run(seasons.player_trophies, player.id, now)
        await inter.edit_original_response(embed=player_card(card, trophies))


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(SummaryCog(get_resources(bot)))
