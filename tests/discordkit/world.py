"""The pretend Discord "world" shared by the fake server, the recorder and the payload builders.

A :class:`FakeWorld` holds the bot user, its application, a guild owner, an ordinary player and
one or more :class:`FakeGuild` objects (each with roles, text channels and members). Every
builder in this package takes IDs from a world, so payloads, GUILD_CREATE events and REST
answers agree with each other::

    from discordkit import FakeWorld

    world = FakeWorld.default()
    world.guild.id, world.channel.id, world.owner.id, world.player.id
    world.bot.id == world.application_id

The IDs of :meth:`FakeWorld.default` are fixed constants (``GUILD_ID``, ``CHANNEL_ID`` ...), so
tests may also use those directly. New IDs (messages, interactions) come from :func:`snowflake`,
which produces real, time-based snowflakes.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import disnake

__all__ = [
    "ADMIN_PERMISSIONS",
    "ADMIN_ROLE_ID",
    "APPLICATION_ID",
    "BOT_PERMISSIONS",
    "BOT_ROLE_ID",
    "BOT_USER_ID",
    "CHANNEL_ID",
    "GUILD_ID",
    "MEMBER_PERMISSIONS",
    "OWNER_ID",
    "PLAYER_ID",
    "SECOND_CHANNEL_ID",
    "FakeChannel",
    "FakeGuild",
    "FakeMember",
    "FakeRole",
    "FakeUser",
    "FakeWorld",
    "iso_now",
    "snowflake",
]

DISCORD_EPOCH_MS = 1_420_070_400_000

APPLICATION_ID = 1_100_000_000_000_000_001
BOT_USER_ID = APPLICATION_ID  # for bot applications the bot user shares the application's id
OWNER_ID = 1_100_000_000_000_000_002
PLAYER_ID = 1_100_000_000_000_000_003
GUILD_ID = 1_100_000_000_000_000_010
CHANNEL_ID = 1_100_000_000_000_000_011
SECOND_CHANNEL_ID = 1_100_000_000_000_000_012
ADMIN_ROLE_ID = 1_100_000_000_000_000_020
BOT_ROLE_ID = 1_100_000_000_000_000_021

#: What an administrator sees in ``member.permissions`` of an interaction (everything).
ADMIN_PERMISSIONS: int = disnake.Permissions.all().value
#: A typical ``@everyone`` permission set for an ordinary member.
MEMBER_PERMISSIONS: int = disnake.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    use_external_emojis=True,
    use_application_commands=True,
    create_instant_invite=True,
    change_nickname=True,
    connect=True,
    speak=True,
).value
#: The bot's role / ``app_permissions``: a member plus message management.
BOT_PERMISSIONS: int = MEMBER_PERMISSIONS | disnake.Permissions(manage_messages=True).value

_sequence = itertools.count()
_sequence_lock = threading.Lock()


def snowflake() -> int:
    """A new, unique, time-based Discord snowflake (so ``created_at`` is "now")."""
    with _sequence_lock:
        increment = next(_sequence) & 0xFFF
    millis = int(time.time() * 1000) - DISCORD_EPOCH_MS
    return (millis << 22) | (1 << 17) | increment


def iso_now() -> str:
    """The current UTC time in the ISO 8601 form Discord uses."""
    return disnake.utils.utcnow().isoformat()


@dataclass
class FakeUser:
    """A Discord user. ``to_payload()`` gives the API user object."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False
    avatar: str | None = None

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": self.avatar,
            "bot": self.bot,
            "public_flags": 0,
        }

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"


@dataclass
class FakeRole:
    """A guild role; the role whose id equals the guild id is ``@everyone``."""

    id: int
    name: str
    permissions: int
    position: int = 0
    managed: bool = False
    color: int = 0

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "permissions": str(self.permissions),
            "position": self.position,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": False,
            "icon": None,
            "unicode_emoji": None,
            "managed": self.managed,
            "mentionable": False,
            "flags": 0,
        }


@dataclass
class FakeChannel:
    """A guild channel (type 0 = text). ``to_payload(guild_id)`` gives the channel object."""

    id: int
    name: str
    type: int = 0
    position: int = 0
    topic: str | None = None

    def to_payload(self, guild_id: int | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": str(self.id),
            "type": self.type,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": self.topic,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "flags": 0,
        }
        if guild_id is not None:
            data["guild_id"] = str(guild_id)
        return data


@dataclass
class FakeMember:
    """A guild member: a user plus role ids."""

    user: FakeUser
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: str = "2024-01-01T00:00:00+00:00"

    def to_payload(self, *, permissions: int | None = None) -> dict[str, Any]:
        """The member object; ``permissions`` is added as in interaction payloads."""
        data: dict[str, Any] = {
            "user": self.user.to_payload(),
            "roles": [str(r) for r in self.roles],
            "nick": self.nick,
            "avatar": None,
            "joined_at": self.joined_at,
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "flags": 0,
            "communication_disabled_until": None,
        }
        if permissions is not None:
            data["permissions"] = str(permissions)
        return data


