"""/export: rounds, a leaderboard, a season's standings or the ratings as a CSV attachment
(domain: :mod:`etbot.export`, the same exports as ``etbot export``).

The file is at most the attachment size Discord allows for this interaction
(``attachment_size_limit`` of the interaction): gzipped when the plain CSV is larger, and
a clear message when even that is too large. The answer is private unless ``public``.
"""

from __future__ import annotations

import io
import logging

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import export
from etbot.commands._base import COLOUR_INFO, BaseCog, get_resources, stat_param
from etbot.commands.converters import optional_player_param
from etbot.commands.seasons import season_param
from etbot.players import PlayerRef
from etbot.seasons import SEASON_MIN_ROUNDS

log = logging.getLogger(__name__)

#: Discord's attachment limit without boosts, when an interaction does not say (it should).
DEFAULT_ATTACHMENT_LIMIT = 10 * 1024 * 1024

WHAT_CHOICES = [
    disnake.OptionChoice("Rounds (one row per player per round)", "rounds"),
    disnake.OptionChoice("Leaderboard (every stat per player)", "leaderboard"),
    disnake.OptionChoice("Season standings and awards", "season"),
    disnake.OptionChoice("Skill ratings", "ratings"),
]


def attachment_limit(inter: ApplicationCommandInteraction) -> int:
    """The largest file Discord accepts in the answer to ``inter`` (bytes)."""
    limit = getattr(inter, "attachment_size_limit", None)
    return limit if isinstance(limit, int) and limit > 0 else DEFAULT_ATTACHMENT_LIMIT


class ExportCog(BaseCog):
    """CSV exports."""

    @commands.slash_command(
        name="export", description="Download rounds, a leaderboard, a season or ratings as CSV"
    )
    @commands.cooldown(2, 60.0, commands.BucketType.user)
    async def export_command(
        self,
        inter: ApplicationCommandInteraction,
        what: str = commands.Param(description="What to export", choices=WHAT_CHOICES),
        player: PlayerRef | None = optional_player_param("Only this player's rows"),
        season: str = season_param("Only this season (not with from/to)"),
        date_from: str = commands.Param(
            default="", name="from", description="First day, YYYY-MM-DD", max_length=10
        ),
        date_to: str = commands.Param(
            default="", name="to", description="Last day (included), YYYY-MM-DD", max_length=10
        ),
        stat: str = stat_param("Leaderboard/season: rank by (default DPM)", default="dpm"),
        min_rounds: int = commands.Param(
            default=SEASON_MIN_ROUNDS,
            ge=1,
            le=100_000,
            description="Leaderboard/season: only players with this many rounds",
        ),
        public: bool = commands.Param(
            default=False, description="Show the file to everyone (default: only you)"
        ),
    ) -> None:
        await inter.response.defer(ephemeral=not public)
        request = await self.res.run(
            export.build_request,
            what,
            now=self.res.local_now().replace(tzinfo=None),
            player_id=player.id if player is not None else None,
            season=season,
            date_from=date_from,
            date_to=date_to,
            stat=stat,
            min_rounds=min_rounds,
        )
        result = await self.res.run(export.export_file, request, attachment_limit(inter))
        note = " (gzipped: it was larger than the attachment limit)" if result.gzipped else ""
        embed = disnake.Embed(
            title="Export",
            description=(
                f"`{result.name}`: {result.rows:,} rows, UTF-8 CSV{note}. Columns: see the "
                "README's Exports section."
            ),
            colour=COLOUR_INFO,
        )
        await inter.edit_original_response(
            embed=embed, file=disnake.File(io.BytesIO(result.data), filename=result.name)
        )


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(ExportCog(get_resources(bot)))
