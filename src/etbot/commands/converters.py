"""Player options: autocomplete while typing, and conversion to a player before the handler.

A handler declares ``player: PlayerRef = player_param()`` and receives a resolved
:class:`~etbot.players.PlayerRef`: disnake runs the converter on the option's text before
the handler (and before anything is deferred). Problems are
:class:`~etbot.errors.UserError`; disnake wraps them in ``ConversionError``, which the one
error path (:mod:`etbot.commands.errors`) unwraps and shows privately.

What a player option accepts: an autocomplete choice (``guid:…``), a GUID, a name one
player used, or an ``@member`` mention, which means that member's linked profile.

The optional ``server`` option (:func:`server_param`) works the same way: autocompleted
with the game servers that have rounds, converted to a :class:`~etbot.servers.ServerRef`
(or None: every server) by :func:`etbot.servers.resolve_server`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import disnake
from disnake.ext import commands
from disnake.interactions import ApplicationCommandInteraction, Interaction

from etbot import players, servers
from etbot.commands._base import BaseCog, get_resources
from etbot.commands.formatting import MAX_CHOICE_LENGTH, MAX_CHOICES, clip, player_choice
from etbot.errors import UserError
from etbot.players import PlayerRef
from etbot.servers import ServerInfo, ServerRef

log = logging.getLogger(__name__)

#: A Discord user mention, as the client inserts it when someone types @member.
MEMBER_MENTION = re.compile(r"<@!?(?P<id>\d{15,21})>")
#: Typed text longer than this is not looked up for autocomplete.
AUTOCOMPLETE_TEXT_MAX = 64


async def autocomplete_player(cog: BaseCog, inter: Interaction, value: str) -> Any:
    """Autocomplete for every player option: a prefix query, at most 25 choices.

    Never raises: Discord shows "loading options failed" for errors, so a failure is logged
    and answered with no choices.
    """
    text = (value or "").strip()[:AUTOCOMPLETE_TEXT_MAX]
    try:
        found = await cog.res.run(players.autocomplete_players, text, limit=MAX_CHOICES)
    except Exception:
        log.exception("player autocomplete failed for %r", text)
        return []
    return [player_choice(match) for match in found[:MAX_CHOICES]]


async def to_player(inter: ApplicationCommandInteraction, value: str) -> PlayerRef:
    """Converter of a required player option.

    Raises:
        etbot.errors.UserError: unknown or ambiguous name, bad GUID, unlinked member.
    """
    res = get_resources(inter.bot)
    text = value.strip()
    mention = MEMBER_MENTION.fullmatch(text)
    if mention is not None:  # "@member" typed into a player option: their linked profile
        linked = await res.run(players.player_for_discord, int(mention["id"]))
        if linked is None:
            raise UserError("That member has not linked a game profile yet (they can use `/link`).")
        return linked
    return await res.run(players.resolve_player, text)


async def to_player_or_self(inter: ApplicationCommandInteraction, value: str) -> PlayerRef:
    """Converter of a player option that defaults to the member's own linked profile.

    Raises:
        etbot.errors.UserError: as :func:`to_player`, or nothing given and no link yet.
    """
    if value.strip():
        return await to_player(inter, value)
    res = get_resources(inter.bot)
    linked = await res.run(players.player_for_discord, inter.author.id)
    if linked is None:
        raise UserError(
            "You have not linked your game profile yet. Link it first with `/link player:<name>`, "
            "or pass a `player`."
        )
    return linked


async def to_optional_player(inter: ApplicationCommandInteraction, value: str) -> PlayerRef | None:
    """Converter of an optional player option: blank text means no player."""
    return await to_player(inter, value) if value.strip() else None


def player_param(description: str = "Player name, GUID or @member", **kwargs: Any) -> Any:
    """A required player option: autocompleted, converted to a :class:`PlayerRef`
    (``converter=to_optional_player`` lets blank text through as None)."""
    kwargs.setdefault("converter", to_player)
    return commands.Param(
        description=description,
        autocomplete=autocomplete_player,
        max_length=MAX_CHOICE_LENGTH,
        **kwargs,
    )


def optional_player_param(description: str) -> Any:
    """An optional player option: a :class:`PlayerRef`, or None when left empty."""
    return commands.Param(
        default=None,
        description=description,
        autocomplete=autocomplete_player,
        max_length=MAX_CHOICE_LENGTH,
        converter=to_optional_player,
    )


def player_or_self_param(
    description: str = "Player name, GUID or @member (default: you)",
) -> Any:
    """A player option that defaults to the member's linked profile (always a
    :class:`PlayerRef`; an error asks them to link first)."""
    return commands.Param(
        default="",
        convert_defaults=True,
        description=description,
        autocomplete=autocomplete_player,
        max_length=MAX_CHOICE_LENGTH,
        converter=to_player_or_self,
    )


# --------------------------------------------------------------------------- game servers


def server_choices(found: list[ServerInfo]) -> list[disnake.OptionChoice]:
    """Autocomplete choices of game servers: the name without colour codes (with the day
    of its last session when two servers share a name); the value names the server id."""
    names = [s.name.lower() for s in found]
    choices = []
    for server in found:
        label = server.name or f"server {server.id}"
        if names.count(server.name.lower()) > 1:
            suffix = f" (last played {server.last_active:%Y-%m-%d})"
            label = clip(label, MAX_CHOICE_LENGTH - len(suffix)) + suffix
        choices.append(
            disnake.OptionChoice(
                clip(label, MAX_CHOICE_LENGTH), f"{servers.SERVER_PREFIX}{server.id}"
            )
        )
    return choices


async def autocomplete_server(cog: BaseCog, inter: Interaction, value: str) -> Any:
    """Autocomplete of the ``server`` option: the servers with rounds whose name starts
    with (then contains) what was typed, most recently active first. Never raises."""
    text = (value or "").strip()[:AUTOCOMPLETE_TEXT_MAX]
    try:
        found = await cog.res.run(servers.autocomplete_servers, text, limit=MAX_CHOICES)
    except Exception:
        log.exception("server autocomplete failed for %r", text)
        return []
    return server_choices(found)


async def to_optional_server(inter: ApplicationCommandInteraction, value: str) -> ServerRef | None:
    """Converter of the ``server`` option: blank text means every server.

    Raises:
        etbot.errors.UserError: no game server with rounds has that name.
    """
    if not value.strip():
        return None
    res = get_resources(inter.bot)
    return await res.run(servers.resolve_server, value)


def server_param(
    description: str = "Only this game server's rounds (default: every server)",
) -> Any:
    """The optional ``server`` option: a :class:`~etbot.servers.ServerRef`, or None
    (every server) when left empty."""
    return commands.Param(
        default=None,
        description=description,
        autocomplete=autocomplete_server,
        max_length=servers.MAX_SERVER_TEXT,
        converter=to_optional_server,
    )
