"""The one error path of the bot.

* :class:`etbot.errors.UserError` (unknown player, no data, bad option…), also when a
  converter raised it → a red, ephemeral embed with the friendly message, its fields
  escaped for Discord (:func:`etbot.commands.formatting.error_text`).
* Permission / check failures → a red ephemeral embed saying what is missing.
* Anything else → logged with a short reference id; the user sees
  "Something went wrong (ref abc12345)", never a traceback.

:func:`report_error` works whether or not the interaction was already answered or deferred,
and is also used by views (component callbacks) and autocompleters.
"""

from __future__ import annotations

import logging
import secrets

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction, Interaction, MessageInteraction

from etbot.commands._base import error_embed
from etbot.commands.formatting import error_text
from etbot.errors import UserError
from etbot.views.components import CustomIdError

log = logging.getLogger(__name__)


#: Permission names as the Discord client shows them, where they differ from the API name.
_PERMISSION_NAMES = {
    "manage_guild": "Manage Server",
    "administrator": "Administrator",
    "manage_messages": "Manage Messages",
}


def permission_name(name: str) -> str:
    """A permission as the Discord client names it (``manage_guild`` → Manage Server)."""
    return _PERMISSION_NAMES.get(name, name.replace("_", " ").title())


def new_reference() -> str:
    """A short id that ties a user's report to one log entry (8 hex characters)."""
    return secrets.token_hex(4)


def unwrap(error: BaseException) -> BaseException:
    """The exception a command or an option converter raised, without disnake's
    ``CommandInvokeError`` / ``ConversionError`` wrapper."""
    while (
        isinstance(error, commands.CommandInvokeError | commands.ConversionError)
        and error.original is not None
    ):
        error = error.original
    return error


def describe(error: BaseException) -> tuple[disnake.Embed, str | None]:
    """The embed the user sees for ``error`` and, for unexpected errors, its reference id."""
    if isinstance(error, UserError):
        return error_embed(error_text(error) or "That did not work."), None
    if isinstance(error, CustomIdError):
        # A component id we did not write (an old message, or a tampered client).
        return error_embed("This button or menu is outdated; run the command again."), None
    if isinstance(error, commands.MissingPermissions):
        perms = ", ".join(permission_name(p) for p in error.missing_permissions)
        return error_embed(f"You need the **{perms}** permission for that."), None
    if isinstance(error, commands.CheckAnyFailure):
        missing = [e for e in error.errors if isinstance(e, commands.MissingPermissions)]
        if missing:
            return describe(missing[0])
    if isinstance(error, commands.NoPrivateMessage):
        return error_embed("This command only works in a server."), None
    if isinstance(error, commands.CheckFailure):
        return error_embed("You are not allowed to use this command."), None
    if isinstance(error, commands.CommandOnCooldown):
        return error_embed(f"Slow down: try again in {error.retry_after:.0f}s."), None
    ref = new_reference()
    embed = error_embed(
        f"Something went wrong (ref {ref}). The bot owner can find the details in the log.",
        title="Oops",
    )
    return embed, ref


async def send_error(inter: Interaction, embed: disnake.Embed) -> None:
    """Send ``embed`` ephemerally, however far the interaction already got.

    * not answered yet: an ephemeral response;
    * deferred or answered: the (possibly public) original "thinking…" message is removed when
      it is still empty, then an ephemeral follow-up is sent.
    """
    if not inter.response.is_done():
        await inter.response.send_message(embed=embed, ephemeral=True)
        return
    if isinstance(inter, ApplicationCommandInteraction):
        try:
            original = await inter.original_response()
            if not original.content and not original.embeds and not original.attachments:
                await original.delete()
        except disnake.HTTPException:
            log.debug("could not tidy the original response", exc_info=True)
    await inter.followup.send(embed=embed, ephemeral=True)


async def report_error(inter: Interaction, error: BaseException) -> str | None:
    """Log and show ``error`` to the user; returns the reference id of unexpected errors."""
    error = unwrap(error)
    embed, ref = describe(error)
    name = _interaction_name(inter)
    if ref is None:
        log.info("user error in %s for %s: %s", name, inter.author.id, error)
    else:
        log.error(
            "unexpected error in %s for %s (ref %s)",
            name,
            inter.author.id,
            ref,
            exc_info=(type(error), error, error.__traceback__),
        )
    try:
        await send_error(inter, embed)
    except disnake.HTTPException as exc:  # e.g. the interaction token expired
        log.warning("could not tell the user about an error in %s: %s", name, exc)
    return ref


def _interaction_name(inter: Interaction) -> str:
    if isinstance(inter, ApplicationCommandInteraction):
        return f"/{inter.data.name}"
    if isinstance(inter, MessageInteraction):
        return f"component {inter.data.custom_id}"
    return f"interaction type {inter.type}"


class ErrorHandler(commands.Cog):
    """Turns every command / component error into one friendly ephemeral reply."""

    @commands.Cog.listener()
    async def on_slash_command_error(
        self, inter: ApplicationCommandInteraction, error: commands.CommandError
    ) -> None:
        await report_error(inter, error)

    @commands.Cog.listener()
    async def on_user_command_error(
        self, inter: ApplicationCommandInteraction, error: commands.CommandError
    ) -> None:
        await report_error(inter, error)

    @commands.Cog.listener()
    async def on_message_command_error(
        self, inter: ApplicationCommandInteraction, error: commands.CommandError
    ) -> None:
        await report_error(inter, error)


def setup(bot: commands.InteractionBot) -> None:
    bot.add_cog(ErrorHandler())
