"""Builders for realistic INTERACTION_CREATE payloads (what Discord sends to the bot).

Every builder returns a plain ``dict`` that disnake accepts unmodified, with ``id``
(a fresh snowflake), ``application_id``, ``type``, ``data``, ``guild_id``, ``channel_id``,
``channel``, ``member`` (``user`` in DMs), ``token``, ``version``, ``locale``,
``guild_locale``, ``app_permissions``, ``entitlements``, ``authorizing_integration_owners``,
``context`` and ``attachment_size_limit``::

    from discordkit import payloads as p

    p.slash_command("ping")
    p.slash_command("stats", [p.subcommand("player", p.user_option("who", world.owner))])
    p.slash_command("admin", [p.option("force", True)], admin=True)   # Admin role, all perms
    p.autocomplete("stats", [p.option("map", "sup", focused=True)])
    p.button_click("vote:yes")                      # on a bot message holding that button
    p.select_menu("pick-map", ["supply", "radar"])
    p.modal_submit("feedback", {"text": "hello"})

Common keyword arguments (:class:`InteractionContext`): ``world`` (default
``FakeWorld.default()``), ``user`` (default ``world.player``; ``world.owner`` when
``admin=True``), ``admin``, ``permissions`` (int, overrides ``admin``), ``guild_id``,
``channel_id``, ``dm`` (no guild: ``user`` instead of ``member``), ``locale``, ``guild_locale``,
``app_permissions``, ``interaction_id`` and ``token``.

Against a bot with synced *guild* commands (e2e), pass ``command_id`` and ``command_guild_id``
(``server.command_id(name, guild_id)``); otherwise disnake treats the command as unknown and
re-syncs instead of running it. :meth:`discordkit.FakeDiscord.slash_command` does that for you.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypedDict, Unpack

from .world import (
    ADMIN_PERMISSIONS,
    ADMIN_ROLE_ID,
    BOT_PERMISSIONS,
    FakeMember,
    FakeUser,
    FakeWorld,
    iso_now,
    snowflake,
)

__all__ = [
    "InteractionContext",
    "UserOption",
    "autocomplete",
    "bot_message",
    "button_click",
    "interaction",
    "modal_submit",
    "option",
    "select_menu",
    "slash_command",
    "subcommand",
    "subcommand_group",
    "user_command",
    "user_option",
]

#: Option types (Discord ApplicationCommandOptionType)
SUB_COMMAND, SUB_COMMAND_GROUP, STRING, INTEGER, BOOLEAN, USER = 1, 2, 3, 4, 5, 6
CHANNEL, ROLE, MENTIONABLE, NUMBER, ATTACHMENT = 7, 8, 9, 10, 11

ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
_DEFAULT_WORLD = FakeWorld.default()


class InteractionContext(TypedDict, total=False):
    """Keyword arguments shared by all builders (see the module docstring)."""

    world: FakeWorld
    user: FakeUser
    admin: bool
    permissions: int
    guild_id: int
    channel_id: int
    dm: bool
    locale: str
    guild_locale: str
    app_permissions: int
    interaction_id: int
    token: str


class UserOption(dict[str, Any]):
    """A USER option (a dict) that also carries the user for ``data.resolved``."""

    def __init__(self, name: str, user: FakeUser, member: FakeMember | None) -> None:
        super().__init__(name=name, type=USER, value=str(user.id))
        self.user = user
        self.member = member


def option(name: str, value: Any, *, type: int | None = None, focused: bool = False) -> dict:
    """A leaf option; the type is inferred from ``value`` (str, int, bool, float) unless
    given. ``focused=True`` marks the option being typed in an autocomplete payload."""
    if type is None:
        if isinstance(value, bool):
            type = BOOLEAN
        elif isinstance(value, int):
            type = INTEGER
        elif isinstance(value, float):
            type = NUMBER
        else:
            type = STRING
    data: dict[str, Any] = {"name": name, "type": type, "value": value}
    if focused:
        data["focused"] = True
    return data


def user_option(
    name: str, user: FakeUser, *, world: FakeWorld | None = None, member: bool = True
) -> UserOption:
    """A USER option; the builder adds the user (and member, if in the guild) to
    ``data.resolved``."""
    world = world or _DEFAULT_WORLD
    found = world.guild.member(user.id) if member else None
    if member and found is None:
        found = FakeMember(user)
    return UserOption(name, user, found)


def subcommand(name: str, *options: dict[str, Any]) -> dict[str, Any]:
    """A SUB_COMMAND option holding ``options``."""
    return {"name": name, "type": SUB_COMMAND, "options": list(options)}


def subcommand_group(name: str, *subcommands: dict[str, Any]) -> dict[str, Any]:
    """A SUB_COMMAND_GROUP option holding sub-commands."""
    return {"name": name, "type": SUB_COMMAND_GROUP, "options": list(subcommands)}


def interaction(
    type: int,
    data: dict[str, Any] | None,
    *,
    message: dict[str, Any] | None = None,
    **context: Unpack[InteractionContext],
) -> dict[str, Any]:
    """The envelope shared by all interaction types (see the module docstring)."""
    world = context.get("world") or _DEFAULT_WORLD
    admin = context.get("admin", False)
    user = context.get("user") or (world.owner if admin else world.player)
    dm = context.get("dm", False)
    guild = None if dm else world.get_guild(context.get("guild_id", world.guild.id))
    channel_id = context.get("channel_id")

    payload: dict[str, Any] = {
        "id": str(context.get("interaction_id") or snowflake()),
        "application_id": str(world.application_id),
        "type": type,
        "token": context.get("token") or _token(),
        "version": 1,
        "locale": context.get("locale", "en-US"),
        "app_permissions": str(context.get("app_permissions", BOT_PERMISSIONS)),
        "entitlements": [],
        "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
    }
    if data is not None:
        payload["data"] = data

    if guild is None:
        channel_id = channel_id or snowflake()
        channel = {"id": str(channel_id), "type": 1, "last_message_id": None, "flags": 0}
        channel["recipients"] = [user.to_payload()]
        payload.update(
            channel_id=str(channel_id),
            channel=channel,
            user=user.to_payload(),
            context=1,
            authorizing_integration_owners={"1": str(user.id)},
        )
    else:
        fake_channel = guild.channel(channel_id) if channel_id else guild.text_channels[0]
        if fake_channel is None:
            raise LookupError(f"channel {channel_id} is not in guild {guild.id}")
        member = guild.member(user.id) or FakeMember(user)
        roles = list(member.roles)
        if admin and ADMIN_ROLE_ID not in roles and any(r.id == ADMIN_ROLE_ID for r in guild.roles):
            roles.append(ADMIN_ROLE_ID)
        member = FakeMember(member.user, roles=roles, nick=member.nick, joined_at=member.joined_at)
        if "permissions" in context:
            permissions = context["permissions"]
        elif admin:
            permissions = ADMIN_PERMISSIONS
        else:
            permissions = guild.permissions_of(user.id)
        payload.update(
            guild_id=str(guild.id),
            guild_locale=context.get("guild_locale", "en-US"),
            channel_id=str(fake_channel.id),
            channel=fake_channel.to_payload(guild.id),
            member=member.to_payload(permissions=permissions),
            context=0,
            authorizing_integration_owners={"0": str(guild.id)},
        )
    if message is not None:
        payload["message"] = message
    return payload


def _token() -> str:
    return "fake-interaction-" + secrets.token_urlsafe(24)


def _collect_resolved(
    options: Iterable[dict[str, Any]], resolved: dict[str, dict[str, Any]], in_guild: bool
) -> list[dict[str, Any]]:
    plain: list[dict[str, Any]] = []
    for opt in options:
        if isinstance(opt, UserOption):
            resolved.setdefault("users", {})[str(opt.user.id)] = opt.user.to_payload()
            if in_guild and opt.member is not None:
                member = opt.member.to_payload()
                member.pop("user")
                resolved.setdefault("members", {})[str(opt.user.id)] = member
        copied = dict(opt)
        if "options" in copied:
            copied["options"] = _collect_resolved(copied["options"], resolved, in_guild)
        plain.append(copied)
    return plain


def _command_data(
    name: str,
    options: Sequence[dict[str, Any]],
    *,
    command_type: int,
    command_id: int | None,
    command_guild_id: int | None,
    in_guild: bool,
) -> dict[str, Any]:
    resolved: dict[str, dict[str, Any]] = {}
    data: dict[str, Any] = {
        "id": str(command_id or snowflake()),
        "name": name,
        "type": command_type,
        "options": _collect_resolved(options, resolved, in_guild),
    }
    if resolved:
        data["resolved"] = resolved
    if command_guild_id is not None:
        data["guild_id"] = str(command_guild_id)
    return data


def slash_command(
    name: str,
    options: Sequence[dict[str, Any]] = (),
    *,
    command_id: int | None = None,
    command_guild_id: int | None = None,
    **context: Unpack[InteractionContext],
) -> dict[str, Any]:
    """A chat-input (slash) command, type 2. ``options`` may nest
    :func:`subcommand_group` / :func:`subcommand`; USER options add ``resolved`` data."""
    data = _command_data(
        name,
        options,
        command_type=1,
        command_id=command_id,
        command_guild_id=command_guild_id,
        in_guild=not context.get("dm", False),
    )
    return interaction(2, data, **context)


def autocomplete(
    name: str,
    options: Sequence[dict[str, Any]],
    *,
    command_id: int | None = None,
    command_guild_id: int | None = None,
    **context: Unpack[InteractionContext],
) -> dict[str, Any]:
    """An autocomplete request, type 4. Mark the option being typed with
    ``option(name, "partial text", focused=True)`` (values of focused options are strings)."""
    data = _command_data(
        name,
        options,
        command_type=1,
        command_id=command_id,
        command_guild_id=command_guild_id,
        in_guild=not context.get("dm", False),
    )
    return interaction(4, data, **context)


def user_command(
    name: str,
    target: FakeUser,
    *,
    command_id: int | None = None,
    command_guild_id: int | None = None,
    **context: Unpack[InteractionContext],
) -> dict[str, Any]:
    """A user (context menu) command on ``target``, type 2 with data type 2."""
    world = context.get("world") or _DEFAULT_WORLD
    data = _command_data(
        name,
        [],
        command_type=2,
        command_id=command_id,
        command_guild_id=command_guild_id,
        in_guild=False,
    )
    data.pop("options")
    data["target_id"] = str(target.id)
    resolved: dict[str, Any] = {"users": {str(target.id): target.to_payload()}}
    member = None if context.get("dm") else world.guild.member(target.id)
    if member is not None:
        member_data = member.to_payload()
        member_data.pop("user")
        resolved["members"] = {str(target.id): member_data}
    data["resolved"] = resolved
    return interaction(2, data, **context)


def bot_message(
    content: str = "",
    *,
    components: list[dict[str, Any]] | None = None,
    embeds: list[dict[str, Any]] | None = None,
    message_id: int | None = None,
    channel_id: int | None = None,
    world: FakeWorld | None = None,
    flags: int = 0,
) -> dict[str, Any]:
    """A message sent by the bot (the message a component lives on)."""
    world = world or _DEFAULT_WORLD
    channel_id = channel_id or world.channel.id
    guild, _ = world.find_channel(channel_id)
    message: dict[str, Any] = {
        "id": str(message_id or snowflake()),
        "channel_id": str(channel_id),
        "author": world.bot.to_payload(),
        "content": content,
        "timestamp": iso_now(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": embeds or [],
        "components": components or [],
        "pinned": False,
        "type": 0,
        "flags": flags,
        "application_id": str(world.application_id),
    }
    if guild is not None:
        message["guild_id"] = str(guild.id)
    return message


def _component_message(
    component: dict[str, Any], message: dict[str, Any] | None, context: InteractionContext
) -> dict[str, Any]:
    if message is not None:
        return message
    row = {"type": 1, "id": 1, "components": [component]}
    world = context.get("world") or _DEFAULT_WORLD
    if context.get("dm") and "channel_id" not in context:
        context["channel_id"] = snowflake()  # the DM channel, shared with the envelope
    return bot_message(components=[row], world=world, channel_id=context.get("channel_id"))


def button_click(
    custom_id: str,
    *,
    message: dict[str, Any] | None = None,
    label: str = "Button",
    **context: Unpack[InteractionContext],
) -> dict[str, Any]:
    """A button press (type 3, component_type 2). ``message`` is the message the button is on;
    by default a bot message holding just this button."""
    button = {"type": 2, "id": 2, "style": 1, "label": label, "custom_id": custom_id}
    msg = _component_message(button, message, context)
    data = {"custom_id": custom_id, "component_type": 2, "id": 2}
    return interaction(3, data, message=msg, **context)


def select_menu(
    custom_id: str,
    values: Sequence[str],
    *,
    message: dict[str, Any] | None = None,
    options: Sequence[str] | None = None,
    **context: Unpack[InteractionContext],
) -> dict[str, Any]:
    """A string-select choice (type 3, component_type 3) with the chosen ``values``;
    the default message holds a select offering ``options`` (default: ``values``)."""
    offered = list(options if options is not None else values)
    select = {
        "type": 3,
        "id": 2,
        "custom_id": custom_id,
        "options": [{"label": v, "value": v} for v in offered],
        "min_values": 1,
        "max_values": max(1, len(offered)),
    }
    msg = _component_message(select, message, context)
    data = {"custom_id": custom_id, "component_type": 3, "id": 2, "values": list(values)}
    return interaction(3, data, message=msg, **context)


def modal_submit(
    custom_id: str,
    fields: Mapping[str, str],
    *,
    message: dict[str, Any] | None = None,
    **context: Unpack[InteractionContext],
) -> dict[str, Any]:
    """A modal submission (type 5): one action row with a text input per ``fields`` item
    (``custom_id -> value``). Pass ``message`` if the modal was opened from a component."""
    rows = [
        {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
        for key, value in fields.items()
    ]
    data = {"custom_id": custom_id, "components": rows}
    return interaction(5, data, message=message, **context)