@dataclass
class FakeGuild:
    """A guild with roles, channels and members, as sent in GUILD_CREATE."""

    id: int
    name: str
    owner_id: int
    roles: list[FakeRole] = field(default_factory=list)
    channels: list[FakeChannel] = field(default_factory=list)
    members: list[FakeMember] = field(default_factory=list)

    @property
    def everyone(self) -> FakeRole:
        for role in self.roles:
            if role.id == self.id:
                return role
        raise LookupError("guild has no @everyone role (a role whose id is the guild id)")

    @property
    def text_channels(self) -> list[FakeChannel]:
        return [c for c in self.channels if c.type == 0]

    def channel(self, channel_id: int) -> FakeChannel | None:
        return next((c for c in self.channels if c.id == channel_id), None)

    def member(self, user_id: int) -> FakeMember | None:
        return next((m for m in self.members if m.user.id == user_id), None)

    def permissions_of(self, user_id: int) -> int:
        """Guild-level permissions of a member, computed like Discord does (no overwrites)."""
        if user_id == self.owner_id:
            return ADMIN_PERMISSIONS
        member = self.member(user_id)
        value = self.everyone.permissions
        if member is not None:
            for role in self.roles:
                if role.id in member.roles:
                    value |= role.permissions
        if value & disnake.Permissions(administrator=True).value:
            return ADMIN_PERMISSIONS
        return value

    def to_payload(self) -> dict[str, Any]:
        """The full GUILD_CREATE payload (``unavailable`` false, member_count == members)."""
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "region": "",
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "premium_progress_bar_enabled": False,
            "preferred_locale": "en-US",
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "safety_alerts_channel_id": None,
            "vanity_url_code": None,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [r.to_payload() for r in self.roles],
            "channels": [c.to_payload(self.id) for c in self.channels],
            "threads": [],
            "members": [m.to_payload() for m in self.members],
            "member_count": len(self.members),
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "large": False,
            "unavailable": False,
            "joined_at": "2024-01-01T00:00:00+00:00",
            "max_members": 500_000,
            "application_id": None,
        }


@dataclass
class FakeWorld:
    """Everything the fake Discord knows: bot, application, people and guilds."""

    bot: FakeUser
    owner: FakeUser
    player: FakeUser
    application_id: int
    guilds: list[FakeGuild]
    application_name: str = "etbot-test"

    @classmethod
    def default(cls) -> FakeWorld:
        """One guild "ET Test Guild" with #general and #match-results, an owner who holds the
        Admin role, an ordinary player and the bot (which has its own managed role)."""
        bot = FakeUser(BOT_USER_ID, "etbot", global_name="etbot", bot=True)
        owner = FakeUser(OWNER_ID, "owner", global_name="Guild Owner")
        player = FakeUser(PLAYER_ID, "player", global_name="Player One")
        guild = FakeGuild(
            id=GUILD_ID,
            name="ET Test Guild",
            owner_id=OWNER_ID,
            roles=[
                FakeRole(GUILD_ID, "@everyone", MEMBER_PERMISSIONS, position=0),
                FakeRole(ADMIN_ROLE_ID, "Admin", ADMIN_PERMISSIONS, position=2),
                FakeRole(BOT_ROLE_ID, "etbot", BOT_PERMISSIONS, position=1, managed=True),
            ],
            channels=[
                FakeChannel(CHANNEL_ID, "general", position=0),
                FakeChannel(SECOND_CHANNEL_ID, "match-results", position=1),
            ],
            members=[
                FakeMember(owner, roles=[ADMIN_ROLE_ID]),
                FakeMember(player, roles=[]),
                FakeMember(bot, roles=[BOT_ROLE_ID]),
            ],
        )
        return cls(
            bot=bot, owner=owner, player=player, application_id=APPLICATION_ID, guilds=[guild]
        )

    @property
    def guild(self) -> FakeGuild:
        """The first (default) guild."""
        return self.guilds[0]

    @property
    def channel(self) -> FakeChannel:
        """The first text channel of the first guild."""
        return self.guild.text_channels[0]

    def get_guild(self, guild_id: int) -> FakeGuild | None:
        return next((g for g in self.guilds if g.id == guild_id), None)

    def find_channel(self, channel_id: int) -> tuple[FakeGuild | None, FakeChannel | None]:
        for guild in self.guilds:
            channel = guild.channel(channel_id)
            if channel is not None:
                return guild, channel
        return None, None

    def users(self) -> list[FakeUser]:
        seen: dict[int, FakeUser] = {u.id: u for u in (self.bot, self.owner, self.player)}
        for guild in self.guilds:
            for member in guild.members:
                seen.setdefault(member.user.id, member.user)
        return list(seen.values())

    def get_user(self, user_id: int) -> FakeUser | None:
        return next((u for u in self.users() if u.id == user_id), None)

    def bot_user_payload(self) -> dict[str, Any]:
        """``GET /users/@me`` / READY ``user``: the bot user with the private fields."""
        return {**self.bot.to_payload(), "verified": True, "mfa_enabled": False, "flags": 0}

    def application_payload(self) -> dict[str, Any]:
        """``GET /oauth2/applications/@me``; ``owner`` is :attr:`owner`."""
        return {
            "id": str(self.application_id),
            "name": self.application_name,
            "icon": None,
            "description": "",
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self.owner.to_payload(),
            "verify_key": "0" * 64,
            "team": None,
            "flags": 0,
            "summary": "",
            "bot": self.bot.to_payload(),
        }
