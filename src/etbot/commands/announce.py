"""/announce: admins see and switch each kind of automatic post (domain: :mod:`etbot.announce`).

The kinds are those some feature registered a builder for (``bot.poster.kinds``); every
kind is on unless an admin switched it off (a ``GuildSetting`` per server and kind). The
poster skips switched-off kinds (the post is recorded as silent, never sent later).
Admin-only twice over: hidden from members without Manage Server in the client
(``default_member_permissions``) and checked again on the server.
"""

from __future__ import annotations

import logging
from typing import Any

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction, Interaction

from etbot import announce
from etbot.commands._base import COLOUR_INFO, BaseCog, Resources, get_resources
from etbot.commands.formatting import MAX_CHOICES, clip
from etbot.errors import Typed, UserError

log = logging.getLogger(__name__)

#: What each known kind of post is (kinds without an entry are shown by name only).
KIND_DESCRIPTIONS = {
    "round_summary": "after each round 1: the time set and the best players",
    "map_summary": "after each map: the winner, both times, the score, the MVP, a chart",
    "milestone": "a player reaches a milestone (pings only that player, when linked)",
    "season_recap": "the end of a season",
    "bet_result": "a settled bet",
    "availability_reminder": "a reminder before the agreed start",
}
#: Longest kind name accepted from the option (announce kinds are at most 32 characters).
KIND_MAX = 32


def kinds_embed(
    states: dict[str, bool], channel_id: int | None, changed: str | None = None
) -> disnake.Embed:
    """The /announce answer: every kind with its state, and where posts go."""
    lines = []
    for kind, on in states.items():
        mark = "✅ on " if on else "⛔ off"
        about = KIND_DESCRIPTIONS.get(kind)
        lines.append(f"{mark} `{kind}`" + (f": {about}" if about else ""))
    if channel_id is None:
        where = "`ANNOUNCE_CHANNEL_ID` is not set: the bot posts nothing."
    else:
        where = f"Posts go to <#{channel_id}>."
    description = "\n".join(lines) or "No kind of automatic post is available."
    if changed is not None:
        state = "on" if states.get(changed) else "off"
        description = f"`{changed}` is now **{state}**.\n\n{description}"
    embed = disnake.Embed(
        title="Automatic posts", description=f"{description}\n\n{where}", colour=COLOUR_INFO
    )
    embed.set_footer(text="/announce kind:<kind> enabled:<True|False> switches one")
    return embed


class AnnounceCog(BaseCog):
    """Switch the bot's automatic posts on and off per server."""

    def __init__(self, bot: commands.InteractionBot, resources: Resources) -> None:
        super().__init__(resources)
        self.bot = bot

    def kinds(self) -> list[str]:
        poster = getattr(self.bot, "poster", None)
        return list(poster.kinds) if poster is not None else []

    async def autocomplete_kind(self, inter: Interaction, value: str) -> Any:
        text = (value or "").strip().lower()
        return [k for k in self.kinds() if text in k][:MAX_CHOICES]

    @commands.slash_command(
        name="announce",
        description="Admins: show the bot's automatic posts, or switch one kind on or off",
        default_member_permissions=disnake.Permissions(manage_guild=True),
    )
    @commands.guild_only()
    @commands.app_check_any(commands.is_owner(), commands.has_permissions(manage_guild=True))
    async def announce_command(
        self,
        inter: ApplicationCommandInteraction,
        kind: str = commands.Param(
            default="",
            description="The kind of post to switch (leave empty to list them all)",
            autocomplete=autocomplete_kind,
            max_length=KIND_MAX,
        ),
        enabled: bool | None = commands.Param(
            default=None, description="On or off (leave empty to only show it)"
        ),
    ) -> None:
        guild_id = inter.guild_id
        if guild_id is None:  # guild_only() already refuses this; keeps mypy informed
            raise UserError("Use this command in a server.")
        kinds = self.kinds()
        kind = kind.strip()
        if kind and kind not in kinds:
            raise UserError(
                "There is no kind of post called {kind}. Kinds: {kinds}.",
                kind=Typed(clip(kind, KIND_MAX)),
                kinds=kinds or ["none"],
            )
        if enabled is not None and not kind:
            raise UserError("Say which `kind` of post to switch on or off.")
        if kind and enabled is not None:
            await self.res.run(announce.set_kind_enabled, guild_id, kind, enabled)
            log.info(
                "%s switched %s %s in guild %s",
                inter.author.id,
                kind,
                "on" if enabled else "off",
                guild_id,
            )
        shown = [kind] if kind and enabled is None else kinds
        states = await self.res.run(announce.enabled_kinds, guild_id, shown)
        embed = kinds_embed(
            states,
            self.res.settings.announce_channel_id,
            changed=kind if enabled is not None else None,
        )
        await inter.response.send_message(
            embed=embed, ephemeral=True, allowed_mentions=disnake.AllowedMentions.none()
        )


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(AnnounceCog(bot, get_resources(bot)))
