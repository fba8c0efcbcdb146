"""/link, /unlink and the admin-only /link-member: tie Discord members to game GUIDs
(domain: :mod:`etbot.players`).

Discord can only hide whole commands by permission (``default_member_permissions``), never a
single option, so linking *someone else* is its own command: hidden from members without
Manage Server in the client, and checked again on the server side (the client-side setting
can be changed by server admins per role, and is not a security boundary).
"""

from __future__ import annotations

import logging

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction

from etbot import players
from etbot.commands._base import COLOUR_OK, BaseCog, get_resources
from etbot.commands.converters import player_param
from etbot.commands.formatting import escape
from etbot.players import PlayerRef

log = logging.getLogger(__name__)


def link_embed(who: str, ref: PlayerRef) -> disnake.Embed:
    """The private confirmation of a new link (``who``: "You" or a member mention)."""
    return disnake.Embed(
        title="Linked",
        description=(
            f"{who} {'are' if who == 'You' else 'is'} now linked to "
            f"**{escape(ref.name)}** (GUID `{ref.guid}`). "
            "`/stats` without a player now shows this profile."
        ),
        colour=COLOUR_OK,
    )


class PlayersCog(BaseCog):
    """Link Discord members to players."""

    @commands.slash_command(
        name="link", description="Link your Discord account to your game profile (GUID)"
    )
    async def link(
        self,
        inter: ApplicationCommandInteraction,
        player: PlayerRef = player_param("Your in-game name or GUID"),
    ) -> None:
        await self.res.run(players.link_discord, inter.author.id, player.id)
        await inter.response.send_message(embed=link_embed("You", player), ephemeral=True)

    @commands.slash_command(name="unlink", description="Remove the link to your game profile")
    async def unlink(self, inter: ApplicationCommandInteraction) -> None:
        removed = await self.res.run(players.unlink_discord, inter.author.id)
        text = "Your link was removed." if removed else "You were not linked."
        await inter.response.send_message(text, ephemeral=True)

    @commands.slash_command(
        name="link-member",
        description="Admins: link a member to a game profile (moves an existing link)",
        default_member_permissions=disnake.Permissions(manage_guild=True),
    )
    @commands.guild_only()
    @commands.app_check_any(commands.is_owner(), commands.has_permissions(manage_guild=True))
    async def link_member(
        self,
        inter: ApplicationCommandInteraction,
        member: disnake.Member = commands.Param(description="The Discord member"),
        player: PlayerRef = player_param("Their in-game name or GUID"),
    ) -> None:
        await self.res.run(players.link_discord, member.id, player.id, force=True)
        log.info("%s linked member %s to player %s", inter.author.id, member.id, player.id)
        await inter.response.send_message(
            embed=link_embed(member.mention, player),
            ephemeral=True,
            allowed_mentions=disnake.AllowedMentions.none(),
        )


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(PlayersCog(get_resources(bot)))
