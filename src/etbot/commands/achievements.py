"""/achievements and the ``milestone`` posts (domain: :mod:`etbot.achievements`).

Milestone posts are the only messages of the bot that may ping anyone: a player linked to a
Discord member (``/link``) is named with a mention that pings exactly that member
(``AllowedMentions(users=[member])``, no everyone, no roles); others are named in bold.
"""

from __future__ import annotations

import logging

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import achievements
from etbot.achievements import Achievements, MilestonePost
from etbot.commands._base import COLOUR_INFO, BaseCog, get_resources
from etbot.commands.converters import player_or_self_param
from etbot.commands.formatting import escape
from etbot.players import PlayerRef
from etbot.poster import Post

log = logging.getLogger(__name__)

#: Earned milestones listed (newest first) before "+N more".
EARNED_SHOWN = 15
#: Cells of a progress bar.
BAR_CELLS = 10
FIELD_MAX = 1024


def progress_bar(fraction: float, cells: int = BAR_CELLS) -> str:
    """``▰▰▰▱▱▱▱▱▱▱`` for 0.3 (rounded down, so a full bar means reached)."""
    filled = max(0, min(cells, int(fraction * cells)))
    return "▰" * filled + "▱" * (cells - filled)


def achievements_embed(name: str, data: Achievements) -> disnake.Embed:
    """The /achievements embed: earned milestones with dates, next ones with progress."""
    embed = disnake.Embed(title=f"Achievements · {escape(name)}", colour=COLOUR_INFO)
    earned = [
        f"{e.reached_on:%Y-%m-%d} · **{e.threshold:,} {e.label}**"
        for e in data.earned[:EARNED_SHOWN]
    ]
    more = len(data.earned) - EARNED_SHOWN
    if more > 0:
        earned.append(f"+{more} more")
    embed.add_field(
        f"Earned ({len(data.earned)})", "\n".join(earned)[:FIELD_MAX] or "None yet.", inline=False
    )
    upcoming = [
        f"`{progress_bar(n.progress)}` {n.current:,} / {n.threshold:,} {n.label}" for n in data.next
    ]
    embed.add_field("Next", "\n".join(upcoming)[:FIELD_MAX] or "All reached!", inline=False)
    return embed


def milestone_message(m: MilestonePost) -> Post:
    """The ``milestone`` post: pings the linked member only, nobody else."""
    name = f"**{escape(m.name)}**"
    if m.discord_id is not None:
        who = f"<@{m.discord_id}> ({name})"
        mentions = disnake.AllowedMentions(
            users=[disnake.Object(id=m.discord_id)],
            everyone=False,
            roles=False,
            replied_user=False,
        )
    else:
        who = name
        mentions = disnake.AllowedMentions.none()
    text = f"🏅 {who} reached **{m.threshold:,} {m.label}**!"
    if m.next_threshold is not None:
        text += f" Next: {m.next_threshold:,}."
    return Post(content=text, allowed_mentions=mentions)


class AchievementsCog(BaseCog):
    """Milestones."""

    @commands.slash_command(
        name="achievements",
        description="A player's milestones: earned ones with dates, and the next ones",
    )
    async def achievements_command(
        self, inter: ApplicationCommandInteraction, player: PlayerRef = player_or_self_param()
    ) -> None:
        await inter.response.defer()
        data = await self.res.run(achievements.achievements, player.id)
        await inter.edit_original_response(embed=achievements_embed(player.name, data))

    async def build_milestone(self, key: str) -> Post | None:
        """Poster builder of ``milestone`` (key: ``<player id>:<stat>:<threshold>``)."""
        found = await self.res.run(achievements.milestone_post, key)
        return milestone_message(found) if found is not None else None


def setup(bot: commands.InteractionBot) -> None:
    cog = AchievementsCog(get_resources(bot))
    bot.add_cog(cog)
    poster = getattr(bot, "poster", None)
    if poster is not None:
        poster.register(achievements.MILESTONE, cog.build_milestone)
